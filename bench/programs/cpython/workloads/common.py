"""Helpers the workloads share. Sizes follow a runtime's traits, never its
name, as in workloads/common.hpp; the numbers are Python's own (an
interpreted hand-off costs microseconds), chosen so the quick profile's
Python rows fit their budget."""

import os


def by_profile(profile, test, quick, full):
    return {"test": test, "full": full}.get(profile, quick)


def by_cost(rt, heavy, medium, light, tiny):
    return {"heavy": heavy, "medium": medium, "light": light, "tiny": tiny}[rt.cost]


def expect_each(res, want, what):
    for i, r in enumerate(res):
        if r != want:
            return f"{what}: task {i} returned {r}, expected {want}"
    return ""


def cpus(n):
    """The first n CPUs this process may use (the C++ rows pin CPU 0, or 0 and 1)."""
    return sorted(os.sched_getaffinity(0))[:n]


def needs_all_alive(rt, n, what):
    """A pool runs `workers` tasks at once: a workload whose n tasks must all
    be alive together cannot run on fewer."""
    if rt.workers and n > rt.workers:
        return (f"{what} needs all {n} tasks alive at once; the pool runs {rt.workers} "
                f"(a blocked task holds its worker)")
    return ""
