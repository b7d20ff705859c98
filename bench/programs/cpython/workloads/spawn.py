"""spawn: create and join N empty tasks (a Process, a Thread, a submitted
future, a greenlet, a Task); cost per task."""

from typing import NamedTuple

from workloads.common import by_cost, by_profile

NAME = "spawn"
COUNTERS = {"spawn_ns": ("ns", "lower")}


class Params(NamedTuple):
    tasks: int

    def label(self):
        return f"tasks:{self.tasks}"


def sizes(profile, rt):
    light = by_profile(profile, [16], [10, 1000, 10000], [10, 100, 1000, 10000, 100000])
    ns = by_cost(rt, by_profile(profile, [4], [10, 100], [10, 100, 1000]),
                 by_profile(profile, [16], [10, 100, 1000], [10, 100, 1000, 10000]), light, light)
    return [Params(n) for n in ns]


def ops(p):
    return p.tasks


def task(ctx, s, i, p):
    return i


async def atask(ctx, s, i, p):
    return i


def verify(s, p, res):
    if len(res) != p.tasks:
        return "wrong number of results"
    for i, r in enumerate(res):
        if r != i:
            return f"task {i} returned {r}"
    return ""


def report(p, m):
    return {"spawn_ns": m.per_iteration() * 1e9 / ops(p)}
