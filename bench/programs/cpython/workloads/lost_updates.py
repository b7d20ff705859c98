"""lost_updates: N tasks each add 1 to a shared counter R times without a
lock: `v = c.value` then `c.value = v + 1`, a load and a store, as the C++
body does and as `c.value += 1` compiles (for processes the counter is a
multiprocessing.RawValue in shared memory). Every
`yield_every` increments a task yields (the runtime's own yield). In the
plain variant (tasks:N) the yield comes between two increments; in the
await:between variant it comes between the K-th increment's load and its
store, "read a balance, await I/O, write it back", as
workloads/lost_updates.hpp.

Where can CPython switch inside `x += 1`? Threads switch only where the
interpreter checks for a GIL drop request, which 3.11 does at calls and
backward jumps, not between a load and a store like these; so
under threads, the pool, greenlets and asyncio the plain variant loses
nothing, and only processes (a GIL each, truly parallel) lose updates.
await:between loses them everywhere. Losing updates is the measured result,
not an error: verify() only checks the counter never exceeds what was added."""

import asyncio
from typing import NamedTuple

from workloads.common import by_profile, expect_each

NAME = "lost_updates"
COUNTERS = {"lost_updates": ("updates", "none"), "lost_fraction": ("fraction", "none")}


class Params(NamedTuple):
    tasks: int
    increments: int  # per task (R)
    yield_every: int  # K
    await_between: bool

    def label(self):
        return f"tasks:{self.tasks}" + ("/await:between" if self.await_between else "")

    def total(self):
        return self.tasks * self.increments


def sizes(profile, rt):
    # Many processes yielding on 2 cores take long: processes stop at 16.
    heavy = by_profile(profile, [2], [2, 4, 16], [2, 4, 16])
    ns = heavy if rt.cost == "heavy" else by_profile(profile, [2, 8], [2, 4, 16], [2, 4, 16, 64])
    r = by_profile(profile, 2000, 20000, 200000)
    return [Params(n, r, 100, False) for n in ns] + [Params(n, r, 100, True) for n in ns]


def ops(p):
    return p.total()


class State:
    def __init__(self, p, rt):
        self.counter = rt.counter()


def task(ctx, s, i, p):
    c = s.counter
    for k in range(1, p.increments + 1):
        yields = k % p.yield_every == 0
        v = c.value
        if yields and p.await_between:
            ctx.yield_()
        c.value = v + 1
        if yields and not p.await_between:
            ctx.yield_()
    return p.increments


async def atask(ctx, s, i, p):
    c = s.counter
    for k in range(1, p.increments + 1):
        yields = k % p.yield_every == 0
        v = c.value
        if yields and p.await_between:
            await asyncio.sleep(0)
        c.value = v + 1
        if yields and not p.await_between:
            await asyncio.sleep(0)
    return p.increments


def verify(s, p, res):
    if e := expect_each(res, p.increments, "increments"):
        return e
    if s.counter.value > p.total():
        return f"counter reached {s.counter.value}, more than the {p.total()} increments made"
    return ""


def collect(s, p, res, m):
    m.sums["lost"] += p.total() - s.counter.value


def report(p, m):
    lost = m.sums["lost"] / max(1, m.iterations)
    return {"lost_updates": lost, "lost_fraction": lost / p.total()}
