#!/usr/bin/env python3
"""Benchmark history as JSON Lines: one line per results file, medians only.

    history.py append HISTORY.jsonl RESULTS.json
    history.py list   HISTORY.jsonl
    history.py chart  HISTORY.jsonl --metric RUN_NAME:METRIC --out trend.png
    history.py chart  HISTORY.jsonl --bench RUN_NAME --metric METRIC --out trend.png

A metric is selected either as RUN_NAME:METRIC, split at the last colon (metric
names never contain one, run names do: 'ping_pong/coroutines/pin:same:switch_ns'),
or with --bench RUN_NAME --metric METRIC. `list` prints the RUN_NAME:METRIC form.
`append` and `list` need only the standard library; `chart` needs matplotlib.
Exit status: 0 success; 2 bad input (a missing or malformed results or history
file, an unknown metric, an output that cannot be written); 4 internal error.
"""

import argparse
import difflib
import io
import json
import os
import sys

try:
    import cobench_results as cr
    from cobench_results import OutputError, ResultsError
except ImportError as e:   # run without the launcher, which puts the package on PYTHONPATH
    print(f"history.py: internal error: {e}; run it through plots/python.sh", file=sys.stderr)
    sys.exit(4)

EXIT_OK, EXIT_INPUT, EXIT_INTERNAL = 0, 2, 4


class InputError(Exception):
    """A bad history file or selection; printed as one line, exit 2."""

SCHEMA = 1


def _check_line(path, lineno, rec):
    where = f"{path}: line {lineno}: malformed history line"
    if not isinstance(rec, dict):
        raise InputError(f"{where}: not a JSON object")
    medians = rec.get("medians")
    if not isinstance(medians, dict):
        raise InputError(f"{where}: no 'medians' object")
    for run, metrics in medians.items():
        if not isinstance(metrics, dict) or not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) for v in metrics.values()):
            raise InputError(f"{where}: medians[{run!r}] is not an object of numbers")


def read_history(path):
    """Records in file order; blank lines are allowed, anything else malformed is an error."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: cannot read: {e}") from None
    records = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as e:
            raise InputError(f"{path}: line {lineno}: malformed history line: {e.msg} "
                             f"(column {e.colno})") from None
        _check_line(path, lineno, rec)
        records.append(rec)
    return records, text


def record_for(results):
    ctx = results.context
    medians = results.samples().medians()
    metrics = sorted({m for per_run in medians.values() for m in per_run})
    info = {m: results.counter(m) for m in metrics}
    return {
        "schema": SCHEMA,
        "git_commit": ctx.get("git_commit") or "unknown",
        "git_dirty": ctx.get("git_dirty"),
        "date": ctx.get("date"),
        "fingerprint": ctx.get("fingerprint"),
        "profile": ctx.get("cobench_profile"),
        "units": {m: info[m].unit for m in metrics},
        "better": {m: info[m].better for m in metrics if info[m].better},
        "medians": medians,
    }


def cmd_append(args):
    results = cr.load(args.results)
    cr.check_writable(args.history)
    if os.path.exists(args.history):
        # Refuse to extend a damaged file: the error would otherwise surface much later, in `chart`.
        _, text = read_history(args.history)
    else:
        text = ""
    if text and not text.endswith("\n"):
        text += "\n"
    rec = record_for(results)
    cr.write_atomic(args.history, text + json.dumps(rec, sort_keys=True) + "\n")
    print(f"{args.history}: appended {rec['git_commit']} ({len(rec['medians'])} benchmarks)")


def series_index(records):
    """(run, metric) -> number of records carrying it, in first-seen order."""
    seen = {}
    for rec in records:
        for run, metrics in rec["medians"].items():
            for metric in metrics:
                seen[(run, metric)] = seen.get((run, metric), 0) + 1
    return seen


def _meta(records, key, metric, fallback):
    """A metric's unit or direction as the newest record states it; older lines lack "better"."""
    for rec in reversed(records):
        value = rec.get(key, {}).get(metric) if isinstance(rec.get(key), dict) else None
        if value is not None:
            return value
    return fallback(metric)


def cmd_list(args):
    records, _ = read_history(args.history)
    for (run, metric), count in series_index(records).items():
        unit = _meta(records, "units", metric, lambda m: cr.counter_by_rule(m).unit)
        print(f"{run}:{metric}\t{unit or '-'}\t{count} point(s)")


def select(args):
    if args.bench:
        return args.bench, args.metric
    run, sep, metric = args.metric.rpartition(":")
    if not sep or not run or not metric:
        raise InputError(f"--metric {args.metric!r}: expected RUN_NAME:METRIC, or --bench RUN_NAME --metric METRIC")
    return run, metric


def cmd_chart(args):
    records, _ = read_history(args.history)
    run, metric = select(args)
    points = [rec for rec in records if metric in rec["medians"].get(run, {})]
    if not points:
        known = [f"{r}:{m}" for r, m in series_index(records)]
        close = difflib.get_close_matches(f"{run}:{metric}", known, n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(close)}?" if close else "; see `history.py list`"
        raise InputError(f"{args.history}: no values for {run}:{metric}{hint}")
    cr.check_writable(args.out)

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [str(rec.get("git_commit", "?"))[:7] + ("+" if rec.get("git_dirty") == "true" else "")
              for rec in points]
    values = [rec["medians"][run][metric] for rec in points]
    x = list(range(len(points)))
    fig, ax = plt.subplots(figsize=(max(6.0, 0.45 * len(points) + 2), 4))
    ax.plot(x, values, marker="o")
    # Values measured with a different build are not comparable; mark where the build changed.
    changes = [i for i in range(1, len(points))
               if points[i].get("fingerprint") != points[i - 1].get("fingerprint")]
    for n, i in enumerate(changes):
        ax.axvline(i - 0.5, color="grey", linestyle="--", linewidth=1,
                   label="build fingerprint changed" if n == 0 else None)
    if changes:
        ax.legend(loc="best", fontsize="small")
    ax.set_xticks(x)
    crowded = len(points) > 8
    ax.set_xticklabels(labels, rotation=45 if crowded else 0, ha="right" if crowded else "center",
                       fontfamily="monospace", fontsize="small")
    ax.set_xlabel("commit (oldest first; + = uncommitted changes)")
    unit = _meta(records, "units", metric, lambda m: cr.counter_by_rule(m).unit)
    direction = _meta(records, "better", metric, lambda m: cr.counter_by_rule(m).better)
    better = {"lower": ", lower is better", "higher": ", higher is better"}.get(direction, "")
    ax.set_ylabel(f"{metric}" + (f" ({unit})" if unit else "") + better)
    ax.set_title(run)
    if min(values) >= 0:
        ax.set_ylim(0, max(values) * 1.1 or 1)  # drawn from zero, small changes are not exaggerated
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    buf = io.BytesIO()
    fmt = os.path.splitext(args.out)[1].lstrip(".").lower() or "png"
    fig.savefig(buf, format=fmt, dpi=120)
    plt.close(fig)
    cr.write_atomic(args.out, buf.getvalue())
    print(f"{args.out}: {len(points)} point(s) of {run}:{metric}")


def main(argv=None):
    p = argparse.ArgumentParser(description="Append cobench results to a JSONL history and chart trends.",
                                epilog="Exit status: 0 success; 2 bad input; 4 internal error.")
    sub = p.add_subparsers(dest="command", required=True)
    a = sub.add_parser("append", help="append the medians of one results file")
    a.add_argument("history")
    a.add_argument("results")
    a.set_defaults(func=cmd_append)
    li = sub.add_parser("list", help="list RUN_NAME:METRIC series")
    li.add_argument("history")
    li.set_defaults(func=cmd_list)
    c = sub.add_parser("chart", help="draw one metric across commits")
    c.add_argument("history")
    c.add_argument("--bench", metavar="RUN_NAME", help="benchmark run name; then --metric is the metric alone")
    c.add_argument("--metric", required=True, metavar="RUN_NAME:METRIC | METRIC")
    c.add_argument("--out", required=True, metavar="FILE.png")
    c.set_defaults(func=cmd_chart)
    args = p.parse_args(argv)   # a bad option exits 2 (argparse)
    try:
        args.func(args)
    except (InputError, ResultsError, OutputError) as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_INPUT
    except Exception as e:  # noqa: BLE001 - one line and a code of its own, not a traceback
        print(f"history.py: internal error: {type(e).__name__}: {e}", file=sys.stderr)
        return EXIT_INTERNAL
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
