"""timer_fanout: the classic "crawler": N tasks each sleep a simulated latency
(time.sleep, gevent.sleep, await asyncio.sleep) and finish. Ideal wall time
is the longest wait; overhead_us_per_task = (total - longest) / N. Task i
waits W * (1 + i % 10) / 10, as in workloads/timer_fanout.hpp. A wait
shorter than asked by less than the runtime's timer resolution
(rt.timer_slack_ns) is not an error. On the pool,
sleepers hold their workers: they go a pool-full at a time, which the
overhead shows."""

import asyncio
import time
from typing import NamedTuple

from workloads.common import by_profile

NAME = "timer_fanout"
COUNTERS = {"total_ms": ("ms", "lower"), "longest_wait_ms": ("ms", "none"), "sum_wait_ms": ("ms", "none"),
            "overhead_us_per_task": ("us/task", "lower")}


class Params(NamedTuple):
    tasks: int
    wait_ms: int

    def label(self):
        return f"tasks:{self.tasks}/wait_ms:{self.wait_ms}"


def sizes(profile, rt):
    threads = by_profile(profile, [1, 16], [1, 100, 1000], [1, 10, 100, 1000, 10000])
    light = by_profile(profile, [1, 100], [1, 100, 10000], [1, 10, 100, 1000, 10000, 100000])
    ns = {"process": by_profile(profile, [1, 4], [1, 10, 100], [1, 10, 100, 1000]), "thread": threads,
          "pooled": by_profile(profile, [1, 16], [1, 100], [1, 10, 100, 1000]), "fiber": light,
          "coroutine": light}[rt.kind]
    w = by_profile(profile, 2, 10, 20)
    return [Params(n, w) for n in ns]


def ops(p):
    return p.tasks


def wait_ns(p, i):
    return p.wait_ms * 1_000_000 * (1 + i % 10) // 10


def longest_ns(p):
    return wait_ns(p, min(p.tasks, 10) - 1)


class State:
    def __init__(self, p, rt):
        self.slack_ns = rt.timer_slack_ns


# Each returns the wait it saw, in ns, timed around the sleep itself.
def task(ctx, s, i, p):
    t0 = time.monotonic_ns()
    ctx.sleep(wait_ns(p, i) / 1e9)
    return time.monotonic_ns() - t0


# On a loop, by the clock its timers run on (loop.time(), float seconds).
async def atask(ctx, s, i, p):
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    await asyncio.sleep(wait_ns(p, i) / 1e9)
    return round((loop.time() - t0) * 1e9)


def verify(s, p, res):
    if len(res) != p.tasks:
        return "wrong number of results"
    for i, r in enumerate(res):
        want = wait_ns(p, i)
        if r + s.slack_ns < want:
            return f"task {i} woke after {r} ns, before the {want} ns it asked for"
    return ""


def report(p, m):
    total_ns = m.per_iteration() * 1e9
    return {"total_ms": total_ns / 1e6, "longest_wait_ms": longest_ns(p) / 1e6,
            "sum_wait_ms": sum(wait_ns(p, i) for i in range(p.tasks)) / 1e6,
            "overhead_us_per_task": max(0.0, total_ns - longest_ns(p)) / 1e3 / p.tasks}
