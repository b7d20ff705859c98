#!/usr/bin/env python3
"""Regression gate: compare a candidate cobench results file against a baseline.

Run through the launcher, which finds an interpreter with Debian's SciPy:
    plots/python.sh --need scipy,numpy bench/compare/compare.py BASE.json CAND.json

Exit status: 0 no gated regression, 1 gated regression, 2 bad input,
3 baseline and candidate were built differently (fingerprints differ).
See bench/compare/README.md for the statistics and the export formats.
"""

"""Regression gate: compare a candidate cobench results file against a baseline.

Run through the launcher, which finds an interpreter with Debian's SciPy:
    plots/python.sh --need scipy,numpy bench/compare/compare.py BASE.json CAND.json

Exit status: 0 no gated regression; 1 a gated regression; 2 bad input (a
missing or malformed file, a schema newer than these tools, a baseline or
candidate with no successful benchmark, or builds that are not comparable);
3 compared, but benchmarks or runtime families of the candidate errored;
4 internal error (a bug, or an output that failed to write after the inputs
were accepted). See bench/compare/README.md for the statistics, the noise
floor and the export formats.
"""

import argparse
import dataclasses
import json
import math
import statistics
import sys
from dataclasses import dataclass, field

try:
    import cobench_results as cr
    from cobench_results import INSTRUCTIONS, OPS, OutputError, ResultsError
except ImportError as e:   # run without the launcher, which puts the package on PYTHONPATH
    print(f"compare.py: internal error: {e}; run it through plots/python.sh", file=sys.stderr)
    sys.exit(4)

EXIT_OK, EXIT_REGRESSION, EXIT_INPUT, EXIT_ERRORED, EXIT_INTERNAL = 0, 1, 2, 3, 4

# Context keys that go into the fingerprint; shown when fingerprints differ.
BUILD_KEYS = ("compiler", "cxx_flags", "cobench_build_type", "boost_version", "tbb_version",
              "benchmark_version", "liburing_version")

# Counters that measure the machine's load more than the code: involuntary
# context switches happen when other processes want the CPU. They are compared
# and shown, but never fail the gate (README: "Load-dependent counters").
LOAD_DEPENDENT = {"ivcsw_per_op"}


class Side:
    """One input file: its Results plus the per-repetition samples the tests need."""

    def __init__(self, results):
        self.results = results
        self.path = results.source
        self.context = results.context
        # Entries measured beside other work (other_load_frac over a tenth of the machine) are
        # left out on load. Instruction counts do not depend on other load, so under callgrind
        # every entry is compared; a wall-clock file whose entries were all measured beside
        # other work (a busy CI machine) is compared on them, and the comparison says so, rather
        # than refused as empty.
        self.loaded_note = None
        counted = results.is_instruction_counts or any(INSTRUCTIONS in e.counters for e in results.loaded)
        if results.loaded and (counted or not results.entries):
            if not counted:
                self.loaded_note = (f"{self.path}: every entry was measured beside other work (other_load_frac "
                                    f"over a tenth of the machine): its wall-clock figures include that work")
            results = dataclasses.replace(results, entries=results.entries + results.loaded, loaded=[])
        view = results.samples()
        self.samples, self.errors, self.from_aggregate = view.samples, view.errors, view.from_aggregate

    def ops(self, run):
        """Median operations of a run (schema 2's "ops" counter), or None in older files."""
        values = self.samples.get(run, {}).get(OPS)
        return statistics.median(values) if values else None

    def errored(self):
        """Lines naming what failed in this file: benchmarks without one good repetition, families."""
        lines = [f"{run}: {msg}" for run, msg in self.errors.items()]
        lines += [f"runtime family {f['runtime']}: {f['status']}"
                  + (f" ({f['message']})" if f.get("message") else "")
                  for f in self.results.failed_families()]
        return lines


@dataclass
class Row:
    run: str
    metric: str
    direction: str
    gated: bool
    unit: str = ""
    base: list = field(default_factory=list)
    cand: list = field(default_factory=list)
    change: float = None   # relative change of medians, candidate vs baseline
    p: float = None        # None when no test was possible
    verdict: str = "ok"
    note: str = ""

    @property
    def base_median(self):
        return statistics.median(self.base) if self.base else None

    @property
    def cand_median(self):
        return statistics.median(self.cand) if self.cand else None

    @property
    def test_label(self):
        if self.p is not None:
            return f"{self.p:.3g}"
        if not self.base or not self.cand:
            return ""
        nb, nc = len(self.base), len(self.cand)
        return f"n={nb}" if nb == nc else f"n={nb}/{nc}"


def min_two_sided_p(n1, n2):
    """Smallest p-value the exact two-sided Mann-Whitney U test can give for these sizes."""
    return min(1.0, 2.0 / math.comb(n1 + n2, n1))


def relative_change(base, cand):
    if base == cand:
        return 0.0
    if base == 0:
        return math.copysign(math.inf, cand)
    return (cand - base) / abs(base)


def below_resolution(row, info, base, cand):
    """Why the change is noise by the counter's resolution (its absolute noise floor), or None.

    A counter such as cpu_sys_ns_per_op is a total that moves in whole steps
    (one 10 ms accounting tick) divided by the operations: in one entry it can
    only change by quantum / ops. A change no larger than that is one step of
    the counter, not a change of the code.
    """
    if info.quantum is None or row.cand_median == row.base_median:
        return None
    known = [r for r in (info.resolution(base.ops(row.run)), info.resolution(cand.ops(row.run)))
             if r is not None]
    diff = abs(row.cand_median - row.base_median)
    if known and diff <= max(known):
        return f"noise: the change {fmt_value(diff)} is within the counter's resolution {fmt_value(max(known))}"
    if len(known) < 2 and 0 in row.base + row.cand:
        # Files before schema 2 have no ops, so one step cannot be sized; a
        # repetition that read 0 shows the counter is at its resolution here.
        return "noise: a repetition read 0 and the file has no ops to size the counter's resolution"
    return None


def judge(row, min_effect, alpha, noise=None):
    """Set row.change, row.p and row.verdict for a metric present on both sides."""
    from scipy.stats import mannwhitneyu

    row.change = relative_change(row.base_median, row.cand_median)
    if min_two_sided_p(len(row.base), len(row.cand)) < alpha:
        p = mannwhitneyu(row.base, row.cand, alternative="two-sided").pvalue
        row.p = 1.0 if math.isnan(p) else float(p)
        significant = row.p < alpha
    else:
        # The test could never reach alpha with so few samples; the effect size alone decides.
        significant = True
    if noise:
        row.verdict, row.note = "ok", noise
        return
    worse = row.change if row.direction == "lower" else -row.change
    if significant and worse >= min_effect:
        row.verdict = "regressed" if row.gated else "warning"
    elif significant and -worse >= min_effect:
        row.verdict = "improved"
    else:
        row.verdict = "ok"


def counter_info(metric, base, cand):
    """The candidate's metadata for a counter, else the baseline's, else the naming rules."""
    for side in (cand, base):
        meta = side.context.get("counters")
        if isinstance(meta, dict) and metric in meta:
            return side.results.counter(metric)
    return cand.results.counter(metric)


def compare(base, cand, opts):
    """Returns (rows, notes)."""
    rows, notes, unknown, descriptive = [], [], {}, {}
    runs = list(base.samples) + [r for r in cand.samples if r not in base.samples]
    runs += [r for r in list(base.errors) + list(cand.errors) if r not in runs]
    for run in dict.fromkeys(runs):
        b, c = base.samples.get(run, {}), cand.samples.get(run, {})
        for metric in list(b) + [m for m in c if m not in b]:
            info = counter_info(metric, base, cand)
            dirn = opts.direction.get(metric, info.better)
            if dirn is None:
                unknown[metric] = unknown.get(metric, 0) + 1
                continue
            if dirn == "none":
                descriptive[metric] = None
                continue
            gated = metric == INSTRUCTIONS or (opts.gate_wallclock and metric not in LOAD_DEPENDENT)
            row = Row(run, metric, dirn, gated, info.unit, b.get(metric, []), c.get(metric, []))
            if row.base and row.cand:
                threshold = opts.instr_threshold if metric == INSTRUCTIONS else opts.wall_threshold
                judge(row, threshold / 100.0, opts.alpha, below_resolution(row, info, base, cand))
                if row.verdict == "warning" and metric in LOAD_DEPENDENT:
                    row.note = "load-dependent: not gated"
            elif row.base:
                row.verdict = "missing"
                row.note = f"candidate error: {cand.errors[run]}" if run in cand.errors else ""
            else:
                row.verdict = "new"
                row.note = f"baseline error: {base.errors[run]}" if run in base.errors else ""
            rows.append(row)
        if not b and not c:
            notes.append(f"{run}: no results on either side (baseline: {base.errors.get(run, 'absent')}; "
                         f"candidate: {cand.errors.get(run, 'absent')})")

    for metric, count in unknown.items():
        notes.append(f"skipped counter {metric!r} ({count} benchmark(s)): no direction rule names it; "
                     f"compare it with --direction {metric}=lower|higher")
    if descriptive:
        notes.append("not compared (descriptive, better = none): " + ", ".join(descriptive))
    untested = [r for r in rows if r.base and r.cand and r.p is None]
    single = sum(1 for r in untested if min(len(r.base), len(r.cand)) == 1)
    if single:
        notes.append(f"{single} metric(s) have one sample on a side (n=1): no statistical test was "
                     "possible; their verdicts use the threshold on the relative change alone")
    if len(untested) > single:
        notes.append(f"{len(untested) - single} metric(s) have too few repetitions for the "
                     f"Mann-Whitney U test to reach p < {opts.alpha}; their verdicts use the "
                     "threshold on the relative change alone")
    aggregate_only = sorted(base.from_aggregate | cand.from_aggregate)
    if aggregate_only:
        notes.append(f"{len(aggregate_only)} benchmark(s) only had aggregate entries; "
                     "their median (or mean) is used as a single sample")
    errored = cand.errored()
    if errored:
        notes.append(f"{len(errored)} failure(s) in the candidate (exit status 3 unless a regression): "
                     + "; ".join(errored))
    return rows, notes


def fingerprint_message(base, cand, regen_command):
    """None when comparable, else the lines explaining why not."""
    fb, fc = base.context.get("fingerprint"), cand.context.get("fingerprint")
    if isinstance(fb, str) and fb and fb == fc:
        return None
    lines = [f"not comparable: baseline fingerprint {fb or '(none)'} != candidate fingerprint "
             f"{fc or '(none)'}; regenerate the baseline with: {regen_command}"]
    for key in BUILD_KEYS:
        vb, vc = base.context.get(key), cand.context.get(key)
        if (vb is not None or vc is not None) and vb != vc:
            lines.append(f"  {key} differs: baseline {vb!r}, candidate {vc!r}")
    return lines


def fmt_value(v):
    return "" if v is None else f"{v:.4g}"


def fmt_change(c):
    if c is None:
        return ""
    if math.isinf(c):
        return "+inf" if c > 0 else "-inf"
    return f"{c * 100:+.1f}%"


def table_cells(rows):
    return [[r.run, r.metric, r.unit, fmt_value(r.base_median), fmt_value(r.cand_median),
             fmt_change(r.change), r.test_label, r.verdict + (f" ({r.note})" if r.note else "")]
            for r in rows]


HEADER = ["benchmark", "metric", "unit", "baseline", "candidate", "change", "p", "verdict"]


def summary(rows, opts):
    """(verdict line, settings line)."""
    regressed = sum(r.verdict == "regressed" for r in rows)
    warnings = sum(r.verdict == "warning" for r in rows)
    improved = sum(r.verdict == "improved" for r in rows)
    head = f"FAIL: {regressed} gated regression(s)" if regressed else "PASS: no gated regression"
    tail = f"; {warnings} wall-clock warning(s), not gated" if warnings else ""
    gated = "instructions_per_op" + (" and wall-clock metrics (not the load-dependent "
                                     + ", ".join(sorted(LOAD_DEPENDENT)) + ")"
                                     if opts.gate_wallclock else " only")
    return (f"{head}{tail}; {improved} improved; {len(rows)} metric(s) compared",
            f"Gated: {gated}. Minimum change: instructions {opts.instr_threshold:g}%, "
            f"wall clock {opts.wall_threshold:g}%, and more than a counter's resolution where "
            f"known; alpha {opts.alpha:g} (two-sided Mann-Whitney U where repetitions allow)")


def render_text(rows, notes, opts, base, cand):
    out = [f"baseline:  {base.path} (commit {base.context.get('git_commit', '?')})",
           f"candidate: {cand.path} (commit {cand.context.get('git_commit', '?')})", ""]
    cells = [HEADER] + table_cells(rows)
    widths = [max(len(row[i]) for row in cells) for i in range(len(HEADER))]
    numeric = {3, 4, 5, 6}
    for k, row in enumerate(cells):
        out.append("  ".join(c.rjust(w) if i in numeric else c.ljust(w)
                             for i, (c, w) in enumerate(zip(row, widths))).rstrip())
        if k == 0:
            out.append("  ".join("-" * w for w in widths))
    out.append("")
    out += [f"note: {n}" for n in notes]
    verdict, settings = summary(rows, opts)
    out += [settings, verdict]
    return "\n".join(out) + "\n"


def md_table(rows):
    def esc(s):
        return s.replace("|", "\\|")
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(esc(c) for c in cells) + " |" for cells in table_cells(rows)]
    return "\n".join(lines)


def render_markdown(rows, notes, opts, base, cand):
    notable = [r for r in rows if r.verdict != "ok"]
    verdict, settings = summary(rows, opts)
    out = ["## cobench comparison", "",
           f"**{verdict}**", "", settings, "",
           f"Baseline `{base.context.get('git_commit', '?')}`, candidate `{cand.context.get('git_commit', '?')}`.", ""]
    if notable:
        out += [md_table(notable), ""]
    out += ["<details><summary>All metrics</summary>", "", md_table(rows), "", "</details>", ""]
    out += [f"- {n}" for n in notes]
    return "\n".join(out) + "\n"


def gab_export(rows):
    """github-action-benchmark 'custom' entries, split by direction (one direction per file)."""
    smaller, bigger = [], []
    for r in rows:
        if not r.cand:
            continue
        entry = {"name": f"{r.run}:{r.metric}", "unit": r.unit, "value": r.cand_median}
        if len(r.cand) > 1:
            entry["range"] = f"± {statistics.stdev(r.cand):.4g}"
        extra = f"median of {len(r.cand)} sample(s)"
        if r.change is not None:
            extra += f"; vs baseline {fmt_change(r.change)} ({r.verdict})"
        entry["extra"] = extra
        (smaller if r.direction == "lower" else bigger).append(entry)
    return smaller, bigger


def bencher_export(rows):
    """Bencher Metric Format: benchmark -> measure slug -> {value, lower_value, upper_value}."""
    out = {}
    for r in rows:
        if not r.cand:
            continue
        metric = {"value": r.cand_median}
        if len(r.cand) > 1:
            metric["lower_value"] = min(r.cand)
            metric["upper_value"] = max(r.cand)
        out.setdefault(r.run, {})[r.metric.replace("_", "-")] = metric
    return out


def bigger_path(path):
    stem = path[:-len(".json")] if path.endswith(".json") else path
    return stem + ".bigger.json"


def parse_direction(text):
    name, sep, dirn = text.partition("=")
    if not sep or not name or dirn not in ("lower", "higher"):
        raise argparse.ArgumentTypeError(f"expected NAME=lower or NAME=higher, got {text!r}")
    return name, dirn


def percent(text):
    v = float(text)
    if not 0 < v < 1000:
        raise argparse.ArgumentTypeError(f"expected a percentage > 0, got {text!r}")
    return v


def probability(text):
    v = float(text)
    if not 0 < v < 1:
        raise argparse.ArgumentTypeError(f"expected 0 < alpha < 1, got {text!r}")
    return v


def parse_args(argv):
    p = argparse.ArgumentParser(
        description="Compare cobench results; gate on instructions_per_op, warn on wall clock.",
        epilog="Exit status: 0 no gated regression; 1 a gated regression; 2 bad input (missing or "
               "malformed file, a schema newer than these tools, no successful benchmark on a side, "
               "fingerprints differ: not comparable); 3 compared, but benchmarks or runtime families "
               "of the candidate errored; 4 internal error.")
    p.add_argument("baseline")
    p.add_argument("candidate")
    p.add_argument("--alpha", type=probability, default=0.05,
                   help="significance level of the Mann-Whitney U test (default 0.05)")
    p.add_argument("--instr-threshold", type=percent, default=3.0, metavar="PCT",
                   help="minimum relative change of instructions_per_op, in percent (default 3)")
    p.add_argument("--wall-threshold", type=percent, default=20.0, metavar="PCT",
                   help="minimum relative change of every other metric, in percent (default 20)")
    p.add_argument("--gate-wallclock", action="store_true",
                   help="fail on wall-clock regressions too, instead of only warning "
                        "(load-dependent counters such as ivcsw_per_op still only warn)")
    p.add_argument("--direction", type=parse_direction, action="append", default=[],
                   metavar="NAME=lower|higher",
                   help="direction for a counter (repeatable), e.g. sum=lower; overrides the file's metadata")
    p.add_argument("--markdown", metavar="FILE", help="also write a markdown summary")
    p.add_argument("--export-gab", metavar="FILE",
                   help="write github-action-benchmark custom JSON: FILE (customSmallerIsBetter) "
                        "and FILE with .json replaced by .bigger.json (customBiggerIsBetter)")
    p.add_argument("--export-bencher", metavar="FILE", help="write Bencher Metric Format JSON")
    p.add_argument("--regen-command", default="bash bench/baseline.sh",
                   help="command suggested when the fingerprints differ")
    p.add_argument("--ignore-fingerprint", action="store_true",
                   help="compare even when the builds differ (the numbers may mean little)")
    opts = p.parse_args(argv)
    opts.direction = dict(opts.direction)
    return opts


def load_side(path, role):
    """A Side, refusing a file with nothing to compare (an empty or all-errored run)."""
    side = Side(cr.load(path))
    if not side.samples:
        failed = len(side.errors)
        why = f"all {failed} benchmark(s) errored" if failed else "it has no benchmark entries"
        raise ResultsError(f"{path}: the {role} has no successful benchmark ({why})")
    return side


def write_outputs(opts, rows, notes, base, cand):
    if opts.markdown:
        cr.write_atomic(opts.markdown, render_markdown(rows, notes, opts, base, cand))
    if opts.export_gab:
        smaller, bigger = gab_export(rows)
        cr.write_atomic(opts.export_gab, json.dumps(smaller, indent=2, ensure_ascii=False) + "\n")
        cr.write_atomic(bigger_path(opts.export_gab), json.dumps(bigger, indent=2, ensure_ascii=False) + "\n")
    if opts.export_bencher:
        cr.write_atomic(opts.export_bencher, json.dumps(bencher_export(rows), indent=2) + "\n")


def run(opts):
    outputs = [f for f in (opts.markdown, opts.export_bencher) if f]
    if opts.export_gab:
        outputs += [opts.export_gab, bigger_path(opts.export_gab)]
    try:
        base = load_side(opts.baseline, "baseline")
        cand = load_side(opts.candidate, "candidate")
        for path in outputs:
            cr.check_writable(path)
    except (ResultsError, OutputError) as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_INPUT

    mismatch = fingerprint_message(base, cand, opts.regen_command)
    if mismatch and not opts.ignore_fingerprint:
        print("error: " + "\n".join(mismatch), file=sys.stderr)
        if opts.markdown:
            # The summary is what a CI job posts; it should say why nothing was compared.
            cr.write_atomic(opts.markdown, "## cobench comparison\n\n**" + mismatch[0] + "**\n\n"
                            + "\n".join(f"- {line.strip()}" for line in mismatch[1:]) + "\n")
        return EXIT_INPUT

    rows, notes = compare(base, cand, opts)
    notes[:0] = [s.loaded_note for s in (base, cand) if s.loaded_note]
    if mismatch:
        notes.insert(0, "fingerprints differ, compared anyway (--ignore-fingerprint): "
                     + mismatch[0].split(";")[0].removeprefix("not comparable: "))
    sys.stdout.write(render_text(rows, notes, opts, base, cand))
    write_outputs(opts, rows, notes, base, cand)
    if any(r.verdict == "regressed" for r in rows):
        return EXIT_REGRESSION
    return EXIT_ERRORED if cand.errored() else EXIT_OK


def main(argv=None):
    opts = parse_args(argv)   # a bad option exits 2 (argparse)
    try:
        return run(opts)
    except Exception as e:  # noqa: BLE001 - exit 1 would read as "regression"
        print(f"compare.py: internal error: {type(e).__name__}: {e}", file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
