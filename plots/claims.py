"""Classic claims about concurrency runtimes, each judged from one results file.

Every verdict is computed from the numbers in the file; the thresholds are the
named constants below, and the report prints them next to the verdicts.
Runtimes are chosen by the traits the file declares (context.runtimes), never
by name: where a claim says threads it means the runtime of kind thread, for
coroutines the one of kind coroutine, for multi-core those with multi_core true, and claim (f)
compares the hybrids (kind hybrid) with the best runtime of any other kind. A file without traits
(schema 1) gets the verdict NOT_JUDGED for such claims, with the reason.
evaluate_all(results) -> list of Claim.
"""

import math
from dataclasses import dataclass, field

from cobench_results import fmt
import io_sections
import tables
from tables import NO_STACK

CONFIRMED, REFUTED, MIXED = "confirmed", "refuted", "mixed"
UNDECIDED, NOT_MEASURED, NOT_JUDGED = "undecided", "not measured", "not judged"
# Every difference the claim rests on is inside the run-to-run spread (min-max ranges overlap).
INDISTINGUISHABLE = "indistinguishable"
VERDICTS = (CONFIRMED, REFUTED, MIXED, UNDECIDED, NOT_MEASURED, NOT_JUDGED, INDISTINGUISHABLE)

# Thresholds; THRESHOLDS below says what each means and the report prints it.
SWITCH_CONFIRM_FACTOR = 10.0
SWITCH_REFUTE_FACTOR = 2.0
HOLD_CONFIRM_FACTOR = 10.0
HOLD_REFUTE_FACTOR = 2.0
WAIT_NEAR_LONGEST = 1.5
SPEEDUP_MULTI_MIN = 1.5
SPEEDUP_SINGLE_MAX = 1.2
ECHO_FEW_FINE_FRACTION = 0.8
ECHO_MANY_FAVOUR_FACTOR = 1.2
HYBRID_LEAD_FACTOR = 1.1
HYBRID_LEVEL_FRACTION = 0.9
CLIENT_SATURATED_FRAC = 0.8
FEW_CONNS = 10
FAST_UPSTREAM_US = 100
MANY_CONNS = 1000
SLOW_UPSTREAM_US = 1000

_MEANINGS = {
    "SWITCH_CONFIRM_FACTOR": "(a) confirmed at or above this threads/coroutines switch-cost factor",
    "SWITCH_REFUTE_FACTOR": "(a) refuted below this factor; mixed in between",
    "HOLD_CONFIRM_FACTOR": "(b) confirmed at or above this factor in max_tasks and in rss_per_task",
    "HOLD_REFUTE_FACTOR": "(b) refuted below this factor; mixed in between",
    "WAIT_NEAR_LONGEST": "(c) total_ms ≤ this × longest_wait_ms counts as about the longest wait",
    "SPEEDUP_MULTI_MIN": "(d, f) cpu_bound speed-up that counts as using several cores",
    "SPEEDUP_SINGLE_MAX": "(d) cpu_bound speed-up at or below which a runtime counts as one-core",
    "ECHO_FEW_FINE_FRACTION": "(e) threads' req/s in a few-fast cell (echo: at the fewest conns) must reach "
                              "this × the winner's (echo: coroutines')",
    "ECHO_MANY_FAVOUR_FACTOR": "(e, echo only) coroutines must lead by this factor (req/s or p99) at the most conns",
    "FEW_CONNS": "(e) slow_io: a few fast tasks are the cells with conns ≤ this ...",
    "FAST_UPSTREAM_US": "(e) ... and an upstream latency ≤ this many µs",
    "MANY_CONNS": "(e) slow_io: many slow tasks are the cells with conns ≥ this ...",
    "SLOW_UPSTREAM_US": "(e) ... and an upstream latency ≥ this many µs",
    "HYBRID_LEAD_FACTOR": "(f) echo: the hybrid is ahead of the best single-kind runtime at this factor "
                          "(req/s, or server CPU per request inverted)",
    "HYBRID_LEVEL_FRACTION": "(f) echo: behind below this factor, level in between; speed-up: at or above "
                             "this × the best single-kind runtime's is as strong",
    "CLIENT_SATURATED_FRAC": "(f) client_cpu_frac at or above which the echo client was near saturation "
                             "(req_per_s is then a bound set by the client)",
}
SERVER_CPU = "server_cpu_ns_per_req"   # (f) echo's server CPU per request, where the file has it
THRESHOLDS = [(name, globals()[name], meaning) for name, meaning in _MEANINGS.items()]

NO_TRAITS = ("this results file declares no runtime traits (context.runtimes, schema 2), and the "
             "claim groups runtimes by kind, which a name does not tell; regenerate the results "
             "with the current build to judge it")


@dataclass
class Claim:
    key: str
    statement: str
    verdict: str
    rule: str
    evidence: list = field(default_factory=list)


def grade(factor, confirm, refute):
    if factor >= confirm:
        return CONFIRMED
    return REFUTED if factor < refute else MIXED


def combine(verdicts):
    """One verdict from several measures: agreement wins, disagreement is mixed; measures inside
    the run-to-run spread decide nothing."""
    decided = [v for v in verdicts if v in (CONFIRMED, REFUTED, MIXED)]
    if not decided:
        return (UNDECIDED if UNDECIDED in verdicts else
                INDISTINGUISHABLE if INDISTINGUISHABLE in verdicts else NOT_MEASURED)
    return decided[0] if all(v == decided[0] for v in decided) else MIXED


def _by_x(series, runtime):
    return {x: y for x, y, _ in series.get(runtime, [])}


def _ratio(num, den):
    return num / den if num is not None and den else None


def _spread(p, counter):
    """'min–max, n=k' of a point's repetitions, or 'n=1'."""
    rng = p.range(counter) if p is not None else None
    n = p.n.get(counter, 1) if p is not None else 1
    return f"{fmt(rng[0])}–{fmt(rng[1])}, n={n}" if rng else f"n={n}"


def overlap_note(a, b, counter, who_a, who_b):
    """' — indistinguishable: ...' when the two points' min-max ranges overlap, else ''."""
    if a is None or b is None or not a.overlaps(b, counter):
        return ""
    return (f" — {INDISTINGUISHABLE}: the ranges of the repetitions overlap ({who_a} "
            f"{_spread(a, counter)}; {who_b} {_spread(b, counter)}), so the difference is inside the "
            f"run-to-run spread and counts for neither")


def _point(r, workload, runtime, **params):
    return next((p for p in r.points(workload, runtime)
                 if all(p.params.get(k) == v for k, v in params.items())), None)


def _by_kind(r, c, *kinds):
    """The first runtime (display order) of each kind, or None after saying in `c` why not."""
    if not r.has_traits:
        c.verdict = NOT_JUDGED
        c.evidence.append(NO_TRAITS)
        return None
    chosen = []
    for kind in kinds:
        names = r.runtimes_where(kind=kind)
        if not names:
            c.evidence.append(f"no runtime of kind {kind} in this file")
            return None
        chosen.append(names[0])
    c.evidence.append("compared: " + " vs ".join(f"{n} (kind {k})" for n, k in zip(chosen, kinds)))
    return chosen


def claim_switch(r):
    c = Claim("a", "Switching between coroutines costs far less than switching between threads.",
              NOT_MEASURED,
              f"factor = switch_ns of the thread runtime / of the coroutine runtime (by kind), for "
              f"ping_pong pin:same and for "
              f"yield_ring at every tasks value both measured; each measure is confirmed if the factor "
              f"≥ {SWITCH_CONFIRM_FACTOR:g}, mixed if {SWITCH_REFUTE_FACTOR:g}–{SWITCH_CONFIRM_FACTOR:g}, "
              f"refuted if < {SWITCH_REFUTE_FACTOR:g}; measures that disagree make the claim mixed. "
              f"Cross-core ping_pong is shown but not judged.")
    pair = _by_kind(r, c, "thread", "coroutine")
    if pair is None:
        return c
    thr, coro = pair
    verdicts = []
    for pin in ("same", "cross"):
        t = r.value("ping_pong", thr, "switch_ns", pin=pin)
        k = r.value("ping_pong", coro, "switch_ns", pin=pin)
        f = _ratio(t, k)
        if f is None:
            c.evidence.append(f"ping_pong pin:{pin}: not measured for both {thr} and {coro}")
            continue
        v = grade(f, SWITCH_CONFIRM_FACTOR, SWITCH_REFUTE_FACTOR)
        judged = pin == "same"
        if judged:
            verdicts.append(v)
        c.evidence.append(f"ping_pong pin:{pin}: {thr} {fmt(t)} ns, {coro} {fmt(k)} ns "
                          f"→ factor {f:.1f}" + (f" ({v})" if judged else " (not judged)")
                          + overlap_note(_point(r, "ping_pong", thr, pin=pin),
                                         _point(r, "ping_pong", coro, pin=pin), "switch_ns", thr, coro))
    s = r.series("yield_ring", "switch_ns", "tasks")
    t, k = _by_x(s, thr), _by_x(s, coro)
    common = sorted(set(t) & set(k))
    for n in common:
        f = _ratio(t[n], k[n])
        if f is None:
            continue
        v = grade(f, SWITCH_CONFIRM_FACTOR, SWITCH_REFUTE_FACTOR)
        verdicts.append(v)
        c.evidence.append(f"yield_ring tasks:{n}: {thr} {fmt(t[n])} ns, {coro} {fmt(k[n])} ns "
                          f"→ factor {f:.1f} ({v})")
    if not common:
        c.evidence.append(f"yield_ring: no tasks value measured for both {thr} and {coro}")
    c.verdict = combine(verdicts)
    return c


def claim_hold(r):
    c = Claim("b", "A machine holds far more coroutines than threads.", NOT_MEASURED,
              f"between the runtimes of kind coroutine and thread: max_tasks factor = coroutine / "
              f"thread; memory factor = thread rss_per_task / coroutine rss_per_task at the largest "
              f"tasks value both measured (idle_memory); a runtime that held none (its first group "
              f"failed) gives no factor. Each is "
              f"confirmed if ≥ {HOLD_CONFIRM_FACTOR:g}, mixed if {HOLD_REFUTE_FACTOR:g}–{HOLD_CONFIRM_FACTOR:g}, "
              f"refuted if < {HOLD_REFUTE_FACTOR:g}. The max_tasks factor is the real ratio when both counts "
              f"stopped at a limit of the machine (a refused spawn or the memory budget); a count stopped "
              f"by the harness's own cap or time limit is a lower bound: the factor is then a ratio of "
              f"caps (or a bound), which never confirms the claim (and a coroutine count so stopped "
              f"cannot refute it). "
              f"Disagreeing measures make the claim mixed.")
    pair = _by_kind(r, c, "thread", "coroutine")
    if pair is None:
        return c
    thr, coro = pair
    verdicts = []
    _hold_max_tasks(r, thr, coro, c, verdicts)
    s = r.series("idle_memory", "rss_per_task", "tasks", NO_STACK)
    t, k = _by_x(s, thr), _by_x(s, coro)
    common = sorted(set(t) & set(k))
    if common and k[common[-1]] > 0:
        n = common[-1]
        f = t[n] / k[n]
        v = grade(f, HOLD_CONFIRM_FACTOR, HOLD_REFUTE_FACTOR)
        verdicts.append(v)
        c.evidence.append(f"idle_memory tasks:{n}: rss_per_task {thr} {fmt(t[n])} B, {coro} "
                          f"{fmt(k[n])} B → factor {f:.1f} ({v})")
        for counter in ("pss_per_task", "kernel_per_task"):
            tv = r.value("idle_memory", thr, counter, tasks=n, **NO_STACK)
            kv = r.value("idle_memory", coro, counter, tasks=n, **NO_STACK)
            if tv is not None and kv is not None:
                c.evidence.append(f"idle_memory tasks:{n}: {counter} {thr} {fmt(tv)} B, "
                                  f"{coro} {fmt(kv)} B (shown, not judged)")
    else:
        c.evidence.append(f"idle_memory: rss_per_task not measured for both {thr} and {coro}")
    c.verdict = combine(verdicts)
    return c


# What a max_tasks count is, by what stopped it, for claim (b)'s evidence.
_HOLD_WHAT = {
    tables.WALL: "a wall of this machine (the next spawn was refused)",
    tables.BUDGET: "the memory budget (what fits in that much memory)",
    tables.CAP: "the harness's own cap: a lower bound on what it can hold",
    tables.TIME: "the harness's time limit per group: a lower bound on what it can hold",
    tables.ERROR: "an error: the count says nothing about the machine",
    tables.FAILED: "a failed spawn: a limit of this system's settings, not necessarily of its memory",
    None: "no recorded reason",
}


def _hold_max_tasks(r, thr, coro, c, verdicts):
    """Claim (b)'s max_tasks measure. The real ratio where both counts are limits of the machine
    (a wall, the budget, or an older file's failed spawn); a count stopped by the harness's cap or
    time limit is a lower bound: then the factor is a ratio of caps (or a bound), which never
    confirms the claim (a thread count so bounded can still refute it); an error decides nothing."""
    st = {s.runtime: s for s in tables.stops(r)}
    if thr not in st or coro not in st:
        c.evidence.append(f"max_tasks: not measured for both {thr} and {coro}")
        return
    t, k = st[thr], st[coro]
    t_label, k_label = t.label or "no reason given", k.label or "no reason given"
    shown = f"max_tasks: {coro} {held(k.held, k_label)}, {thr} {held(t.held, t_label)}"
    if not t.held or not k.held or tables.ERROR in (t.kind, k.kind):
        verdicts.append(UNDECIDED)
        c.evidence.append(f"{shown} → no factor ({UNDECIDED})")
        return
    f = k.held / t.held
    v = grade(f, HOLD_CONFIRM_FACTOR, HOLD_REFUTE_FACTOR)
    if k.lower_bound or t.lower_bound:
        # A lower bound on coroutines cannot refute; a ratio with any cap never confirms.
        if v != REFUTED or k.lower_bound:
            v = UNDECIDED
        bound = "≥ " if k.lower_bound and not t.lower_bound else "≤ " if t.lower_bound and not k.lower_bound else ""
        kind = ("a ratio of caps, not of what the machine holds" if k.lower_bound and t.lower_bound else
                f"a ratio of caps, not of what the machine holds (only {thr if k.lower_bound else coro}'s "
                f"count is a limit of the machine, so the factor is a bound)")
        verdicts.append(v)
        c.evidence.append(f"{shown} → factor {bound}{f:.1f}: {kind} ({v}"
                          + ("; a cap is not judged as what the machine holds" if v == UNDECIDED else "") + ")")
        c.evidence.append(f"caveat: {coro} stopped at {_HOLD_WHAT[k.kind]}; {thr} at {_HOLD_WHAT[t.kind]}; "
                          f"`cobench --profile limits` measures what the machine holds")
        return
    verdicts.append(v)
    c.evidence.append(f"{shown} → factor {f:.1f} ({v}): the real ratio, both counts being limits of "
                      f"this machine")
    c.evidence.append(f"{coro} stopped at {_HOLD_WHAT[k.kind]}; {thr} at {_HOLD_WHAT[t.kind]}"
                      + ("; a budget stop is what fits in the budget, so with a larger budget that "
                         "runtime would hold more" if tables.BUDGET in (k.kind, t.kind) else ""))



def claim_waiting(r):
    c = Claim("c", "Waiting concurrently takes about as long as the longest wait; waiting "
                   "sequentially takes the sum of the waits.", NOT_MEASURED,
              f"timer_fanout, every runtime and tasks value where sum_wait_ms > {WAIT_NEAR_LONGEST:g} × "
              f"longest_wait_ms (elsewhere the two cannot be told apart): the point agrees if "
              f"total_ms ≤ {WAIT_NEAR_LONGEST:g} × longest_wait_ms. All agree → confirmed, none → "
              f"refuted, some → mixed (the exceptions are listed; OS threads at large N are expected "
              f"to pay creation overhead).")
    agree, exceptions = 0, []
    by_runtime = {}
    for p in r.points("timer_fanout"):
        total, longest, summed = (p.counters.get(k)
                                  for k in ("total_ms", "longest_wait_ms", "sum_wait_ms"))
        if None in (total, longest, summed) or longest <= 0:
            continue
        where = "/".join(f"{k}:{v}" for k, v in p.params.items())
        note = f"{where} {fmt(total)} ms = {total / longest:.3g}× longest"
        if summed > WAIT_NEAR_LONGEST * longest:
            note += f", {total / summed:.3g}× sum"
            if total <= WAIT_NEAR_LONGEST * longest:
                agree += 1
            else:
                exceptions.append(f"{p.runtime} at {where}")
        by_runtime.setdefault(p.runtime, []).append(note)
    for runtime, notes in by_runtime.items():
        c.evidence.append(f"{runtime}: " + "; ".join(notes))
    judged = agree + len(exceptions)
    if not by_runtime:
        c.evidence.append("timer_fanout: no entry with total_ms, longest_wait_ms and sum_wait_ms")
    elif not judged:
        c.verdict = UNDECIDED
        c.evidence.append("no measured point has a sum of waits distinguishable from the longest wait")
    else:
        c.verdict = CONFIRMED if not exceptions else REFUTED if not agree else MIXED
        c.evidence.append(f"{agree} of {judged} points finish in about the longest wait"
                          + (f"; exceptions: {', '.join(exceptions)}" if exceptions else ""))
    return c


def _speedup_tasks(speedups, cpus):
    """The tasks value at which to judge speed-up: the most tasks that fit the cores."""
    measured = sorted({n for s in speedups.values() for n in s if n > 1})
    fitting = [n for n in measured if cpus is None or n <= cpus]
    return fitting[-1] if fitting else (measured[0] if measured else None)


def claim_cpu(r):
    cpus = r.cpu_count()
    multi, single = r.runtimes_where(multi_core=True), r.runtimes_where(multi_core=False)
    c = Claim("d", "For CPU-bound work only multi-core runtimes speed up; single-core ones "
                   "(one thread, such as coroutines and fibers) stay at about 1×.", NOT_MEASURED,
              f"cpu_bound speed-up at the largest tasks value ≤ cpu_count (computed from "
              f"items_per_second vs tasks:1 where the speedup counter is absent): each runtime with "
              f"multi_core true ({', '.join(multi) or 'none'}) agrees if ≥ {SPEEDUP_MULTI_MIN:g}, each "
              f"with multi_core false ({', '.join(single) or 'none'}) agrees if ≤ {SPEEDUP_SINGLE_MAX:g}. "
              f"All agree → confirmed, none → refuted, some → mixed. Needs cpu_count ≥ 2.")
    if not r.has_traits:
        c.verdict = NOT_JUDGED
        c.evidence.append(NO_TRAITS)
        return c
    speedups = r.speedups()
    n = _speedup_tasks(speedups, cpus)
    if n is None:
        c.evidence.append("cpu_bound: no speed-up beyond tasks:1 measured")
        return c
    c.evidence.append(f"cpu_count {cpus if cpus is not None else 'unknown'}; judged at tasks:{n}")
    results = []
    for runtime, s in speedups.items():
        if n not in s:
            continue
        if runtime in multi:
            ok = s[n] >= SPEEDUP_MULTI_MIN
            results.append(ok)
            c.evidence.append(f"{runtime}: speed-up {s[n]:.2f} ({'≥' if ok else '<'} {SPEEDUP_MULTI_MIN:g}: "
                              f"{'agrees' if ok else 'disagrees'})")
        elif runtime in single:
            ok = s[n] <= SPEEDUP_SINGLE_MAX
            results.append(ok)
            c.evidence.append(f"{runtime}: speed-up {s[n]:.2f} ({'≤' if ok else '>'} {SPEEDUP_SINGLE_MAX:g}: "
                              f"{'agrees' if ok else 'disagrees'})")
        else:
            c.evidence.append(f"{runtime}: speed-up {s[n]:.2f} (not judged here)")
    if cpus is None or cpus < 2:
        c.verdict = UNDECIDED
        c.evidence.append("cannot be decided: with "
                          + ("an unknown number of CPUs" if cpus is None else "one CPU")
                          + " no runtime can use several cores")
    elif results:
        c.verdict = CONFIRMED if all(results) else REFUTED if not any(results) else MIXED
    return c


def _crossings(xs, lead, ahead, behind):
    """Where the sign of `lead` (log ratio, > 0: `ahead` leads) flips between neighbours."""
    out = []
    signed = [(x, d) for x, d in zip(xs, lead) if d != 0]   # a tie is no side
    for (x0, a), (x1, b) in zip(signed, signed[1:]):
        if a * b < 0:
            # Interpolate in log(x): the measured concurrencies are spread geometrically.
            t = a / (a - b)
            est = math.exp(math.log(x0) + t * (math.log(x1) - math.log(x0)))
            who = f"{ahead} overtake {behind}" if b > 0 else f"{behind} overtake {ahead}"
            out.append(f"{who} between conns:{x0} and conns:{x1} (≈ {est:.0f} by log interpolation)")
    return out


def claim_echo(r):
    """From the slow I/O decision map where the file has slow_io entries; else from echo as before."""
    if r.points("slow_io"):
        return claim_slow_io(r)
    c = _claim_echo(r)
    if c.verdict != NOT_JUDGED:
        c.evidence.insert(0, "no slow_io entries in this file: judged on echo (loopback, fast I/O) as "
                             "before; the slow I/O grid (slow_io) decides this claim where it ran")
    return c


# Light tasks by the stack trait: stackless coroutines, and stackful-light user-space tasks (fibers
# on a fixed user stack). A pool's resumable tasks (per_suspended_task) and OS threads are neither.
LIGHT_STACKS = ("stackless", "fixed_user_stack")


def light_runtimes(r):
    """Runtimes with light tasks, by traits (stack in LIGHT_STACKS); references are not runtimes."""
    return [rt.name for rt in r.runtime_list if rt.has_traits and not io_sections.is_reference(r, rt.name)
            and rt.stack in LIGHT_STACKS]


def per_task_runtimes(r):
    """Runtimes that give every task an OS thread or process of its own (kind thread or process)."""
    return [rt.name for rt in r.runtime_list if rt.has_traits and rt.kind in ("thread", "process")]


def _cell_name(cell):
    return f"upstream {io_sections.duration_text(cell.upstream)}/conns:{cell.conns}"


def _groups(cells):
    """(few-fast cells, many-slow cells, how they were chosen) from the decision map's keys."""
    few = [k for k in cells if k[1] <= FEW_CONNS and k[0] <= FAST_UPSTREAM_US]
    many = [k for k in cells if k[1] >= MANY_CONNS and k[0] >= SLOW_UPSTREAM_US]
    how = (f"few fast: conns ≤ {FEW_CONNS:g} and upstream ≤ {FAST_UPSTREAM_US:g} µs; many slow: conns ≥ "
           f"{MANY_CONNS:g} and upstream ≥ {SLOW_UPSTREAM_US:g} µs")
    return sorted(few), sorted(many), how


def _few_cell(cell, per_task):
    """(verdict, text) for one few-fast cell: threads are fine if a per-task runtime wins, ties, or
    reaches ECHO_FEW_FINE_FRACTION × the winner's req/s."""
    name = _cell_name(cell)
    if cell.client_bound:
        return UNDECIDED, f"{name}: client-bound ({cell.text()}): not judged"
    ours = [(rt, cell.value(rt)) for rt in per_task if cell.value(rt) is not None]
    if not ours:
        why = "; ".join(f"{rt} {tag}" for rt, tag, _ in cell.missing if rt in per_task) or "not measured"
        return UNDECIDED, f"{name}: no thread-per-task runtime measured ({why})"
    rt, v = max(ours, key=lambda t: t[1])
    w = cell.value(cell.winner)
    if cell.is_tie and rt in cell.tie:
        return CONFIRMED, f"{name}: {rt} ties with the winner ({cell.text()}): fine on threads"
    if cell.winner in per_task:
        return CONFIRMED, f"{name}: {cell.winner} wins ({cell.text()}): fine on threads"
    f = v / w
    if f >= ECHO_FEW_FINE_FRACTION:
        return CONFIRMED, (f"{name}: {cell.winner} wins, {rt} reaches {f:.2f}× its req/s "
                           f"(≥ {ECHO_FEW_FINE_FRACTION:g}): fine on threads")
    return REFUTED, (f"{name}: {cell.winner} wins, {rt} reaches only {f:.2f}× its req/s "
                     f"(< {ECHO_FEW_FINE_FRACTION:g}): not fine on threads")


def _many_cell(cell, cpu, light, per_task):
    """(verdict, text) for one many-slow cell: light runtimes are favoured if one wins the throughput
    outside every per-task runtime's spread, or the throughput is a tie and one wins the server CPU
    per request so."""
    name = _cell_name(cell)
    if cell.client_bound:
        return UNDECIDED, f"{name}: client-bound ({cell.text()}): not judged"
    absent = [f"{rt} ({tag})" for rt, tag, _ in cell.missing if rt in per_task]
    gone = f"; {', '.join(absent)} absent" if absent else ""

    def side(c):
        if c is None or not c.ranked:
            return None
        if c.winner in light and not set(c.tie) & set(per_task):
            return "light"
        if c.winner in per_task and not set(c.tie) & set(light):
            return "per-task"
        if set(c.tie) & set(light) and set(c.tie) & set(per_task):
            return "tie"
        return "other"   # neither group wins (e.g. a pool of threads)
    s = side(cell)
    if s == "light":
        return CONFIRMED, f"{name}: {cell.text()} on throughput{gone}: favours light tasks"
    if s == "per-task":
        return REFUTED, f"{name}: {cell.text()} on throughput: favours a thread per task"
    if s == "other":
        return REFUTED, f"{name}: {cell.text()} on throughput: neither light tasks nor a thread per task win"
    cs = side(cpu)
    cpu_text = cpu.text() if cpu is not None else "not measured"
    if cs == "light":
        return CONFIRMED, (f"{name}: throughput a tie ({cell.text()}), server CPU per request {cpu_text}: "
                           f"favours light tasks{gone}")
    if cs == "per-task":
        return REFUTED, (f"{name}: throughput a tie ({cell.text()}), server CPU per request {cpu_text}: "
                         "favours a thread per task")
    return INDISTINGUISHABLE, (f"{name}: throughput a tie ({cell.text()}) and server CPU per request "
                               f"{cpu_text}: inside the spread")


def _side(verdicts):
    decided = [v for v in verdicts if v in (CONFIRMED, REFUTED)]
    if not decided:
        return INDISTINGUISHABLE if INDISTINGUISHABLE in verdicts else UNDECIDED
    if INDISTINGUISHABLE in verdicts and all(v == CONFIRMED for v in decided):
        return MIXED   # favoured somewhere, level elsewhere
    return decided[0] if all(v == decided[0] for v in decided) else MIXED


def claim_slow_io(r):
    c = Claim("e", "Many slow I/O tasks favour coroutines, while a few fast ones are fine on threads.",
              NOT_MEASURED,
              f"from the slow I/O decision map (slow_io, winner per cell on req_per_s, ties when the "
              f"runner-up's min–max range overlaps or the margin is below {io_sections.MAP_TIE_FACTOR:g}×; "
              f"references never win). Light runtimes by traits: stack {' or '.join(LIGHT_STACKS)} (stackless "
              f"coroutines, fibers); "
              f"thread-per-task runtimes: kind thread or process. Few fast tasks (conns ≤ {FEW_CONNS}, "
              f"upstream ≤ {FAST_UPSTREAM_US} µs): fine on threads in a cell if a thread-per-task runtime "
              f"wins, ties, or reaches ≥ {ECHO_FEW_FINE_FRACTION:g}× the winner's req/s. Many slow tasks "
              f"(conns ≥ {MANY_CONNS}, upstream ≥ {SLOW_UPSTREAM_US} µs): light tasks are favoured in a "
              f"cell if a light runtime wins throughput outside every thread-per-task runtime's spread, or "
              f"throughput is a tie and a light runtime wins server CPU per request so. Client-bound cells "
              f"(client_cpu_frac ≥ {io_sections.MAP_CLIENT_SATURATED:g}) decide nothing. A side holds when "
              f"every decided cell agrees, fails when none does; both hold → confirmed, both fail → "
              f"refuted, a side undecided or level → that, otherwise mixed.")
    if not r.has_traits:
        c.verdict = NOT_JUDGED
        c.evidence.append(NO_TRAITS)
        return c
    cells = io_sections.decision_map(r, "req_per_s")
    cpu = io_sections.decision_map(r, "server_cpu_ns_per_req")
    light, per_task = light_runtimes(r), per_task_runtimes(r)
    c.evidence.append(f"light runtimes: {', '.join(light) or 'none'}; thread-per-task runtimes: "
                      f"{', '.join(per_task) or 'none'}")
    if not cells or not light or not per_task:
        c.evidence.append("slow_io: nothing to compare (no cell, or no runtime on one side)")
        return c
    few, many, how = _groups(cells)
    c.evidence.append(f"cells judged: {how}")
    for name, group in (("few fast", few), ("many slow", many)):
        if not group:
            c.evidence.append(f"{name}: no cell of this run's grid is in that range (a profile with a "
                              f"smaller grid, e.g. the test profile): that side is not judged")
    few_v, many_v = [], []
    for k in few:
        v, text = _few_cell(cells[k], per_task)
        few_v.append(v)
        c.evidence.append(f"few fast, {text} ({v})")
    for k in many:
        v, text = _many_cell(cells[k], cpu.get(k), light, per_task)
        many_v.append(v)
        c.evidence.append(f"many slow, {text} ({v})")
    sides = (_side(few_v) if few else UNDECIDED, _side(many_v) if many else UNDECIDED)
    c.evidence.append(f"few fast tasks fine on threads: {sides[0]}; many slow tasks favour light tasks: {sides[1]}")
    if sides[0] == sides[1]:
        c.verdict = sides[0]
    elif CONFIRMED in sides and (UNDECIDED in sides or INDISTINGUISHABLE in sides):
        c.verdict = next(s for s in sides if s != CONFIRMED)
    else:
        c.verdict = MIXED
    refs = sorted({f"{rt} {t}" for k in many for rt, t in cells[k].reference})
    if refs:
        c.evidence.append("yardstick (not judged) in the many-slow cells: " + "; ".join(refs))
    return c


def _claim_echo(r):
    c = Claim("e", "Many slow I/O tasks favour coroutines, while a few fast ones are fine on threads.",
              NOT_MEASURED,
              f"echo, the thread runtime vs the coroutine runtime (by kind) at the conns values both "
              f"measured: at the fewest conns threads are fine if their req_per_s ≥ "
              f"{ECHO_FEW_FINE_FRACTION:g} × coroutines'; at the "
              f"most conns coroutines are favoured if their req_per_s ≥ {ECHO_MANY_FAVOUR_FACTOR:g} × "
              f"the thread runtime's, or its p99_us ≥ {ECHO_MANY_FAVOUR_FACTOR:g} × coroutines'. Both → confirmed, "
              f"neither → refuted, one → mixed. Needs two conns values. Where the curves cross is reported.")
    pair = _by_kind(r, c, "thread", "coroutine")
    if pair is None:
        return c
    thr, coro = pair
    rps = r.series("echo", "req_per_s", "conns", {"rate": None})
    p99 = r.series("echo", "p99_us", "conns", {"rate": None})
    tr, kr = _by_x(rps, thr), _by_x(rps, coro)
    tp, kp = _by_x(p99, thr), _by_x(p99, coro)
    xs = sorted(x for x in set(tr) & set(kr) if tr[x] > 0 and kr[x] > 0)
    if len(xs) < 2:
        if xs:
            c.verdict = UNDECIDED
        c.evidence.append(f"echo: {len(xs)} conns value(s) measured for both {thr} and {coro}; "
                          f"two are needed to compare few against many")
        return c
    for x in xs:
        line = f"conns:{x}: req/s {thr} {fmt(tr[x])}, {coro} {fmt(kr[x])}"
        if x in tp and x in kp:
            line += f"; p99 {thr} {fmt(tp[x])} µs, {coro} {fmt(kp[x])} µs"
        c.evidence.append(line)
    few, many = xs[0], xs[-1]
    pt = {rt: {p.params.get("conns"): p for p in r.points("echo", rt) if "rate" not in p.params}
          for rt in (thr, coro)}
    p99_many = tp.get(many, 0) / kp[many] if kp.get(many) else None
    fine = tr[few] >= ECHO_FEW_FINE_FRACTION * kr[few]
    same_few = overlap_note(pt[thr].get(few), pt[coro].get(few), "req_per_s", thr, coro)
    fine = fine or bool(same_few)
    rps_win = kr[many] >= ECHO_MANY_FAVOUR_FACTOR * tr[many]
    p99_win = p99_many is not None and p99_many >= ECHO_MANY_FAVOUR_FACTOR
    same_rps = overlap_note(pt[thr].get(many), pt[coro].get(many), "req_per_s", thr, coro)
    same_p99 = overlap_note(pt[thr].get(many), pt[coro].get(many), "p99_us", thr, coro)
    favoured = (rps_win and not same_rps) or (p99_win and not same_p99)
    c.evidence.append(f"few (conns:{few}): {thr} reach {tr[few] / kr[few]:.2f}× {coro}' req/s → "
                      f"{'fine' if fine else 'not fine'} on {thr}{same_few}")
    c.evidence.append(f"many (conns:{many}): {coro} {'are' if favoured else 'are not'} favoured "
                      f"(req/s {kr[many] / tr[many]:.2f}× {thr}'"
                      + (f", {thr}' p99 {p99_many:.2f}× {coro}'" if p99_many else "") + ")"
                      + (same_rps if rps_win or not (p99_win and not same_p99) else "")
                      + (same_p99.replace(" (", " in p99_us (", 1) if p99_win and same_p99 else ""))
    sat = [(rt, x, pt[rt][x].counters["client_cpu_frac"]) for rt in (thr, coro) for x in (few, many)
           if x in pt[rt] and _saturated(pt[rt][x])]
    if sat:
        c.evidence.append(f"caveat: the echo client was near saturation (client_cpu_frac ≥ "
                          f"{CLIENT_SATURATED_FRAC:g}): " + ", ".join(f"{rt} conns:{x} {v:.2f}" for rt, x, v in sat)
                          + "; req_per_s there is a bound set by the client, not the server's capacity")
    c.evidence.append("caveat: loopback echo is fast I/O (microseconds per request); slow I/O, the "
                      "claim's subject, is approached only by the many-connection end")
    for name, lead in (("req_per_s", [math.log(kr[x] / tr[x]) for x in xs]),
                       ("p99_us", [math.log(tp[x] / kp[x]) for x in xs
                                   if tp.get(x, 0) > 0 and kp.get(x, 0) > 0])):
        if len(lead) != len(xs):
            continue
        found = _crossings(xs, lead, coro, thr)
        leader = f"{coro} lead" if max(lead) > 0 else f"{thr} lead" if min(lead) < 0 else "level"
        c.evidence.append(f"{name}: " + ("; ".join(found) if found else
                          f"no crossing between conns:{few} and conns:{many}; {leader} throughout"))
    c.verdict = CONFIRMED if fine and favoured else REFUTED if not (fine or favoured) else MIXED
    if same_few and (same_rps or not rps_win) and (same_p99 or not p99_win) and (same_rps or same_p99):
        c.verdict = INDISTINGUISHABLE   # nothing the claim rests on is outside the spread
    return c


def hybrid_runtimes(r, shared_memory):
    """Hybrids that ran: several workers, each a stackless coroutine loop; shared_memory False
    means K processes × a loop each, True K threads × a loop each."""
    return [rt for rt in r.runtimes_where(kind="hybrid", multi_core=True, shared_memory=shared_memory,
                                          stack="stackless")
            if r.points(runtime=rt)]


def proc_coroutine_runtimes(r):
    return hybrid_runtimes(r, shared_memory=False)


def _is_num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def echo_points(r, rt):
    """{conns: Point} from echo; for a runtime without echo entries, from echo_accept without a
    stall (reuseport before shared, then the most workers)."""
    out = {p.params["conns"]: p for p in r.points("echo", rt)
           if _is_num(p.params.get("conns")) and "rate" not in p.params}   # the rate sweep is apart
    if not out:
        accept = [p for p in r.points("echo_accept", rt)
                  if _is_num(p.params.get("conns")) and not p.params.get("stall_ms")]
        workers = {id(p): p.params.get("workers") if _is_num(p.params.get("workers")) else 0 for p in accept}
        for p in sorted(accept, key=lambda p: (p.params.get("accept") != "reuseport", -workers[id(p)])):
            out.setdefault(p.params["conns"], p)
    return out


def _saturated(p):
    return p.counters.get("client_cpu_frac", 0) >= CLIENT_SATURATED_FRAC


def _also(values):
    """', thread_loops 1.23' for the threads × loops runtimes that have a value."""
    return "".join(f", {rt} {fmt(v)}" for rt, v in values.items() if v is not None)


def _measure(verdicts):
    """A measure over several points: ahead somewhere and behind nowhere confirms, the reverse
    refutes, both is mixed; level throughout is mixed; client-bound points do not count."""
    ahead, behind = CONFIRMED in verdicts, REFUTED in verdicts
    if ahead or behind:
        return MIXED if ahead and behind else CONFIRMED if ahead else REFUTED
    if MIXED in verdicts:
        return MIXED
    return (INDISTINGUISHABLE if INDISTINGUISHABLE in verdicts and UNDECIDED not in verdicts else
            UNDECIDED if verdicts else None)


_POINT = {CONFIRMED: "ahead", REFUTED: "behind", MIXED: "level", UNDECIDED: "undecided: client-bound",
          INDISTINGUISHABLE: INDISTINGUISHABLE}


def _echo_measure(r, hyb, loops, singles, c):
    mine = echo_points(r, hyb)
    theirs = {rt: echo_points(r, rt) for rt in singles}
    lower = (any(SERVER_CPU in p.counters for p in mine.values())
             and any(SERVER_CPU in p.counters for pts in theirs.values() for p in pts.values()))
    metric = SERVER_CPU if lower else "req_per_s"
    shown = {rt: echo_points(r, rt) for rt in loops}
    verdicts, saturated = [], []
    for x in sorted(x for x, p in mine.items() if metric in p.counters):
        h = mine[x]
        rivals = [(rt, pts[x]) for rt, pts in theirs.items() if x in pts and metric in pts[x].counters]
        if not rivals:
            c.evidence.append(f"echo conns:{x}: {metric} of {hyb} {fmt(h.counters[metric])}, "
                              f"no single-kind runtime measured")
            continue
        best, b = (min if lower else max)(rivals, key=lambda t: t[1].counters[metric])
        hv, bv = h.counters[metric], b.counters[metric]
        if hv <= 0 or bv <= 0:
            c.evidence.append(f"echo conns:{x}: {metric} {hyb} {fmt(hv)}, {best} {fmt(bv)}: no ratio")
            continue
        adv = bv / hv if lower else hv / bv
        v = grade(adv, HYBRID_LEAD_FACTOR, HYBRID_LEVEL_FRACTION)
        # A client-bound req_per_s is a lower bound on that server's rate (as a capped count in b).
        if not lower and ((v != CONFIRMED and _saturated(h)) or (v != REFUTED and _saturated(b))):
            v = UNDECIDED
        same = overlap_note(h, b, metric, hyb, best)
        if same and v in (CONFIRMED, REFUTED):
            v = INDISTINGUISHABLE
        sat = [(rt, p) for rt, p in ((hyb, h), (best, b)) if _saturated(p)]
        verdicts.append(v)
        src = "" if h.workload == "echo" else " (echo_accept " + "/".join(
            f"{k}:{w}" for k, w in h.params.items() if k != "conns") + ")"
        note = ""
        if sat:
            saturated.append(f"conns:{x}")
            note = "; client near saturation: client_cpu_frac " + ", ".join(
                f"{rt} {p.counters['client_cpu_frac']:.2f}" for rt, p in sat)
        others = {rt: pts[x].counters.get(metric) for rt, pts in shown.items() if x in pts}
        ratio = f"{1 / adv:.2f}× the CPU per request" if lower else f"{adv:.2f}× the req/s"
        c.evidence.append(f"echo conns:{x}, {metric}: {hyb} {fmt(hv)}{src}{_also(others)}, best "
                          f"single-kind {best} {fmt(bv)} → {hyb} {ratio} ({_POINT[v]}){note}{same}")
    if saturated:
        c.evidence.append(
            f"client near saturation (client_cpu_frac ≥ {CLIENT_SATURATED_FRAC:g}) at "
            f"{', '.join(saturated)}: the client, not the server, set req_per_s there"
            + ("" if lower else "; such a point counts only where the bound cannot change "
                                "the comparison, otherwise it is undecided"))
    v = _measure(verdicts)
    if v is None:
        c.evidence.append(f"echo: {hyb} not measured against a single-kind runtime")
    return v


def _speedup_measure(what, hyb, mine, loops, rivals, cpus, c):
    """mine: the hybrid's speed-up; rivals: {single-kind runtime: speed-up}; loops likewise."""
    if mine is None:
        c.evidence.append(f"{what}: speed-up of {hyb} not measured")
        return None
    if not rivals:
        c.evidence.append(f"{what}: {hyb} {mine:.2f}, no single-kind runtime measured")
        return None
    best = max(rivals, key=rivals.get)
    f = mine / rivals[best] if rivals[best] > 0 else math.inf
    if cpus is None or cpus < 2:
        v = UNDECIDED
    else:
        v = CONFIRMED if f >= HYBRID_LEVEL_FRACTION else MIXED if mine >= SPEEDUP_MULTI_MIN else REFUTED
    word = {CONFIRMED: "as strong as the best or stronger", MIXED: "uses the cores, less well than the best",
            REFUTED: f"below {SPEEDUP_MULTI_MIN:g}: does not use the cores",
            UNDECIDED: "core use cannot be decided on fewer than 2 CPUs"}[v]
    c.evidence.append(f"{what}, speed-up: {hyb} {mine:.2f}{_also(loops)}, best single-kind {best} "
                      f"{rivals[best]:.2f} → {f:.2f}× ({word})")
    return v


def claim_proc_coroutines(r):
    c = Claim("f", "Several processes, each running coroutines, are the strongest setup.", NOT_MEASURED,
              f"each runtime of kind hybrid that is multi_core, shares no memory and has stackless tasks "
              f"(K processes × a coroutine loop) against the best single-kind runtime (any kind but "
              f"hybrid) at each point. Echo, at each conns value, on {SERVER_CPU} (lower is better) "
              f"where the file has it, else req_per_s: ahead if ≥ {HYBRID_LEAD_FACTOR:g}× better, "
              f"behind if below {HYBRID_LEVEL_FRACTION:g}×, level in between; where client_cpu_frac ≥ "
              f"{CLIENT_SATURATED_FRAC:g} the client was near saturation, req_per_s is a bound set by "
              f"the client, and a point the bound could overturn is undecided. Echo is confirmed if the "
              f"hybrid is ahead somewhere and behind nowhere, refuted for the reverse, undecided if every "
              f"point is, mixed otherwise. "
              f"cpu_bound speed-up at the hybrid's largest tasks value, and skynet roots:10 speed-up: "
              f"confirmed if ≥ {HYBRID_LEVEL_FRACTION:g}× the best single-kind runtime's, refuted if "
              f"below {SPEEDUP_MULTI_MIN:g}, mixed in between; undecided on one CPU. Measures that "
              f"disagree make the claim mixed. The gain from more cores is bounded by the CPU count "
              f"(context cpu_count). The hybrids of K threads × a loop each are shown beside it, not "
              f"judged: processes against threads × loops separates processes-or-threads from "
              f"one-core-or-many.")
    if not r.has_traits:
        c.verdict = NOT_JUDGED
        c.evidence.append(NO_TRAITS)
        return c
    names = proc_coroutine_runtimes(r)
    if not names:
        c.evidence.append("not measured yet: no multi-process coroutine runtime in this run")
        return c
    loops = hybrid_runtimes(r, shared_memory=True)
    singles = [rt.name for rt in r.runtime_list if rt.has_traits and rt.kind != "hybrid"]
    cpus = r.cpu_count()
    if cpus is None:
        c.evidence.append("condition: the number of CPUs is unknown (no cpu_count in the context), "
                          "so the bound on the gain from more cores cannot be stated")
    else:
        c.evidence.append(f"condition: this machine has {cpus} CPU{'s' if cpus != 1 else ''} "
                          f"(context cpu_count), so the gain from more cores is at most {cpus}×"
                          + ("; a run on a larger machine is the reference for scaling"
                             if cpus <= 2 else ""))
    speedups = r.speedups()
    verdicts = []
    for hyb in names:
        measures = {"echo": _echo_measure(r, hyb, loops, singles, c)}
        by_n = speedups.get(hyb, {})
        n = max(by_n, default=None)
        rivals = {rt: speedups[rt][n] for rt in singles if n in speedups.get(rt, {})}
        measures["cpu_bound"] = _speedup_measure(
            f"cpu_bound tasks:{n}", hyb, by_n.get(n), {rt: speedups.get(rt, {}).get(n) for rt in loops},
            rivals, cpus, c)
        if n is not None and cpus:
            c.evidence.append(f"{hyb} reaches {by_n[n] / min(n, cpus):.0%} of the ideal speed-up "
                              f"min(tasks, CPUs) = {min(n, cpus)}")
        sky = {p.runtime: p for p in r.points("skynet")
               if p.params.get("roots") == 10 and "speedup" in p.counters and "workers" not in p.params}
        if hyb in sky:
            leaves = sky[hyb].params.get("leaves")
            at = {rt: p.counters["speedup"] for rt, p in sky.items() if p.params.get("leaves") == leaves}
            measures["skynet"] = _speedup_measure(
                f"skynet leaves:{leaves}/roots:10", hyb, at[hyb], {rt: at.get(rt) for rt in loops},
                {rt: v for rt, v in at.items() if rt in singles}, cpus, c)
        decided = {k: v for k, v in measures.items() if v is not None}
        verdicts += decided.values()
        c.evidence.append(f"{hyb}: " + ", ".join(f"{k} {v}" for k, v in decided.items())
                          + f" → {combine(list(decided.values()))}" if decided else
                          f"{hyb}: nothing measured to compare")
    c.verdict = combine(verdicts)
    return c


def claim_lost_updates(r):
    c = Claim("g", "Tasks on one coroutine loop lose no updates to shared state without locks; "
                   "threads do.", NOT_MEASURED,
              "lost_updates, the coroutine and the thread runtime (by kind), worst lost_fraction over "
              "all tasks values, per variant. Plain variant (no await param): each task yields only "
              "between one load-and-store and the next, so a runtime running one task at a time loses "
              "nothing by construction; there the claim is confirmed if the coroutine runtime loses 0 "
              "and the thread runtime > 0, but it tests nothing about coroutines. Variant "
              "await:between: the yield comes between the load and the store (read, await, write "
              "back); the claim is refuted there if the coroutine runtime loses any. Both variants → "
              "their verdicts combined (confirmed on one, refuted on the other: mixed); the coroutine "
              "runtime losing any on the plain variant refutes; no loss anywhere means the race did "
              "not show (undecided).")
    pair = _by_kind(r, c, "thread", "coroutine")
    if pair is None:
        return c
    thr, coro = pair
    worst = {}
    for p in r.points("lost_updates"):
        value = p.counters.get("lost_fraction", p.counters.get("lost_updates"))
        if value is not None:
            key = (str(p.params.get("await", "")), p.runtime)
            worst[key] = max(worst.get(key, 0.0), value)
    variants = sorted({v for v, _ in worst})
    verdicts = []
    for variant in variants:
        name = f"await:{variant}" if variant else "plain (no await inside an update)"
        shown = ", ".join(f"{rt} {fmt(worst[(variant, rt)])}" for rt in
                          sorted((rt for v, rt in worst if v == variant), key=r.order_key))
        k, t = worst.get((variant, coro)), worst.get((variant, thr))
        if k is None:
            c.evidence.append(f"{name}: {coro} not measured ({shown})")
            continue
        if k > 0:
            v, why = REFUTED, f"{coro} lose updates"
            if variant:
                why += (": an await between the load and the store lets another task run in between, "
                        "on one thread too")
        elif variant:
            v, why = (UNDECIDED, f"{coro} lost none even with an await inside the update: the race "
                                 f"did not show in this run")
        elif t is None:
            v, why = UNDECIDED, f"{thr} not measured, nothing to contrast with"
        elif t > 0:
            v, why = CONFIRMED, (f"{coro} lose none, {thr} do; by construction: no task yields "
                                 f"inside an update, so this cannot fail on one thread")
        else:
            v, why = UNDECIDED, f"{thr} lost no updates either: the race did not show in this run"
        verdicts.append(v)
        c.evidence.append(f"{name}: worst lost_fraction {shown} → {v} ({why})")
    if not worst:
        c.evidence.append(f"lost_updates: not measured for {coro}")
    elif not any(worst_v for worst_v in variants):
        c.evidence.append("no await:between variant in this file: the plain variant alone holds by "
                          "construction and cannot show whether coroutines lose updates")
    c.verdict = combine(verdicts) if verdicts else NOT_MEASURED
    return c


def held(count, reason):
    """A max_tasks value for prose: "none held" when the first group already failed."""
    return f"none held ({reason})" if count == 0 else f"{fmt(count)} ({reason})"


CLAIMS = (claim_switch, claim_hold, claim_waiting, claim_cpu, claim_echo,
          claim_proc_coroutines, claim_lost_updates)


def evaluate_all(results):
    return [judge(results) for judge in CLAIMS]
