"""Tables for the report, built only from what the results file declares.

counter_table(r, w, c) one table per counter of a workload, for any workload, known or not;
                       cell(p, c) its cells (median, min–max, † for a warm-up left out)
rusage_table(r, w)     CPU time and context switches per operation
missing(r, ...)        why a cell is empty: declared, errored, its family failed, other sizes,
                       not in this run; Notes gathers the reasons under a table
stop_kind(label)       what stopped a max_tasks count (wall, budget, cap, time, error); stops(r),
                       walls_table(r), walls_sentence(r) the counts read that way
stack_table(r, ...)    a counter against the stack size; worker_table(r, w) the worker sweep
NO_STACK, NO_WORKERS, NO_RATE
                       fixed params that keep the sweeps out of a row or a claim
Runtimes come from context.runtimes; units and directions from context.counters. The headline
table is headline.py's; which workload gets which table is the presentation registry's.
"""

import re
from dataclasses import dataclass

import cobench_results as cr
from cobench_results import fmt, fmt_range, held, human, smallest_n

# Counters that are not results: the divisor, the worker count, the run conditions every
# entry records (the other load beside it and steal; the report states them apart), and
# io_thread_cpu_frac, which explains one runtime's CPU in its own section (io_thread_cpu.py).
NOT_RESULTS = {"ops", "workers", "io_thread_cpu_frac", cr.OTHER_LOAD, cr.other_load.STEAL}


def natural(text):
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", str(text))]


def params_text(params):
    return "/".join(f"{k}:{v}" for k, v in params.items()) or "—"


# What stopped a max_tasks probe, from the first word of its label (bench/probe.hpp):
WALL, BUDGET, CAP, TIME, ERROR = "wall", "budget", "cap", "time", "error"
# Labels of files written before the limits profile (no first word): a failed spawn, e.g.
# "EAGAIN: fork" or "threads: could not create thread ...". A limit of the system's settings, like
# a wall, but nothing checked which; the report keeps calling it what it said then.
FAILED = "spawn failed"
STOP_KINDS = (WALL, BUDGET, CAP, TIME, ERROR, FAILED)
# Kinds whose count is only a lower bound on what the machine holds.
LOWER_BOUNDS = (CAP, TIME)
NONE_HELD = "none held: "
# What each kind means, for the notes under tables and the chart's legend.
STOP_MEANING = {
    WALL: "the machine refused the next spawn (EAGAIN or ENOMEM; the reason names the sysctl or "
          "rlimit): what this machine, as configured, holds",
    BUDGET: "the next step would have crossed the memory budget (half of MemAvailable unless "
            "--memory-budget set it): what fits in that much memory",
    CAP: "the profile's own cap: a lower bound, not what the machine holds",
    TIME: "one group took too long: a lower bound, not what the machine holds",
    ERROR: "the probe failed for another reason: the count means nothing about the machine",
    FAILED: "a spawn failed (a file from before the limits profile): a limit of this system's "
            "settings, not necessarily of its memory",
}


def stop_kind(label):
    """(kind, none_held) of a max_tasks label: kind one of STOP_KINDS, or None when there is no
    label. New labels start with the kind and a colon ("wall: ...", "budget: ...", "cap: ...",
    "time: ...", "error: ..."), prefixed "none held: " when not even the first group fitted;
    older files said "limit: the profile's cap of N", "limit: N", "limit: memory budget (...)",
    or the failed call ("EAGAIN: fork")."""
    text = (label or "").strip()
    none_held = text.lower().startswith(NONE_HELD)
    if none_held:
        text = text[len(NONE_HELD):].lstrip()
    low = text.lower()
    if not low:
        return None, none_held
    word = low.split(":", 1)[0].strip() if ":" in low else ""
    if word in (WALL, BUDGET, CAP, TIME, ERROR):
        return word, none_held
    if low.startswith("limit"):
        return (BUDGET if "budget" in low else CAP), none_held
    if " cap " in f" {low} " or "cap of" in low:
        return CAP, none_held
    return FAILED, none_held


def is_capped(label):
    """A max_tasks stop reason that is a lower bound (the harness's own cap, or its time limit),
    not what the machine holds."""
    return stop_kind(label)[0] in LOWER_BOUNDS


def is_new_label(label):
    """True for a label of the limits-era probe (it starts with its kind and a colon)."""
    text = (label or "").strip().lower()
    if text.startswith(NONE_HELD):
        text = text[len(NONE_HELD):].lstrip()
    return ":" in text and text.split(":", 1)[0].strip() in (WALL, BUDGET, CAP, TIME, ERROR)


def stop_marker(kind):
    """The headline's marker after a max_tasks count."""
    return {WALL: " (wall)", BUDGET: " (budget)", CAP: " (cap)", TIME: " (time limit)",
            ERROR: " (error)", FAILED: " (spawn failed)"}.get(kind, "")


def rusage_counters(r, points):
    """The per-operation CPU and switch counters (metadata per: ops) the points carry."""
    names = dict.fromkeys(c for p in points for c in p.counters)
    return [c for c in names if c not in NOT_RESULTS and r.counter(c).per == "ops"]


def result_counters(r, points):
    names = dict.fromkeys(c for p in points for c in p.counters)
    return [c for c in names if c not in NOT_RESULTS and r.counter(c).per != "ops"]


# ---- why a cell is empty ----------------------------------------------------------------

def is_declared(r, workload, runtime):
    """True when the harness declared that this runtime cannot run this workload (at some params)."""
    return any(d["workload"] == workload and d["runtime"] == runtime for d in r.declared)


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
    if r.lost_to_load(workload, runtime, params) and not any(
            params is None or p.params == params for p in r.points(workload, runtime)):
        return "other load", f"measured beside other work ({cr.LOADED_RULE})"
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
                    is_declared(r, workload, rt)
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


# ---- fixed params that keep sweep entries out -------------------------------------------------

# A fixed param of None means "absent": the stack-size and worker sweeps, and echo's rate sweep,
# stay out of rows and claims about each workload's default runs.
NO_STACK = {"stack": None, "guard": None}
NO_WORKERS = {"workers": None}
NO_RATE = {"rate": None}


# ---- max_tasks: what stopped a count; stack sizes; worker sweeps ------------------------------

_SIZE_SUFFIX = {"": 1, "b": 1, "k": 2 ** 10, "m": 2 ** 20, "g": 2 ** 30}


def parse_size(text):
    """Bytes of a stack size as the names spell it ("8k", "64k", "256k", "8m"), or None."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmgb]?)(?:i?b)?\s*", str(text).lower())
    return int(float(m.group(1)) * _SIZE_SUFFIX[m.group(2)]) if m else None


def size_text(n):
    """8192 -> "8 KiB", 8388608 -> "8 MiB"."""
    for div, unit in ((2 ** 30, "GiB"), (2 ** 20, "MiB"), (2 ** 10, "KiB")):
        if n >= div and n % div == 0:
            return f"{n // div} {unit}"
    return human(n, "bytes")


@dataclass(frozen=True)
class Stop:
    """One max_tasks entry, read: how many were held and what stopped it."""
    runtime: str
    params: dict
    held: float
    kind: str               # one of STOP_KINDS, or None (no label)
    none_held: bool
    label: str
    bytes_per_task: float = None
    budget_bytes: float = None

    @property
    def lower_bound(self):
        return self.kind in LOWER_BOUNDS


def stops(r, stacks=False):
    """Stop per max_tasks entry: the plain ones (max_tasks/<runtime>), or with stacks=True the
    stack-size variants (max_tasks/<runtime>/stack:<size>/guard:<yes|no>)."""
    out = []
    for p in r.points("max_tasks"):
        if "max_tasks" not in p.counters or ("stack" in p.params) != stacks:
            continue
        kind, none_held = stop_kind(p.label)
        out.append(Stop(p.runtime, dict(p.params), p.counters["max_tasks"], kind,
                        none_held or p.counters["max_tasks"] == 0, p.label or "",
                        p.counters.get("bytes_per_task"), p.counters.get("budget_bytes")))
    return out


def has_new_stops(r):
    """True when the file's max_tasks labels are the limits-era ones (they name their kind)."""
    return any(is_new_label(p.label) for p in r.points("max_tasks"))


def walls_table(r):
    """(header, rows, notes) for the plain max_tasks entries: held, what stopped it, memory per
    held task and in all, the budget; or None."""
    st = stops(r)
    if not st:
        return None
    rows = []
    for s in st:
        total = s.held * s.bytes_per_task if s.bytes_per_task and s.held else None
        rows.append([s.runtime, held(s.held) if not s.lower_bound or not s.held else f"≥ {fmt(s.held)}",
                     s.kind or "no reason given",
                     human(s.bytes_per_task, "bytes/task") if s.bytes_per_task else "–",
                     human(total, "bytes") if total else "–",
                     human(s.budget_bytes, "bytes") if s.budget_bytes else "–",
                     s.label or "no reason given"])
    kinds = [k for k in STOP_KINDS if any(s.kind == k for s in st)]
    notes = [f"{k}: {STOP_MEANING[k]}" for k in kinds]
    notes.append("bytes per task: the memory one held task cost at the last group held (PSS of the "
                 "tasks plus the kernel memory they hold); held in all = tasks held × bytes per task.")
    return (["runtime", "tasks held", "stopped by", "bytes per task", "held in all", "memory budget",
             "reason as recorded"], rows, notes)


def walls_sentence(r):
    """One computed sentence: the most held, by what it stopped, against the fewest."""
    st = [s for s in stops(r) if s.held > 0]
    if len(st) < 2:
        return None
    most, least = max(st, key=lambda s: s.held), min(st, key=lambda s: s.held)
    ratio = most.held / least.held
    bound = "at least " if most.lower_bound and not least.lower_bound else \
        "at most " if least.lower_bound and not most.lower_bound else ""
    text = (f"{most.runtime} held the most, {held(most.held)} (stopped by: {most.kind}), "
            f"{least.runtime} the fewest, {held(least.held)} (stopped by: {least.kind}): "
            f"{bound}{fmt(ratio)}× as many")
    if most.lower_bound and least.lower_bound:
        text += "; both counts are lower bounds, so this is a ratio of caps, not of the machine"
    return text + "."


def _most_common(values):
    values = list(values)
    return max(sorted(set(values), key=str), key=values.count) if values else None


def stack_lines(r, workload, counter, per_tasks=False):
    """{(runtime, guard): [(stack bytes, value, Point)]} for entries with a stack param; with
    per_tasks (a workload run at several tasks values, as idle_memory is) at one tasks value per
    line (the largest measured at every stack size of that line, else the largest), named in the
    third element's params."""
    groups = {}
    for p in r.points(workload):
        size = parse_size(p.params.get("stack")) if "stack" in p.params else None
        if size is None or counter not in p.counters:
            continue
        groups.setdefault((p.runtime, str(p.params.get("guard", "—"))), []).append((size, p))
    out = {}
    for key, pts in groups.items():
        if per_tasks:
            by_tasks = {}
            for size, p in pts:
                by_tasks.setdefault(p.params.get("tasks"), set()).add(size)
            sizes = {size for size, _ in pts}
            full = [t for t, s in by_tasks.items() if s == sizes and isinstance(t, (int, float))]
            numeric = [t for t in by_tasks if isinstance(t, (int, float))]
            n = max(full or numeric or [None], key=lambda t: -1 if t is None else t)
            pts = [(size, p) for size, p in pts if p.params.get("tasks") == n]
        out[key] = sorted(((size, p.counters[counter], p) for size, p in pts), key=lambda t: t[0])
    return dict(sorted(out.items(), key=lambda kv: (r.order_key(kv[0][0]), kv[0][1])))


def stack_table(r, workload, counter, unit=None, per_tasks=False, stops=False):
    """(header, rows): one row per runtime × guard, one column per stack size; or None. per_tasks:
    as stack_lines, with a column naming the tasks value; stops: the counter is a count of tasks
    held, shown exact with what stopped it (stop_kind of the label)."""
    lines = stack_lines(r, workload, counter, per_tasks)
    if not lines:
        return None
    sizes = sorted({size for pts in lines.values() for size, _, _ in pts})
    rows = []
    for (rt, guard), pts in lines.items():
        by = {size: (v, p) for size, v, p in pts}
        tasks = {p.params.get("tasks") for _, _, p in pts if "tasks" in p.params}
        row = [rt, guard] + ([", ".join(map(str, sorted(tasks)))] if per_tasks else [])
        for size in sizes:
            if size not in by:
                row.append("–")
                continue
            v, p = by[size]
            if stops:
                kind = stop_kind(p.label)[0]
                row.append(("≥ " if kind in LOWER_BOUNDS and v else "") + held(v)
                           + (f" ({kind})" if kind else ""))
            else:
                row.append(human(v, unit) if unit else fmt(v))
        rows.append(row)
    head = ["runtime", "guard page"] + (["tasks"] if per_tasks else [])
    return head + [f"stack {size_text(s)}" for s in sizes], rows


def _sweep_points(r, workload):
    return [p for p in r.points(workload)
            if isinstance(p.params.get("workers"), (int, float)) and "speedup" in p.counters]


def worker_curves(r, workload, task_workers=False):
    """The worker sweep of one workload (cpu_bound or skynet), or None without sweep entries:
    {"curves": {label: [(K, speed-up)]}, "runtime": {label: runtime}, "ideal": [(K, min(K, CPUs))]
    (empty when the CPU count is unknown), "cpus": CPUs or None, "fixed": {label: params text},
    "n": {label: the smallest n among the curve's points (verdict_n.py)}}.
    Each sized_workers runtime's curve holds its other params at their most common value; for
    cpu_bound, the multi-core runtimes with one worker per task (not sized_workers: processes,
    threads) add their tasks:N speed-ups as the curve K = N where task_workers is set (a workload
    whose tasks param is its parallelism, as cpu_bound's is: Results.speedups())."""
    pts = _sweep_points(r, workload)
    if not pts:
        return None
    curves, runtime_of, fixed, ns = {}, {}, {}, {}
    for rt in sorted({p.runtime for p in pts}, key=r.order_key):
        mine = [p for p in pts if p.runtime == rt]
        others = _most_common(params_text({k: v for k, v in p.params.items() if k != "workers"})
                              for p in mine)
        held_at = [p for p in mine if params_text({k: v for k, v in p.params.items() if k != "workers"}) == others]
        chosen = sorted((p.params["workers"], p.counters["speedup"]) for p in held_at)
        curves[rt], runtime_of[rt], fixed[rt], ns[rt] = chosen, rt, others, smallest_n(held_at)
    if task_workers:
        swept = set(curves)
        for rt in r.runtime_list:
            if rt.name in swept or not rt.has_traits or not rt.multi_core or rt.sized_workers:
                continue
            by_n = r.speedups().get(rt.name)
            if by_n:
                label = f"{rt.name} (a worker a task: K = tasks)"
                curves[label], runtime_of[label], fixed[label] = sorted(by_n.items()), rt.name, "K = tasks"
                # Its speed-ups are its tasks:N points against its tasks:1 point (Results.speedups).
                ns[label] = smallest_n(r.points(workload, rt.name, where=lambda p: "workers" not in p.params
                                                and p.params.get("tasks") in set(by_n) | {1}))
    cpus = r.worker_cpus()
    ks = sorted({k for c in curves.values() for k, _ in c})
    return {"curves": curves, "runtime": runtime_of, "fixed": fixed, "cpus": cpus, "n": ns,
            "ideal": [(k, min(k, cpus)) for k in ks] if cpus else []}


def worker_table(r, workload, task_workers=False):
    """(header, rows, notes) of the sweep: one row per curve, one column per K, the ideal last."""
    w = worker_curves(r, workload, task_workers)
    if w is None:
        return None
    ks = sorted({k for c in w["curves"].values() for k, _ in c})
    rows = []
    for label, pts in w["curves"].items():
        by = dict(pts)
        rows.append([label, w["fixed"][label]] + [f"{by[k]:.2f}" if k in by else "–" for k in ks])
    if w["ideal"]:
        rows.append([f"ideal: min(K, {w['cpus']} CPUs)", ""] + [fmt(v) for _, v in w["ideal"]])
    notes = []
    if w["cpus"]:
        over = [k for k in ks if k > w["cpus"]]
        notes.append(f"CPUs: {w['cpus']} (context.workers.default, else the CPU count); K above it "
                     f"({', '.join(map(str, over)) or 'none here'}) is oversubscribed, where the "
                     f"ideal stays at {w['cpus']}×.")
    return ["runtime", "held at"] + [f"K={k}" for k in ks], rows, notes
