"""idle_memory: N tasks alive and parked at once (each waits on the runtime's
barrier and event); memory per task sampled while all are parked, as the
delta over the run divided by N (for processes: RSS and PSS summed over the
children, which are their own totals). Counters as workloads/idle_memory.hpp:
rss_per_task, pss_per_task, kernel_per_task. A Python task's memory is its
objects (a Thread and its OS stack, a greenlet and its saved stack slice, a
Task and its coroutine's frame), the interpreter's own per-object overhead
included."""

import gc
from typing import NamedTuple

from workloads.common import by_profile, expect_each, needs_all_alive
from workloads.memory import sample_processes, sample_self

NAME = "idle_memory"
COUNTERS = {"rss_per_task": ("bytes/task", "lower"), "pss_per_task": ("bytes/task", "lower"),
            "kernel_per_task": ("bytes/task", "lower")}


class Params(NamedTuple):
    tasks: int

    def label(self):
        return f"tasks:{self.tasks}"


def sizes(profile, rt):
    threads = by_profile(profile, [16], [100, 1000], [1, 100, 1000, 10000])
    light = by_profile(profile, [100], [1000, 10000], [1, 1000, 10000, 100000])
    # A pool parks no more tasks than it has workers: the larger sizes are
    # there to be declared, with the reason.
    ns = {"process": by_profile(profile, [4], [10, 100], [1, 10, 100, 1000]), "thread": threads,
          "pooled": by_profile(profile, [4, 16], [4, 100, 1000], [4, 100, 1000, 10000]),
          "fiber": light, "coroutine": light}[rt.kind]
    return [Params(n) for n in ns]


def unsupported(rt, p):
    return needs_all_alive(rt, p.tasks, "parking")


def ops(p):
    return p.tasks


def iterations(p):
    return 1


FRESH_PROCESS = True  # a repetition in a new interpreter (harness.py says why)


class State:
    def __init__(self, p, rt):
        gc.collect()  # what earlier runs left is not this run's
        self.before, self.delta = sample_self(), None


def parked(s):
    """The sample, taken while every task is parked: pids of child processes, or None."""
    def sample(pids):
        if pids:
            rss, pss, kernel = sample_processes(pids)
            s.delta = (rss, pss, kernel - s.before[2])
        else:
            s.delta = tuple(now - then for now, then in zip(sample_self(), s.before))
    return sample


def task(ctx, s, i, p):
    ctx.park()
    return 1


async def atask(ctx, s, i, p):
    await ctx.park()
    return 1


def verify(s, p, res):
    if s.delta is None:
        return "memory was never sampled: the tasks did not all park"
    if len(res) != p.tasks:
        return "wrong number of results"
    return expect_each(res, 1, "parked")


def collect(s, p, res, m):
    for key, value in zip(("rss", "pss", "kernel"), s.delta):
        m.sums[key] += value


def report(p, m):
    per = m.iterations * p.tasks
    return {"rss_per_task": m.sums["rss"] / per, "pss_per_task": m.sums["pss"] / per,
            "kernel_per_task": m.sums["kernel"] / per}
