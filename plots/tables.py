"""Tables for the report, built only from what the results file declares.

headline(r)            the headline table (runtimes as columns, × best per row); the README's
                       medians table is the same function's output (report.py --readme-table)
workload_tables(r, w)  one table per counter of a workload, for any workload, known or not
missing(r, ...)        why a cell is empty: declared, errored, its family failed, other sizes,
                       not in this run
Runtimes come from context.runtimes; units and directions from context.counters.
"""

import dataclasses
import re

from cobench_results import fmt, fmt_range, human

# Counters that are not results: the divisor and the worker count.
NOT_RESULTS = {"ops", "workers"}


def natural(text):
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", str(text))]


def params_text(params):
    return "/".join(f"{k}:{v}" for k, v in params.items()) or "—"


def is_capped(label):
    """A max_tasks stop reason that is the harness's own cap (a lower bound), not a failure."""
    text = (label or "").lower()
    return text.startswith("limit") or " cap " in f" {text} " or "cap of" in text


def rusage_counters(r, points):
    """The per-operation CPU and switch counters (metadata per: ops) the points carry."""
    names = dict.fromkeys(c for p in points for c in p.counters)
    return [c for c in names if c not in NOT_RESULTS and r.counter(c).per == "ops"]


def result_counters(r, points):
    names = dict.fromkeys(c for p in points for c in p.counters)
    return [c for c in names if c not in NOT_RESULTS and r.counter(c).per != "ops"]


# ---- why a cell is empty ----------------------------------------------------------------

def missing(r, workload, runtime, params=None, counter=None):
    """(short tag, reason) for a (workload, runtime[, params][, counter]) with no value."""
    text = params_text(params) if params else None
    for d in r.declared:
        if d["workload"] == workload and d["runtime"] == runtime and (
                text is None or d.get("params") in (None, "", text)):
            return "declared", f"declared by the harness: {d['reason']}"
    for e in r.failed():
        if e.workload == workload and e.runtime == runtime and (params is None or e.params == params):
            return "errored", f"errored: {e.error}"
    fam = next((f for f in r.families if f["runtime"] == runtime), None)
    if fam and fam.get("status") != "ok":
        return "errored", f"its runtime family {fam['status']}" + (f": {fam['message']}" if fam.get("message") else "")
    if runtime not in r.runtimes_in_run():
        return "not run", "this runtime was not part of this run"
    others = [p for p in r.points(workload, runtime)]
    if counter is not None and others and not any(counter in p.counters for p in others):
        return "not reported", f"this runtime does not report {counter}"
    if params is not None and any(p.params == params for p in others):
        return "not reported", f"this runtime reports no {counter or 'value'} at this size"
    if params is not None and others:
        return "other sizes", "ran at " + ", ".join(sorted({params_text(p.params) for p in others}, key=natural))
    return "not in profile", "not measured in this run's profile"


class Notes:
    """Footnotes under a table: each distinct reason once, cells point at it with a tag."""

    def __init__(self):
        self.items = {}

    def cell(self, r, workload, runtime, params=None, counter=None):
        tag, why = missing(r, workload, runtime, params, counter)
        key = f"{runtime} {params_text(params) if params else ''}".strip()
        self.items.setdefault(why, []).append(key)
        return f"– ({tag})"

    def lines(self):
        return [f"– {', '.join(keys)}: {why}" for why, keys in self.items.items()]


# ---- cells -------------------------------------------------------------------------------

def cell(p, counter, unit=None, ranges=True):
    """median (min–max), † when a warm-up repetition was left out, n=k when k differs."""
    v = p.counters[counter]
    text = human(v, unit) if unit is not None else fmt(v)
    rng = p.range(counter)
    if ranges and rng and rng[0] != rng[1]:
        text += f" ({fmt_range(*rng)})"
    if counter in p.warmup:
        text += " †"
    return text


def n_summary(points, counters):
    """'n = 3' when every cell has the same count, else 'n = 2–3'."""
    ns = sorted({p.n.get(c, 1) for p in points for c in counters if c in p.counters})
    if not ns:
        return "n = ?"
    return f"n = {ns[0]}" if len(ns) == 1 else f"n = {ns[0]}–{ns[-1]}"


def warmup_lines(points, counters):
    out = []
    for p in points:
        for c in counters:
            if c in p.warmup:
                out.append(f"† {p.runtime} {params_text(p.params)} {c}: first repetition "
                           f"{fmt(p.warmup[c])} left out as a warm-up outlier")
    return out


def counter_table(r, workload, counter, points=None):
    """(header, rows, notes): one row per runtime, one column per params combination."""
    pts = [p for p in (points if points is not None else r.points(workload)) if counter in p.counters]
    if not pts:
        return None
    cols = sorted({params_text(p.params) for p in pts}, key=natural)
    by = {(p.runtime, params_text(p.params)): p for p in pts}
    params_of = {params_text(p.params): p.params for p in pts}
    # Rows: the runtimes that report this counter, and those that could not run the workload.
    runtimes = [rt for rt in r.runtimes_in_run() if any(p.runtime == rt for p in pts)
                or (not r.points(workload, rt) and (
                    any(d["workload"] == workload and d["runtime"] == rt for d in r.declared)
                    or any(f["runtime"] == rt and f.get("status") != "ok" for f in r.families)))]
    notes = Notes()
    rows = [[rt] + [cell(by[(rt, c)], counter) if (rt, c) in by
                    else notes.cell(r, workload, rt, params_of[c] if c != "—" else None, counter)
                    for c in cols]
            for rt in runtimes]
    return ["runtime"] + cols, rows, notes.lines() + warmup_lines(pts, [counter])


def rusage_table(r, workload):
    """CPU time and context switches per operation, per runtime × params (rows)."""
    pts = r.points(workload)
    cols = rusage_counters(r, pts)
    if not cols:
        return None
    rows = [[p.runtime, params_text(p.params)] + [cell(p, c, ranges=False) if c in p.counters else "–"
                                                  for c in cols]
            for p in pts if any(c in p.counters for c in cols)]
    return (["runtime", "params"] + [f"{c} ({r.counter(c).unit})" for c in cols], rows,
            warmup_lines(pts, cols))


# ---- timer_fanout: fixed cost and per-task cost ------------------------------------------

def overhead_fit(r):
    """{runtime: (a µs fixed, b µs per task, points)} from overhead_us_per_task × N = a + b·N."""
    import numpy as np
    by = {}
    for p in r.points("timer_fanout"):
        n = p.params.get("tasks")
        if "overhead_us_per_task" in p.counters and isinstance(n, (int, float)) and n > 0:
            by.setdefault(p.runtime, []).append((n, p.counters["overhead_us_per_task"] * n))
    out = {}
    for rt, pts in by.items():
        if len({n for n, _ in pts}) >= 2:
            xs, ys = zip(*sorted(pts))
            b, a = np.polyfit(xs, ys, 1)
            out[rt] = (float(a), float(b), len(pts))
    return dict(sorted(out.items(), key=lambda kv: r.order_key(kv[0])))


# ---- the headline table --------------------------------------------------------------------

# (row label, workload, counter, fixed params, size rule); size rule "common": the largest params
# combination every runtime that ran the workload measured (else the one most runtimes did);
# "own": each runtime's own largest (the cell names it when it is not the row's).
HEADLINE = (
    ("one-way hand-off, same core", "ping_pong", "switch_ns", {"pin": "same"}, "common"),
    ("one-way hand-off, across cores", "ping_pong", "switch_ns", {"pin": "cross"}, "common"),
    ("hand-off through a pipe, same core", "pipe_pong", "switch_ns", {"pin": "same"}, "common"),
    ("yield", "yield_ring", "switch_ns", {}, "common"),
    ("create + join, per task", "spawn", "spawn_ns", {}, "common"),
    ("spawn tree, per node", "skynet", "spawn_ns", {"roots": None}, "own"),
    ("memory per idle task (PSS)", "idle_memory", "pss_per_task", {}, "own"),
    ("kernel memory per idle task", "idle_memory", "kernel_per_task", {}, "own"),
    ("most tasks held", "max_tasks", "max_tasks", {}, "common"),
    ("CPU-bound speed-up", "cpu_bound", "speedup", {}, "cpus"),
    ("spawn tree speed-up, 10 roots", "skynet", "speedup", {"roots": 10}, "own"),
    ("echo throughput, fewest connections", "echo", "req_per_s", {}, "fewest"),
    ("echo throughput, most connections", "echo", "req_per_s", {}, "common"),
    ("echo p99 latency, most connections", "echo", "p99_us", {}, "common"),
    ("echo server CPU per request, most connections", "echo", "server_cpu_ns_per_req", {}, "common"),
    ("channel throughput", "producer_consumer", "msgs_per_s", {}, "common"),
    ("updates lost (no await inside the update)", "lost_updates", "lost_fraction", {"await": None}, "common"),
    ("updates lost (an await between load and store)", "lost_updates", "lost_fraction",
     {"await": "between"}, "common"),
)


def _matches(p, fixed):
    return all(p.params.get(k) == v for k, v in fixed.items())


def _with_speedup(r, points):
    """cpu_bound points with a speedup counter, computed where the entry has none."""
    s = r.speedups()
    out = []
    for p in points:
        v = s.get(p.runtime, {}).get(p.params.get("tasks"))
        if "speedup" not in p.counters and v is not None:
            p = dataclasses.replace(p, counters={**p.counters, "speedup": v})
        out.append(p)
    return out


def _choose(r, workload, counter, fixed, rule, cands):
    """{runtime: point} for one headline row."""
    by_key = {}
    for p in cands:
        by_key.setdefault(params_text({k: v for k, v in p.params.items() if k not in fixed}), {})[p.runtime] = p
    if not by_key:
        return {}, None
    if rule == "own":
        chosen = {}
        for key in sorted(by_key, key=natural):
            chosen.update(by_key[key])
        return chosen, None
    if rule == "fewest":
        key = min(by_key, key=lambda k: (-len(by_key[k]), natural(k)))
    elif rule == "cpus":
        cpus = r.cpu_count() or 2
        fits = [k for k in by_key if re.fullmatch(r"tasks:\d+", k) and int(k[6:]) <= cpus]
        key = max(fits or by_key, key=lambda k: (len(by_key[k]), natural(k)))
    else:
        key = max(by_key, key=lambda k: (len(by_key[k]), natural(k)))
    return by_key[key], key


def headline(r):
    """(header, rows, notes). Each cell: the median in a readable unit and, for counters with a
    direction, how many times the best runtime's value it is ("×1" is the best; "≈" where the two
    ranges of repetitions overlap: not a measurable difference)."""
    runtimes = [rt for rt in r.runtimes_in_run() if r.points(runtime=rt)]
    rows, notes, row_ns = [], [], []
    for label, workload, counter, fixed, rule in HEADLINE:
        pts = _with_speedup(r, r.points(workload)) if workload == "cpu_bound" else r.points(workload)
        cands = [p for p in pts if counter in p.counters and _matches(p, fixed)]
        chosen, key = _choose(r, workload, counter, fixed, rule, cands)
        if not chosen:
            continue
        info = r.counter(counter)
        capped = {rt: workload == "max_tasks" and is_capped(p.label) for rt, p in chosen.items()}
        vals = {rt: p.counters[counter] for rt, p in chosen.items()}
        best = None
        if info.better in ("lower", "higher") and vals and min(vals.values()) > 0:
            pick = min if info.better == "lower" else max
            best = pick(vals, key=vals.get)
        cells, row_n = [], set()
        for rt in runtimes:
            p = chosen.get(rt)
            if p is None:
                tag, _ = missing(r, workload, rt, None)
                cells.append(f"– ({tag})")
                continue
            row_n.add(p.repetitions)
            v = vals[rt]
            text = ("≥ " if capped[rt] else "") + (human(v, info.unit) if v >= 0 else
                                                  f"≤ 0 ({human(v, info.unit)} measured: noise)")
            if workload == "max_tasks":
                text += " (cap)" if capped[rt] else " (spawn failed)"
            if counter in p.warmup:
                text += " †"
            if rule == "own" and p.params:
                text += f" at {params_text({k: v for k, v in p.params.items() if k not in fixed})}"
            if best is not None:
                bv = vals[best]
                if rt == best:
                    text += " · best"
                elif bv > 0 and v > 0:
                    ratio = v / bv if info.better == "lower" else bv / v
                    bound = capped.get(best) and not capped[rt]
                    if capped.get(best) and capped[rt]:
                        text += " · caps: not compared"
                    elif p.overlaps(chosen[best], counter):
                        text += f" · ≈ best (×{fmt(ratio, 2)}, ranges overlap)"
                    else:
                        text += f" · ×{'≥ ' if bound else ''}{fmt(ratio, 2)}"
            cells.append(text)
        where = "/".join([f"{k}:{v}" for k, v in fixed.items() if v is not None]
                         + ([key] if key and key != "—" else []))
        rows.append([f"{label}: `{workload}`{' ' + where if where else ''}", *cells])
        row_ns.append(row_n)
    ns = set().union(*row_ns) if row_ns else set()
    common = max(ns, key=lambda n: sum(n in s for s in row_ns)) if ns else None
    for row, row_n in zip(rows, row_ns):
        if row_n and row_n != {common}:
            row[0] += f" (n = {'/'.join(map(str, sorted(row_n)))})"
    if ns:
        notes.append(f"Medians of n = {common} repetitions (other counts named in the row); "
                     "their min–max is in each workload's section. ×k: k times the best runtime's "
                     "value (worse by that factor); ≈ best: the min–max ranges of the two overlap, so "
                     "the difference is inside the run-to-run spread. ≥: a count stopped by the "
                     "harness's own cap, a lower bound. †: the first repetition was left out as a warm-up "
                     "outlier. – (tag): why the cell is empty.")
    return ["", *runtimes], rows, notes


def markdown_table(header, rows):
    def esc(s):
        return str(s).replace("|", "\\|")
    lines = ["| " + " | ".join(esc(c) for c in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(esc(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)

