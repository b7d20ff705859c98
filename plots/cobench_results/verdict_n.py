"""How many repetitions a verdict needs, and a recorder of the points a verdict reads.

Every verdict of the report (a claim, a decision-map cell, a yardstick or backend target point,
the worker sweep's line against its ideal, the blocking-call pitfall) rests on medians of
repetitions. With fewer than VERDICT_MIN_N of them no comparison between two runtimes can be
significant (Mann-Whitney U: n = 5 against 5 is the smallest that reaches α = 0.05), so such a
verdict is not judged: it says "not judged: n = k", k the smallest n among its inputs, and its
evidence still shows the numbers it would rest on. The full profile runs 5 repetitions.

A point's n is the repetitions of its entry that went into it (Point.repetitions: those measured
beside other work are already left out); a warm-up outlier left out of one counter still counts,
as it was run and judged. A limit probe (LIMIT_PROBES: max_tasks, one search per runtime for the
most tasks it holds, not a repeated sample) does not count.

Results.reads() records every point Results.points() hands out while it is open (the folded views
value(), series() and speedups() go through it), so a rule cannot forget an input; Reads.n is the
smallest n over them.
"""

VERDICT_MIN_N = 5
# Workloads that are one search per runtime (a limit), not repeated samples: their n never counts.
LIMIT_PROBES = ("max_tasks",)

VERDICT_N_RULE = (f"a verdict (a claim, a decision-map cell, a target point, a line against an ideal) "
                  f"needs n ≥ {VERDICT_MIN_N} repetitions in every entry it reads; with fewer it says "
                  f"\"not judged: n = k\" (k the smallest n among its inputs) and its evidence still "
                  f"shows the numbers; a verdict made of several parts (claim (e) from its cells, a "
                  f"target from its points) is judged on the parts that have enough. The full profile "
                  f"runs {VERDICT_MIN_N} repetitions. Exception: {', '.join(LIMIT_PROBES)} is a limit "
                  f"probe (one search per runtime for the most tasks it holds, not a repeated sample): "
                  f"its n does not count")


def point_n(p):
    """The repetitions a point's median rests on; None for a limit probe (never counts)."""
    if p.workload in LIMIT_PROBES:
        return None
    return p.repetitions


def smallest_n(points):
    """The smallest n over the points (limit probes left out); None when none counts."""
    ns = [n for n in map(point_n, points) if n is not None]
    return min(ns) if ns else None


def thin(n):
    """True when n (a smallest n, or None: nothing counted) is too few for a verdict."""
    return n is not None and n < VERDICT_MIN_N


def not_judged(n):
    """'not judged: n = 3'."""
    return f"not judged: n = {n}"


def thin_points(points, most=4):
    """'echo/threads/conns:10 n=3, ...': the points below VERDICT_MIN_N (at most `most` named)."""
    low = sorted({(f"{p.workload}/{p.runtime}" + "".join(f"/{k}:{v}" for k, v in p.params.items()), n)
                  for p in points if (n := point_n(p)) is not None and n < VERDICT_MIN_N},
                 key=lambda t: (t[1], t[0]))
    text = ", ".join(f"{name} n={n}" for name, n in low[:most])
    return text + (f" and {len(low) - most} more" if len(low) > most else "")


class Reads:
    """The points handed out while a Results.reads() block was open."""

    def __init__(self):
        self._points = {}

    def note(self, points):
        for p in points:
            self._points[id(p)] = p

    @property
    def points(self):
        return list(self._points.values())

    @property
    def n(self):
        return smallest_n(self._points.values())
