"""Classic claims about concurrency runtimes, each judged from one results file.

Every verdict is computed from the numbers in the file. Runtimes are chosen by the traits the
file declares (context.runtimes), never by name: where a claim says threads it means the runtime of
kind thread, for coroutines the one of kind coroutine, for multi-core those with multi_core true,
and claim (f) compares the hybrids (kind hybrid) with the best runtime of any other kind. A file
without traits (schema 1) gets the verdict NOT_JUDGED for such claims, with the reason.

A file whose yardsticks name an interpreter (rowsets.py: CPython's threading, asyncio, ...) is
judged once per language: the C++ rows, then each interpreter's rows, where those runtimes stand
for their model_kind. Each verdict comes from its own rows by the same records; the C++ Claim
carries the others in .also. A file without them is judged as it always was.

records.py   the claims as data (rule, runtimes by traits, entries, thresholds) and THRESHOLDS
engine.py    Record, Kinds (runtimes by traits), Entries (workload and params), evaluate()
rules.py     the rules a record names
verdicts.py  the verdict words, Claim, and how several verdicts make one

A new claim is one Record in records.CLAIMS; a new kind of judgement, one rule in rules.py.
evaluate_all(results) -> list of Claim, one per claim key.
"""

import rowsets

from . import engine, rules
from .engine import Entries, Kinds, Record
from .records import (ACCEPT, CLAIMS, CLIENT_SATURATED_FRAC, ECHO, ECHO_FEW_FINE_FRACTION,
                      ECHO_MANY_FAVOUR_FACTOR, FAST_UPSTREAM_US, FEW_CONNS, HOLD_CONFIRM_FACTOR,
                      HOLD_REFUTE_FACTOR, HYBRID_LEAD_FACTOR, HYBRID_LEVEL_FRACTION, LIGHT, LIGHT_STACKS,
                      MANY_CONNS, PER_TASK, SLOW_UPSTREAM_US, SPEEDUP_MULTI_MIN, SPEEDUP_SINGLE_MAX,
                      SWITCH_CONFIRM_FACTOR, SWITCH_REFUTE_FACTOR, THRESHOLDS, WAIT_NEAR_LONGEST)
from .verdicts import (CONFIRMED, INDISTINGUISHABLE, MIXED, NO_TRAITS, NOT_JUDGED, NOT_MEASURED, REFUTED,
                       UNDECIDED, VERDICTS, Claim, combine, grade, overlap_note)

__all__ = [
    "evaluate_all", "light_runtimes", "per_task_runtimes", "echo_points",
    "Claim", "Record", "Kinds", "Entries", "CLAIMS", "THRESHOLDS", "LIGHT_STACKS", "NO_TRAITS",
    "combine", "grade", "overlap_note",
    "VERDICTS", "CONFIRMED", "REFUTED", "MIXED", "UNDECIDED", "NOT_MEASURED", "NOT_JUDGED", "INDISTINGUISHABLE",
    "SWITCH_CONFIRM_FACTOR", "SWITCH_REFUTE_FACTOR", "HOLD_CONFIRM_FACTOR", "HOLD_REFUTE_FACTOR",
    "WAIT_NEAR_LONGEST", "SPEEDUP_MULTI_MIN", "SPEEDUP_SINGLE_MAX", "ECHO_FEW_FINE_FRACTION",
    "ECHO_MANY_FAVOUR_FACTOR", "HYBRID_LEAD_FACTOR", "HYBRID_LEVEL_FRACTION", "CLIENT_SATURATED_FRAC",
    "FEW_CONNS", "FAST_UPSTREAM_US", "MANY_CONNS", "SLOW_UPSTREAM_US",
]


def evaluate_all(results):
    """One Claim per key, judged on the C++ rows; where the file has an interpreter's yardsticks,
    each Claim's .also holds the same claim judged on that language's rows alone."""
    sets = rowsets.split(results)
    out = engine.evaluate_all(sets[0].results, CLAIMS)
    if len(sets) > 1:
        for c in out:
            c.language = sets[0].label
        for s in sets[1:]:
            theirs = {c.key: c for c in engine.evaluate_all(s.results, CLAIMS)}
            for c in out:
                if c.key in theirs:
                    theirs[c.key].language = s.label
                    c.also.append(theirs[c.key])
    return out


def light_runtimes(r):
    """Runtimes with light tasks, by traits (stack in LIGHT_STACKS); references are not runtimes."""
    return LIGHT.select(r)


def per_task_runtimes(r):
    """Runtimes that give every task an OS thread or process of its own (kind thread or process)."""
    return PER_TASK.select(r)


def echo_points(r, rt):
    """{conns: Point} from echo; for a runtime without echo entries, from echo_accept without a
    stall (reuseport before shared, then the most workers)."""
    return rules.echo_points(r, rt, ECHO, ACCEPT)
