"""Load and validate a cobench results file (format: results/README.md).

Standard library only, so tools without matplotlib can import it.

API
---
load(path) -> Results
    Reads and validates a results JSON file. Raises ResultsError, whose message
    is one line naming the file and the problem, for a missing or unreadable
    file, malformed JSON, a wrong top-level shape or an entry with missing
    fields. Nothing is half-accepted: either every entry is valid or it raises.
    Required per entry: name, run_name, run_type (and aggregate_name for
    aggregates); real_time, cpu_time and time_unit unless error_occurred.
    `families` and `declared`, when present, need runtime/status and
    workload/runtime/reason.
parse(doc, source) -> Results
    The same for an already decoded JSON document.
parse_name(run_name) -> (workload, runtime, params)
    Splits `workload/runtime/key:value/...`; Google Benchmark's own trailing
    elements (repeats:R, real_time, ...) are dropped. Param values that look
    numeric become int or float, the rest stay strings.

Results
    .source, .context (dict), .entries (list of Entry), .families, .declared
    .points(workload=None, runtime=None) -> list of Point, one per benchmark
        (workload, runtime, params): repetitions and aggregates folded into one
        value per counter (the median aggregate, else the mean aggregate, else
        the average of the iterations); failed entries left out.
    .failed() -> list of Entry with error_occurred
    .runtimes() -> runtime names seen anywhere in the file, in RUNTIME_ORDER
    .series(workload, counter, x_param, where=None) -> {runtime: [(x, y, err)]}
    .value(workload, runtime, counter, **params) -> float or None
    .cpu_count() -> int or None
    .speedups() -> {runtime: {tasks: speedup}} for cpu_bound, computed from
        items_per_second against tasks:1 where the speedup counter is absent.
fmt(value) -> str: compact number formatting shared by the report and claims.
Entry: one benchmark entry as written (workload, runtime, params, counters,
    run_name, run_type, aggregate, repetition, label, error, name).
Point: workload, runtime, params, counters, spread (stddev per counter, where
    aggregates gave one), repetitions, label.
"""

import json
import math
from dataclasses import dataclass, field

# Display order; any runtime not listed (a future one) sorts after these.
RUNTIME_ORDER = ("processes", "threads", "pool", "fibers", "coroutines")

# Fields Google Benchmark writes itself; every other plain number is a counter.
_GB_FIELDS = {
    "name", "family_index", "per_family_instance_index", "run_name", "run_type",
    "repetitions", "repetition_index", "threads", "iterations", "real_time",
    "cpu_time", "time_unit", "aggregate_name", "aggregate_unit",
    "error_occurred", "error_message", "label", "big_o", "rms",
}
# Name elements Google Benchmark appends to run_name (they are not our params).
_GB_NAME_FLAGS = {"real_time", "manual_time", "process_time"}
_GB_NAME_KEYS = {"repeats", "iterations", "min_time", "min_warmup_time"}


class ResultsError(Exception):
    """A results file that cannot be used; str() is a one-line message."""


@dataclass(frozen=True)
class Entry:
    name: str
    run_name: str
    workload: str
    runtime: str
    params: dict
    counters: dict
    run_type: str                 # "iteration" or "aggregate"
    aggregate: str = None         # "mean", "median", "stddev", "cv", ... or None
    repetition: int = None
    label: str = ""
    error: str = None             # error_message when error_occurred


@dataclass
class Point:
    workload: str
    runtime: str
    params: dict
    counters: dict
    spread: dict = field(default_factory=dict)
    repetitions: int = 1
    label: str = ""


def _param_value(text):
    for conv in (int, float):
        try:
            return conv(text)
        except ValueError:
            pass
    return text


def parse_name(run_name):
    parts = run_name.split("/")
    if len(parts) < 2 or not parts[0] or not parts[1]:
        raise ValueError(f"benchmark name {run_name!r} is not workload/runtime/...")
    params = {}
    for part in parts[2:]:
        if part in _GB_NAME_FLAGS:
            continue
        key, sep, value = part.partition(":")
        if not sep or not key:
            raise ValueError(f"benchmark name {run_name!r}: element {part!r} is not key:value")
        if key in _GB_NAME_KEYS:
            continue
        params[key] = _param_value(value)
    return parts[0], parts[1], params


def runtime_sort_key(runtime):
    if runtime in RUNTIME_ORDER:
        return (RUNTIME_ORDER.index(runtime), "")
    return (len(RUNTIME_ORDER), runtime)


def _is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _parse_entry(raw, where):
    if not isinstance(raw, dict):
        raise ResultsError(f"{where}: not a JSON object")
    for key in ("name", "run_name", "run_type"):
        if not isinstance(raw.get(key), str) or not raw.get(key):
            raise ResultsError(f"{where}: missing or non-string field {key!r}")
    where = f"{where} ({raw['name']})"
    run_type = raw["run_type"]
    if run_type not in ("iteration", "aggregate"):
        raise ResultsError(f"{where}: run_type {run_type!r} is neither 'iteration' nor 'aggregate'")
    if run_type == "aggregate" and not isinstance(raw.get("aggregate_name"), str):
        raise ResultsError(f"{where}: aggregate entry without 'aggregate_name'")
    failed = bool(raw.get("error_occurred"))
    if not failed:
        for key in ("real_time", "cpu_time"):
            if not _is_number(raw.get(key)):
                raise ResultsError(f"{where}: missing or non-numeric field {key!r}")
        if not isinstance(raw.get("time_unit"), str):
            raise ResultsError(f"{where}: missing field 'time_unit'")
    try:
        workload, runtime, params = parse_name(raw["run_name"])
    except ValueError as e:
        raise ResultsError(f"{where}: {e}") from None
    # NaN/inf (Google Benchmark can write them) would poison charts and ratios.
    counters = {k: float(v) for k, v in raw.items()
                if k not in _GB_FIELDS and _is_number(v) and math.isfinite(v)}
    rep = raw.get("repetition_index")
    return Entry(
        name=raw["name"], run_name=raw["run_name"], workload=workload,
        runtime=runtime, params=params, counters=counters, run_type=run_type,
        aggregate=raw.get("aggregate_name") if run_type == "aggregate" else None,
        repetition=rep if isinstance(rep, int) else None,
        label=raw.get("label") if isinstance(raw.get("label"), str) else "",
        error=(str(raw.get("error_message") or "error") if failed else None))


def _check_records(doc, key, fields, source):
    records = doc.get(key, [])
    if not isinstance(records, list):
        raise ResultsError(f"{source}: '{key}' is not a list")
    for i, rec in enumerate(records):
        if not isinstance(rec, dict):
            raise ResultsError(f"{source}: {key}[{i}] is not a JSON object")
        for f in fields:
            if not isinstance(rec.get(f), str):
                raise ResultsError(f"{source}: {key}[{i}] has no string field {f!r}")
    return records


def parse(doc, source="<results>"):
    if not isinstance(doc, dict):
        raise ResultsError(f"{source}: top level is not a JSON object")
    if not isinstance(doc.get("benchmarks"), list):
        raise ResultsError(f"{source}: no 'benchmarks' list at the top level")
    context = doc.get("context", {})
    if not isinstance(context, dict):
        raise ResultsError(f"{source}: 'context' is not a JSON object")
    entries = [_parse_entry(raw, f"{source}: benchmarks[{i}]")
               for i, raw in enumerate(doc["benchmarks"])]
    families = _check_records(doc, "families", ("runtime", "status"), source)
    declared = _check_records(doc, "declared", ("workload", "runtime", "reason"), source)
    return Results(source, context, entries, families, declared)


def load(path):
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        raise ResultsError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ResultsError(f"{path}: cannot read: {e}") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        raise ResultsError(f"{path}: malformed JSON: {e}") from None
    return parse(doc, str(path))


def _params_key(params):
    return tuple(sorted((k, str(v)) for k, v in params.items()))


@dataclass
class Results:
    source: str
    context: dict
    entries: list
    families: list
    declared: list
    _points: list = field(default=None, repr=False)

    def failed(self):
        return [e for e in self.entries if e.error is not None]

    def runtimes(self):
        names = {e.runtime for e in self.entries}
        names.update(r["runtime"] for r in self.families)
        names.update(r["runtime"] for r in self.declared)
        return sorted(names, key=runtime_sort_key)

    def cpu_count(self):
        for key in ("cpu_count", "num_cpus"):
            try:
                n = int(self.context.get(key))
            except (TypeError, ValueError):
                continue
            if n > 0:
                return n
        return None

    def _fold(self):
        groups = {}
        for e in self.entries:
            if e.error is None:
                groups.setdefault((e.workload, e.runtime, _params_key(e.params)), []).append(e)
        points = []
        for (workload, runtime, _), group in groups.items():
            aggs = {e.aggregate: e for e in group if e.run_type == "aggregate"}
            iters = [e for e in group if e.run_type == "iteration"]
            # The median resists one disturbed repetition better than the mean.
            chosen = aggs.get("median") or aggs.get("mean")
            if chosen is not None:
                counters = dict(chosen.counters)
            else:
                names = dict.fromkeys(n for e in iters for n in e.counters)
                counters = {}
                for n in names:
                    vals = [e.counters[n] for e in iters if n in e.counters]
                    counters[n] = sum(vals) / len(vals)
            if not counters and not iters:
                continue  # e.g. only BigO/RMS aggregates: nothing to show
            spread = dict(aggs["stddev"].counters) if "stddev" in aggs else {}
            label = next((e.label for e in iters + list(aggs.values()) if e.label), "")
            points.append(Point(workload, runtime, dict(group[0].params), counters,
                                spread, len(iters) or 1, label))
        points.sort(key=lambda p: (p.workload, runtime_sort_key(p.runtime),
                                   sorted(p.params.items(), key=str)))
        return points

    def points(self, workload=None, runtime=None):
        if self._points is None:
            self._points = self._fold()
        return [p for p in self._points
                if (workload is None or p.workload == workload)
                and (runtime is None or p.runtime == runtime)]

    def series(self, workload, counter, x_param, where=None):
        """{runtime: [(x, y, stddev or None)]} sorted by x; `where` filters params."""
        out = {}
        for p in self.points(workload):
            if counter not in p.counters or not _is_number(p.params.get(x_param)):
                continue
            if where and any(p.params.get(k) != v for k, v in where.items()):
                continue
            out.setdefault(p.runtime, []).append(
                (p.params[x_param], p.counters[counter], p.spread.get(counter)))
        for pts in out.values():
            pts.sort(key=lambda t: t[0])
        return dict(sorted(out.items(), key=lambda kv: runtime_sort_key(kv[0])))

    def value(self, workload, runtime, counter, **params):
        for p in self.points(workload, runtime):
            if all(p.params.get(k) == v for k, v in params.items()):
                if counter in p.counters:
                    return p.counters[counter]
        return None

    def speedups(self):
        out = {}
        for p in self.points("cpu_bound"):
            tasks = p.params.get("tasks")
            if not _is_number(tasks):
                continue
            s = p.counters.get("speedup")
            if s is None:
                base = self.value("cpu_bound", p.runtime, "items_per_second", tasks=1)
                ips = p.counters.get("items_per_second")
                if base and ips is not None:
                    s = ips / base
            if s is not None:
                out.setdefault(p.runtime, {})[tasks] = s
        return {r: dict(sorted(v.items())) for r, v in
                sorted(out.items(), key=lambda kv: runtime_sort_key(kv[0]))}


def fmt(value):
    """Compact number for tables and evidence: 3 significant digits, thousands separated."""
    if value is None:
        return "–"
    if isinstance(value, str):
        return value
    if value == 0:
        return "0"
    a = abs(value)
    if a >= 1000:
        return f"{value:,.0f}"
    if a >= 100:
        return f"{value:.0f}"
    if a >= 10:
        return f"{value:.1f}"
    if a >= 1:
        return f"{value:.2f}"
    return f"{value:.3g}"
