"""Charts and a report (Markdown + self-contained HTML) from one cobench results file, or from
several side by side (one column per host; hosts.py): the command line, and the single-host
report's outline (build_report: headline, run conditions, statistics, problems, claims, charts,
the presentation entries' sections, one section per workload, declared pairs, gaps).

What each workload shows comes from the presentation registry (presentation/); this module names
no workload.

Run through the launcher, which finds an interpreter with matplotlib and puts
the cobench_results package on the import path:
    plots/python.sh plots/report.py [RESULTS_JSON] [--out-dir DIR] [--report PATH]
    plots/python.sh plots/report.py A.json B.json [...] [--label A.json=laptop] [--out-dir DIR] [--report PATH]
Exit status: see EPILOG below (and --help).
"""

import argparse
import os
import sys
from pathlib import Path

import claims
import cobench_results as cr
import headline
import io_workloads
import reactor_backends
import rowsets
import tables
import yardstick
from cobench_results import OutputError, ResultsError, fmt
from doc import Doc, markdown_link, markdown_table
from presentation import registry
from presentation.registry import PresentationError
from presentation.generic import workload_section

EXIT_OK, EXIT_FAILURE, EXIT_INPUT, EXIT_ERRORED, EXIT_INTERNAL = 0, 1, 2, 3, 4
EPILOG = ("Everything is built in memory and in temporary folders beside the targets, and swapped "
          "in only when all of it is written; on any error the previous charts and report stay "
          "byte-identical. Charts whose data is absent are skipped (an old copy is removed in the "
          "same swap) with a note in the report. Exit status: 0 report written; 1 failure (the "
          "outputs could not be written); 2 bad input (missing or malformed file, not a cobench "
          "results file, an instruction-count file, a schema newer than this tool, no successful "
          "benchmark, an extra presentation file (COBENCH_PRESENTATION_EXTRA) that does not load; "
          "with several files also: a file given twice, different results schemas, a "
          "file with no workload in common with the first, --baseline/--compare-only/--readme-table); "
          "3 report written, but the results record failed benchmarks or runtime "
          "families; 4 internal error. Several results files give one report with a column per "
          "host (labels from each file's host_name, else its CPU model and count; --label "
          "FILE=NAME overrides) and one chart per workload with a bar per host; its charts are "
          "named hosts_*.")

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_RESULTS = ROOT / "results" / "latest.json"
DEFAULT_OUT_DIR = ROOT / "plots" / "out"
DEFAULT_REPORT = ROOT / "results" / "report.md"

MACHINE_KEYS = ("cpu_model", "cpu_count", "virtualized", "kernel", "compiler", "cxx_flags",
                "cobench_build_type", "git_commit", "git_dirty", "boost_version", "tbb_version",
                "benchmark_version", "liburing_version", "host_name", "date", "cobench_profile",
                "fingerprint")
# Named constants printed beside the claims' thresholds: (module name, module, whether the file
# has what they judge).
THRESHOLD_MODULES = (("io_workloads", io_workloads, io_workloads.has_io),
                     ("yardstick", yardstick, yardstick.has_yardstick),
                     ("reactor_backends", reactor_backends, reactor_backends.has_backends))


def run_conditions(r):
    """(rows, warnings) about the machine's state during the run."""
    ctx, rows, warnings = r.context, [], []
    cpus = r.cpu_count()
    loads = {k: v for k, v in ctx.items() if "load" in k.lower() and isinstance(v, list)}
    for key, v in loads.items():
        when = "after the run" if "after" in key or "end" in key else "at the start of the run"
        rows.append([f"load average 1/5/15 min ({key}, {when})", " / ".join(fmt(x) for x in v)])
        if cpus and v and max(v) > cpus:
            which = [w for w, x in zip(("1-minute", "5-minute", "15-minute"), v) if x > cpus]
            warnings.append(f"**Warning:** the machine was busy: {', '.join(which)} load average "
                            f"({key}) above the CPU count {cpus}; timings may be inflated, compare "
                            f"them only with care.")
    if not any("after" in k or "end" in k for k in loads):
        rows.append(["load average after the run", "not recorded in this file"])
    for key, what in (("cpu_count", "CPUs"), ("mhz_per_cpu", "CPU MHz (nominal, per Google Benchmark)"),
                      ("cpu_scaling_enabled", "CPU frequency scaling enabled"),
                      ("allocator", "allocator policy"), ("timing", "timing"),
                      ("injected_work", "injected work")):
        if key in ctx:
            rows.append([what, str(ctx[key])])
    for label, line in rowsets.interpreter_lines(r):
        rows.append([f"interpreter of the {label} yardsticks", line])
    if str(ctx.get("cpu_scaling_enabled")).lower() == "true":
        warnings.append("**Warning:** CPU frequency scaling was enabled: the clock may have changed "
                        "during the run.")
    return rows, warnings


def verdict_word(c):
    """'**confirmed**', or '**not judged**: n = 3' where its inputs have too few repetitions."""
    return f"**{c.verdict}**" + (f": n = {c.n}" if c.thin else "")


def thin_file_note(r):
    """One sentence where every entry of the file has fewer repetitions than a verdict needs (a
    quick or test profile run), else None."""
    n = max((p.repetitions for p in r.points() if p.workload not in cr.LIMIT_PROBES), default=None)
    if n is None or n >= cr.VERDICT_MIN_N:
        return None
    profile = r.context.get("cobench_profile", "unknown")
    return (f"**Not judged at n {'=' if n == 1 else '≤'} {n}:** every entry of this file has at most {n} repetition"
            f"{'s' if n != 1 else ''} (profile {profile}), and a verdict needs n ≥ {cr.VERDICT_MIN_N}: the "
            f"verdicts below are not judged at that n. The full profile ({cr.VERDICT_MIN_N} repetitions, "
            f"`cobench --profile full`) judges them. Where the evidence gives a reading, it is what these "
            f"numbers would say, not a verdict.")


def verdicts_text(c):
    """'**confirmed**', or with several row sets 'in C++: **confirmed**; in CPython 3.11: **mixed**'
    and whether the verdict changes with the language."""
    if not c.also:
        return verdict_word(c)
    both = sum(judged.verdict not in (claims.NOT_MEASURED, claims.NOT_JUDGED) for _, judged in c.judgements())
    return ("; ".join(f"in {language}: {verdict_word(judged)}" for language, judged in c.judgements())
            + ("" if both < 2 else " (changes with the language)" if c.differs() else " (unchanged by the language)"))


def statistics_lines(r):
    """What n is, how a cell is made, what n allows."""
    from compare import min_two_sided_p
    counts = {}
    for p in r.points():
        counts[p.repetitions] = counts.get(p.repetitions, 0) + 1
    flagged = sum(len(p.warmup) for p in r.points())
    lines = ["Repetitions: " + ", ".join(f"n = {n} for {c} benchmark(s)" for n, c in sorted(counts.items()))
             + ". Each cell is the median of the repetitions, with their min–max in parentheses where "
               "n ≥ 2 (not ± a standard deviation, which 3 runs cannot estimate); numbers are rounded "
               "to 3 significant figures.",
             f"Warm-up rule: {cr.WARMUP_RULE}. Flagged here: {flagged} counter value(s), marked † "
             "where they appear.",
             *([line] if (line := cr.other_load.summary(r.entries, r.loaded)) else []),
             "Two runtimes whose min–max ranges overlap are called indistinguishable: the difference "
             "is inside the run-to-run spread, and no verdict counts it as a win.",
             f"Repetitions a verdict needs (VERDICT_MIN_N = {cr.VERDICT_MIN_N}, "
             f"`plots/cobench_results/verdict_n.py`): {cr.VERDICT_N_RULE}."]
    for n in sorted(counts):
        if n < 2:
            lines.append(f"What n = {n} allows: no spread and no significance test; a difference between "
                         "runtimes there may be noise.")
            continue
        p = min_two_sided_p(n, n)
        lines.append(f"What n = {n} allows: comparing two runs of n = {n} each, the smallest p-value a "
                     f"two-sided Mann-Whitney U test can give is {p:.3g}"
                     + (f", so no such comparison can be significant at α = 0.05 (n = 5 against 5 "
                        f"reaches {min_two_sided_p(5, 5):.3g})." if p >= 0.05 else
                        ", below α = 0.05: such a comparison can be significant."))
    return lines


def build_report(r, claim_list, charts, skipped, image_src, svg_href=None, compare_doc=None):
    doc = Doc()
    ctx = r.context
    doc.h(1, "cobench report")
    doc.p(f"Generated from `{r.source}` (profile {ctx.get('cobench_profile', 'unknown')}, "
          f"{ctx.get('date', 'date unknown')}). Every verdict below is computed from that file.")
    doc.toc()

    doc.h(2, "Headline")
    header, rows, notes = headline.headline(r)
    if rows:
        doc.table(header, rows, notes)
    else:
        doc.p("None of the headline workloads ran.")
    if compare_doc is not None:
        doc.blocks += compare_doc.blocks

    doc.h(2, "Run conditions")
    cond, warnings = run_conditions(r)
    for w in warnings:
        doc.p(w)
    doc.table(["", "value"], cond + [[k, str(ctx[k])] for k in MACHINE_KEYS if k in ctx]
              or [["context", "none in this file"]])

    doc.h(2, "Statistics")
    doc.bullets(statistics_lines(r))

    doc.h(2, "Problems in this run")
    bad = [f for f in r.families if f["status"] != "ok"]
    if bad:
        doc.p("**Error:** these runtime families did not finish; their numbers are missing or partial.")
        doc.table(["runtime", "status", "message", "wall_s"],
                  [[f["runtime"], f["status"], f.get("message", ""), fmt(f.get("wall_s"))] for f in bad])
    else:
        doc.p("All runtime families finished with status ok." if r.families
              else "The file lists no runtime families.")
    if r.loaded:
        doc.p(f"**Left out:** these repetitions ran beside other work: {cr.LOADED_RULE}.")
        doc.table(["benchmark", "repetition", "other load", "steal"], cr.other_load.rows(r.loaded))
    failed = r.failed()
    if failed:
        doc.p("**Error:** these benchmarks ran and failed; they are not plotted.")
        doc.table(["benchmark", "error"], [[e.name, e.error] for e in failed])
    else:
        doc.p("No benchmark reported an error.")

    doc.h(2, "Claims")
    languages = rowsets.interpreter_lines(r)
    if languages:
        doc.p("Each claim is judged once per language: on the C++ runtimes' rows, and on the rows of "
              + " and of ".join(f"the {label} yardsticks" for label, _ in languages)
              + ", each by the same rule from its own rows alone (a yardstick stands for the model kind "
                "its entry declares). A claim whose verdict changes with the language is marked so.")
        doc.bullets([f"{label}: {line}" for label, line in languages])
    note = thin_file_note(r)
    if note:
        doc.p(note)
    doc.table(["claim", "verdict"], [[f"({c.key}) {c.statement}", verdicts_text(c)] for c in claim_list])
    doc.p("Thresholds (named constants in `plots/claims/records.py` and, for the sections that judge, in "
          "their modules: " + ", ".join(f"`plots/{name}.py`" for name, _, _ in THRESHOLD_MODULES) + "):")
    doc.table(["constant", "value", "meaning"], [[n, f"{v:g}", m] for n, v, m in claims.THRESHOLDS]
              + [[f"{name}.{n}", f"{v:g}", m] for name, module, has in THRESHOLD_MODULES if has(r)
                 for n, v, m in module.THRESHOLDS])
    for c in claim_list:
        doc.h(3, f"({c.key}) {c.statement}")
        doc.p(f"Verdict: {verdicts_text(c)}")
        for language, judged in c.judgements():
            if language is not None:
                doc.h(4, f"({c.key}) in {language}")
                doc.p(f"Verdict in {language}: {verdict_word(judged)}")
            doc.p(f"Rule: {judged.rule}" if judged is c or judged.rule != c.rule else
                  f"Rule: as in {c.language}, on the {language} rows alone.")
            doc.bullets(judged.evidence)

    overview = [c for c in charts if c.name == "overview"]
    if overview:
        doc.h(2, "Overview")
        doc.image(overview[0], svg_href(overview[0]) if svg_href else None)
        doc.p(f"How to read: {overview[0].how}")
    doc.h(2, "Charts")
    doc.p("Every chart's caption names the machine; each runtime keeps one colour throughout. "
          "Error bars span the min–max of the repetitions.")
    for c in charts:
        if c.name == "overview":
            continue
        doc.h(3, c.title)
        doc.image(c, svg_href(c) if svg_href else None)
        doc.p(f"How to read: {c.how or 'no reading guide was written for this chart.'}")
        doc.bullets(c.notes)
    for name, title, why in skipped:
        doc.h(3, title)
        doc.p(f"**Not measured in this run** ({why}).")

    for section in registry.sections():
        section(doc, r)

    doc.h(2, "Workloads")
    doc.p("Every workload of the run with its parameters and a table per counter it reports (unit "
          "and direction from the file's counter metadata). A dash names why a cell is empty: "
          "declared (the harness says the pair cannot run), errored, other sizes (the runtime ran "
          "this workload at other parameters), not run (the runtime was not in this run), not in "
          "profile; the reasons are listed under each table.")
    for workload in registry.ordered({p.workload for p in r.points()}):
        workload_section(doc, r, registry.entry(workload))

    doc.h(2, "Declared pairs (not run)")
    if r.declared:
        doc.table(["workload", "runtime", "params", "reason"],
                  [[d["workload"], d["runtime"], d.get("params") or "all", d["reason"]] for d in
                   sorted(r.declared, key=lambda d: (d["workload"], r.order_key(d["runtime"])))])
    else:
        doc.p("None: no workload/runtime pair was declared impossible.")

    doc.h(2, "Not measured in this run")
    gaps = [f"{title}: not measured in this run ({why})" for _, title, why in skipped]
    gaps += absent_runtimes(r)
    if gaps:
        doc.bullets(gaps)
    else:
        doc.p("Everything the report knows how to show was measured.")
    return doc


def absent_runtimes(r):
    """Runtimes with no usable entry for a workload that others measured, and not declared: the
    real missing pairs, each with its reason."""
    declared = {(d["workload"], d["runtime"]) for d in r.declared}
    status = {f["runtime"]: f["status"] for f in r.families}
    have = {(p.workload, p.runtime) for p in r.points()}
    notes = []
    for workload in sorted({w for w, _ in have}):
        for rt in r.runtimes_in_run():
            if io_workloads.is_reference(r, rt):
                continue   # a yardstick runs only the workloads it is a reference for
            if (workload, rt) not in have and (workload, rt) not in declared:
                if status.get(rt, "ok") != "ok":
                    why = f" (its family: {status[rt]})"
                else:
                    why = f" ({tables.missing(r, workload, rt)[1]})"
                notes.append(f"`{workload}` on {rt}: no data{why}")
    return notes


def parse_args(argv):
    ap = argparse.ArgumentParser(
        prog="plots/python.sh plots/report.py",
        description="Draw the charts (PNG and SVG) and write the report (Markdown and a "
                    "self-contained HTML file) for one cobench results file. Reads only that "
                    "file. Verdicts on the classic claims are computed from its numbers.",
        epilog=EPILOG)
    ap.add_argument("results", nargs="*", type=Path, default=[DEFAULT_RESULTS],
                    help=f"results JSON written by bench/cobench (default: {DEFAULT_RESULTS.relative_to(ROOT)}); "
                         "two or more: one report with the hosts side by side, the first file "
                         "the one the ratios are against")
    ap.add_argument("--out-dir", type=Path, default=DEFAULT_OUT_DIR,
                    help=f"folder for the charts (default: {DEFAULT_OUT_DIR.relative_to(ROOT)})")
    ap.add_argument("--report", type=Path, default=DEFAULT_REPORT,
                    help=f"Markdown report path; the HTML report goes beside it with the suffix "
                         f".html (default: {DEFAULT_REPORT.relative_to(ROOT)})")
    ap.add_argument("--baseline", type=Path, metavar="OLD_JSON",
                    help="also compare with this older results file: per-workload and per-runtime "
                         "geometric-mean factors new/old with significance, worst first, as a report "
                         "section")
    ap.add_argument("--compare-only", action="store_true",
                    help="with --baseline: print only that comparison as Markdown (a CI comment) on "
                         "stdout; no charts, no report written")
    ap.add_argument("--readme-table", action="store_true",
                    help="print only the headline table as Markdown on stdout (the README's medians "
                         "table: the same code as the report's headline); nothing is written")
    ap.add_argument("--label", action="append", default=[], metavar="FILE=NAME",
                    help="with several results files: call the host of FILE (as given on the "
                         "command line) NAME in the report; repeatable")
    args = ap.parse_args(argv)
    if args.compare_only and not args.baseline:
        ap.error("--compare-only needs --baseline OLD_JSON")
    args.files = args.results
    if len(args.files) > 1:
        one_file = [opt for opt, on in (("--baseline", args.baseline), ("--compare-only", args.compare_only),
                                        ("--readme-table", args.readme_table)) if on]
        if one_file:
            ap.error(f"{' and '.join(one_file)} {'takes' if len(one_file) == 1 else 'take'} one results "
                     f"file, not {len(args.files)} "
                     f"({', '.join(map(str, args.files))}); for hosts side by side leave "
                     f"{'it' if len(one_file) == 1 else 'them'} out")
    elif args.label:
        ap.error("--label names the hosts of a side-by-side report; give two or more results files")
    labels, given = [], {str(f) for f in args.files}
    for text in args.label:
        if "=" not in text or text.startswith("="):
            ap.error(f"--label {text}: expected FILE=NAME")
        # FILE may itself hold '=': split where the left part is one of the files as given.
        cut = next((i for i, ch in enumerate(text) if ch == "=" and text[:i] in given), text.index("="))
        labels.append((text[:cut], text[cut + 1:]))
    args.label = labels
    args.results = args.files[0]
    return args


def load_checked(path):
    """The results, or ResultsError when this file is not something a report can be drawn from."""
    results = cr.load(path, require_cobench=True)
    if results.is_instruction_counts:
        raise ResultsError(f"{path}: an instruction-count file (cobench --instructions); it has no "
                           "timings to chart; compare it with bench/compare/compare.py instead")
    if not results.successful():
        failed = len(results.failed())
        why = f"all {failed} benchmark(s) errored" if failed else "it has no benchmark entries"
        raise ResultsError(f"{path}: no successful benchmark ({why}); the previous report is kept")
    return results


def readme_table(results):
    """The headline table as Markdown, with its notes: what README.md's medians table is."""
    header, rows, notes = headline.headline(results)
    return markdown_table(header, rows) + "".join(f"\n\n{n}" for n in notes) + "\n"


def compare_section(results, baseline):
    import compare_view
    return compare_view.compare_doc(baseline, results, Doc())


def render(results, args, baseline=None):
    """(files to write as [(path, bytes)], stale chart paths to remove, claims)."""
    import charts   # only now: a bad input is reported without waiting for matplotlib

    claim_list = claims.evaluate_all(results)
    extra = registry.charts()
    rendered, skipped = charts.render_all(results, extra)
    md_path, html_path = args.report.with_suffix(".md"), args.report.with_suffix(".html")

    def image_src(chart):
        return markdown_link(os.path.relpath(args.out_dir / f"{chart.name}.png", md_path.parent))

    def svg_href(chart):
        return markdown_link(os.path.relpath(args.out_dir / f"{chart.name}.svg", md_path.parent))

    doc = build_report(results, claim_list, rendered, skipped, image_src, svg_href,
                       compare_section(results, baseline) if baseline is not None else None)
    files = []
    for c in rendered:
        files += [(args.out_dir / f"{c.name}.png", c.png), (args.out_dir / f"{c.name}.svg", c.svg)]
    files += [(md_path, doc.markdown(image_src).encode()),
              (html_path, doc.html("cobench report", claims.VERDICTS).encode())]
    # A chart from an earlier run that is not measured now would contradict the report.
    drawn = {c.name for c in rendered}
    stale = [args.out_dir / f"{name}.{ext}"
             for name in [c.name for c in [*charts.CHARTS, *extra] if c.name not in drawn]
             + ([] if rendered else ["overview"])
             for ext in ("png", "svg")]
    return files, stale, claim_list, len(rendered)


def run_hosts(args):
    """Several results files side by side (hosts.py): exit statuses as for one file."""
    import hosts
    try:
        hosts.check_paths(args.files)
        loaded = [load_checked(path) for path in args.files]
        names = hosts.labels(args.files, loaded, args.label)
        side = [hosts.Host(name, path, r) for name, path, r in zip(names, args.files, loaded)]
        hosts.check(side)
        registry.entries()
    except (ResultsError, PresentationError) as e:
        print(f"report.py: error: {e}", file=sys.stderr)
        return EXIT_INPUT
    files, stale, n_charts = hosts.render(side, args.out_dir, args.report, Doc())
    if not _published(files, stale):
        return EXIT_FAILURE
    md_path = args.report.with_suffix(".md")
    print(f"wrote {md_path}, {md_path.with_suffix('.html')} and {n_charts * 2} charts in {args.out_dir} "
          f"({len(side)} hosts side by side: {', '.join(h.label for h in side)})")
    if any(r.failed() or r.failed_families() for r in loaded):
        print("report.py: some results record failed benchmarks or runtime families; the report "
              "lists them under \"Problems in these runs\"", file=sys.stderr)
        return EXIT_ERRORED
    return EXIT_OK


def _published(files, stale):
    """Swaps every output in at once (cr.publish); False, said on stderr, when they could not be written."""
    try:
        cr.publish(files, remove=stale)
    except (OSError, OutputError) as e:
        print(f"report.py: error: cannot write outputs (previous ones kept): {e}", file=sys.stderr)
        return False
    return True


def run(args):
    if len(getattr(args, "files", ())) > 1:
        return run_hosts(args)
    try:
        results = load_checked(args.results)
        baseline = load_checked(args.baseline) if args.baseline else None
        registry.entries()   # an extra presentation file that does not load is a bad input
    except (ResultsError, PresentationError) as e:
        print(f"report.py: error: {e}", file=sys.stderr)
        return EXIT_INPUT
    if args.readme_table:
        sys.stdout.write(readme_table(results))
        return EXIT_OK
    if baseline is not None:
        try:
            import scipy.stats  # noqa: F401  (the compare view's significance test)
        except ImportError:
            print("report.py: error: --baseline needs SciPy (Debian package python3-scipy)", file=sys.stderr)
            return EXIT_INTERNAL
    if args.compare_only:
        sys.stdout.write(compare_section(results, baseline).markdown(lambda c: ""))
        return EXIT_OK
    files, stale, claim_list, n_charts = render(results, args, baseline)
    if not _published(files, stale):
        return EXIT_FAILURE
    md_path = args.report.with_suffix(".md")
    print(f"wrote {md_path}, {md_path.with_suffix('.html')} and {n_charts * 2} charts in {args.out_dir}")
    print("claims: " + ", ".join(f"({c.key}) {c.verdict_text()}" + "".join(f"; {o.language} {o.verdict_text()}"
                                                                         for o in c.also)
                                 for c in claim_list))
    if results.failed() or results.failed_families():
        print("report.py: the results record failed benchmarks or runtime families; "
              "the report lists them under \"Problems in this run\"", file=sys.stderr)
        return EXIT_ERRORED
    return EXIT_OK


def main(argv=None):
    args = parse_args(argv)   # a bad option exits 2 (argparse)
    try:
        return run(args)
    except Exception as e:  # noqa: BLE001 - one line and a code of its own, not a traceback
        print(f"report.py: internal error: {type(e).__name__}: {e}", file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
