"""Charts and a report (Markdown + self-contained HTML) from one cobench results file, or from
several side by side (one column per host; hosts.py).

Run through the launcher, which finds an interpreter with matplotlib and puts
the cobench_results package on the import path:
    plots/python.sh plots/report.py [RESULTS_JSON] [--out-dir DIR] [--report PATH]
    plots/python.sh plots/report.py A.json B.json [...] [--label A.json=laptop] [--out-dir DIR] [--report PATH]
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

import backend_sections
import claims
import cobench_results as cr
import io_sections
import sections
import tables
from cobench_results import OutputError, ResultsError, fmt

EXIT_OK, EXIT_FAILURE, EXIT_INPUT, EXIT_ERRORED, EXIT_INTERNAL = 0, 1, 2, 3, 4
EPILOG = ("Everything is built in memory and in temporary folders beside the targets, and swapped "
          "in only when all of it is written; on any error the previous charts and report stay "
          "byte-identical. Charts whose data is absent are skipped (an old copy is removed in the "
          "same swap) with a note in the report. Exit status: 0 report written; 1 failure (the "
          "outputs could not be written); 2 bad input (missing or malformed file, not a cobench "
          "results file, an instruction-count file, a schema newer than this tool, no successful "
          "benchmark; with several files also: a file given twice, different results schemas, a "
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

def slug(text):
    """An anchor from a heading: lower case, letters, digits and hyphens."""
    return re.sub(r"[^a-z0-9]+", "-", re.sub(r"[`*]", "", text.lower())).strip("-") or "section"


NUMERIC = re.compile(r"^[–≥≤≈]?\s*[-+]?[\d,.]+(\s?(×|%|[kMG]|[a-zA-Zµ/]+(/[a-z]+)?))*(\s.*)?$")


class Doc:
    """A report as blocks, rendered both to Markdown and to standalone HTML.

    Text may use **bold** and `code`, which both renderers understand. Headings get anchors
    (slug of their text, made unique), so toc() can link them in both renderings.
    """

    def __init__(self):
        self.blocks = []
        self._ids = set()

    def h(self, level, text):
        anchor = base = slug(text)
        i = 2
        while anchor in self._ids:
            anchor, i = f"{base}-{i}", i + 1
        self._ids.add(anchor)
        self.blocks.append(("h", level, text, anchor))

    def p(self, text):
        self.blocks.append(("p", text))

    def bullets(self, items):
        if items:
            self.blocks.append(("ul", list(items)))

    def table(self, header, rows, notes=()):
        self.blocks.append(("table", header, rows))
        self.bullets(notes)

    def image(self, chart, svg_href=None):
        self.blocks.append(("img", chart, svg_href))

    def toc(self):
        """A placeholder, filled with links to every level-2 and level-3 heading at render time."""
        self.blocks.append(("toc",))

    def _toc_items(self):
        return [(b[1], b[2], b[3]) for b in self.blocks if b[0] == "h" and b[1] in (2, 3)]

    def markdown(self, image_src):
        out = []
        for b in self.blocks:
            if b[0] == "h":
                out.append(f'<a id="{b[3]}"></a>\n\n' + "#" * b[1] + " " + b[2])
            elif b[0] == "toc":
                out.append("\n".join(("  " if lvl == 3 else "") + "- [" + re.sub(r"[\[\]]", "", t) + f"](#{a})"
                                     for lvl, t, a in self._toc_items()))
            elif b[0] == "p":
                out.append(b[1])
            elif b[0] == "ul":
                out.append("\n".join(f"- {item}" for item in b[1]))
            elif b[0] == "table":
                out.append(tables.markdown_table(b[1], b[2]))
            elif b[0] == "img":
                alt = re.sub(r"([\[\]\\])", r"\\\1", b[1].title)
                out.append(f"![{alt}]({image_src(b[1])})"
                           + (f"\n\n[{b[1].name}.svg]({b[2]})" if b[2] else ""))
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

    def _td(self, c):
        num = ' class="num"' if NUMERIC.match(str(c)) else ""
        return f"<td{num}>{self._inline(c)}</td>"

    def html(self, title):
        out = []
        for b in self.blocks:
            if b[0] == "h":
                out.append(f'<h{b[1]} id="{b[3]}">{self._inline(b[2])}</h{b[1]}>')
            elif b[0] == "toc":
                items, level = [], 2
                for lvl, t, a in self._toc_items():
                    if lvl > level:
                        items.append("<ul>")
                    elif lvl < level:
                        items.append("</ul>")
                    level = lvl
                    items.append(f'<li><a href="#{a}">{self._inline(t)}</a></li>')
                items += ["</ul>"] * (level - 2)
                out.append('<nav class="toc"><ul>' + "".join(items) + "</ul></nav>")
            elif b[0] == "p":
                out.append(f"<p>{self._inline(b[1])}</p>")
            elif b[0] == "ul":
                out.append("<ul>" + "".join(f"<li>{self._inline(i)}</li>" for i in b[1]) + "</ul>")
            elif b[0] == "table":
                head = "".join(f"<th>{self._inline(c)}</th>" for c in b[1])
                body = "".join("<tr>" + "".join(self._td(c) for c in row) + "</tr>" for row in b[2])
                out.append(f'<div class="scroll"><table><thead><tr>{head}</tr></thead>'
                           f"<tbody>{body}</tbody></table></div>")
            elif b[0] == "img":
                data = base64.b64encode(b[1].png).decode("ascii")
                link = (f'<figcaption><a href="{html.escape(b[2])}">{html.escape(b[1].name)}.svg</a> '
                        f"(vector, full size)</figcaption>" if b[2] else "")
                out.append(f'<figure><img alt="{html.escape(b[1].title)}" '
                           f'src="data:image/png;base64,{data}">{link}</figure>')
        return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 1200px; margin: 2em auto; padding: 0 1em; color: #222; }}
.scroll {{ max-width: 100%; overflow-x: auto; margin: 0.5em 0 1em; }}
table {{ border-collapse: collapse; font-size: 0.9em; }}
th, td {{ border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }}
td.num {{ text-align: right; font-variant-numeric: tabular-nums; }}
th {{ background: #f3f3f3; position: sticky; top: 0; }}
figure {{ margin: 1em 0; }} figure img {{ max-width: 100%; height: auto; }}
figcaption {{ font-size: 0.85em; }}
nav.toc {{ background: #f8f8f8; border: 1px solid #ddd; padding: 0.5em 1em; columns: 2; }}
nav.toc ul {{ margin: 0; padding-left: 1.2em; }}
code {{ background: #f3f3f3; padding: 0 0.2em; }}
.v-confirmed {{ color: #1a7f37; }} .v-refuted {{ color: #cf222e; }} .v-mixed {{ color: #9a6700; }}
.v-undecided, .v-not-measured, .v-not-judged, .v-indistinguishable {{ color: #666; }}
</style></head><body>
{chr(10).join(out)}
</body></html>
"""


_params_text = tables.params_text
_natural = tables.natural

# Workloads in report order; any other workload in the file follows, with a generic table.
WORKLOAD_ORDER = ("ping_pong", "pipe_pong", "kernel_sched_pipe", "yield_ring", "spawn", "skynet",
                  "idle_memory", "max_tasks", "cpu_bound", "timer_fanout", "echo", "echo_accept",
                  "slow_io", "blocking_pitfall", "idle_conns", "producer_consumer", "pipeline", "bounded_fanout",
                  "lost_updates")
# echo's open-loop counters (issue #13): shown in the open loop's own table, not one table each.
OPEN_LOOP = re.compile(r"^(open_|gen_|hiccup_|steal_frac$)")
# Workloads whose CPU-time and context-switch counters explain the result, shown as a table.
RUSAGE_WORKLOADS = ("ping_pong", "pipe_pong", "yield_ring", "echo")


def params_sentence(r, workload):
    """The parameters a workload ran at, in a sentence, naming runtimes that ran other values."""
    pts = r.points(workload)
    keys = list(dict.fromkeys(k for p in pts for k in p.params))
    if not keys:
        return f"`{workload}` has no parameters: one measurement per runtime."
    parts = []
    for k in keys:
        per_rt = {}
        for p in pts:
            per_rt.setdefault(p.runtime, set()).add(p.params.get(k, "(none)"))
        every = sorted(set().union(*per_rt.values()), key=lambda v: _natural(str(v)))
        text = f"{k} = {', '.join(map(str, every))}"
        odd = {rt: vs for rt, vs in per_rt.items() if vs != set(every)}
        if odd:
            text += " (" + "; ".join(f"{rt} only {', '.join(map(str, sorted(vs, key=lambda v: _natural(str(v)))))}"
                                     for rt, vs in sorted(odd.items(), key=lambda kv: r.order_key(kv[0]))) + ")"
        parts.append(text)
    return f"`{workload}` ran at " + "; ".join(parts) + "."


def workload_notes(r, workload):
    """Caveats computed for one workload: what its parameters mean and where runs differ."""
    pts = r.points(workload)
    notes = []
    if workload == "timer_fanout":
        longest = {}
        for p in pts:
            if "longest_wait_ms" in p.counters:
                longest.setdefault((p.params.get("tasks"), p.params.get("wait_ms")), p.counters["longest_wait_ms"])
        notes.append("Task i waits W·(1+i%10)/10 ms (W = wait_ms): the waits are spread between W/10 and "
                     "W, so with fewer than 10 tasks the longest wait is below W"
                     + (": " + ", ".join(f"tasks:{n} waits at most {fmt(v)} ms of wait_ms:{w}"
                                         for (n, w), v in sorted(longest.items(), key=lambda kv: _natural(str(kv[0])))
                                         if isinstance(n, int) and n < 10) if longest else "") + ".")
        fit = tables.overhead_fit(r)
        if fit:
            notes.append("overhead_us_per_task is (total_ms − longest wait) / N; fitted as total overhead "
                         "= a + b·N (least squares over the tasks values, numpy.polyfit), a fixed cost a "
                         "dominates at small N, so the per-task figure there is mostly a / N. Table "
                         "\"timer_fanout: fixed and per-task overhead\" below.")
    if workload == "skynet":
        sizes = {p.runtime: p.params.get("leaves") for p in pts if not p.params.get("roots")}
        if len(set(sizes.values())) > 1:
            notes.append("Tree sizes differ by runtime (each runs the largest tree it holds: "
                         + ", ".join(f"{rt} leaves:{v}" for rt, v in sizes.items())
                         + "): per-node costs compare like with like only at equal leaves.")
    if workload == "lost_updates":
        notes.append("Plain variant (no `await` param): every task yields only between one "
                     "load-and-store and the next, never inside one, so a runtime that runs one task "
                     "at a time on one thread loses nothing by construction. Variant "
                     "`await:between`: the yield comes between the load and the store (read a value, "
                     "await, write it back), where such a runtime can lose updates too."
                     + ("" if any(p.params.get("await") for p in pts) else
                        " This file has no `await:between` entries."))
    if workload in ("echo", "echo_accept"):
        sat = [p for p in pts if p.counters.get("client_cpu_frac", 0) >= claims.CLIENT_SATURATED_FRAC]
        if sat:
            notes.append(f"The echo client was near saturation (client_cpu_frac ≥ "
                         f"{claims.CLIENT_SATURATED_FRAC:g}) at: "
                         + ", ".join(f"{p.runtime} {_params_text(p.params)} ({p.counters['client_cpu_frac']:.2f})"
                                     for p in sat)
                         + ". There req_per_s is a bound set by the client, not the server's capacity.")
    if workload == "idle_memory":
        neg = [p for p in pts if p.counters.get("kernel_per_task", 0) < 0]
        if neg:
            notes.append("kernel_per_task below 0 is measurement noise (the kernel's own counters move "
                         "while the probe runs): " + ", ".join(f"{p.runtime} {_params_text(p.params)}"
                                                                for p in neg) + "; read it as 0.")
    return notes


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
    if str(ctx.get("cpu_scaling_enabled")).lower() == "true":
        warnings.append("**Warning:** CPU frequency scaling was enabled: the clock may have changed "
                        "during the run.")
    return rows, warnings


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
             "Two runtimes whose min–max ranges overlap are called indistinguishable: the difference "
             "is inside the run-to-run spread, and no verdict counts it as a win."]
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


def workload_section(doc, r, workload):
    doc.h(3, workload)
    doc.p(params_sentence(r, workload))
    doc.bullets(workload_notes(r, workload))
    pts = r.points(workload)
    if workload == "max_tasks":
        mt = [p for p in pts if "max_tasks" in p.counters]
        doc.table(["runtime", "max_tasks", "stopped because", "what the count is"],
                  [[" ".join([p.runtime] + ([_params_text(p.params)] if p.params else [])),
                    held(p.counters["max_tasks"]), p.label or "no reason given", _count_is(p.label)]
                   for p in mt])
        return
    if workload == "cpu_bound":
        cells = {}
        for rt, by_n in r.speedups().items():
            for n, v in by_n.items():
                cells[(rt, f"tasks:{n}")] = f"{v:.2f}"
        if cells:
            cols = sorted({c for _, c in cells}, key=_natural)
            doc.p("speedup (×, vs tasks:1 of the same runtime in the same run):")
            doc.table(["runtime"] + cols, [[rt] + [cells.get((rt, c), "–") for c in cols]
                                           for rt in sorted({rt for rt, _ in cells}, key=r.order_key)])
    # Sweep entries (a worker count, a stack size, an offered rate) have sections of their own
    # (sections.py, io_sections.py); the generic tables keep to each workload's default runs.
    plain = [p for p in pts if "workers" not in p.params and "stack" not in p.params and "rate" not in p.params]
    if workload == "echo" and any(OPEN_LOOP.match(c) for p in plain for c in p.counters):
        doc.p("**Closed loop (peak throughput)** below: each connection sends when its reply came. The open "
              "loop at a fixed offered rate is in the section \"Echo: open loop at a fixed offered rate\".")
    for counter in tables.result_counters(r, plain):
        if workload == "cpu_bound" and counter == "speedup":
            continue
        if workload == "echo" and OPEN_LOOP.match(counter):
            continue   # the open loop's table (io_sections.open_table) has these
        t = tables.counter_table(r, workload, counter, plain)
        if t is None:
            continue
        info = r.counter(counter)
        better = {"lower": ", lower is better", "higher": ", higher is better"}.get(info.better, "")
        closed = "closed loop (peak throughput): " if workload == "echo" else ""
        doc.p(f"{closed}**{counter}** ({info.unit or 'no unit declared'}{better}; median (min–max), "
              f"{tables.n_summary(pts, [counter])}):")
        doc.table(*t)
    if workload == "timer_fanout":
        fit = tables.overhead_fit(r)
        if fit:
            doc.p("**timer_fanout: fixed and per-task overhead** (total overhead = a + b·N µs, fitted "
                  "over the tasks values):")
            doc.table(["runtime", "fixed a (µs)", "per task b (µs)", "tasks values fitted"],
                      [[rt, fmt(a), fmt(b), str(k)] for rt, (a, b, k) in fit.items()])
    if workload in RUSAGE_WORKLOADS:
        t = tables.rusage_table(r, workload)
        if t:
            doc.p("CPU time and context switches per operation (the explanation of the numbers above: "
                  "system time and voluntary switches are kernel work; involuntary switches "
                  "measure preemption, load as much as code):")
            doc.table(*t)
    if workload == "echo_accept":
        for table, intro in ((balance_table, "Each cell is conn_balance / req_balance: the most "
                              "connections (requests) one worker got over the mean across workers; "
                              "1 is even. One worker is even by construction."),
                             (stall_table, "Once a period (100 ms in the test profile, 250 ms in quick, "
                              "1 s in full) the client marks one request, and the server task that "
                              "reads it busy-waits stall_ms, stalling its whole worker; connections "
                              "reconnect every 20 requests, so new ones arrive during a stall. "
                              "stuck_conns is per stall: the connections, other than the marked one, "
                              "that waited more than half the stall for a reply. reuseport (a "
                              "listening socket per worker) against shared (one socket, "
                              "EPOLLEXCLUSIVE).")):
            t = table(r)
            if t:
                doc.p(intro)
                doc.table(*t)


def _count_is(label):
    """What a max_tasks count is, by what stopped it (tables.stop_kind)."""
    kind = tables.stop_kind(label)[0]
    if kind == tables.CAP:
        return "a cap of the harness: a lower bound, not what the machine holds"
    if kind in (tables.WALL, tables.BUDGET, tables.TIME, tables.ERROR):
        return tables.STOP_MEANING[kind]
    return "a spawn failed here: a limit of this system (its settings, not necessarily its memory)"


def build_report(r, claim_list, charts, skipped, image_src, svg_href=None, compare_doc=None):
    doc = Doc()
    ctx = r.context
    doc.h(1, "cobench report")
    doc.p(f"Generated from `{r.source}` (profile {ctx.get('cobench_profile', 'unknown')}, "
          f"{ctx.get('date', 'date unknown')}). Every verdict below is computed from that file.")
    doc.toc()

    doc.h(2, "Headline")
    header, rows, notes = tables.headline(r)
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
    failed = r.failed()
    if failed:
        doc.p("**Error:** these benchmarks ran and failed; they are not plotted.")
        doc.table(["benchmark", "error"], [[e.name, e.error] for e in failed])
    else:
        doc.p("No benchmark reported an error.")

    doc.h(2, "Claims")
    doc.table(["claim", "verdict"], [[f"({c.key}) {c.statement}", f"**{c.verdict}**"] for c in claim_list])
    doc.p("Thresholds (named constants in `plots/claims.py` and, for the I/O sections, `plots/io_sections.py`):")
    io_thresholds = io_sections.THRESHOLDS if io_sections.has_io(r) else []
    backend_thresholds = backend_sections.THRESHOLDS if backend_sections.has_backends(r) else []
    doc.table(["constant", "value", "meaning"], [[n, f"{v:g}", m] for n, v, m in claims.THRESHOLDS]
              + [[f"io_sections.{n}", f"{v:g}", m] for n, v, m in io_thresholds]
              + [[f"backend_sections.{n}", f"{v:g}", m] for n, v, m in backend_thresholds])
    for c in claim_list:
        doc.h(3, f"({c.key}) {c.statement}")
        doc.p(f"Verdict: **{c.verdict}**")
        doc.p(f"Rule: {c.rule}")
        doc.bullets(c.evidence)

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

    for section in (sections.walls_section, sections.stack_sizes_section, sections.worker_sweep_section):
        section(doc, r)
    for section in io_sections.SECTIONS:
        section(doc, r)
    backend_sections.backends_section(doc, r)

    doc.h(2, "Workloads")
    doc.p("Every workload of the run with its parameters and a table per counter it reports (unit "
          "and direction from the file's counter metadata). A dash names why a cell is empty: "
          "declared (the harness says the pair cannot run), errored, other sizes (the runtime ran "
          "this workload at other parameters), not run (the runtime was not in this run), not in "
          "profile; the reasons are listed under each table.")
    present = {p.workload for p in r.points()}
    for workload in [w for w in WORKLOAD_ORDER if w in present] + sorted(present - set(WORKLOAD_ORDER)):
        if workload == "pipeline" and sections.pipeline_section(doc, r, level=3):
            continue   # its own table (generator against channel) instead of the generic ones
        if workload == "slow_io" and io_sections.slow_io_tables(doc, r, level=3):
            continue   # rows runtime × upstream, columns conns, instead of a column per grid cell
        workload_section(doc, r, workload)

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
    """Runtimes with no usable entry for a workload that others measured, and not declared: the
    real missing pairs, each with its reason."""
    declared = {(d["workload"], d["runtime"]) for d in r.declared}
    status = {f["runtime"]: f["status"] for f in r.families}
    have = {(p.workload, p.runtime) for p in r.points()}
    notes = []
    for workload in sorted({w for w, _ in have}):
        for rt in r.runtimes_in_run():
            if io_sections.is_reference(r, rt):
                continue   # a yardstick runs only the workloads it is a reference for
            if (workload, rt) not in have and (workload, rt) not in declared:
                if status.get(rt, "ok") != "ok":
                    why = f" (its family: {status[rt]})"
                else:
                    why = f" ({tables.missing(r, workload, rt)[1]})"
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
    header, rows, notes = tables.headline(results)
    return tables.markdown_table(header, rows) + "".join(f"\n\n{n}" for n in notes) + "\n"


def compare_section(results, baseline):
    import compare_view
    return compare_view.compare_doc(baseline, results, Doc())


def render(results, args, baseline=None):
    """(files to write as [(path, bytes)], stale chart paths to remove, claims)."""
    import charts   # only now: a bad input is reported without waiting for matplotlib

    claim_list = claims.evaluate_all(results)
    rendered, skipped = charts.render_all(results)
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
              (html_path, doc.html("cobench report").encode())]
    # A chart from an earlier run that is not measured now would contradict the report.
    drawn = {c.name for c in rendered}
    stale = [args.out_dir / f"{name}.{ext}"
             for name in [c.name for c in charts.CHARTS if c.name not in drawn] + ([] if rendered else ["overview"])
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
    except ResultsError as e:
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
    except ResultsError as e:
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
