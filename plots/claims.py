"""Classic claims about concurrency runtimes, each judged from one results file.

Every verdict is computed from the numbers in the file; the thresholds are the
named constants below, and the report prints them next to the verdicts.
Runtimes are chosen by the traits the file declares (context.runtimes), never
by name: where a claim says threads it means the runtime of kind thread, for
coroutines the one of kind coroutine, for multi-core those with multi_core true. A file without traits
(schema 1) gets the verdict NOT_JUDGED for such claims, with the reason.
evaluate_all(results) -> list of Claim.
"""

import math
from dataclasses import dataclass, field

from cobench_results import fmt

CONFIRMED, REFUTED, MIXED = "confirmed", "refuted", "mixed"
UNDECIDED, NOT_MEASURED, NOT_JUDGED = "undecided", "not measured", "not judged"
VERDICTS = (CONFIRMED, REFUTED, MIXED, UNDECIDED, NOT_MEASURED, NOT_JUDGED)

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
PROC_CORO_SWITCH_MAX_FACTOR = 2.0

_MEANINGS = {
    "SWITCH_CONFIRM_FACTOR": "(a) confirmed at or above this threads/coroutines switch-cost factor",
    "SWITCH_REFUTE_FACTOR": "(a) refuted below this factor; mixed in between",
    "HOLD_CONFIRM_FACTOR": "(b) confirmed at or above this factor in max_tasks and in rss_per_task",
    "HOLD_REFUTE_FACTOR": "(b) refuted below this factor; mixed in between",
    "WAIT_NEAR_LONGEST": "(c) total_ms ≤ this × longest_wait_ms counts as about the longest wait",
    "SPEEDUP_MULTI_MIN": "(d, f) cpu_bound speed-up that counts as using several cores",
    "SPEEDUP_SINGLE_MAX": "(d) cpu_bound speed-up at or below which a runtime counts as one-core",
    "ECHO_FEW_FINE_FRACTION": "(e) threads' req/s at the fewest conns must reach this × coroutines'",
    "ECHO_MANY_FAVOUR_FACTOR": "(e) coroutines must lead by this factor (req/s or p99) at the most conns",
    "PROC_CORO_SWITCH_MAX_FACTOR": "(f) switch_ns at most this × plain coroutines' keeps coroutine costs",
}
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
    """One verdict from several measures: agreement wins, disagreement is mixed."""
    decided = [v for v in verdicts if v in (CONFIRMED, REFUTED, MIXED)]
    if not decided:
        return UNDECIDED if UNDECIDED in verdicts else NOT_MEASURED
    return decided[0] if all(v == decided[0] for v in decided) else MIXED


def _by_x(series, runtime):
    return {x: y for x, y, _ in series.get(runtime, [])}


def _ratio(num, den):
    return num / den if num is not None and den else None


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
                          f"→ factor {f:.1f}" + (f" ({v})" if judged else " (not judged)"))
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
              f"refuted if < {HOLD_REFUTE_FACTOR:g}; a coroutine count stopped by the harness's own limit is a "
              f"lower bound and cannot refute (a threads count so stopped cannot confirm). "
              f"Disagreeing measures make the claim mixed.")
    pair = _by_kind(r, c, "thread", "coroutine")
    if pair is None:
        return c
    thr, coro = pair
    verdicts = []
    t = r.value("max_tasks", thr, "max_tasks")
    k = r.value("max_tasks", coro, "max_tasks")
    k_label = next((p.label for p in r.points("max_tasks", coro)), "") or "no reason given"
    t_label = next((p.label for p in r.points("max_tasks", thr)), "") or "no reason given"
    f = _ratio(k, t)
    if t is None or k is None:
        c.evidence.append(f"max_tasks: not measured for both {thr} and {coro}")
    elif not t or not k:
        verdicts.append(UNDECIDED)
        c.evidence.append(f"max_tasks: {coro} {held(k, k_label)}, {thr} {held(t, t_label)} "
                          f"→ no factor ({UNDECIDED})")
    else:
        # A count stopped by the harness's own limit is only a lower bound.
        k_capped = k_label.lower().startswith("limit")
        t_capped = t_label.lower().startswith("limit")
        v = grade(f, HOLD_CONFIRM_FACTOR, HOLD_REFUTE_FACTOR)
        if (v != CONFIRMED and k_capped) or (v != REFUTED and t_capped):
            v = UNDECIDED
        bound = "≥ " if k_capped and not t_capped else "≤ " if t_capped and not k_capped else ""
        verdicts.append(v)
        c.evidence.append(f"max_tasks: {coro} {held(k, k_label)}, {thr} {held(t, t_label)} "
                          f"→ factor {bound}{f:.1f} ({v})")
    s = r.series("idle_memory", "rss_per_task", "tasks")
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
            tv = r.value("idle_memory", thr, counter, tasks=n)
            kv = r.value("idle_memory", coro, counter, tasks=n)
            if tv is not None and kv is not None:
                c.evidence.append(f"idle_memory tasks:{n}: {counter} {thr} {fmt(tv)} B, "
                                  f"{coro} {fmt(kv)} B (shown, not judged)")
    else:
        c.evidence.append(f"idle_memory: rss_per_task not measured for both {thr} and {coro}")
    c.verdict = combine(verdicts)
    return c


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
    rps = r.series("echo", "req_per_s", "conns")
    p99 = r.series("echo", "p99_us", "conns")
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
    p99_many = tp.get(many, 0) / kp[many] if kp.get(many) else None
    fine = tr[few] >= ECHO_FEW_FINE_FRACTION * kr[few]
    favoured = (kr[many] >= ECHO_MANY_FAVOUR_FACTOR * tr[many]
                or (p99_many is not None and p99_many >= ECHO_MANY_FAVOUR_FACTOR))
    c.evidence.append(f"few (conns:{few}): {thr} reach {tr[few] / kr[few]:.2f}× {coro}' req/s → "
                      f"{'fine' if fine else 'not fine'} on {thr}")
    c.evidence.append(f"many (conns:{many}): {coro} {'are' if favoured else 'are not'} favoured "
                      f"(req/s {kr[many] / tr[many]:.2f}× {thr}'"
                      + (f", {thr}' p99 {p99_many:.2f}× {coro}'" if p99_many else "") + ")")
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
    return c


def proc_coroutine_runtimes(r):
    """Hybrids of separate processes (no shared memory) each running a stackless coroutine loop."""
    return [rt for rt in r.runtimes_where(kind="hybrid", multi_core=True, shared_memory=False,
                                          stack="stackless")
            if r.points(runtime=rt)]


def claim_proc_coroutines(r):
    c = Claim("f", "Several processes each running coroutines use every core and keep coroutine costs.",
              NOT_MEASURED,
              f"for each runtime of kind hybrid that is multi_core, shares no memory and has stackless "
              f"tasks (processes each running a coroutine loop): cpu_bound speed-up (as in d) "
              f"≥ {SPEEDUP_MULTI_MIN:g} uses the cores; ping_pong pin:same switch_ns ≤ "
              f"{PROC_CORO_SWITCH_MAX_FACTOR:g} × that of the plain coroutine runtime keeps the costs. "
              f"Both → confirmed, neither → refuted, one → mixed.")
    if not r.has_traits:
        c.verdict = NOT_JUDGED
        c.evidence.append(NO_TRAITS)
        return c
    names = proc_coroutine_runtimes(r)
    if not names:
        c.evidence.append("not measured yet: no multi-process coroutine runtime in this run")
        return c
    plain_rt = next(iter(r.runtimes_where(kind="coroutine")), None)
    cpus = r.cpu_count()
    speedups = r.speedups()
    n = _speedup_tasks(speedups, cpus)
    verdicts = []
    for rt in names:
        s = speedups.get(rt, {}).get(n) if n is not None else None
        if s is None:
            c.evidence.append(f"{rt}: cpu_bound speed-up not measured")
        elif cpus is None or cpus < 2:
            verdicts.append(UNDECIDED)
            c.evidence.append(f"{rt}: speed-up {s:.2f} at tasks:{n}, but with "
                              f"{'unknown' if cpus is None else 'one'} CPU(s) core use cannot be decided")
        else:
            ok = s >= SPEEDUP_MULTI_MIN
            verdicts.append(CONFIRMED if ok else REFUTED)
            c.evidence.append(f"{rt}: speed-up {s:.2f} at tasks:{n} on {cpus} CPUs "
                              f"({'≥' if ok else '<'} {SPEEDUP_MULTI_MIN:g})")
        mine = r.value("ping_pong", rt, "switch_ns", pin="same")
        plain = r.value("ping_pong", plain_rt, "switch_ns", pin="same") if plain_rt else None
        f = _ratio(mine, plain)
        if f is None:
            c.evidence.append(f"{rt}: ping_pong pin:same not measured for it and a plain coroutine runtime")
        else:
            ok = f <= PROC_CORO_SWITCH_MAX_FACTOR
            verdicts.append(CONFIRMED if ok else REFUTED)
            c.evidence.append(f"{rt}: switch {fmt(mine)} ns vs {plain_rt} {fmt(plain)} ns → "
                              f"{f:.2f}× ({'≤' if ok else '>'} {PROC_CORO_SWITCH_MAX_FACTOR:g})")
    c.verdict = combine(verdicts)
    return c


def claim_lost_updates(r):
    c = Claim("g", "Tasks on one coroutine loop lose no updates to shared state without locks; "
                   "threads do.", NOT_MEASURED,
              "lost_updates, worst over all tasks values, of the coroutine and the thread runtime (by "
              "kind): confirmed if the coroutine runtime loses 0 and the thread runtime loses > 0; "
              "refuted if the coroutine runtime loses any; if neither loses any the race did not show "
              "in this run and the claim is undecided.")
    pair = _by_kind(r, c, "thread", "coroutine")
    if pair is None:
        return c
    thr, coro = pair
    worst = {}
    for p in r.points("lost_updates"):
        if "lost_updates" in p.counters:
            worst[p.runtime] = max(worst.get(p.runtime, 0.0), p.counters["lost_updates"])
    for rt in sorted(worst, key=r.order_key):
        c.evidence.append(f"{rt}: at most {fmt(worst[rt])} updates lost")
    k, t = worst.get(coro), worst.get(thr)
    if k is None:
        c.evidence.append(f"{coro}: not measured")
    elif k > 0:
        c.verdict = REFUTED
    elif t is None:
        c.verdict = UNDECIDED
        c.evidence.append(f"{thr}: not measured, so there is nothing to contrast with")
    elif t > 0:
        c.verdict = CONFIRMED
    else:
        c.verdict = UNDECIDED
        c.evidence.append(f"{thr} lost no updates either: the race did not show in this run")
    return c


def held(count, reason):
    """A max_tasks value for prose: "none held" when the first group already failed."""
    return f"none held ({reason})" if count == 0 else f"{fmt(count)} ({reason})"


CLAIMS = (claim_switch, claim_hold, claim_waiting, claim_cpu, claim_echo,
          claim_proc_coroutines, claim_lost_updates)


def evaluate_all(results):
    return [judge(results) for judge in CLAIMS]
