"""cpu_bound: a fixed total of kernel units split into N tasks; throughput and
speed-up against one task of the same runtime measured earlier in the same
run. The kernel is workloads/kernels/mix.hpp's, in Python integers masked to
64 bits: 256 rounds of splitmix64 a unit. Interpreted, each round is a
dozen big-integer operations where C++ spends a few instructions, so a
profile's `units` are far fewer than the C++ rows' (the same param, a
Python-sized amount: speed-up and items_per_second compare, run time not). Only processes can speed up: every
other runtime holds the GIL while it computes."""

from typing import NamedTuple

from workloads.common import by_profile

NAME = "cpu_bound"
COUNTERS = {"items_per_second": ("items/s", "higher"), "speedup": ("x", "higher")}
MASK = (1 << 64) - 1
ROUNDS_PER_UNIT = 256


def splitmix(x):
    x = (x + 0x9E3779B97F4A7C15) & MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & MASK
    return x ^ (x >> 31)


def kernel(first, last):
    s = 0
    for u in range(first, last):
        x = u
        for _ in range(ROUNDS_PER_UNIT):
            x = splitmix(x)
        s = (s + x) & MASK
    return s


class Params(NamedTuple):
    tasks: int
    units: int
    runtime: str  # the speed-up's reference; not part of the name

    def label(self):
        return f"tasks:{self.tasks}"


def sizes(profile, rt):
    units = by_profile(profile, 8, 200, 1000)
    return [Params(n, units, rt.name) for n in by_profile(profile, [1, 2], [1, 2, 4], [1, 2, 4, 8, 16, 64])]


def ops(p):
    return p.units


def _share(p, i):
    return p.units * i // p.tasks, p.units * (i + 1) // p.tasks


def task(ctx, s, i, p):
    return kernel(*_share(p, i))


async def atask(ctx, s, i, p):
    return kernel(*_share(p, i))


_reference = {}


def verify(s, p, res):
    if p.units not in _reference:
        _reference[p.units] = kernel(0, p.units)
    return "" if sum(res) & MASK == _reference[p.units] else "checksum differs from the single-task reference"


_one_task = {}  # (runtime, units) -> seconds a run at tasks:1


def report(p, m):
    t = m.per_iteration()
    c = {"items_per_second": p.units / t}
    if p.tasks == 1:
        _one_task[(p.runtime, p.units)] = t
    if (p.runtime, p.units) in _one_task:
        c["speedup"] = _one_task[(p.runtime, p.units)] / t
    return c
