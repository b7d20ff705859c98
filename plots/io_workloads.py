"""Report sections, tables and computed sentences for the I/O workloads: the echo
server measured by an open-loop generator at a fixed offered rate (with the generator's validity
and the machine's hiccup floor), latency against offered load (the rate sweep), the slow I/O
decision map, the blocking-call pitfall; references (the Boost.Asio yardstick) as rows beside the
runtimes. Our loop judged against the yardstick is yardstick.py's section.

Every sentence and verdict is computed from the numbers. An entry whose generator fell behind its
schedule (gen_valid 0 in any repetition) is shown, marked INVALID, and used by no verdict or
best-of. A reference runtime (context.references, e.g. the Asio yardstick) is shown beside the
runtimes and never wins: it is compared, not ranked.

Sections: `xxx_section(doc, results, level=2)` adds its blocks to a doc.Doc and returns True,
or adds nothing and returns False when the file has no data for it: echo_open_section and
load_section (echo's presentation entry), slow_io_section (slow_io's), pitfall_section
(blocking_pitfall's); slow_io_tables is slow_io's workload section. claims/ reads
decision_map(); charts.py draws from the same functions.
"""

import re
from dataclasses import dataclass, field

import tables
from cobench_results import VERDICT_MIN_N, fmt, human, not_judged, smallest_n, thin
from tables import natural, params_text

# Thresholds (the report prints them beside the sections that use them).
MAP_TIE_FACTOR = 1.05          # a decision-map margin below this is a tie, like overlapping ranges
MAP_CLIENT_SATURATED = 0.9     # client_cpu_frac at or above which a slow_io cell is client-bound
KNEE_ACHIEVED_FRACTION = 0.95  # a sweep point is sustained when achieved ≥ this × offered ...
KNEE_P99_FACTOR = 10.0         # ... and its p99 is within this factor of the curve's lowest p99
PITFALL_FIX_FACTOR = 3.0       # offload cuts the timers' max lateness by at least this: the pitfall showed
THRESHOLDS = [
    ("MAP_TIE_FACTOR", MAP_TIE_FACTOR, "decision map: a winner ahead of the runner-up by less than this "
                                       "factor, or whose min–max range overlaps it, is a tie"),
    ("MAP_CLIENT_SATURATED", MAP_CLIENT_SATURATED, "decision map: client_cpu_frac at or above which a "
                                                   "cell is client-bound (its req/s is the client's bound)"),
    ("KNEE_ACHIEVED_FRACTION", KNEE_ACHIEVED_FRACTION, "latency against load: a rate is sustained when "
                                                       "achieved ≥ this × offered and the generator kept up ..."),
    ("KNEE_P99_FACTOR", KNEE_P99_FACTOR, "... and its p99 is within this factor of the lowest p99 of the "
                                         "runtime's curve (the knee: the last rate sustained)"),
    ("PITFALL_FIX_FACTOR", PITFALL_FIX_FACTOR, "pitfall: the blocking call showed when offloading it cut "
                                               "the timers' max lateness at least this many times"),
]

OPEN = "open_server_cpu_ns_per_req"
NOT_REPORTED = "– (not reported)"   # the entry has no such counter (an older generator, say)
INVALID = "INVALID"


# ---- runtimes: references -----------------------------------------------------------------

def references(r):
    """{name: info} of the reference runtimes (context.references: yardsticks, not runtimes)."""
    refs = r.context.get("references")
    return {k: v if isinstance(v, dict) else {} for k, v in refs.items()} if isinstance(refs, dict) else {}


def is_reference(r, runtime):
    return runtime in references(r)


def shown(r, runtime):
    """A runtime's name in a table: a reference says so."""
    return f"{runtime} (reference)" if is_reference(r, runtime) else runtime


# ---- the generator's validity ---------------------------------------------------------------

def invalid_reps(r, p):
    """How many repetitions of p's benchmark had gen_valid 0 (and how many had the counter)."""
    reps = [e for e in r.successful() if e.workload == p.workload and e.runtime == p.runtime
            and e.params == p.params and e.run_type == "iteration" and "gen_valid" in e.counters]
    return sum(e.counters["gen_valid"] < 1 for e in reps), len(reps)


def is_valid(p):
    """False when the generator fell behind in any repetition (the median would mix it in); True for
    entries without a generator flag."""
    if "gen_valid" not in p.counters:
        return True
    # A first repetition left out as a warm-up outlier still ran with a generator behind schedule,
    # and the other counters may keep it: it makes the point invalid too.
    return min(p.counters["gen_valid"], p.lo.get("gen_valid", 1), p.warmup.get("gen_valid", 1)) >= 1


def validity_text(r, p):
    if "gen_valid" not in p.counters:
        return "– (no flag)"
    late = p.counters.get("gen_late_frac")
    late_text = f"late {late:.1%}" if late is not None else "late fraction not reported"
    if is_valid(p):
        return f"valid ({late_text})"
    bad, n = invalid_reps(r, p)
    return (f"**{INVALID}** ({late_text}; generator behind in {bad} of {n} repetitions)" if n > 1 else
            f"**{INVALID}** ({late_text})")


# ---- echo at a fixed offered rate ------------------------------------------------------------

def open_points(r):
    """echo entries with an open phase (not the rate sweep), ordered by conns, then runtime."""
    pts = [p for p in r.points("echo") if "rate" not in p.params and "open_rate" in p.counters]
    return sorted(pts, key=lambda p: (natural(params_text(p.params)), r.order_key(p.runtime)))


def sweep_points(r):
    return [p for p in r.points("echo") if "rate" in p.params and "open_p99_us" in p.counters]


def _us(p, counter):
    v = p.counters.get(counter)
    return NOT_REPORTED if v is None else human(v, "us")


def _floor_mark(p, counter):
    v, floor = p.counters.get(counter), p.counters.get("hiccup_max_us")
    return " ‡" if v is not None and floor is not None and v <= floor else ""


def hiccup_sentence(pts):
    """The machine's hiccup floor over the given open-loop points, as a sentence, or None."""
    p999 = [p.counters["hiccup_p999_us"] for p in pts if "hiccup_p999_us" in p.counters]
    mx = [p.counters["hiccup_max_us"] for p in pts if "hiccup_max_us" in p.counters]
    steal = [p.counters["steal_frac"] for p in pts if "steal_frac" in p.counters]
    if not p999 and not mx:
        return None
    parts = []
    if p999:
        lo, hi = human(min(p999), "us"), human(max(p999), "us")
        parts.append(f"p99.9 {lo}" + (f"–{hi}" if hi != lo else ""))
    if mx:
        parts.append(f"max up to {human(max(mx), 'us')}")
    return ("The machine's own hiccups during these runs (a probe thread in the generator sleeps 1 ms "
            "in a loop and records how late it wakes): " + ", ".join(parts)
            + (f"; steal time up to {max(steal):.2%} of the CPU time" if steal else "")
            + ". Tail latencies (p99.9, max) at or below that floor cannot be told apart from the "
              "machine's own pauses: such cells are marked ‡.")


def open_table(r):
    """(header, rows, notes): one row per runtime × conns of echo's open phase."""
    pts = open_points(r)
    if not pts:
        return None
    best = {}
    for p in pts:
        v = p.counters.get(OPEN)
        key = params_text(p.params)
        if v is not None and v > 0 and is_valid(p) and not is_reference(r, p.runtime):
            if key not in best or v < best[key].counters[OPEN]:
                best[key] = p
    rows = []
    for p in pts:
        key = params_text(p.params)
        cpu = p.counters.get(OPEN)
        cpu_text = NOT_REPORTED if cpu is None else human(cpu, "ns")
        if cpu is not None and not is_valid(p):
            cpu_text += " (invalid: not compared)"
        elif cpu is not None and key in best:
            b = best[key]
            if b is p:
                cpu_text += " · best"
            elif cpu > 0:
                ratio = cpu / b.counters[OPEN]
                cpu_text += (f" · ≈ best (×{fmt(ratio, 2)}, ranges overlap)" if p.overlaps(b, OPEN)
                             else f" · ×{fmt(ratio, 2)}")
                if is_reference(r, p.runtime) and ratio < 1:
                    cpu_text += " (a reference: not ranked)"
        gen = p.counters.get("gen_cpu_ns_per_req")
        steal = p.counters.get("steal_frac")
        rows.append([shown(r, p.runtime), key,
                     human(p.counters["open_rate"], "req/s"), _rate(p), _us(p, "open_p50_us"),
                     _us(p, "open_p90_us"), _us(p, "open_p99_us"),
                     _us(p, "open_p999_us") + _floor_mark(p, "open_p999_us"),
                     _us(p, "open_max_us") + _floor_mark(p, "open_max_us"),
                     _us(p, "hiccup_p999_us"), _us(p, "hiccup_max_us"),
                     NOT_REPORTED if steal is None else f"{steal:.2%}",
                     cpu_text, NOT_REPORTED if gen is None else human(gen, "ns"), validity_text(r, p)])
    header = ["runtime", "params", "offered", "achieved", "p50", "p90", "p99", "p99.9", "max",
              "hiccup p99.9", "hiccup max", "steal", "server CPU / request", "generator CPU / request",
              "generator"]
    notes = ["Latency is measured from each request's intended send time (the schedule), so a stall "
             "of the server shows in every request it delayed.",
             "Server CPU / request: the best (lowest) valid runtime at each params is marked best, the "
             "others ×k against it; a reference is compared, not ranked; an INVALID row is not compared."]
    invalid = [f"{p.runtime} {params_text(p.params)}" for p in pts if not is_valid(p)]
    if invalid:
        notes.append(f"{INVALID}: the generator fell behind its schedule (more than 1% of sends late by "
                     f"more than one interval) at {', '.join(invalid)}: those rows measure the generator, "
                     "not the server, and no verdict or best-of uses them.")
    return header, rows, notes


def _rate(p):
    a, o = p.counters.get("open_req_per_s"), p.counters.get("open_rate")
    if a is None:
        return NOT_REPORTED
    text = human(a, "req/s")
    if o:
        text += f" ({a / o:.0%})"
    return text


def echo_open_section(doc, r, level=2):
    pts = open_points(r)
    if not pts:
        return False
    doc.h(level, "Echo: open loop at a fixed offered rate")
    rates = sorted({p.counters["open_rate"] for p in pts})
    doc.p("Each echo entry runs two phases against the same server. **Closed loop (peak throughput)**: "
          "each connection sends its next request when the reply came, as fast as the server answers "
          "(req_per_s, p50_us, p99_us in the echo tables). **Open loop**: a generator in its own process "
          "sends on a fixed schedule at " + ", ".join(human(x, "req/s") for x in rates)
          + " in total over the connections, whatever the replies do, and measures each request from "
            "its intended send time (no coordinated omission). Server CPU per request compares only "
            "at the same offered rate, because wake-ups are shared by more requests as load rises.")
    sentence = hiccup_sentence(pts)
    if sentence:
        doc.p(sentence)
    header, rows, notes = open_table(r)
    pinned = [p for p in pts if "gen_pinned" in p.counters]
    if pinned:
        n = sum(p.counters["gen_pinned"] > 0 for p in pinned)
        notes = notes + [f"The generator was pinned to a CPU apart from the server in {n} of {len(pinned)} "
                         "entries (gen_pinned)" + ("" if n else ": this machine has too few CPUs to keep "
                                                   "them apart, so the two share the CPUs") + "."]
    doc.table(header, rows, notes)
    return True


# ---- latency against offered load -----------------------------------------------------------

@dataclass
class SweepPoint:
    rate: float
    achieved: float
    p99: float
    valid: bool
    point: object


def sweep_curves(r):
    """{conns: {runtime: [SweepPoint] by offered rate}} from echo/<rt>/conns:C/rate:R."""
    out = {}
    for p in sweep_points(r):
        c = p.params.get("conns")
        achieved = p.counters.get("open_req_per_s")
        if achieved is None:
            continue
        rate = p.counters.get("open_rate", p.params["rate"])
        out.setdefault(c, {}).setdefault(p.runtime, []).append(
            SweepPoint(float(rate), achieved, p.counters["open_p99_us"], is_valid(p), p))
    for by_rt in out.values():
        for pts in by_rt.values():
            pts.sort(key=lambda s: s.rate)
    return {c: dict(sorted(by_rt.items(), key=lambda kv: r.order_key(kv[0])))
            for c, by_rt in sorted(out.items(), key=lambda kv: natural(str(kv[0])))}


def sustained(s, floor):
    """On schedule, achieved ≥ KNEE_ACHIEVED_FRACTION × offered, p99 ≤ KNEE_P99_FACTOR × floor."""
    return (s.valid and s.rate > 0 and s.achieved >= KNEE_ACHIEVED_FRACTION * s.rate
            and s.p99 <= KNEE_P99_FACTOR * floor)


def knee(pts):
    """(the last sustained point before the first unsustained one, the point right after it) of one
    curve, in offered-rate order; either may be None. Invalid points are never sustained."""
    valid = [s.p99 for s in pts if s.valid and s.p99 > 0]
    if not valid:
        return None, pts[0] if pts else None
    floor = min(valid)
    last = None
    for i, s in enumerate(pts):
        if not sustained(s, floor):
            break
        last = i
    if last is None:
        return None, pts[0]
    return pts[last], pts[last + 1] if last + 1 < len(pts) else None


def sweep_table(r):
    curves = sweep_curves(r)
    if not curves:
        return None
    cols = list(curves)
    runtimes = sorted({rt for by_rt in curves.values() for rt in by_rt}, key=r.order_key)
    rows, invalid = [], []
    for rt in runtimes:
        row = [shown(r, rt)]
        for c in cols:
            pts = curves[c].get(rt)
            if not pts:
                row.append(f"– ({tables.missing(r, 'echo', rt, None, 'open_p99_us')[0]})")
                continue
            invalid += [f"{rt} conns:{c} rate:{fmt(s.rate)}" for s in pts if not s.valid]
            last, after = knee(pts)
            text = (f"sustains {human(last.rate, 'req/s')} (p99 {human(last.p99, 'us')})" if last else
                    "sustained no rate measured")
            if after is not None and not after.valid:
                text += f"; at {human(after.rate, 'req/s')} offered: {INVALID} (the generator fell behind)"
            elif after is not None:
                text += (f"; at {human(after.rate, 'req/s')} offered: {human(after.achieved, 'req/s')} "
                         f"achieved, p99 {human(after.p99, 'us')}")
            elif last is not None:
                text += "; the highest rate measured: the knee lies beyond it"
            row.append(text)
        rows.append(row)
    notes = [f"sustains: the highest offered rate up to which every rate was sustained: achieved ≥ "
             f"{KNEE_ACHIEVED_FRACTION:g}× offered, the generator on schedule, and p99 within "
             f"{KNEE_P99_FACTOR:g}× the curve's lowest p99 (the knee); the next rate shows what happens past it."]
    if invalid:
        notes.append(f"{INVALID} points (the generator fell behind; drawn hollow, not used): " + ", ".join(invalid))
    return ["runtime"] + [f"conns:{c}" for c in cols], rows, notes


def load_section(doc, r, level=2):
    t = sweep_table(r)
    if t is None:
        return False
    doc.h(level, "Latency against offered load")
    doc.p("The open-loop generator at rising offered rates, one curve per runtime and connection count "
          "(chart: p99 against the throughput achieved). Below the knee the achieved rate follows the "
          "offered one and p99 stays flat; past it the server cannot keep up, requests queue, and p99 "
          "grows with the queue.")
    sentence = hiccup_sentence(sweep_points(r))
    if sentence:
        doc.p(sentence.replace(" such cells are marked ‡", " the chart draws the hiccup max as a dotted line"))
    doc.table(*t)
    return True


# ---- slow I/O: the decision map ---------------------------------------------------------------

_DURATION = re.compile(r"^\s*([\d.]+)\s*(ns|us|µs|ms|s)?\s*$")
_TO_US = {"ns": 1e-3, "us": 1.0, "µs": 1.0, "ms": 1e3, "s": 1e6, None: 1.0}


def upstream_us(p):
    """The upstream latency of a slow_io point in µs: its `upstream` param (0us, 100us, 1ms, ...),
    else its upstream_us counter; None when neither says."""
    v = p.params.get("upstream")
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return float(v)
    m = _DURATION.match(str(v)) if v is not None else None
    if m:
        return float(m.group(1)) * _TO_US[m.group(2)]
    return p.counters.get("upstream_us")


def duration_text(us):
    if us == 0:
        return "0 µs"
    for div, unit in ((1e6, "s"), (1e3, "ms")):
        if us >= div:
            return f"{us / div:g} {unit}"
    return f"{us:g} µs"


@dataclass
class Cell:
    upstream: float                 # µs
    conns: int
    params: dict
    metric: str
    ranked: list                    # [(runtime, point)], best first, references left out
    tie: list = field(default_factory=list)   # runtimes inside the winner's spread (with it)
    margin: float = None            # winner over runner-up (≥ 1)
    saturated: list = field(default_factory=list)   # [(runtime, client_cpu_frac)]
    missing: list = field(default_factory=list)     # [(runtime, tag, reason)]
    reference: list = field(default_factory=list)   # [(runtime, text)]

    @property
    def winner(self):
        return self.ranked[0][0] if self.ranked else None

    @property
    def is_tie(self):
        return len(self.tie) > 1

    @property
    def client_bound(self):
        return bool(self.saturated)

    def value(self, runtime):
        return next((p.counters[self.metric] for rt, p in self.ranked if rt == runtime), None)

    @property
    def n(self):
        """The smallest n among the ranked points (the winner rests on all of them); references,
        never ranked, do not count."""
        return smallest_n(p for _, p in self.ranked)

    @property
    def judged(self):
        """False where the ranked points have fewer than VERDICT_MIN_N repetitions."""
        return not thin(self.n)

    def shown(self):
        """text(), or 'not judged: n = 2 (reading: coroutines 1.20×)' where the cell is not judged."""
        return self.text() if self.judged else f"{not_judged(self.n)} (reading: {self.text()})"

    def text(self):
        if not self.ranked:
            return "– (no runtime)"
        if self.is_tie:
            t = f"tie: {', '.join(self.tie)}" + (f" (×{self.margin:.2f})" if self.margin else "")
        elif self.margin is None:
            t = f"{self.winner} (alone)"
        else:
            t = f"{self.winner} {self.margin:.2f}×"
        if self.saturated:
            t += " ⚑ client-bound"
        return t


def _better(r, metric):
    return r.counter(metric).better if metric != "req_per_s" else "higher"


def decision_map(r, metric="req_per_s"):
    """{(upstream µs, conns): Cell} for slow_io, ranked on `metric` (its direction from the file)."""
    pts = [p for p in r.points("slow_io") if metric in p.counters]
    if not pts:
        return {}
    higher = _better(r, metric) != "lower"
    ran = [rt for rt in r.runtimes_in_run() if not is_reference(r, rt)
           and (r.points("slow_io", rt) or tables.is_declared(r, "slow_io", rt))]
    by_cell = {}
    for p in pts:
        L, n = upstream_us(p), p.params.get("conns")
        if L is None or not isinstance(n, (int, float)):
            continue
        by_cell.setdefault((L, n), []).append(p)
    out = {}
    for (L, n), cell_pts in sorted(by_cell.items()):
        cands = [p for p in cell_pts if not is_reference(r, p.runtime) and p.counters[metric] > 0]
        cands.sort(key=lambda p: (-p.counters[metric] if higher else p.counters[metric], r.order_key(p.runtime)))
        cell = Cell(L, n, dict(cell_pts[0].params), metric, [(p.runtime, p) for p in cands])
        if cands:
            w = cands[0]
            wv = w.counters[metric]

            def factor(p):
                v = p.counters[metric]
                return wv / v if higher else v / wv
            if len(cands) > 1:
                cell.margin = factor(cands[1])
            cell.tie = [w.runtime] + [p.runtime for p in cands[1:]
                                      if p.overlaps(w, metric) or factor(p) < MAP_TIE_FACTOR]
            if len(cell.tie) == 1:
                cell.tie = [w.runtime]
            top = [w] + ([cands[1]] if len(cands) > 1 else [])
            cell.saturated = [(p.runtime, p.counters["client_cpu_frac"]) for p in top
                              if p.counters.get("client_cpu_frac", 0) >= MAP_CLIENT_SATURATED]
            for p in cell_pts:
                if is_reference(r, p.runtime) and p.counters[metric] > 0:
                    v = p.counters[metric]
                    f = v / wv if higher else wv / v
                    if p.overlaps(w, metric) or 1 / MAP_TIE_FACTOR < f < MAP_TIE_FACTOR:
                        text = f"level with {w.runtime} (×{f:.2f})"
                    elif f > 1:
                        text = f"would win by {f:.2f}×"
                    else:
                        text = f"would lose: {w.runtime} {1 / f:.2f}× better"
                    cell.reference.append((p.runtime, text))
        have = {rt for rt, _ in cell.ranked}
        for rt in ran:
            if rt not in have:
                tag, why = tables.missing(r, "slow_io", rt, cell.params, metric)
                cell.missing.append((rt, tag, why))
        out[(L, n)] = cell
    return out


def map_axes(cells):
    ls = sorted({L for L, _ in cells})
    ns = sorted({n for _, n in cells})
    return ls, ns


def map_table(r, metric):
    cells = decision_map(r, metric)
    if not cells:
        return None
    ls, ns = map_axes(cells)
    rows = []
    for L in ls:
        row = [f"upstream {duration_text(L)}"]
        for n in ns:
            c = cells.get((L, n))
            if c is None:
                row.append("– (not measured)")
                continue
            text = c.shown()
            if c.reference:
                text += "; " + "; ".join(f"{rt} {t}" for rt, t in c.reference)
            row.append(text)
        rows.append(row)
    notes = []
    missing = {}
    for c in cells.values():
        for rt, tag, why in c.missing:
            missing.setdefault((rt, tag, why), []).append(f"{duration_text(c.upstream)}/conns:{c.conns}")
    for (rt, tag, why), where in missing.items():
        notes.append(f"{rt} absent from {len(where)} cell(s), {why if why.startswith(tag) else f'{tag}: {why}'}: "
                     f"{', '.join(where)}")
    sat = [f"{duration_text(c.upstream)}/conns:{c.conns} (" + ", ".join(f"{rt} {v:.2f}" for rt, v in c.saturated)
           + ")" for c in cells.values() if c.saturated]
    if sat:
        notes.append(f"⚑ client-bound (client_cpu_frac ≥ {MAP_CLIENT_SATURATED:g} for the winner or the "
                     f"runner-up): {'; '.join(sat)}. There the client, not the server, set the rate; the "
                     "winner is not decided by the server.")
    thin_cells = [c for c in cells.values() if c.ranked and not c.judged]
    if thin_cells:
        notes.append(f"not judged: n = k: a cell whose runtimes have fewer than {VERDICT_MIN_N} repetitions "
                     f"({len(thin_cells)} of {len(cells)} here) names no winner; the reading in parentheses is "
                     "what its numbers would say, not a verdict.")
    return ["", *[f"conns:{n}" for n in ns]], rows, notes


def slow_io_section(doc, r, level=2):
    """The decision map (throughput, then server CPU per request) and what decided each cell."""
    t = map_table(r, "req_per_s")
    if t is None:
        return False
    doc.h(level, "Slow I/O: the decision map")
    refs = [rt for rt in references(r) if r.points("slow_io", rt)]
    doc.p("Each request waits on a simulated upstream of latency L before its reply, with N connections "
          "(N requests in flight). Per cell (L, N): the runtime with the most requests per second, and "
          "its margin over the runner-up. A cell is a **tie** when the runner-up's min–max range overlaps "
          f"the winner's or the margin is below {MAP_TIE_FACTOR:g}× (the run-to-run spread of this "
          "machine): all runtimes inside it are named. ⚑ marks a client-bound cell."
          + (f" {', '.join(refs)}: a reference, never a winner; each cell says whether it would win." if refs else ""))
    header, rows, notes = t
    doc.p("**Throughput** (req_per_s, higher is better):")
    doc.table(header, rows, notes)
    cpu = map_table(r, "server_cpu_ns_per_req")
    if cpu is not None:
        doc.p("**Server CPU per request** (server_cpu_ns_per_req, lower is better; the cheapest runtime per "
              "cell):")
        doc.table(*cpu)
    ideal = [p for p in r.points("slow_io") if p.counters.get("ideal_req_per_s")]
    if ideal:
        near = sum(p.counters.get("req_per_s", 0) >= 0.9 * p.counters["ideal_req_per_s"] for p in ideal)
        doc.p(f"Little's law gives the most a cell can do: N / L requests per second (ideal_req_per_s). "
              f"{near} of {len(ideal)} runtime × cell points with L > 0 reached at least 90% of it: where all "
              "runtimes reach it, the upstream, not the runtime, sets the rate, and the cell is a tie on "
              "throughput (server CPU per request still differs).")
    return True


def slow_io_tables(doc, r, level=3):
    """The workload section for slow_io: one table per counter, rows runtime × upstream, columns
    conns (instead of one column per cell of the grid)."""
    pts = r.points("slow_io")
    if not pts:
        return False
    doc.h(level, "slow_io")
    ls = sorted({upstream_us(p) for p in pts if upstream_us(p) is not None})
    ns = sorted({p.params["conns"] for p in pts if isinstance(p.params.get("conns"), (int, float))})
    doc.p(f"`slow_io` ran at upstream L = {', '.join(duration_text(L) for L in ls)}; conns N = "
          f"{', '.join(map(str, ns))}. Rows: runtime × upstream; columns: conns.")
    skip = {"upstream_us", "ideal_req_per_s"}
    for counter in tables.result_counters(r, pts):
        if counter in skip:
            continue
        have = {(p.runtime, upstream_us(p), p.params.get("conns")): p for p in pts if counter in p.counters}
        if not have:
            continue
        notes = tables.Notes()
        rows = []
        runtimes = [rt for rt in r.runtimes_in_run() if r.points("slow_io", rt)]
        for L in ls:
            if counter == "req_per_s":
                rows.append([f"ideal N / L, {duration_text(L)}"] + [
                    human(n / (L * 1e-6), "req/s") if L else "– (no wait)" for n in ns])
            for rt in runtimes:
                row = [f"{shown(r, rt)}, {duration_text(L)}"]
                for n in ns:
                    p = have.get((rt, L, n))
                    if p is not None:
                        row.append(tables.cell(p, counter))
                    else:
                        src = next((q for q in pts if upstream_us(q) == L and q.params.get("conns") == n), None)
                        row.append(notes.cell(r, "slow_io", rt, src.params if src else None, counter))
                rows.append(row)
        info = r.counter(counter)
        better = {"lower": ", lower is better", "higher": ", higher is better"}.get(info.better, "")
        doc.p(f"**{counter}** ({info.unit or 'no unit declared'}{better}; median (min–max), "
              f"{tables.n_summary(pts, [counter])}):")
        doc.table(["runtime, upstream"] + [f"conns:{n}" for n in ns], rows,
                  notes.lines() + tables.warmup_lines(pts, [counter]))
    return True


# ---- the blocking-call pitfall -----------------------------------------------------------------

PITFALL_COUNTERS = ("timer_late_p50_us", "timer_late_p99_us", "timer_late_max_us")


def pitfall_pairs(r):
    """{(runtime, variant text): {"no": point, "yes": point}} from blocking_pitfall entries; the
    variant is every param but offload (block:read, block:hog, and any other the workload adds)."""
    out = {}
    for p in r.points("blocking_pitfall"):
        variant = params_text({k: v for k, v in p.params.items() if k != "offload"})
        out.setdefault((p.runtime, variant), {})[str(p.params.get("offload", "—"))] = p
    return dict(sorted(out.items(), key=lambda kv: (natural(kv[0][1]), r.order_key(kv[0][0]))))


def _late(p, counter):
    v = p.counters.get(counter)
    return NOT_REPORTED if v is None else human(v, "us")


def pitfall_table(r):
    pairs = pitfall_pairs(r)
    if not pairs:
        return None
    rows, notes = [], tables.Notes()
    for (rt, variant), by in pairs.items():
        no, yes = by.get("no"), by.get("yes")
        row = [rt, variant]
        for p, off in ((no, "no"), (yes, "yes")):
            if p is None:
                params = dict(next(iter(by.values())).params, offload=off)
                row += [notes.cell(r, "blocking_pitfall", rt, params)] * len(PITFALL_COUNTERS)
            else:
                row += [_late(p, c) for c in PITFALL_COUNTERS]
        cost = yes.counters.get("offload_cost_us") if yes is not None else None
        row.append(("– (no offload:yes entry)" if yes is None else NOT_REPORTED) if cost is None
                   else human(cost, "us"))
        row.append(_pitfall_effect(no, yes))
        rows.append(row)
    others = sorted({k for by in pairs.values() for p in by.values() for k in p.params
                     if k not in ("offload", "block")})
    header = ["runtime", "variant", "late p50, no offload", "late p99, no offload", "late max, no offload",
              "late p50, offload", "late p99, offload", "late max, offload", "offload cost", "max: no / yes"]
    lines = notes.lines()
    if others:
        lines.append(f"Other parameters of this workload, shown in the variant: {', '.join(others)}.")
    return header, rows, lines


def _pitfall_effect(no, yes):
    c = "timer_late_max_us"
    if no is None or yes is None:
        return "– (needs both offload:no and offload:yes)"
    if c not in no.counters or c not in yes.counters or yes.counters[c] <= 0:
        return f"– (no {c} above 0 in both)"
    f = no.counters[c] / yes.counters[c]
    n = smallest_n([no, yes])
    if thin(n):
        return f"×{f:.2f} ({not_judged(n)})"
    if no.overlaps(yes, c):
        return f"×{f:.2f} (ranges overlap)"
    return f"×{f:.1f}" + (" (the pitfall)" if f >= PITFALL_FIX_FACTOR else "")


def pitfall_sentences(r):
    """Where the pitfall showed and where not, per variant; a pair with fewer than VERDICT_MIN_N
    repetitions on a side is not judged (its numbers are named)."""
    hit, spared, short = {}, {}, {}
    c = "timer_late_max_us"
    for (rt, variant), by in pitfall_pairs(r).items():
        no, yes = by.get("no"), by.get("yes")
        if no is None or yes is None or c not in no.counters or c not in yes.counters or yes.counters[c] <= 0:
            continue
        f = no.counters[c] / yes.counters[c]
        n = smallest_n([no, yes])
        text = f"{rt} ({human(no.counters[c], 'us')} → {human(yes.counters[c], 'us')}"
        if thin(n):
            short.setdefault(variant, []).append((f"{text}, n = {n})", n))
            continue
        target = hit if f >= PITFALL_FIX_FACTOR and not no.overlaps(yes, c) else spared
        target.setdefault(variant, []).append(text + ")")
    own = {rt.name for rt in r.runtime_list if rt.kind in ("thread", "process")}
    out = []
    for variant in sorted(set(hit) | set(spared) | set(short), key=natural):
        if variant in hit:
            odd = [t.split(" (")[0] for t in hit[variant] if t.split(" (")[0] in own]
            out.append(f"{variant}: offloading the call cut the timers' max lateness at least "
                       f"{PITFALL_FIX_FACTOR:g}× on {', '.join(hit[variant])} (without offload → with it)"
                       + (f"; {', '.join(odd)} give every task its own thread or process, so a blocking "
                          "call cannot hold their timers: there the difference is not the pitfall but "
                          "the machine (a preempted timer thread; compare with the hiccup floor of the "
                          "echo section)" if odd else "")
                       + ".")
        if variant in spared:
            out.append(f"{variant}: no pitfall (offload changed the max lateness less than "
                       f"{PITFALL_FIX_FACTOR:g}×, or inside the spread) on {', '.join(spared[variant])}: "
                       "the blocking call blocked only its own task, or the runtime had other threads to "
                       "run the timers.")
        if variant in short:
            out.append(f"{variant}: {not_judged(min(n for _, n in short[variant]))} (fewer than {VERDICT_MIN_N} "
                       f"repetitions, no verdict on the pitfall) on {', '.join(t for t, _ in short[variant])} "
                       "(without offload → with it).")
    return out


def pitfall_section(doc, r, level=2):
    """Timers' lateness beside a blocking call, without and with offload, and where it showed."""
    table = pitfall_table(r)
    if not table:
        return False
    doc.h(level, "The blocking-call pitfall")
    pts = r.points("blocking_pitfall")
    timers = sorted({int(p.counters["timers"]) for p in pts if "timers" in p.counters})
    calls = {}
    for p in pts:
        if "call_us" in p.counters:
            calls.setdefault(str(p.params.get("block", "—")), []).append(p.counters["call_us"])
    took = "; ".join(f"block:{b} calls took {human(min(v), 'us')}" + (f"–{human(max(v), 'us')}" if
                                                                      human(max(v), 'us') != human(min(v), 'us') else "")
                     for b, v in sorted(calls.items()))
    doc.p(f"{' or '.join(map(str, timers)) or 'K'} timer tasks, each due every 1 ms, share the runtime with one "
          "task that makes a blocking call, a few times a run (block:read: a blocking read that waits; "
          "block:hog: computation that never yields)" + (f" ({took})" if took else "") + ". Lateness is how "
          "long after its deadline each timer woke. offload:yes hands the call to a pool thread and awaits "
          "it (as asyncio's run_in_executor does); offload cost is the extra time an offloaded call took "
          "over the call itself.")
    doc.bullets(pitfall_sentences(r))
    doc.table(*table)
    return True


def has_io(r):
    """True for a file with the I/O measurements: open-loop echo, slow_io or blocking_pitfall entries
    (a file from before them gets no note of their absence)."""
    return bool(open_points(r) or r.points("slow_io") or r.points("blocking_pitfall"))
