"""Reading and validating a results file. Nothing is half-accepted: either every
entry is valid or ResultsError names the first problem in one line."""

import json
import math

from . import counters as _counters
from . import other_load as _other_load
from . import runtimes as _runtimes
from .names import parse_name
from .results import Entry, Results, time_scale

# The newest context.cobench_schema this package understands.
SCHEMA_VERSION = 2

# Fields Google Benchmark writes itself; every other plain number is a counter.
# (Its thread-count field shares a name with a runtime; the list is
# kept as words so that a grep for runtime names as string literals stays clean.)
_GB_FIELDS = frozenset("""
    name family_index per_family_instance_index run_name run_type repetitions
    repetition_index threads iterations real_time cpu_time time_unit aggregate_name
    aggregate_unit error_occurred error_message label big_o rms""".split())


class ResultsError(Exception):
    """A results file that cannot be used; str() is a one-line message."""


def _is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _schema(context, source, require_cobench):
    version = context.get("cobench_schema")
    if version is None:
        if require_cobench:
            raise ResultsError(f"{source}: not a cobench results file (no context.cobench_schema; "
                               "a plain Google Benchmark JSON?)")
        return None
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ResultsError(f"{source}: context.cobench_schema is {version!r}, not a positive integer")
    if version > SCHEMA_VERSION:
        raise ResultsError(f"{source}: results schema {version} is newer than these tools understand "
                           f"(up to {SCHEMA_VERSION}); update cobench's Python tools")
    return version


def _entry(raw, where, cobench):
    if not isinstance(raw, dict):
        raise ResultsError(f"{where} is not a JSON object")
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
    times = {}
    if not failed:
        for key in ("real_time", "cpu_time"):
            if not _is_number(raw.get(key)):
                raise ResultsError(f"{where}: missing or non-numeric field {key!r}")
        scale = time_scale(raw.get("time_unit"))
        if scale is None:
            raise ResultsError(f"{where}: missing or unknown time_unit {raw.get('time_unit')!r}")
        times = {f"{k}_ns": float(raw[k]) * scale for k in ("real_time", "cpu_time")}
    try:
        workload, runtime, params = parse_name(raw["run_name"])
    except ValueError as e:
        if cobench:
            raise ResultsError(f"{where}: {e}") from None
        # A plain Google Benchmark file may name its benchmarks anyhow; the gate
        # still compares them by run_name.
        workload, runtime, params = raw["run_name"], "", {}
    # NaN/inf (Google Benchmark can write them) would poison charts and ratios.
    counters = {k: float(v) for k, v in raw.items()
                if k not in _GB_FIELDS and _is_number(v) and math.isfinite(v)}
    rep = raw.get("repetition_index")
    return Entry(
        name=raw["name"], run_name=raw["run_name"], workload=workload,
        runtime=runtime, params=params, counters=counters, run_type=run_type,
        aggregate=raw.get("aggregate_name") if run_type == "aggregate" else None,
        repetition=rep if isinstance(rep, int) and not isinstance(rep, bool) else None,
        label=raw.get("label") if isinstance(raw.get("label"), str) else "",
        error=(str(raw.get("error_message") or "error") if failed else None),
        **times)


def _records(doc, key, fields, source):
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


def _metadata(context, source):
    """context.runtimes and context.counters, checked where present (schema 2)."""
    declared = context.get("runtimes", [])
    problem = _runtimes.check_list(declared, f"{source}: context.runtimes")
    if problem is None and "counters" in context:
        problem = _counters.check_map(context["counters"], f"{source}: context.counters")
    if problem:
        raise ResultsError(problem)
    return declared


def parse(doc, source="<results>", require_cobench=False):
    """Results from an already decoded JSON document.

    require_cobench: refuse a file without context.cobench_schema (report.py
    needs cobench's names and context; the gate can compare any Google Benchmark file).
    """
    if not isinstance(doc, dict):
        raise ResultsError(f"{source}: top level is not a JSON object; not a results file")
    if not isinstance(doc.get("benchmarks"), list):
        raise ResultsError(f"{source}: no 'benchmarks' list at the top level; not a results file")
    context = doc.get("context", {})
    if not isinstance(context, dict):
        raise ResultsError(f"{source}: 'context' is not a JSON object")
    schema = _schema(context, source, require_cobench)
    declared_runtimes = _metadata(context, source)
    entries = [_entry(raw, f"{source}: benchmarks[{i}]", schema is not None)
               for i, raw in enumerate(doc["benchmarks"])]
    families = _records(doc, "families", ("runtime", "status"), source)
    declared = _records(doc, "declared", ("workload", "runtime", "reason"), source)
    seen = [e.runtime for e in entries if e.runtime] + [r["runtime"] for r in families + declared]
    kept, loaded = _other_load.split(entries)
    return Results(source, context, kept, families, declared, schema,
                   _runtimes.build(declared_runtimes, dict.fromkeys(seen)), loaded)


def read_json(path):
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        raise ResultsError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ResultsError(f"{path}: is a folder, not a results file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ResultsError(f"{path}: cannot read: {e}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise ResultsError(f"{path}: malformed JSON (line {e.lineno}, column {e.colno}: {e.msg})") from None


def load(path, require_cobench=False):
    return parse(read_json(path), str(path), require_cobench)
