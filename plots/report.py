"""Charts and a report (Markdown + self-contained HTML) from one cobench results file.

Run through the launcher, which finds an interpreter with matplotlib and puts
the cobench_results package on the import path:
    plots/python.sh plots/report.py [RESULTS_JSON] [--out-dir DIR] [--report PATH]
Exit status: see EPILOG below (and --help).
"""

import argparse
import base64
import html
import os
import re
import sys
import urllib.parse
from pathlib import Path

import claims
import cobench_results as cr
from cobench_results import OutputError, ResultsError, fmt

EXIT_OK, EXIT_FAILURE, EXIT_INPUT, EXIT_ERRORED, EXIT_INTERNAL = 0, 1, 2, 3, 4
EPILOG = ("Everything is built in memory and in temporary folders beside the targets, and swapped "
          "in only when all of it is written; on any error the previous charts and report stay "
          "byte-identical. Charts whose data is absent are skipped (an old copy is removed in the "
          "same swap) with a note in the report. Exit status: 0 report written; 1 failure (the "
          "outputs could not be written); 2 bad input (missing or malformed file, not a cobench "
          "results file, an instruction-count file, a schema newer than this tool, no successful "
          "benchmark); 3 report written, but the results record failed benchmarks or runtime "
          "families; 4 internal error.")

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_RESULTS = ROOT / "results" / "latest.json"
DEFAULT_OUT_DIR = ROOT / "plots" / "out"
DEFAULT_REPORT = ROOT / "results" / "report.md"

MACHINE_KEYS = ("cpu_model", "cpu_count", "virtualized", "kernel", "compiler", "cxx_flags",
                "cobench_build_type", "git_commit", "git_dirty", "boost_version", "tbb_version",
                "benchmark_version", "liburing_version", "host_name", "date", "cobench_profile",
                "fingerprint")

# (workload, counter, unit) for the key-number tables, in report order.
KEY_NUMBERS = (
    ("ping_pong", "switch_ns", "ns per one-way hand-off"),
    ("pipe_pong", "switch_ns", "ns per one-way hand-off through a pipe"),
    ("kernel_sched_pipe", "switch_ns", "ns per one-way hand-off, perf bench sched pipe"),
    ("yield_ring", "switch_ns", "ns per yield"),
    ("spawn", "spawn_ns", "ns per task"),
    ("skynet", "spawn_ns", "ns per node"),
    ("idle_memory", "rss_per_task", "bytes"),
    ("idle_memory", "pss_per_task", "bytes"),
    ("idle_memory", "kernel_per_task", "bytes"),
    ("idle_memory", "frame_per_task", "bytes"),
    ("idle_memory", "stack_touched_per_task", "bytes"),
    ("cpu_bound", "speedup", "× vs tasks:1"),
    ("skynet", "speedup", "× roots:10 vs roots:1"),
    ("timer_fanout", "total_ms", "ms"),
    ("timer_fanout", "overhead_us_per_task", "µs per task"),
    ("echo", "req_per_s", "requests per second"),
    ("echo", "p99_us", "µs"),
    ("echo", "client_cpu_frac", "the client's CPU time / its run time; near 1: the client was the limit"),
    ("producer_consumer", "msgs_per_s", "messages per second"),
    ("bounded_fanout", "total_ms", "ms"),
    ("lost_updates", "lost_updates", "updates"),
)


class Doc:
    """A report as blocks, rendered both to Markdown and to standalone HTML.

    Text may use **bold** and `code`, which both renderers understand.
    """

    def __init__(self):
        self.blocks = []

    def h(self, level, text):
        self.blocks.append(("h", level, text))

    def p(self, text):
        self.blocks.append(("p", text))

    def bullets(self, items):
        if items:
            self.blocks.append(("ul", list(items)))

    def table(self, header, rows):
        self.blocks.append(("table", header, rows))

    def image(self, chart):
        self.blocks.append(("img", chart))

    def markdown(self, image_src):
        out = []
        for b in self.blocks:
            if b[0] == "h":
                out.append("#" * b[1] + " " + b[2])
            elif b[0] == "p":
                out.append(b[1])
            elif b[0] == "ul":
                out.append("\n".join(f"- {item}" for item in b[1]))
            elif b[0] == "table":
                cell = lambda s: str(s).replace("|", "\\|")  # noqa: E731
                lines = ["| " + " | ".join(cell(c) for c in b[1]) + " |",
                         "|" + "---|" * len(b[1])]
                lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in b[2]]
                out.append("\n".join(lines))
            elif b[0] == "img":
                alt = re.sub(r"([\[\]\\])", r"\\\1", b[1].title)
                out.append(f"![{alt}]({image_src(b[1])})")
        return "\n\n".join(out) + "\n"

    @staticmethod
    def _inline(text):
        text = html.escape(str(text))
        text = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", text)
        text = re.sub(r"`(.+?)`", r"<code>\1</code>", text)
        for verdict in claims.VERDICTS:
            text = text.replace(f"<strong>{verdict}</strong>",
                                f'<strong class="v-{verdict.replace(" ", "-")}">{verdict}</strong>')
        return text

    def html(self, title):
        out = []
        for b in self.blocks:
            if b[0] == "h":
                out.append(f"<h{b[1]}>{self._inline(b[2])}</h{b[1]}>")
            elif b[0] == "p":
                out.append(f"<p>{self._inline(b[1])}</p>")
            elif b[0] == "ul":
                out.append("<ul>" + "".join(f"<li>{self._inline(i)}</li>" for i in b[1]) + "</ul>")
            elif b[0] == "table":
                head = "".join(f"<th>{self._inline(c)}</th>" for c in b[1])
                body = "".join("<tr>" + "".join(f"<td>{self._inline(c)}</td>" for c in row) + "</tr>"
                               for row in b[2])
                out.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
            elif b[0] == "img":
                data = base64.b64encode(b[1].png).decode("ascii")
                out.append(f'<figure><img alt="{html.escape(b[1].title)}" '
                           f'src="data:image/png;base64,{data}"></figure>')
        return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 1200px; margin: 2em auto; padding: 0 1em; color: #222; }}
table {{ border-collapse: collapse; margin: 0.5em 0 1em; font-size: 0.9em; }}
th, td {{ border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; }}
th {{ background: #f3f3f3; }}
figure {{ margin: 1em 0; }} figure img {{ max-width: 100%; }}
code {{ background: #f3f3f3; padding: 0 0.2em; }}
.v-confirmed {{ color: #1a7f37; }} .v-refuted {{ color: #cf222e; }} .v-mixed {{ color: #9a6700; }}
.v-undecided, .v-not-measured, .v-not-judged {{ color: #666; }}
</style></head><body>
{chr(10).join(out)}
</body></html>
"""


def _params_text(params):
    return "/".join(f"{k}:{v}" for k, v in params.items()) or "—"


def _natural(text):
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", text)]


def key_number_table(r, workload, counter):
    """(header, rows) with one row per runtime and one column per params combination."""
    cells = {}
    if (workload, counter) == ("cpu_bound", "speedup"):
        for rt, by_n in r.speedups().items():
            for n, v in by_n.items():
                cells[(rt, f"tasks:{n}")] = f"{v:.2f}"
    else:
        for p in r.points(workload):
            if counter in p.counters:
                text = fmt(p.counters[counter])
                if p.spread.get(counter):
                    text += f" ± {fmt(p.spread[counter])}"
                cells[(p.runtime, _params_text(p.params))] = text
    if not cells:
        return None
    cols = sorted({c for _, c in cells}, key=_natural)
    runtimes = sorted({rt for rt, _ in cells}, key=r.order_key)
    return (["runtime"] + cols,
            [[rt] + [cells.get((rt, c), "–") for c in cols] for rt in runtimes])


def build_report(r, claim_list, charts, skipped, image_src):
    doc = Doc()
    ctx = r.context
    doc.h(1, "cobench report")
    doc.p(f"Generated from `{r.source}` (profile {ctx.get('cobench_profile', 'unknown')}, "
          f"{ctx.get('date', 'date unknown')}). Every verdict below is computed from that file.")

    doc.h(2, "Machine")
    doc.table(["", "value"], [[k, str(ctx[k])] for k in MACHINE_KEYS if k in ctx]
              or [["context", "none in this file"]])

    doc.h(2, "Problems in this run")
    bad = [f for f in r.families if f["status"] != "ok"]
    if bad:
        doc.p("**Error:** these runtime families did not finish; their numbers are missing or partial.")
        doc.table(["runtime", "status", "message", "wall_s"],
                  [[f["runtime"], f["status"], f.get("message", ""), fmt(f.get("wall_s"))] for f in bad])
    else:
        doc.p("All runtime families finished with status ok." if r.families
              else "The file lists no runtime families.")
    failed = r.failed()
    if failed:
        doc.p("**Error:** these benchmarks ran and failed; they are not plotted.")
        doc.table(["benchmark", "error"], [[e.name, e.error] for e in failed])
    else:
        doc.p("No benchmark reported an error.")

    doc.h(2, "Claims")
    doc.table(["claim", "verdict"], [[f"({c.key}) {c.statement}", f"**{c.verdict}**"] for c in claim_list])
    doc.p("Thresholds (named constants in `plots/claims.py`):")
    doc.table(["constant", "value", "meaning"], [[n, f"{v:g}", m] for n, v, m in claims.THRESHOLDS])
    for c in claim_list:
        doc.h(3, f"({c.key}) {c.statement}")
        doc.p(f"Verdict: **{c.verdict}**")
        doc.p(f"Rule: {c.rule}")
        doc.bullets(c.evidence)

    overview = [c for c in charts if c.name == "overview"]
    if overview:
        doc.h(2, "Overview")
        doc.image(overview[0])
        doc.p(f"How to read: {overview[0].how}")
    doc.h(2, "Charts")
    doc.p("Every chart's caption names the machine; each runtime keeps one colour throughout.")
    for c in charts:
        if c.name == "overview":
            continue
        doc.h(3, c.title)
        doc.image(c)
        if c.how:
            doc.p(f"How to read: {c.how}")
        doc.bullets(c.notes)
    for name, title, why in skipped:
        doc.h(3, title)
        doc.p(f"**Not measured in this run** ({why}).")

    doc.h(2, "Key numbers per runtime")
    doc.p("Medians where repetitions were run (± standard deviation), otherwise the single value.")
    missing_tables = []
    for workload, counter, unit in KEY_NUMBERS:
        t = key_number_table(r, workload, counter)
        if t is None:
            missing_tables.append((workload, counter))
            continue
        doc.h(3, f"{workload}: {counter} ({unit})")
        doc.table(*t)
    mt = [p for p in r.points("max_tasks") if "max_tasks" in p.counters]
    if mt:
        doc.h(3, "max_tasks: most tasks held (tasks)")
        doc.table(["runtime", "max_tasks", "stopped because"],
                  [[p.runtime, held(p.counters["max_tasks"]), p.label or "no reason given"] for p in mt])
    else:
        missing_tables.append(("max_tasks", "max_tasks"))
    for counter, heading, intro, table in (
            ("conn_balance", "echo_accept: balance across workers",
             "Each cell is conn_balance / req_balance: the most connections (requests) one worker got "
             "over the mean across workers; 1 is even. One worker is even by construction.",
             balance_table),
            ("stuck_conns", "echo_accept: one worker stalled",
             "One worker blocks for stall_ms in every second while echo runs; stuck_conns counts the "
             "connections that waited more than half the stall. Each accept mode side by side: "
             "reuseport (a listening socket per worker) against shared (one socket, EPOLLEXCLUSIVE).",
             stall_table)):
        t = table(r)
        if t is None:
            missing_tables.append(("echo_accept", counter))
            continue
        doc.h(3, heading)
        doc.p(intro)
        doc.table(*t)

    doc.h(2, "Switch cost against the kernel's own scheduler benchmark")
    rows = kernel_reference_rows(r)
    if rows:
        doc.p("pipe_pong hands a byte back and forth through two pipes between two tasks pinned to CPU 0, "
              "as `perf bench sched pipe` does (recorded as kernel_sched_pipe in the same run). "
              "A ratio near 1 means the runtime's hand-off costs what the kernel's benchmark says a "
              "pinned process or thread switch costs on this machine.")
        doc.table(["runtime", "pipe_pong switch_ns", "kernel_sched_pipe switch_ns", "ratio"], rows)
    else:
        doc.p("**Not measured in this run** (needs pipe_pong and kernel_sched_pipe pin:same; "
              "kernel_sched_pipe needs `perf`, Debian package linux-perf).")

    doc.h(2, "Declared pairs (not run)")
    if r.declared:
        doc.table(["workload", "runtime", "reason"],
                  [[d["workload"], d["runtime"], d["reason"]] for d in
                   sorted(r.declared, key=lambda d: (d["workload"], r.order_key(d["runtime"])))])
    else:
        doc.p("None: no workload/runtime pair was declared impossible.")

    doc.h(2, "Not measured in this run")
    measured = {p.workload for p in r.points()}
    gaps = [f"`{w}`: not measured in this run" for w in
            dict.fromkeys(w for w, _ in missing_tables if w not in measured)]
    gaps += [f"`{w}` `{c}`: not measured in this run" for w, c in missing_tables if w in measured]
    gaps += absent_runtimes(r)
    if gaps:
        doc.bullets(gaps)
    else:
        doc.p("Everything the report knows how to show was measured.")
    return doc


def _accept_points(r, stalled):
    return [p for p in r.points("echo_accept") if bool(p.params.get("stall_ms")) == stalled]


def _modes(pts):
    """Accept modes in a fixed order: reuseport, shared, then any other."""
    return sorted({str(p.params.get("accept", "—")) for p in pts},
                  key=lambda m: (["reuseport", "shared"] + [m]).index(m))


def balance_table(r):
    """conn_balance / req_balance per runtime × accept mode × workers (rows) and conns (columns)."""
    cells = {}
    for p in _accept_points(r, stalled=False):
        if "conn_balance" in p.counters or "req_balance" in p.counters:
            row = (p.runtime, str(p.params.get("accept", "—")), p.params.get("workers", "—"))
            cells.setdefault(row, {})[p.params.get("conns")] = \
                f"{fmt(p.counters.get('conn_balance'))} / {fmt(p.counters.get('req_balance'))}"
    if not cells:
        return None
    cols = sorted({c for by_c in cells.values() for c in by_c}, key=lambda c: _natural(str(c)))
    rows = sorted(cells, key=lambda k: (r.order_key(k[0]), k[1], _natural(str(k[2]))))
    return (["runtime", "accept", "workers"] + [f"conns:{c}" for c in cols],
            [[*k] + [cells[k].get(c, "–") for c in cols] for k in rows])


def stall_table(r):
    """p99_us, max_us and stuck_conns of the stall variants, reuseport beside shared."""
    pts = _accept_points(r, stalled=True)
    modes = _modes(pts)
    rows = {}
    for p in pts:
        key = (p.runtime, *(p.params.get(k, "—") for k in ("conns", "workers", "stall_ms")))
        rows.setdefault(key, {})[str(p.params.get("accept", "—"))] = p.counters
    if not rows:
        return None
    counters = ("p99_us", "max_us", "stuck_conns")
    return (["runtime", "conns", "workers", "stall_ms"] + [f"{c} {m}" for c in counters for m in modes],
            [[*k] + [_count(rows[k].get(m, {}).get(c)) for c in counters for m in modes]
             for k in sorted(rows, key=lambda k: (r.order_key(k[0]), _natural(str(k[1:]))))])


def _count(v):
    """A whole number as one (stuck_conns 9, not 9.00); anything else as fmt does."""
    return f"{v:,.0f}" if isinstance(v, float) and v.is_integer() else fmt(v)


def held(count):
    """max_tasks 0 means the first group already failed: nothing was held, which is not a count."""
    return "none held" if count == 0 else fmt(count)


def kernel_reference_rows(r):
    """pipe_pong vs perf bench sched pipe, same-core, for every runtime the kernel benchmark ran for."""
    rows = []
    for rt in r.runtimes():
        ours = r.value("pipe_pong", rt, "switch_ns", pin="same")
        kern = r.value("kernel_sched_pipe", rt, "switch_ns", pin="same")
        if ours is not None and kern is not None and kern > 0:
            rows.append([rt, fmt(ours), fmt(kern), f"{ours / kern:.2f}"])
    return rows


def absent_runtimes(r):
    """Runtimes with no usable entry for a workload that others measured, and not declared."""
    declared = {(d["workload"], d["runtime"]) for d in r.declared}
    status = {f["runtime"]: f["status"] for f in r.families}
    have = {(p.workload, p.runtime) for p in r.points()}
    notes = []
    for workload in sorted({w for w, _ in have}):
        for rt in r.runtimes_in_run():
            if (workload, rt) not in have and (workload, rt) not in declared:
                why = f" (its family: {status[rt]})" if status.get(rt, "ok") != "ok" else ""
                notes.append(f"`{workload}` on {rt}: no data{why}")
    return notes


def markdown_link(path):
    """A relative path as a Markdown link target: spaces, parentheses and the like percent-encoded."""
    return urllib.parse.quote(Path(path).as_posix(), safe="/")


def parse_args(argv):
    ap = argparse.ArgumentParser(
        prog="plots/python.sh plots/report.py",
        description="Draw the charts (PNG and SVG) and write the report (Markdown and a "
                    "self-contained HTML file) for one cobench results file. Reads only that "
                    "file. Verdicts on the classic claims are computed from its numbers.",
        epilog=EPILOG)
    ap.add_argument("results", nargs="?", type=Path, default=DEFAULT_RESULTS,
                    help=f"results JSON written by bench/cobench (default: {DEFAULT_RESULTS.relative_to(ROOT)})")
    ap.add_argument("--out-dir", type=Path, default=DEFAULT_OUT_DIR,
                    help=f"folder for the charts (default: {DEFAULT_OUT_DIR.relative_to(ROOT)})")
    ap.add_argument("--report", type=Path, default=DEFAULT_REPORT,
                    help=f"Markdown report path; the HTML report goes beside it with the suffix "
                         f".html (default: {DEFAULT_REPORT.relative_to(ROOT)})")
    return ap.parse_args(argv)


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


def render(results, args):
    """(files to write as [(path, bytes)], stale chart paths to remove, claims)."""
    import charts   # only now: a bad input is reported without waiting for matplotlib

    claim_list = claims.evaluate_all(results)
    rendered, skipped = charts.render_all(results)
    md_path, html_path = args.report.with_suffix(".md"), args.report.with_suffix(".html")

    def image_src(chart):
        return markdown_link(os.path.relpath(args.out_dir / f"{chart.name}.png", md_path.parent))

    doc = build_report(results, claim_list, rendered, skipped, image_src)
    files = []
    for c in rendered:
        files += [(args.out_dir / f"{c.name}.png", c.png), (args.out_dir / f"{c.name}.svg", c.svg)]
    files += [(md_path, doc.markdown(image_src).encode()),
              (html_path, doc.html("cobench report").encode())]
    # A chart from an earlier run that is not measured now would contradict the report.
    stale = [args.out_dir / f"{name}.{ext}"
             for name in [n for n, _, _ in skipped] + ([] if rendered else ["overview"])
             for ext in ("png", "svg")]
    return files, stale, claim_list, len(rendered)


def run(args):
    try:
        results = load_checked(args.results)
    except ResultsError as e:
        print(f"report.py: error: {e}", file=sys.stderr)
        return EXIT_INPUT
    files, stale, claim_list, n_charts = render(results, args)
    try:
        cr.publish(files, remove=stale)
    except (OSError, OutputError) as e:
        print(f"report.py: error: cannot write outputs (previous ones kept): {e}", file=sys.stderr)
        return EXIT_FAILURE
    md_path = args.report.with_suffix(".md")
    print(f"wrote {md_path}, {md_path.with_suffix('.html')} and {n_charts * 2} charts in {args.out_dir}")
    print("claims: " + ", ".join(f"({c.key}) {c.verdict}" for c in claim_list))
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
