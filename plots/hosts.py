"""Several results files side by side: one report, one column per host.

report.py loads each file (its own checks: a cobench results file, not instruction counts, at
least one successful benchmark) and hands them here:

check_paths(paths)           ResultsError when a file is given twice (same file, or identical bytes)
labels(paths, results, overrides)
                             host labels: the overriding name, else context.host_name, else
                             "cpu model ×N CPUs"; a repeated label gets " #2", " #3"
check(hosts)                 ResultsError when the files cannot stand side by side: different
                             results schemas, or a file with no workload in common with the first
render(hosts, out_dir, report_path, doc)
                             (files to write, stale charts to remove, chart count)

Every comparison pairs the same runtime at the same parameters; the ratio column is each host's
median over the first host's. A workload, runtime or size that some host lacks is a dash with its
reason, never a silent gap. Charts: one per workload, a panel per headline counter, clusters by
runtime and one bar series per host.
"""

import hashlib
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

import tables
from cobench_results import ResultsError, fmt
from doc import markdown_link
from presentation import registry

# Rows of the machine table: (label, context keys tried in order).
MACHINE_ROWS = (("host name", ("host_name", "hostname")), ("CPU model", ("cpu_model",)),
                ("CPUs", ("cpu_count", "num_cpus")), ("CPU MHz (nominal)", ("mhz_per_cpu",)),
                ("virtualized", ("virtualized",)), ("kernel", ("kernel",)),
                ("compiler", ("compiler",)), ("build type", ("cobench_build_type",)),
                ("allocator", ("allocator",)), ("profile", ("cobench_profile",)),
                ("date", ("date",)), ("git commit", ("git_commit",)), ("git dirty", ("git_dirty",)))
CHART_PREFIX = "hosts_"
DASH = "—"


@dataclass
class Host:
    label: str
    path: Path
    results: object      # cobench_results.Results


# ---- inputs ------------------------------------------------------------------------------

def check_paths(paths):
    """ResultsError when one file is named twice, directly or as a copy with the same bytes."""
    digests = {}
    for i, path in enumerate(paths):
        for earlier in paths[:i]:
            try:
                same = os.path.samefile(earlier, path)
            except OSError:
                same = False   # a missing file: load() names it
            if same:
                raise ResultsError(f"{earlier} and {path} are the same file, given twice; a side-by-side "
                                   "report needs one results file per host")
        try:
            digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
        except OSError:
            continue
        if digest in digests:
            raise ResultsError(f"{digests[digest]} and {path} have identical contents (the same run "
                               "twice); a side-by-side report needs one results file per host")
        digests[digest] = path


def host_label(context):
    """context.host_name, else the CPU model and count."""
    for key in ("host_name", "hostname"):
        name = str(context.get(key) or "").strip()
        if name:
            return name
    model = str(context.get("cpu_model") or "").strip() or "unknown CPU"
    cpus = context.get("cpu_count") or context.get("num_cpus")
    return f"{model} ×{cpus} CPUs" if cpus else model


def labels(paths, results, overrides=()):
    """One label per file. overrides: [(path, name)] from --label FILE=NAME (the file as given,
    or the same file by another path); ResultsError when FILE is none of the files."""
    chosen = [host_label(r.context) for r in results]
    for given, name in overrides:
        hits = [i for i, p in enumerate(paths) if str(p) == given or _same(p, given)]
        if not hits:
            raise ResultsError(f"--label {given}={name}: {given} is not one of the results files "
                               f"({', '.join(map(str, paths))})")
        if not name.strip():
            raise ResultsError(f"--label {given}=: the name is empty")
        for i in hits:
            chosen[i] = name.strip()
    seen, out = {}, []
    for label in chosen:
        seen[label] = seen.get(label, 0) + 1
        out.append(label if seen[label] == 1 else f"{label} #{seen[label]}")
    return out


def _same(a, b):
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def workloads(r):
    return {p.workload for p in r.points()}


def check(hosts):
    """ResultsError when the files cannot stand side by side; the message names the files."""
    schemas = {h.results.schema for h in hosts}
    if len(schemas) > 1:
        raise ResultsError("the files have different results schemas (" + ", ".join(
            f"{h.path}: {h.results.schema}" for h in hosts) + "); rerun the older host with the "
            "same cobench version, or report each file on its own")
    first = hosts[0]
    for h in hosts[1:]:
        if not workloads(h.results) & workloads(first.results):
            raise ResultsError(
                f"{h.path} and {first.path} have no workload in common ({h.path}: "
                f"{', '.join(sorted(workloads(h.results)))}; {first.path}: "
                f"{', '.join(sorted(workloads(first.results)))}); nothing could be set side by side")


# ---- what is compared --------------------------------------------------------------------

def workload_order(hosts):
    """Workloads of any host, in report order (the presentation registry's)."""
    return registry.ordered(set().union(*(workloads(h.results) for h in hosts)))


def headline_rows(r, workload):
    """[(row label, counter, fixed params, size rule)] for a workload: its rows of the report's
    headline table; a workload without one gets its first result counter that has a direction."""
    rows = [(row.label, row.counter, row.fixed, row.rule) for row in registry.entry(workload).headline]
    if rows:
        return rows
    pts = r.points(workload)
    for counter in tables.result_counters(r, pts):
        if r.counter(counter).better in ("lower", "higher"):
            return [(counter, counter, {}, "common")]
    return []


def points(r, workload):
    """The points of a workload as its presentation entry folds them (a computed counter added)."""
    return registry.entry(workload).points(r)


def _key(params):
    return tables.params_text(params)


def _capped(p, counter):
    """A count of tasks held that the harness's cap or time limit stopped: a lower bound."""
    return counter == p.workload and registry.entry(p.workload).held and tables.is_capped(p.label)


def ratio_text(p, first, counter):
    """This host's median over the first host's, with '≈' where their min–max ranges overlap."""
    a, b = first.counters[counter], p.counters[counter]
    if _capped(p, counter) or _capped(first, counter):
        return "– (cap)"
    if a <= 0 or b <= 0:
        return "– (≤ 0)"
    text = f"×{fmt(b / a)}"
    return f"≈ {text}" if p.overlaps(first, counter) else text


def _order_key(hosts, runtime):
    for h in hosts:
        if h.results.runtime(runtime) is not None:
            return h.results.order_key(runtime)
    return (len(hosts[0].results.runtime_list), runtime)


def counter_table(hosts, workload, counter):
    """(header, rows, notes): one row per runtime × params, a column per host, then each later
    host over the first. None when no host reports the counter."""
    by_host = [{(p.runtime, _key(p.params)): p for p in points(h.results, workload) if counter in p.counters}
               for h in hosts]
    keys = set().union(*by_host)
    if not keys:
        return None
    params_of = {}
    for h in hosts:
        for p in points(h.results, workload):
            params_of.setdefault(_key(p.params), p.params)
    rows, notes, capped = [], {}, False
    for rt, key in sorted(keys, key=lambda k: (_order_key(hosts, k[0]), tables.natural(k[1]))):
        cells = []
        for h, have in zip(hosts, by_host):
            p = have.get((rt, key))
            if p is not None:
                capped |= _capped(p, counter)
                cells.append(("≥ " if _capped(p, counter) else "") + tables.cell(p, counter))
            elif workload not in workloads(h.results):
                cells.append(DASH)
            else:
                tag, why = tables.missing(h.results, workload, rt, params_of[key] if key != "—" else None,
                                          counter)
                notes.setdefault((h.label, why), []).append(f"{rt} {key}".strip())
                cells.append(f"– ({tag})")
        first = by_host[0].get((rt, key))
        for have in by_host[1:]:
            p = have.get((rt, key))
            cells.append(ratio_text(p, first, counter) if p is not None and first is not None else "–")
        rows.append([rt, key, *cells])
    header = ["runtime", "params", *[h.label for h in hosts],
              *[f"{h.label} / {hosts[0].label}" for h in hosts[1:]]]
    lines = [f"– {label}, {', '.join(keys)}: {why}" for (label, why), keys in notes.items()]
    if capped:
        lines.append("≥: a count stopped by the harness's own cap, a lower bound; no ratio is given "
                     "where either side is one.")
    return header, rows, lines


def choose(hosts, workload, counter, fixed, rule):
    """{runtime: params text} for a chart panel: per runtime the size the most hosts measured
    (ties: the largest; rule "fewest": the smallest), so that bars in a cluster compare like with like."""
    seen = {}
    for h in hosts:
        for p in points(h.results, workload):
            if counter in p.counters and all(p.params.get(k) == v for k, v in fixed.items()):
                rest = {k: v for k, v in p.params.items() if k not in fixed}
                seen.setdefault(p.runtime, {}).setdefault(_key(rest), set()).add(h.label)
    out = {}
    for rt, by_key in seen.items():
        pick = min if rule == "fewest" else max
        out[rt] = pick(by_key, key=lambda k: (len(by_key[k]) if rule != "fewest" else -len(by_key[k]),
                                              tables.natural(k)))
    return dict(sorted(out.items(), key=lambda kv: _order_key(hosts, kv[0])))


def panel_values(hosts, workload, counter, fixed, rule):
    """({(runtime group, host label): value}, groups) for one chart panel."""
    chosen = choose(hosts, workload, counter, fixed, rule)
    one_size = len(set(chosen.values())) == 1
    values, groups = {}, []
    for rt, key in chosen.items():
        group = rt if one_size or key == "—" else f"{rt}\n{key}"
        groups.append(group)
        for h in hosts:
            for p in points(h.results, workload):
                rest = {k: v for k, v in p.params.items() if k not in fixed}
                if (p.runtime == rt and counter in p.counters and _key(rest) == key
                        and all(p.params.get(k) == v for k, v in fixed.items())):
                    values[(group, h.label)] = p.counters[counter]
    size = next(iter(chosen.values()), "—") if one_size else None
    return values, groups, size


def geomean_rows(hosts):
    """Per runtime, for each later host: the geometric mean over the headline cells both measured of
    the factor by which that host is better than the first (first/host for lower-is-better counters,
    host/first for higher-is-better ones; > 1: this host is better)."""
    factors = {}   # (runtime, host index) -> [factor]
    first = hosts[0]
    for workload in workload_order(hosts):
        done = set()   # (runtime, params, counter): a cell counts once however many rows hold it
        for _, counter, fixed, _ in headline_rows(first.results, workload):
            better = first.results.counter(counter).better
            if better not in ("lower", "higher"):
                continue

            def cells(r):
                # The headline row's fixed params (None: absent) keep the sweep variants out.
                return {(p.runtime, _key(p.params)): p for p in points(r, workload)
                        if counter in p.counters and all(p.params.get(k) == v for k, v in fixed.items())}
            base = cells(first.results)
            for i, h in enumerate(hosts[1:], 1):
                for key, p in cells(h.results).items():
                    b = base.get(key)
                    if b is None or (key, counter, i) in done or _capped(p, counter) or _capped(b, counter):
                        continue
                    done.add((key, counter, i))
                    x, y = b.counters[counter], p.counters[counter]
                    if x > 0 and y > 0:
                        factors.setdefault((p.runtime, i), []).append(x / y if better == "lower" else y / x)
    runtimes = sorted({rt for rt, _ in factors}, key=lambda rt: _order_key(hosts, rt))
    rows = []
    for rt in runtimes + ["all runtimes"]:
        row = [rt]
        for i in range(1, len(hosts)):
            vals = ([v for (r, j), vs in factors.items() if j == i for v in vs] if rt == "all runtimes"
                    else factors.get((rt, i), []))
            row.append(f"×{fmt(math.exp(sum(map(math.log, vals)) / len(vals)))} ({len(vals)} cells)"
                       if vals else "–")
        rows.append(row)
    return rows if runtimes else []


# ---- the report --------------------------------------------------------------------------

def _ctx(r, keys):
    for k in keys:
        v = r.context.get(k)
        if v not in (None, ""):
            return str(v)
    return "–"


def machine_table(hosts):
    rows = [["file", *[str(h.path) for h in hosts]]]
    rows += [[what, *[_ctx(h.results, keys) for h in hosts]] for what, keys in MACHINE_ROWS]
    rows.append(["results schema", *[str(h.results.schema) for h in hosts]])
    rows.append(["benchmarks (ok / failed)", *[f"{len(h.results.successful())} / {len(h.results.failed())}"
                                               for h in hosts]])
    return ["", *[h.label for h in hosts]], rows


def warnings(hosts):
    out = []
    for what, keys in (("profile", ("cobench_profile",)), ("git commit", ("git_commit",)),
                       ("compiler", ("compiler",))):
        vals = {h.label: _ctx(h.results, keys) for h in hosts}
        if len(set(vals.values())) > 1:
            out.append(f"**Note:** the {what} differs between the hosts ("
                       + ", ".join(f"{k}: {v}" for k, v in vals.items()) + "); "
                       + ("rows pair equal parameters only, so a size one profile lacks shows as a dash."
                          if what == "profile" else "part of a difference may be the code, not the machine."))
    cpus = {h.label: h.results.cpu_count() for h in hosts}
    busy = [h.label for h in hosts for key, v in h.results.context.items()
            if "load" in key.lower() and isinstance(v, list) and cpus[h.label] and v
            and max(v) > cpus[h.label]]
    if busy:
        out.append("**Warning:** a load average above the CPU count was recorded on "
                   + ", ".join(dict.fromkeys(busy)) + ": its timings may be inflated.")
    return out


def coverage(hosts, order):
    """(header, rows, notes): points per workload per host, and which hosts lack which workload."""
    rows, notes = [], []
    for w in order:
        counts = [len(h.results.points(w)) for h in hosts]
        rows.append([f"`{w}`", *[str(n) if n else DASH for n in counts]])
        lacking = [h.label for h, n in zip(hosts, counts) if not n]
        if lacking:
            notes.append(f"`{w}`: not in the file of {', '.join(lacking)} (shown as {DASH})")
    return ["workload", *[f"{h.label} (benchmarks)" for h in hosts]], rows, notes


def build_doc(hosts, charts, image_src, svg_href, doc):
    """The side-by-side report in `doc` (a doc.Doc); charts: {workload: RenderedChart}."""
    first = hosts[0]
    order = workload_order(hosts)
    doc.h(1, f"cobench: {len(hosts)} hosts side by side")
    doc.p("Built from " + "; ".join(f"`{h.path}` (**{h.label}**)" for h in hosts) + ". Every number "
          f"comes from those files. Rows pair the same runtime at the same parameters; the ratio "
          f"columns are each host's median over that of the first host, **{first.label}**.")
    doc.toc()

    doc.h(2, "Hosts")
    for w in warnings(hosts):
        doc.p(w)
    doc.table(*machine_table(hosts))

    doc.h(2, "Workloads per host")
    header, rows, notes = coverage(hosts, order)
    doc.table(header, rows, notes)

    if len(hosts) > 1:
        doc.h(2, "Summary: how much better each host is than the first")
        rows = geomean_rows(hosts)
        if rows:
            doc.p(f"Per runtime, the geometric mean over the headline counters' cells (every size both "
                  f"hosts measured, within each headline row's fixed parameters) of the factor by which a host is better than **{first.label}**: "
                  f"{first.label}/host for lower-is-better counters, host/{first.label} for "
                  "higher-is-better ones, so above 1 is better, below 1 worse. Caps and values ≤ 0 are "
                  "left out. A geometric mean hides which workloads differ: the tables below show each.")
            doc.table(["runtime", *[f"{h.label} vs {first.label}" for h in hosts[1:]]], rows)
        else:
            doc.p("No headline counter has a cell that the first host and another both measured.")

    doc.h(2, "Headline counters per workload")
    doc.p("Each cell: the median (min–max of the repetitions) as in the single-host report; † the "
          "first repetition was left out as a warm-up outlier. Ratio columns: this host over the "
          f"first ({first.label}), read with the counter's direction; ≈ where the two min–max "
          "ranges overlap (inside the run-to-run spread). – (tag): why a host has no value there; "
          f"{DASH}: the host's file has no entries for this workload.")
    for w in order:
        doc.h(3, w)
        lacking = [h.label for h in hosts if w not in workloads(h.results)]
        if lacking:
            doc.p(f"Not measured on {', '.join(lacking)}: its file has no `{w}` entries.")
        owner = next(h for h in hosts if w in workloads(h.results))
        counters = list(dict.fromkeys(c for _, c, _, _ in headline_rows(owner.results, w)))
        if not counters:
            doc.p(f"`{w}` reports no counter with a direction; see each host's own report.")
        for counter in counters:
            t = counter_table(hosts, w, counter)
            if t is None:
                continue
            info = owner.results.counter(counter)
            better = {"lower": ", lower is better", "higher": ", higher is better"}.get(info.better, "")
            doc.p(f"**{counter}** ({info.unit or 'no unit declared'}{better}):")
            doc.table(*t)
        if w in charts:
            c = charts[w]
            doc.image(c, svg_href(c) if svg_href else None)
            doc.p(f"How to read: {c.how}")
            doc.bullets(c.notes)

    doc.h(2, "Problems in these runs")
    problems = []
    for h in hosts:
        bad = h.results.failed_families()
        failed = h.results.failed()
        if bad:
            problems.append(f"{h.label}: runtime families not finished: "
                            + ", ".join(f"{f['runtime']} ({f['status']})" for f in bad))
        if failed:
            problems.append(f"{h.label}: {len(failed)} benchmark(s) failed: "
                            + ", ".join(e.name for e in failed[:10]) + (" …" if len(failed) > 10 else ""))
    if problems:
        doc.p("**Error:** some numbers are missing or partial; each host's own report lists them in full.")
        doc.bullets(problems)
    else:
        doc.p("Every runtime family finished and no benchmark reported an error, on every host.")
    return doc


# ---- charts ------------------------------------------------------------------------------

class HostStyles:
    """charts._grouped_bars asks its styles for a colour per series: here a series is a host."""

    def __init__(self, hosts):
        import charts
        self.colours = {h.label: charts.PALETTE[i % len(charts.PALETTE)] for i, h in enumerate(hosts)}

    def colour(self, label):
        return self.colours[label]


def chart_name(workload):
    return CHART_PREFIX + re.sub(r"[^A-Za-z0-9_.-]+", "_", workload)


def render_charts(hosts):
    """{workload: RenderedChart}: one chart per workload, a panel per headline row that any host
    measured, clusters by runtime, one bar per host (log scale where every value is positive)."""
    import charts
    styles = HostStyles(hosts)
    caption = "  |  ".join(f"{h.label}: {charts.machine_caption(h.results.context)}" for h in hosts)
    out = {}
    for w in workload_order(hosts):
        owner = next(h for h in hosts if w in workloads(h.results))
        panels = []
        for label, counter, fixed, rule in headline_rows(owner.results, w):
            values, groups, size = panel_values(hosts, w, counter, fixed, rule)
            if values:
                panels.append((label, counter, fixed, values, groups, size))
        if not panels:
            continue
        title = f"{w}: headline counters by host"
        width = max(7.0, 4.5 * len(panels)) + 1.6
        fig, axes = charts._figure(title, len(panels), len(panels), (width, 4.5), caption)
        for ax, (label, counter, fixed, values, groups, size) in zip(axes, panels):
            unit = owner.results.counter(counter).unit
            charts._grouped_bars(ax, styles, groups, values, logy=True)
            where = "/".join([f"{k}:{v}" for k, v in fixed.items() if v is not None]
                             + ([size] if size and size != "—" else []))
            charts._label(ax, f"{label}{' ' + where if where else ''}", "",
                          f"{counter}{f' ({unit})' if unit else ''}")
        charts._legend_outside(axes[:len(panels)])
        png, svg = charts._encode(fig)
        lacking = [h.label for h in hosts if w not in workloads(h.results)]
        notes = [f"{', '.join(lacking)}: no `{w}` entries, no bars"] if lacking else []
        capped = [f"{h.label} {p.runtime}" for h in hosts for p in points(h.results, w)
                  if any(_capped(p, c) for _, c, _, _ in headline_rows(owner.results, w))]
        if capped:
            notes.append("a bar stopped by the harness's own cap is a lower bound, not what the host "
                         "holds (≥ in the table): " + ", ".join(capped))
        out[w] = charts.RenderedChart(
            chart_name(w), title, png, svg, notes,
            "One cluster per runtime, one bar per host (colour = host, legend beside the panels); "
            "each runtime at the size most hosts measured (named under its cluster when runtimes "
            "differ), so bars in a cluster compare like with like; log scale where every value is "
            "positive. The table above has every size.")
    return out


def _link(path, start):
    return markdown_link(os.path.relpath(path, start))


def render(hosts, out_dir, report_path, doc):
    """(files [(path, bytes)], stale chart paths, chart count) for the side-by-side report."""
    md_path, html_path = report_path.with_suffix(".md"), report_path.with_suffix(".html")
    rendered = render_charts(hosts)

    def image_src(chart):
        return _link(out_dir / f"{chart.name}.png", md_path.parent)

    def svg_href(chart):
        return _link(out_dir / f"{chart.name}.svg", md_path.parent)

    doc = build_doc(hosts, rendered, image_src, svg_href, doc)
    files = []
    for c in rendered.values():
        files += [(out_dir / f"{c.name}.png", c.png), (out_dir / f"{c.name}.svg", c.svg)]
    files += [(md_path, doc.markdown(image_src).encode()),
              (html_path, doc.html(f"cobench: {len(hosts)} hosts side by side").encode())]
    # Charts of an earlier side-by-side report that this one does not draw would contradict it.
    new = {p.name for p, _ in files}
    stale = sorted(p for ext in ("png", "svg") for p in Path(out_dir).glob(f"{CHART_PREFIX}*.{ext}")
                   if p.name not in new) if Path(out_dir).is_dir() else []
    return files, stale, len(rendered)
