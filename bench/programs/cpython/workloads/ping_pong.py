"""ping_pong: two tasks hand a token back and forth through the runtime's own
queue (queue.Queue, multiprocessing.Queue, gevent.queue.Queue, asyncio.Queue)
of size 1. One-way switch cost is a round trip divided by two; same-core
(both on one CPU) and cross-core (two CPUs) are measured apart."""

from typing import NamedTuple

from workloads.common import by_profile, cpus, expect_each

NAME = "ping_pong"
COUNTERS = {"switch_ns": ("ns", "lower")}


class Params(NamedTuple):
    rounds: int
    same_core: bool

    def label(self):
        return "pin:same" if self.same_core else "pin:cross"


def sizes(profile, rt):
    r = by_profile(profile, 50, 5000, 50000)
    if rt.cost == "heavy":
        r //= 10  # a multiprocessing.Queue round trip costs a feeder thread and a pipe each way
    return [Params(r, True), Params(r, False)]


def unsupported(rt, p):
    if p.same_core:
        return ""
    # Threads under the GIL still hand off between cores; only a runtime whose
    # tasks all share one OS thread cannot.
    if not rt.os_threads:
        return "one OS thread runs every task: a cross-core hand-off cannot happen"
    if len(cpus(2)) < 2:
        return "cross-core needs 2 CPUs"
    return ""


def tasks(p):
    return 2


def ops(p):
    return 2 * p.rounds


def pinned(p):
    return cpus(1 if p.same_core else 2)


class State:
    def __init__(self, p, rt):
        self.to_b, self.to_a = rt.queue(1), rt.queue(1)


def task(ctx, s, i, p):
    in_order = 0
    for m in range(1, p.rounds + 1):
        if i == 0:
            s.to_b.put(m)
            in_order += s.to_a.get() == m
        else:
            got = s.to_b.get()
            in_order += got == m
            s.to_a.put(got)
    return in_order


async def atask(ctx, s, i, p):
    in_order = 0
    for m in range(1, p.rounds + 1):
        if i == 0:
            await s.to_b.put(m)
            in_order += await s.to_a.get() == m
        else:
            got = await s.to_b.get()
            in_order += got == m
            await s.to_a.put(got)
    return in_order


def verify(s, p, res):
    return expect_each(res, p.rounds, "tokens in order")


def report(p, m):
    return {"switch_ns": m.per_iteration() * 1e9 / ops(p)}
