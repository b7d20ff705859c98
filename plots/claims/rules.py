"""The rules that decide a claim record, one per kind of judgement.

A rule is rule(r, claim, roles, record): r is one row set (rowsets.py; the whole file where it
has one language); the rule reads the entries the record selects, among the runtimes its roles
chose, against the record's thresholds (record.thresholds, by the names the record's text uses),
sets claim.verdict and adds the evidence. The claims themselves are data in
records.py; nothing here knows a claim's key or a runtime's name.

factors        a factor between two runtimes per measure (Factor, Held), graded and combined: (a), (b)
waits          concurrent waits against the longest and the sum of the waits: (c)
speedup_split  cpu_bound speed-up of the multi-core runtimes against the one-core ones: (d)
decision_map   the slow_io decision map's few-fast and many-slow cells: (e)
echo_ends      echo at the fewest and the most conns, where there is no slow_io: (e)
hybrid_lead    the multi-process hybrids against the best single-kind runtime: (f)
lost_updates   the worst lost_fraction per variant: (g)
"""

import math
import operator
from dataclasses import dataclass

import io_workloads
import tables
from cobench_results import VERDICT_MIN_N, fmt, held, not_judged, smallest_n, thin

from .engine import Entries, is_num
from .verdicts import (CONFIRMED, INDISTINGUISHABLE, MIXED, NOT_JUDGED, NOT_MEASURED, REFUTED, UNDECIDED,
                       agreement, ahead_behind, combine, grade, overlap_note, sides)

EVERY, LARGEST = "every", "largest"


def _factor(num, den):
    return num / den if num is not None and den is not None and den > 0 else None


def _pair(where, label, a, va, b, vb, unit):
    """'yield_ring tasks:64: threads 1,230 ns, coroutines 45.6 ns'."""
    return f"{where}: {label}{a} {fmt(va)} {unit}, {b} {fmt(vb)} {unit}"


# ---- factors: (a), (b) -----------------------------------------------------------------------

@dataclass(frozen=True)
class Factor(Entries):
    """One counter of the first role's runtime over the second's. Without `over`, at the one point
    the params select; with it, at EVERY value of `over` both measured, or at the LARGEST."""
    at: str = EVERY
    unit: str = ""
    named: bool = False     # the evidence names the counter
    judged: bool = True     # False: shown beside the judged measures, not judged
    spread: bool = False    # say when the two points' min-max ranges overlap
    shown: tuple = ()       # counters shown at the judged point, not judged

    def judge(self, r, c, a, b, th):
        label = f"{self.counter} " if self.named else ""
        if self.over is None:
            xs, every = [None], False
            va, vb = ({None: self.value(r, rt, self.counter)} for rt in (a, b))
        else:
            va, vb = (self.by_x(r, rt, self.counter) for rt in (a, b))
            xs, every = sorted(set(va) & set(vb)), self.at == EVERY
            if not every:
                xs = xs[-1:]
        if every and not xs:
            c.evidence.append(f"{self.where()}: no {self.over} value measured for both {a} and {b}")
            return []
        if not every and (not xs or _factor(va[xs[0]], vb[xs[0]]) is None):
            c.evidence.append(f"{self.where()}: {label}not measured for both {a} and {b}")
            return []
        verdicts = []
        for x in xs:
            f = _factor(va[x], vb[x])
            if f is None:
                continue
            v = grade(f, th["confirm"], th["refute"])
            if self.judged:
                verdicts.append(v)
            spread = (overlap_note(self.point(r, a, x), self.point(r, b, x), self.counter, a, b)
                      if self.spread else "")
            c.evidence.append(_pair(self.where(x), label, a, va[x], b, vb[x], self.unit)
                              + f" → factor {f:.1f}" + (f" ({v})" if self.judged else " (not judged)") + spread)
            for counter in self.shown:
                sa, sb = (self.value(r, rt, counter, x) for rt in (a, b))
                if sa is not None and sb is not None:
                    c.evidence.append(_pair(self.where(x), f"{counter} ", a, sa, b, sb, self.unit)
                                      + " (shown, not judged)")
        return verdicts


# What a max_tasks count is, by what stopped it.
_HOLD_WHAT = {
    tables.WALL: "a wall of this machine (the next spawn was refused)",
    tables.BUDGET: "the memory budget (what fits in that much memory)",
    tables.CAP: "the harness's own cap: a lower bound on what it can hold",
    tables.TIME: "the harness's time limit per group: a lower bound on what it can hold",
    tables.ERROR: "an error: the count says nothing about the machine",
    tables.FAILED: "a failed spawn: a limit of this system's settings, not necessarily of its memory",
    None: "no recorded reason",
}


@dataclass(frozen=True)
class Held(Entries):
    """How many tasks the second role's runtime held over the first's (max_tasks, read by
    tables.stops with what stopped each count). The real ratio where both counts are limits of the
    machine (a wall, the budget, or an older file's failed spawn); a count stopped by the harness's
    cap or time limit is a lower bound: then the factor is a ratio of caps (or a bound), which never
    confirms the claim (a first-role count so bounded can still refute it); an error decides nothing."""

    def judge(self, r, c, thr, coro, th):
        st = {s.runtime: s for s in tables.stops(r)}
        if thr not in st or coro not in st:
            c.evidence.append(f"{self.workload}: not measured for both {thr} and {coro}")
            return []
        t, k = st[thr], st[coro]
        shown = (f"{self.workload}: {coro} {held(k.held, k.label or 'no reason given')}, "
                 f"{thr} {held(t.held, t.label or 'no reason given')}")
        if not t.held or not k.held or tables.ERROR in (t.kind, k.kind):
            c.evidence.append(f"{shown} → no factor ({UNDECIDED})")
            return [UNDECIDED]
        f = k.held / t.held
        v = grade(f, th["confirm"], th["refute"])
        stopped = f"{coro} stopped at {_HOLD_WHAT[k.kind]}; {thr} at {_HOLD_WHAT[t.kind]}"
        if k.lower_bound or t.lower_bound:
            # A lower bound on the second role cannot refute; a ratio with any cap never confirms.
            if v != REFUTED or k.lower_bound:
                v = UNDECIDED
            bound = ("≥ " if k.lower_bound and not t.lower_bound else
                     "≤ " if t.lower_bound and not k.lower_bound else "")
            kind = ("a ratio of caps, not of what the machine holds" if k.lower_bound and t.lower_bound else
                    f"a ratio of caps, not of what the machine holds (only {thr if k.lower_bound else coro}'s "
                    f"count is a limit of the machine, so the factor is a bound)")
            capped = "; a cap is not judged as what the machine holds" if v == UNDECIDED else ""
            c.evidence.append(f"{shown} → factor {bound}{f:.1f}: {kind} ({v}{capped})")
            c.evidence.append(f"caveat: {stopped}; `cobench --profile limits` measures what the machine holds")
            return [v]
        c.evidence.append(f"{shown} → factor {f:.1f} ({v}): the real ratio, both counts being limits of "
                          f"this machine")
        c.evidence.append(stopped + ("; a budget stop is what fits in the budget, so with a larger budget "
                                     "that runtime would hold more" if tables.BUDGET in (k.kind, t.kind) else ""))
        return [v]


def factors(r, c, roles, rec):
    """Each measure of the record between the two roles' runtimes; measures that disagree: mixed."""
    a, b = roles.values()
    c.verdict = combine([v for measure in rec.entries for v in measure.judge(r, c, a, b, rec.thresholds)])


# ---- waits: (c) ------------------------------------------------------------------------------

def waits(r, c, roles, rec):
    """Every point where the sum of the waits is told apart from the longest agrees if the total is
    about the longest wait."""
    (fanout,) = rec.entries
    near = rec.thresholds["near"]
    oks, exceptions, by_runtime = [], [], {}
    for p in fanout.points(r):
        total, longest, summed = (p.counters.get(k) for k in fanout.counter)
        if None in (total, longest, summed) or longest <= 0:
            continue
        where = "/".join(f"{k}:{v}" for k, v in p.params.items())
        note = f"{where} {fmt(total)} ms = {total / longest:.3g}× longest"
        if summed > near * longest:
            note += f", {total / summed:.3g}× sum"
            oks.append(total <= near * longest)
            if not oks[-1]:
                exceptions.append(f"{p.runtime} at {where}")
        by_runtime.setdefault(p.runtime, []).append(note)
    for runtime, notes in by_runtime.items():
        c.evidence.append(f"{runtime}: " + "; ".join(notes))
    if not by_runtime:
        c.evidence.append(f"{fanout.workload}: no entry with " + ", ".join(fanout.counter[:-1])
                          + f" and {fanout.counter[-1]}")
    elif not oks:
        c.verdict = UNDECIDED
        c.evidence.append("no measured point has a sum of waits distinguishable from the longest wait")
    else:
        c.verdict = agreement(oks)
        c.evidence.append(f"{sum(oks)} of {len(oks)} points finish in about the longest wait"
                          + (f"; exceptions: {', '.join(exceptions)}" if exceptions else ""))


# ---- speed-up: (d) ---------------------------------------------------------------------------

def _speedup_tasks(speedups, cpus):
    """The tasks value at which to judge speed-up: the most tasks that fit the cores."""
    measured = sorted({n for s in speedups.values() for n in s if n > 1})
    fitting = [n for n in measured if cpus is None or n <= cpus]
    return fitting[-1] if fitting else (measured[0] if measured else None)


def speedup_split(r, c, roles, rec):
    """cpu_bound speed-up (Results.speedups) at the most tasks that fit the cores: a runtime of the
    role `multi` agrees at or above multi_min, one of `single` at or below single_max."""
    (speedup,) = rec.entries
    cpus = r.cpu_count()
    speedups = r.speedups()
    n = _speedup_tasks(speedups, cpus)
    if n is None:
        c.evidence.append(f"{speedup.workload}: no speed-up beyond {speedup.over}:1 measured")
        return
    c.evidence.append(f"cpu_count {cpus if cpus is not None else 'unknown'}; judged at {speedup.over}:{n}")
    tests = ((roles["multi"], rec.thresholds["multi_min"], operator.ge, "≥", "<"),
             (roles["single"], rec.thresholds["single_max"], operator.le, "≤", ">"))
    oks = []
    for runtime, s in speedups.items():
        if n not in s:
            continue
        test = next((t for t in tests if runtime in t[0]), None)
        if test is None:
            c.evidence.append(f"{runtime}: speed-up {s[n]:.2f} (not judged here)")
            continue
        _, limit, agrees, yes, no = test
        oks.append(agrees(s[n], limit))
        c.evidence.append(f"{runtime}: speed-up {s[n]:.2f} ({yes if oks[-1] else no} {limit:g}: "
                          f"{'agrees' if oks[-1] else 'disagrees'})")
    if cpus is None or cpus < 2:
        c.verdict = UNDECIDED
        c.evidence.append("cannot be decided: with "
                          + ("an unknown number of CPUs" if cpus is None else "one CPU")
                          + " no runtime can use several cores")
    elif oks:
        c.verdict = agreement(oks)


# ---- slow I/O decision map: (e) --------------------------------------------------------------

def _cell_name(cell):
    return f"upstream {io_workloads.duration_text(cell.upstream)}/conns:{cell.conns}"


def _few_fast(cell, roles, th):
    """Threads are fine in a cell if a per-task runtime wins, ties, or reaches fine_fraction × the
    winner's req/s."""
    name, per_task = _cell_name(cell), roles["per_task"]
    ours = [(rt, cell.value(rt)) for rt in per_task if cell.value(rt) is not None]
    if not ours:
        why = "; ".join(f"{rt} {tag}" for rt, tag, _ in cell.missing if rt in per_task) or "not measured"
        return UNDECIDED, f"{name}: no thread-per-task runtime measured ({why})"
    rt, v = max(ours, key=lambda t: t[1])
    if cell.is_tie and rt in cell.tie:
        return CONFIRMED, f"{name}: {rt} ties with the winner ({cell.text()}): fine on threads"
    if cell.winner in per_task:
        return CONFIRMED, f"{name}: {cell.winner} wins ({cell.text()}): fine on threads"
    f, fine = v / cell.value(cell.winner), th["fine_fraction"]
    if f >= fine:
        return CONFIRMED, (f"{name}: {cell.winner} wins, {rt} reaches {f:.2f}× its req/s (≥ {fine:g}): "
                           f"fine on threads")
    return REFUTED, (f"{name}: {cell.winner} wins, {rt} reaches only {f:.2f}× its req/s (< {fine:g}): "
                     f"not fine on threads")


def _winning_side(cell, light, per_task):
    """'light' or 'per-task' when that group wins outside the other's spread, 'tie' when both are
    inside the winner's, 'other' when neither group wins (e.g. a pool of threads); None unranked."""
    if cell is None or not cell.ranked:
        return None
    if cell.winner in light and not set(cell.tie) & set(per_task):
        return "light"
    if cell.winner in per_task and not set(cell.tie) & set(light):
        return "per-task"
    if set(cell.tie) & set(light) and set(cell.tie) & set(per_task):
        return "tie"
    return "other"


_FAVOURS = {"light": (CONFIRMED, "favours light tasks"), "per-task": (REFUTED, "favours a thread per task"),
            "other": (REFUTED, "neither light tasks nor a thread per task win")}


def _many_slow(cell, cpu, roles, th):
    """Light runtimes are favoured in a cell if one wins the throughput outside every per-task
    runtime's spread, or the throughput is a tie and one wins the server CPU per request so."""
    name, light, per_task = _cell_name(cell), roles["light"], roles["per_task"]
    absent = [f"{rt} ({tag})" for rt, tag, _ in cell.missing if rt in per_task]
    gone = f"; {', '.join(absent)} absent" if absent else ""
    side = _winning_side(cell, light, per_task)
    if side in _FAVOURS:
        v, what = _FAVOURS[side]
        return v, f"{name}: {cell.text()} on throughput{gone if side == 'light' else ''}: {what}"
    side = _winning_side(cpu, light, per_task)
    cpu_text = cpu.text() if cpu is not None else "not measured"
    if side in ("light", "per-task"):
        v, what = _FAVOURS[side]
        return v, (f"{name}: throughput a tie ({cell.text()}), server CPU per request {cpu_text}: "
                   f"{what}{gone if side == 'light' else ''}")
    return INDISTINGUISHABLE, (f"{name}: throughput a tie ({cell.text()}) and server CPU per request "
                               f"{cpu_text}: inside the spread")


def _two_sides(by_side):
    """Claim (e) from its two sides: equal → that; one confirmed and the other undecided or level →
    the other; otherwise mixed."""
    if by_side[0] == by_side[1]:
        return by_side[0]
    if CONFIRMED in by_side and (UNDECIDED in by_side or INDISTINGUISHABLE in by_side):
        return next(s for s in by_side if s != CONFIRMED)
    return MIXED


def decision_map(r, c, roles, rec):
    """The decision map (io_workloads.decision_map) on the record's two counters: the few-fast cells
    say whether threads are fine, the many-slow cells whether light tasks are favoured."""
    th, (rate, cpu_counter) = rec.thresholds, rec.entries
    cells = io_workloads.decision_map(r, rate.counter)
    cpu = io_workloads.decision_map(r, cpu_counter.counter)
    light, per_task = roles["light"], roles["per_task"]
    c.evidence.append(f"light runtimes: {', '.join(light) or 'none'}; thread-per-task runtimes: "
                      f"{', '.join(per_task) or 'none'}")
    if not cells or not light or not per_task:
        c.evidence.append(f"{rate.workload}: nothing to compare (no cell, or no runtime on one side)")
        return
    few = sorted(k for k in cells if k[1] <= th["few_conns"] and k[0] <= th["fast_us"])
    many = sorted(k for k in cells if k[1] >= th["many_conns"] and k[0] >= th["slow_us"])
    c.evidence.append(f"cells judged: few fast: conns ≤ {th['few_conns']:g} and upstream ≤ "
                      f"{th['fast_us']:g} µs; many slow: conns ≥ {th['many_conns']:g} and upstream ≥ "
                      f"{th['slow_us']:g} µs")
    groups = (("few fast", few, lambda k: _few_fast(cells[k], roles, th)),
              ("many slow", many, lambda k: _many_slow(cells[k], cpu.get(k), roles, th)))
    for name, group, _ in groups:
        if not group:
            c.evidence.append(f"{name}: no cell of this run's grid is in that range (a profile with a "
                              f"smaller grid, e.g. the test profile): that side is not judged")
    # A cell whose ranked points (and, for many slow, the server-CPU cell that breaks a tie) have
    # fewer than VERDICT_MIN_N repetitions is not judged; each side is combined over its judged cells.
    cell_n = {k: smallest_n([q for cell in (cells[k], cpu.get(k) if k in many else None) if cell is not None
                             for _, q in cell.ranked]) for k in few + many}
    by_side, reading, judged_n, thin_n, counted = [], [], [], [], [0, 0]
    for name, group, judge in groups:
        verdicts, every, deciding, short = [], [], 0, 0
        for k in group:
            if cells[k].client_bound:
                v, text = UNDECIDED, f"{_cell_name(cells[k])}: client-bound ({cells[k].text()}): not judged"
            else:
                v, text = judge(k)
                if thin(cell_n[k]):
                    thin_n.append(cell_n[k])
                    short += 1
                    every.append(v)
                    c.evidence.append(f"{name}, {text} ({not_judged(cell_n[k])}; reading {v}, not a verdict)")
                    continue
                deciding += 1
                if cell_n[k] is not None:
                    judged_n.append(cell_n[k])
            verdicts.append(v)
            every.append(v)
            c.evidence.append(f"{name}, {text} ({v})")
        counted[0] += deciding
        counted[1] += deciding + short
        # A side whose every deciding cell is short of repetitions is not judged (client-bound
        # cells decide nothing either way).
        by_side.append(NOT_JUDGED if short and not deciding else sides(verdicts) if group else UNDECIDED)
        reading.append(sides(every) if every else UNDECIDED)
    c.evidence.append(f"few fast tasks fine on threads: {by_side[0]}; many slow tasks favour light tasks: "
                      f"{by_side[1]}")
    if thin_n:
        c.evidence.append(f"{counted[0]} of {counted[1]} deciding cells judged (client-bound cells decide "
                          f"nothing); {len(thin_n)} not judged (n < {VERDICT_MIN_N}: as few as n = "
                          f"{min(thin_n)}); each side is combined over its judged cells by the rule above")
    c.apart, c.n = True, min(judged_n) if judged_n else min(thin_n, default=None)
    if NOT_JUDGED in by_side:
        # A side without a judged cell: the claim, which needs both sides, is not judged.
        c.n, c.verdict, c.reading = min(thin_n), NOT_JUDGED, _two_sides(reading)
        short = [side for side, v in zip(("few fast", "many slow"), by_side) if v == NOT_JUDGED]
        c.evidence.append(f"{not_judged(c.n)}: " + " and ".join(short)
                          + f" {'has' if len(short) == 1 else 'have'} no deciding cell with n ≥ {VERDICT_MIN_N}, "
                          f"and the claim needs both sides; from every cell's numbers it would read "
                          f"{c.reading}, which is not a verdict")
    else:
        c.verdict = _two_sides(by_side)
    refs = sorted({f"{rt} {t}" for k in many for rt, t in cells[k].reference})
    if refs:
        c.evidence.append("yardstick (not judged) in the many-slow cells: " + "; ".join(refs))


# ---- echo at its two ends: (e) without slow_io -----------------------------------------------

def _saturated(p, th):
    return p.counters.get("client_cpu_frac", 0) >= th["client_saturated"]


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


def echo_ends(r, c, roles, rec):
    """At the fewest conns threads are fine if their req/s reaches fine_fraction × coroutines'; at
    the most, coroutines are favoured if they lead by favour_factor in req/s or in p99."""
    th, (echo,) = rec.thresholds, rec.entries
    thr, coro = roles["thread"], roles["coroutine"]
    fine_at, favour = th["fine_fraction"], th["favour_factor"]
    tr, kr = (echo.by_x(r, rt, "req_per_s") for rt in (thr, coro))
    tp, kp = (echo.by_x(r, rt, "p99_us") for rt in (thr, coro))
    xs = sorted(x for x in set(tr) & set(kr) if tr[x] > 0 and kr[x] > 0)
    if len(xs) < 2:
        if xs:
            c.verdict = UNDECIDED
        c.evidence.append(f"{echo.workload}: {len(xs)} {echo.over} value(s) measured for both {thr} and "
                          f"{coro}; two are needed to compare few against many")
        return
    for x in xs:
        line = f"conns:{x}: req/s {thr} {fmt(tr[x])}, {coro} {fmt(kr[x])}"
        if x in tp and x in kp:
            line += f"; p99 {thr} {fmt(tp[x])} µs, {coro} {fmt(kp[x])} µs"
        c.evidence.append(line)
    few, many = xs[0], xs[-1]
    pt = {rt: {p.params[echo.over]: p for p in echo.points(r, rt)} for rt in (thr, coro)}

    def same(x, counter):
        return overlap_note(pt[thr].get(x), pt[coro].get(x), counter, thr, coro)
    p99_many = tp.get(many, 0) / kp[many] if kp.get(many) else None
    same_few = same(few, "req_per_s")
    fine = tr[few] >= fine_at * kr[few] or bool(same_few)
    rps_win = kr[many] >= favour * tr[many]
    p99_win = p99_many is not None and p99_many >= favour
    same_rps, same_p99 = same(many, "req_per_s"), same(many, "p99_us")
    favoured = (rps_win and not same_rps) or (p99_win and not same_p99)
    c.evidence.append(f"few (conns:{few}): {thr} reach {tr[few] / kr[few]:.2f}× {coro}' req/s → "
                      f"{'fine' if fine else 'not fine'} on {thr}{same_few}")
    c.evidence.append(f"many (conns:{many}): {coro} {'are' if favoured else 'are not'} favoured "
                      f"(req/s {kr[many] / tr[many]:.2f}× {thr}'"
                      + (f", {thr}' p99 {p99_many:.2f}× {coro}'" if p99_many else "") + ")"
                      + (same_rps if rps_win or not (p99_win and not same_p99) else "")
                      + (same_p99.replace(" (", " in p99_us (", 1) if p99_win and same_p99 else ""))
    sat = [(rt, x, pt[rt][x].counters["client_cpu_frac"]) for rt in (thr, coro) for x in (few, many)
           if x in pt[rt] and _saturated(pt[rt][x], th)]
    if sat:
        c.evidence.append(f"caveat: the echo client was near saturation (client_cpu_frac ≥ "
                          f"{th['client_saturated']:g}): "
                          + ", ".join(f"{rt} conns:{x} {v:.2f}" for rt, x, v in sat)
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
    c.verdict = agreement([fine, favoured])
    if same_few and (same_rps or not rps_win) and (same_p99 or not p99_win) and (same_rps or same_p99):
        c.verdict = INDISTINGUISHABLE   # nothing the claim rests on is outside the spread


# ---- hybrids: (f) ----------------------------------------------------------------------------

def echo_points(r, rt, echo, accept):
    """{conns: Point} from `echo`; for a runtime without such entries, from `accept` (reuseport
    before shared, then the most workers)."""
    out = {p.params[echo.over]: p for p in echo.points(r, rt)}
    if not out:
        pts = accept.points(r, rt)
        workers = {id(p): p.params.get("workers") if is_num(p.params.get("workers")) else 0 for p in pts}
        for p in sorted(pts, key=lambda p: (p.params.get("accept") != "reuseport", -workers[id(p)])):
            out.setdefault(p.params[accept.over], p)
    return out


def _also(values):
    """', thread_loops 1.23' for the shown runtimes that have a value."""
    return "".join(f", {rt} {fmt(v)}" for rt, v in values.items() if v is not None)


_POINT = {CONFIRMED: "ahead", REFUTED: "behind", MIXED: "level", UNDECIDED: "undecided: client-bound",
          INDISTINGUISHABLE: INDISTINGUISHABLE}


def _echo_lead(r, hyb, roles, rec, c):
    """The hybrid against the best single-kind runtime at each conns value. echo.counter is (a
    counter where lower is better, one where higher is): the first where both sides have it."""
    th, (echo, accept) = rec.thresholds, rec.entries[:2]
    mine = echo_points(r, hyb, echo, accept)
    theirs = {rt: echo_points(r, rt, echo, accept) for rt in roles["singles"]}
    lower = (any(echo.counter[0] in p.counters for p in mine.values())
             and any(echo.counter[0] in p.counters for pts in theirs.values() for p in pts.values()))
    metric = echo.counter[0 if lower else 1]
    shown = {rt: echo_points(r, rt, echo, accept) for rt in roles["loops"]}
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
        v = grade(adv, th["lead"], th["level"])
        # A client-bound req_per_s is a lower bound on that server's rate (as a capped count in b).
        if not lower and ((v != CONFIRMED and _saturated(h, th)) or (v != REFUTED and _saturated(b, th))):
            v = UNDECIDED
        same = overlap_note(h, b, metric, hyb, best)
        if same and v in (CONFIRMED, REFUTED):
            v = INDISTINGUISHABLE
        sat = [(rt, p) for rt, p in ((hyb, h), (best, b)) if _saturated(p, th)]
        verdicts.append(v)
        src = "" if h.workload == echo.workload else f" ({accept.workload} " + "/".join(
            f"{k}:{w}" for k, w in h.params.items() if k != accept.over) + ")"
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
            f"client near saturation (client_cpu_frac ≥ {th['client_saturated']:g}) at "
            f"{', '.join(saturated)}: the client, not the server, set req_per_s there"
            + ("" if lower else "; such a point counts only where the bound cannot change "
                                "the comparison, otherwise it is undecided"))
    v = ahead_behind(verdicts)
    if v is None:
        c.evidence.append(f"echo: {hyb} not measured against a single-kind runtime")
    return v


def _speedup_lead(what, hyb, mine, loops, rivals, cpus, th, c):
    """mine: the hybrid's speed-up; rivals: {single-kind runtime: speed-up}; loops likewise, shown."""
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
        v = CONFIRMED if f >= th["level"] else MIXED if mine >= th["multi_min"] else REFUTED
    word = {CONFIRMED: "as strong as the best or stronger", MIXED: "uses the cores, less well than the best",
            REFUTED: f"below {th['multi_min']:g}: does not use the cores",
            UNDECIDED: "core use cannot be decided on fewer than 2 CPUs"}[v]
    c.evidence.append(f"{what}, speed-up: {hyb} {mine:.2f}{_also(loops)}, best single-kind {best} "
                      f"{rivals[best]:.2f} → {f:.2f}× ({word})")
    return v


def hybrid_lead(r, c, roles, rec):
    """Each hybrid of the role `hybrids` against the best of `singles` at each point: echo
    (_echo_lead), cpu_bound speed-up at its largest tasks value, skynet speed-up; the hybrids of
    `loops` are shown beside, not judged."""
    th, (echo, _, cpu_bound, skynet) = rec.thresholds, rec.entries
    names, loops, singles = roles["hybrids"], roles["loops"], roles["singles"]
    if not names:
        c.evidence.append("not measured yet: no multi-process coroutine runtime in this run")
        return
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
    sky = {p.runtime: p for p in skynet.points(r) if skynet.counter in p.counters}
    sky_where = "/".join(f"{k}:{v}" for k, v in skynet.params.items() if v is not None)
    verdicts = []
    for hyb in names:
        measures = {echo.workload: _echo_lead(r, hyb, roles, rec, c)}
        by_n = speedups.get(hyb, {})
        n = max(by_n, default=None)
        rivals = {rt: speedups[rt][n] for rt in singles if n in speedups.get(rt, {})}
        measures[cpu_bound.workload] = _speedup_lead(
            f"{cpu_bound.workload} {cpu_bound.over}:{n}", hyb, by_n.get(n),
            {rt: speedups.get(rt, {}).get(n) for rt in loops}, rivals, cpus, th, c)
        if n is not None and cpus:
            c.evidence.append(f"{hyb} reaches {by_n[n] / min(n, cpus):.0%} of the ideal speed-up "
                              f"min({cpu_bound.over}, CPUs) = {min(n, cpus)}")
        if hyb in sky:
            leaves = sky[hyb].params.get("leaves")
            at = {rt: p.counters[skynet.counter] for rt, p in sky.items() if p.params.get("leaves") == leaves}
            measures[skynet.workload] = _speedup_lead(
                f"{skynet.workload} leaves:{leaves}/{sky_where}", hyb, at[hyb], {rt: at.get(rt) for rt in loops},
                {rt: v for rt, v in at.items() if rt in singles}, cpus, th, c)
        decided = {k: v for k, v in measures.items() if v is not None}
        verdicts += decided.values()
        c.evidence.append(f"{hyb}: " + ", ".join(f"{k} {v}" for k, v in decided.items())
                          + f" → {combine(list(decided.values()))}" if decided else
                          f"{hyb}: nothing measured to compare")
    c.verdict = combine(verdicts)


# ---- lost updates: (g) -----------------------------------------------------------------------

def lost_updates(r, c, roles, rec):
    """The worst loss per variant: losing any on one loop refutes; on the plain variant (no yield
    inside an update) the coroutine runtime losing none and the thread runtime some confirms, by
    construction; no loss anywhere is undecided."""
    (lost,) = rec.entries
    thr, coro = roles["thread"], roles["coroutine"]
    worst = {}
    for p in lost.points(r):
        value = next((p.counters[k] for k in lost.counter if k in p.counters), None)
        if value is not None:
            key = (str(p.params.get(lost.variant, "")), p.runtime)
            worst[key] = max(worst.get(key, 0.0), value)
    variants = sorted({v for v, _ in worst})
    verdicts = []
    for variant in variants:
        name = f"{lost.variant}:{variant}" if variant else f"plain (no {lost.variant} inside an update)"
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
        c.evidence.append(f"{name}: worst {lost.counter[0]} {shown} → {v} ({why})")
    if not worst:
        c.evidence.append(f"{lost.workload}: not measured for {coro}")
    elif not any(variants):
        c.evidence.append("no await:between variant in this file: the plain variant alone holds by "
                          "construction and cannot show whether coroutines lose updates")
    c.verdict = combine(verdicts) if verdicts else NOT_MEASURED
