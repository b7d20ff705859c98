"""yield_ring: N tasks each yield M times, all on one CPU, so every yield
can be a real switch to another task. A yield is the runtime's own "let
others run": time.sleep(0) for threads (it releases the GIL), gevent.sleep(0),
await asyncio.sleep(0). Switch cost per yield as N grows."""

import asyncio
from typing import NamedTuple

from workloads.common import by_profile, cpus, expect_each

NAME = "yield_ring"
COUNTERS = {"switch_ns": ("ns", "lower")}


class Params(NamedTuple):
    tasks: int
    yields: int  # per task

    def label(self):
        return f"tasks:{self.tasks}"


def sizes(profile, rt):
    one_thread = by_profile(profile, ([2, 16], 2e3), ([2, 100, 10000], 2e4), ([2, 10, 100, 1000, 10000, 100000], 2e5))
    threads = by_profile(profile, ([2, 16], 5e2), ([2, 100], 5e3), ([2, 10, 100, 1000], 1e5))
    ns, total = one_thread if not rt.os_threads else threads
    return [Params(n, max(1, int(total / n))) for n in ns]


def unsupported(rt, p):
    if rt.kind == "process":
        return ("a process has no Python-level yield to another task: time.sleep(0) or os.sched_yield() only ask "
                "the kernel's scheduler, which the C++ processes rows measure")
    return ""


def ops(p):
    return p.tasks * p.yields


def pinned(p):
    return cpus(1)


def task(ctx, s, i, p):
    n = 0
    for _ in range(p.yields):
        ctx.yield_()
        n += 1
    return n


async def atask(ctx, s, i, p):
    n = 0
    for _ in range(p.yields):
        await asyncio.sleep(0)
        n += 1
    return n


def verify(s, p, res):
    return expect_each(res, p.yields, "yields")


def report(p, m):
    return {"switch_ns": m.per_iteration() * 1e9 / ops(p)}
