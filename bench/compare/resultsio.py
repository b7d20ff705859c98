"""Reading cobench results JSON (results/README.md) for the regression gate.

Deliberately self-contained (standard library only) so that bench/compare does
not depend on the plotting code's parser.
"""

import json
import math
import os
import re
import statistics
import tempfile

INSTRUCTIONS = "instructions_per_op"

# Numeric fields of a Google Benchmark entry that describe the run, not its result.
_NOT_METRICS = {"family_index", "per_family_instance_index", "repetitions",
                "repetition_index", "threads", "iterations"}
_TIME_TO_NS = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}

# Direction rules of results/README.md. Exact names win over patterns; the
# higher-is-better patterns are tried first so that e.g. a future "cpu_ops_per_s"
# is not caught by the "cpu_*" rule.
_LOWER_EXACT = {"real_time", "cpu_time", INSTRUCTIONS}
_HIGHER_EXACT = {"items_per_second", "speedup", "max_tasks"}
_HIGHER_RE = re.compile(r"(_per_s|_per_second)$")
_LOWER_RE = re.compile(r"(_ns|_us|_ms|_per_task)$|^cpu_|csw|^lost_")


class InputError(Exception):
    """Unusable input; callers print it as one line and exit 2."""


def direction(metric, extra=None):
    """'lower', 'higher', or None when no rule names the metric."""
    if extra and metric in extra:
        return extra[metric]
    if metric in _LOWER_EXACT:
        return "lower"
    if metric in _HIGHER_EXACT or _HIGHER_RE.search(metric):
        return "higher"
    if _LOWER_RE.search(metric):
        return "lower"
    return None


def unit(metric):
    if metric in ("real_time", "cpu_time"):
        return "ns"  # normalised on load, whatever time_unit said
    if metric == INSTRUCTIONS:
        return "instructions/op"
    m = re.search(r"_(ns|us|ms)_per_(\w+)$", metric)
    if m:
        return f"{m.group(1)}/{m.group(2)}"
    m = re.search(r"_(ns|us|ms)$", metric)
    if m:
        return m.group(1)
    if metric.endswith("_per_task"):
        return "bytes/task"
    if "csw" in metric:
        return "switches/op"
    m = re.match(r"(\w+?)_per_(s|second)$", metric)
    if m:
        return f"{m.group(1)}/s"
    return {"speedup": "x", "max_tasks": "tasks", "lost_updates": "updates",
            "lost_fraction": "fraction"}.get(metric, "")


def _is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


class Results:
    """One results file: samples[run_name][metric] -> list of values (one per repetition)."""

    def __init__(self, path, context, samples, errors, from_aggregate):
        self.path = path
        self.context = context
        self.samples = samples
        self.errors = errors                  # run_name -> error_message
        self.from_aggregate = from_aggregate  # run_names known only from an aggregate entry

    def medians(self):
        return {run: {m: statistics.median(v) for m, v in metrics.items()}
                for run, metrics in self.samples.items()}


def _entry_metrics(path, i, entry):
    scale = _TIME_TO_NS.get(entry.get("time_unit", "ns"))
    if scale is None:
        raise InputError(f"{path}: benchmarks[{i}] has unknown time_unit {entry.get('time_unit')!r}")
    out = {}
    for key, value in entry.items():
        if key in _NOT_METRICS or not _is_number(value):
            continue
        out[key] = float(value) * (scale if key in ("real_time", "cpu_time") else 1.0)
    if INSTRUCTIONS in out:
        # Under callgrind every timing and rate is of the instrumented run and means nothing.
        out = {INSTRUCTIONS: out[INSTRUCTIONS]}
    return out


def load(path):
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except json.JSONDecodeError as e:
        raise InputError(f"{path}: malformed JSON (line {e.lineno}, column {e.colno}: {e.msg})") from None
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: cannot read: {e}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("benchmarks"), list):
        raise InputError(f"{path}: no 'benchmarks' list; not a cobench/Google Benchmark results file")
    context = doc.get("context")
    if not isinstance(context, dict):
        context = {}

    samples, errors, aggregates = {}, {}, {}
    for i, entry in enumerate(doc["benchmarks"]):
        if not isinstance(entry, dict):
            raise InputError(f"{path}: benchmarks[{i}] is not an object")
        run = entry.get("run_name", entry.get("name"))
        if not isinstance(run, str) or not run:
            raise InputError(f"{path}: benchmarks[{i}] has no run_name or name")
        if entry.get("error_occurred"):
            errors[run] = str(entry.get("error_message", "")) or "error"
            continue
        metrics = _entry_metrics(path, i, entry)
        if entry.get("run_type", "iteration") == "aggregate":
            # Only needed when the run was made with --benchmark_report_aggregates_only.
            if entry.get("aggregate_name") in ("median", "mean"):
                aggregates.setdefault(run, {})[entry["aggregate_name"]] = metrics
            continue
        per_run = samples.setdefault(run, {})
        for metric, value in metrics.items():
            per_run.setdefault(metric, []).append(value)

    from_aggregate = set()
    for run, by_kind in aggregates.items():
        if run not in samples:
            chosen = by_kind.get("median", by_kind.get("mean"))
            samples[run] = {m: [v] for m, v in chosen.items()}
            from_aggregate.add(run)
    for run in list(errors):
        if run in samples:  # some repetitions succeeded; use those
            del errors[run]
    return Results(path, context, samples, errors, from_aggregate)


def check_writable(path):
    """Fail before anything is written when an output could not be written later."""
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise InputError(f"{path}: output folder {folder} does not exist")
    if os.path.isdir(path):
        raise InputError(f"{path}: is a folder")


def write_atomic(path, data):
    """Write via a temporary file in the same folder and rename, so readers never see half a file."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        # mkstemp creates 0600; give the file the mode an ordinary open() would have.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
