"""Charts for a cobench results file, rendered in memory.

render_all(results, extra=()) -> (charts, skipped)
    charts: list of RenderedChart (name, title, how-to-read line, notes, png bytes,
    svg bytes), the overview last; skipped: list of (name, title, why) with no data at all.
    CHARTS are the built-in charts, in report order; `extra` more Chart objects (a presentation
    entry's `charts`, presentation/), drawn after them.
Chart, lines_panel, bars_panel: how a chart is declared (the panel kinds any workload can use).
Nothing is written to disk here, so the caller can write every file only
once all of them were produced.
"""

import io
import re
import textwrap
from dataclasses import dataclass, field
from statistics import mean

import matplotlib

matplotlib.use("Agg")
from matplotlib.figure import Figure  # noqa: E402  (the backend must be chosen first)
from matplotlib.lines import Line2D  # noqa: E402

import io_workloads  # noqa: E402
import pipeline  # noqa: E402
import reactor_backends  # noqa: E402
import tables  # noqa: E402
from cobench_results import human  # noqa: E402

# Colour and marker by a runtime's display position (the registry's order, as
# the file's context.runtimes lists it), so one runtime has the same look in
# every chart of a report, and a runtime added to the registry needs no edit here.
PALETTE = ("#d62728", "#1f77b4", "#9467bd", "#ff7f0e", "#2ca02c", "#17becf",
           "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22")
MARKERS = ("s", "o", "D", "^", "v", "P", "X", "*", "h", "<")

matplotlib.rcParams.update({"svg.hashsalt": "cobench", "font.size": 9,
                            "axes.titlesize": 10, "legend.fontsize": 8})


class Styles:
    """Colour and marker of each runtime of one results file."""

    def __init__(self, results):
        self.results = results

    def _position(self, runtime):
        return self.results.order_key(runtime)[0]

    def colour(self, runtime):
        return PALETTE[self._position(runtime) % len(PALETTE)]

    def marker(self, runtime):
        # Shifted once per turn of the palette, so runtime 11 does not look like runtime 1.
        pos = self._position(runtime)
        return MARKERS[(pos + pos // len(PALETTE)) % len(MARKERS)]


def machine_caption(context):
    def get(key, default="unknown"):
        v = context.get(key)
        return str(v) if v not in (None, "") else default
    commit = get("git_commit")[:10]
    dirty = {"true": " (dirty)", "false": ""}.get(get("git_dirty", "").lower(), "")
    return (f"Machine: {get('cpu_model')} · {get('cpu_count', get('num_cpus'))} CPUs · "
            f"{get('kernel')} · virtualized: {get('virtualized')} · {get('compiler')} · "
            f"commit {commit}{dirty} · profile {get('cobench_profile')} · {get('date')}")


# ---- drawing helpers -------------------------------------------------------

def _yscale(ax, values, floor=0.0):
    """Log where every value is positive; symmetric-log where some are 0, linear below the smallest
    positive value or `floor`, whichever is larger (so noise below floor takes no decades)."""
    values = [v for v in values if v is not None]
    positive = [v for v in values if v > 0]
    if not positive:
        return
    if len(positive) == len(values):
        ax.set_yscale("log")
    elif max(positive) / min(positive) > 100:
        # Zeros (e.g. coroutines' kernel memory) must stay visible next to large values.
        ax.set_yscale("symlog", linthresh=max(min(positive), floor))
        if min(values) >= 0:
            ax.set_ylim(bottom=0)


def _line(ax, pts, **kw):
    """One curve of [(x, y, (min, max) or None)], with error bars spanning the min-max where known."""
    xs, ys, errs = zip(*pts)
    if any(e is not None for e in errs):
        yerr = [[max(0.0, y - e[0]) if e else 0 for y, e in zip(ys, errs)],
                [max(0.0, e[1] - y) if e else 0 for y, e in zip(ys, errs)]]
        ax.errorbar(xs, ys, yerr=yerr, capsize=3, **kw)
    else:
        ax.plot(xs, ys, **kw)


def _plot_series(ax, styles, series, logx=True, logy=True, floor=0.0):
    """series: {runtime: [(x, y, (min, max) or None)]}; error bars span the min-max."""
    for rt, pts in series.items():
        _line(ax, pts, color=styles.colour(rt), marker=styles.marker(rt), label=rt, linewidth=1.5,
              markersize=5)
    if logx and all(x > 0 for pts in series.values() for x, _, _ in pts):
        ax.set_xscale("log")
    if logy:
        _yscale(ax, [y for pts in series.values() for _, y, _ in pts], floor)
    ax.grid(True, which="major", alpha=0.3)


def _grouped_bars(ax, styles, groups, values, logy=True, annotate=True):
    """values: {(group, runtime): y}; one cluster per group, one bar per runtime."""
    runtimes = []
    for _, rt in values:
        if rt not in runtimes:
            runtimes.append(rt)
    width = 0.8 / len(runtimes)
    for i, rt in enumerate(runtimes):
        xs = [g + (i - (len(runtimes) - 1) / 2) * width
              for g, name in enumerate(groups) if (name, rt) in values]
        ys = [values[(name, rt)] for name in groups if (name, rt) in values]
        bars = ax.bar(xs, ys, width * 0.95, color=styles.colour(rt), label=rt)
        if annotate:
            ax.bar_label(bars, labels=[_short(y) for y in ys], fontsize=6, rotation=90, padding=2)
    ax.set_xticks(range(len(groups)), groups)
    if sum(len(str(g)) for g in groups) > 24:  # long group names would run into each other
        ax.tick_params(axis="x", labelrotation=30)
        for t in ax.get_xticklabels():
            t.set_ha("right")
    if logy:
        _yscale(ax, list(values.values()))
    ax.margins(y=0.25)
    ax.grid(True, axis="y", alpha=0.3)


def _short(v):
    for div, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(v) >= div:
            return f"{v / div:.3g}{suffix}"
    return f"{v:.3g}"


def _clip(text, width=48):
    """A stop reason short enough to sit beside a bar; the report's table has it whole."""
    text = text.split(" (kernel.")[0]
    return text if len(text) <= width else text[: width - 1] + "…"


def _label(ax, title, xlabel, ylabel):
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)


def _most_common(values):
    values = list(values)
    return max(sorted(set(values), key=str), key=values.count) if values else None


# ---- panels: each takes the results and returns a draw(ax) function, or None
#      when there is nothing to draw ------------------------------------------

def lines_panel(workload, counter, x_param, title, xlabel, ylabel, logy=True, fixed=None, clip0=False,
                absent=()):
    """fixed: names of params to hold at their most common value (stated in the title; runtimes
    that ran only other values are named in a note); clip0: values below 0 are noise, drawn at 0
    (said in a note); absent: params whose entries are left out (a sweep drawn elsewhere)."""
    def prepare(r):
        where, notes = {}, []
        for key in fixed or ():
            where[key] = _most_common(p.params.get(key) for p in r.points(workload)
                                      if counter in p.counters and key in p.params
                                      and not any(a in p.params for a in absent))
        s = r.series(workload, counter, x_param, {**where, **{k: None for k in absent}} or None)
        if not s:
            return None
        if where:
            elsewhere = {}
            for p in r.points(workload):
                if counter in p.counters and p.runtime not in s and not any(a in p.params for a in absent):
                    elsewhere.setdefault(p.runtime, set()).update(
                        f"{k}:{p.params.get(k)}" for k in where)
            for rt, vals in elsewhere.items():
                notes.append(f"{title}: {rt} is not drawn: it ran at {', '.join(sorted(vals, key=_natural))}, "
                             f"not {', '.join(f'{k}:{v}' for k, v in where.items())}")
        if clip0:
            neg = sorted({rt for rt, pts in s.items() for _, y, _ in pts if y < 0}, key=r.order_key)
            if neg:
                notes.append(f"{title}: values below 0 ({', '.join(neg)}) are measurement noise, drawn at 0")
            s = {rt: [(x, max(0.0, y), e and (max(0.0, e[0]), max(0.0, e[1]))) for x, y, e in pts]
                 for rt, pts in s.items()}
        suffix = "".join(f", {k}:{v}" for k, v in where.items())

        def draw(ax):
            _plot_series(ax, Styles(r), s, logy=logy, floor=1.0 if clip0 else 0.0)
            _label(ax, title + suffix, xlabel, ylabel)
            if clip0 and ax.get_yscale() != "log":
                ax.set_ylim(bottom=0)
        draw.notes = notes
        return draw
    return prepare


def bars_panel(workload, counter, group_param, title, ylabel, group_fmt="{}", logy=True, order=(),
               note=None, absent=()):
    """One cluster per value of group_param (or per params combination when None; group_fmt
    None names a cluster by all its params, so entries differing in any param stay apart);
    `order` lists group values to put first, in that order; entries with any param named in
    `absent` are left out (a sweep drawn elsewhere)."""
    def prepare(r):
        values = {}
        for p in r.points(workload):
            if counter in p.counters and not any(a in p.params for a in absent):
                try:
                    if group_fmt is None:
                        raise KeyError(group_param)
                    group = group_fmt.format(**p.params) if group_param is None else \
                        group_fmt.format(p.params[group_param])
                except KeyError:   # an entry without the expected params still shows
                    group = "/".join(f"{k}:{v}" for k, v in p.params.items()) or "—"
                values[(group, p.runtime)] = p.counters[counter]
        if not values:
            return None
        first = [(group_fmt or "{}").format(v) for v in order]
        groups = sorted({g for g, _ in values},
                        key=lambda g: (first.index(g) if g in first else len(first), _natural(g)))

        def draw(ax):
            _grouped_bars(ax, Styles(r), groups, values, logy=logy)
            _label(ax, title, "", ylabel)
        draw.notes = note(r) if note else []
        return draw
    return prepare


def _natural(text):
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", text)]


def skynet_sizes(r):
    """A note when runtimes ran skynet at different sizes: per-node costs are then not like with like."""
    sizes = {p.runtime: p.params.get("leaves") for p in r.points("skynet")
             if not p.params.get("roots") and "workers" not in p.params}
    if len(set(sizes.values())) <= 1:
        return []
    return ["skynet: the tree size differs by runtime (" + ", ".join(f"{rt} leaves:{v}" for rt, v in sizes.items())
            + "); each cluster is one size, so bars in different clusters are not like with like"]


# How a max_tasks bar is drawn by what stopped it: lower bounds hatched, limits of the machine solid.
STOP_HATCH = {tables.CAP: "///", tables.TIME: "xxx", tables.ERROR: "...", None: "..."}


def max_tasks_panel(r):
    """Most tasks held, one bar per runtime (the plain entries, not the stack-size variants), each
    marked by what stopped it and, where the file has it, the memory per held task."""
    pts = tables.stops(r)
    if not pts:
        return None

    styles = Styles(r)

    def draw(ax):
        vals = [p.held for p in pts]
        for i, p in enumerate(pts):
            ax.barh(i, vals[i], color=styles.colour(p.runtime), label=p.runtime,
                    hatch=STOP_HATCH.get(p.kind), edgecolor="white" if p.kind in STOP_HATCH else None)
        ax.set_yticks(range(len(pts)), [p.runtime for p in pts])
        ax.invert_yaxis()
        if max(vals) > 0:
            ax.set_xscale("log")
        low = min([v for v in vals if v > 0] or [1])
        ax.set_xlim(low / 3, max(vals + [low]) * 300)  # room for the stop reason
        for i, p in enumerate(pts):
            # 0 means the first group already failed: say so, rather than draw a count of 0.
            count = "none held" if p.held == 0 else ("≥ " if p.lower_bound else "") + _short(p.held)
            per = f", {human(p.bytes_per_task, 'bytes/task')}" if p.bytes_per_task else ""
            why = p.kind if tables.is_new_label(p.label) else _clip(p.label or "no reason given")
            ax.text(max(p.held, low) * 1.2, i, f"{count}  ({why}{per})", va="center", fontsize=7)
        ax.grid(True, axis="x", alpha=0.3)
        _label(ax, "max_tasks: most tasks held, and what stopped it", "tasks held at once (count, log)", "")
    draw.notes = ([f"{', '.join(p.runtime for p in pts if p.lower_bound)}: stopped by the profile's cap "
                   f"or time limit (hatched bars): a lower bound, not what the machine holds"]
                  if any(p.lower_bound for p in pts) else [])
    return draw


def timer_total_panel(r):
    pts = [p for p in r.points("timer_fanout") if "total_ms" in p.counters]
    if not pts:
        return None
    wait = _most_common(p.params.get("wait_ms") for p in pts)
    pts = [p for p in pts if p.params.get("wait_ms") == wait]
    s = r.series("timer_fanout", "total_ms", "tasks", {"wait_ms": wait} if wait is not None else None)
    if not s:
        return None
    refs = {}
    for key in ("longest_wait_ms", "sum_wait_ms"):
        by_n = {}
        for p in pts:
            if key in p.counters and p.params.get("tasks") is not None:
                by_n.setdefault(p.params["tasks"], []).append(p.counters[key])
        refs[key] = sorted((n, mean(v)) for n, v in by_n.items())

    def draw(ax):
        _plot_series(ax, Styles(r), s)
        for key, style, text in (("longest_wait_ms", "--", "longest wait"),
                                 ("sum_wait_ms", ":", "sum of waits")):
            if refs[key]:
                xs, ys = zip(*refs[key])
                ax.plot(xs, ys, style, color="black", linewidth=1.2, label=text)
        _label(ax, f"timer_fanout: time to finish all waits, wait_ms:{wait}", "tasks", "total_ms (ms, log)")
    return draw


def speedup_panel(r):
    s = {rt: [(n, v, None) for n, v in by_n.items()] for rt, by_n in r.speedups().items()}
    s = {rt: pts for rt, pts in s.items() if pts}
    if not s:
        return None
    cpus = r.cpu_count()

    def draw(ax):
        _plot_series(ax, Styles(r), s, logy=False)
        xs = sorted({x for pts in s.values() for x, _, _ in pts})
        if xs[0] > 0:
            ax.set_xscale("log", base=2)
        ax.set_xticks(xs, [str(x) for x in xs])
        ax.minorticks_off()
        if cpus:
            ax.plot(xs, [min(x, cpus) for x in xs], "--", color="black", linewidth=1,
                    label=f"ideal: min(tasks, {cpus} CPUs)")
        ax.axhline(1.0, color="grey", linestyle=":", linewidth=1)
        _label(ax, "cpu_bound: speed-up vs tasks:1", "tasks", "speed-up (×)")
    return draw


# ---- stack sizes, worker sweeps, the generator pipeline ----------------------------------------

# Line style by guard page: with one solid, without dashed.
GUARD_STYLES = {"yes": "-", "no": "--"}


def stack_panel(workload, counter, title, ylabel, per_tasks=False, stops=False):
    """x = stack size (log 2), y = counter, one line per runtime × guard page. per_tasks: one tasks
    value per line (tables.stack_lines), named in a note; stops: the counter is a count of tasks
    held, each point named by what stopped it."""
    def prepare(r):
        lines = tables.stack_lines(r, workload, counter, per_tasks)
        if not lines:
            return None
        notes = []
        if per_tasks:
            at = {f"{rt}, guard:{g}": sorted({p.params.get("tasks") for _, _, p in pts}, key=str)
                  for (rt, g), pts in lines.items()}
            notes.append(f"{title}: measured at " + "; ".join(f"{k} tasks:{', '.join(map(str, v))}"
                                                                for k, v in at.items()))
        if stops:
            bounded = sorted({f"{rt} guard:{g} stack:{tables.size_text(x)}" for (rt, g), pts in lines.items()
                              for x, _, p in pts if tables.is_capped(p.label)})
            if bounded:
                notes.append(f"{title}: stopped by a cap or the time limit, a lower bound: " + ", ".join(bounded))

        def draw(ax):
            styles = Styles(r)
            for (rt, guard), pts in lines.items():
                xs = [x for x, _, _ in pts]
                ys = [max(0.0, y) for _, y, _ in pts]
                ax.plot(xs, ys, color=styles.colour(rt), marker=styles.marker(rt), markersize=5,
                        linestyle=GUARD_STYLES.get(guard, ":"), linewidth=1.5, label=f"{rt}, guard:{guard}")
                if stops:
                    for x, y, p in pts:
                        kind = tables.stop_kind(p.label)[0]
                        if kind:
                            ax.annotate(kind, (x, max(y, 1)), textcoords="offset points", xytext=(3, 4),
                                        fontsize=6)
            sizes = sorted({x for pts in lines.values() for x, _, _ in pts})
            ax.set_xscale("log", base=2)
            ax.set_xticks(sizes, [tables.size_text(x) for x in sizes])
            ax.minorticks_off()
            _yscale(ax, [y for pts in lines.values() for _, y, _ in pts])
            ax.grid(True, alpha=0.3)
            _label(ax, title, "stack size", ylabel)
        draw.notes = notes
        return draw
    return prepare


def worker_panel(workload, title, task_workers=False):
    """Speed-up against workers K, one curve per runtime, with the ideal min(K, CPUs)
    (task_workers: tables.worker_curves)."""
    def prepare(r):
        w = tables.worker_curves(r, workload, task_workers)
        if w is None:
            return None
        notes = []
        if w["cpus"] and w["cpus"] <= 2:
            notes.append(f"{title}: this machine has {w['cpus']} CPUs, so the curve is short (the ideal "
                         f"bends at K = {w['cpus']}); the same command on a larger machine gives the "
                         f"full curve")
        elif not w["cpus"]:
            notes.append(f"{title}: the CPU count is unknown (no context.workers.default or cpu_count), "
                         f"so no ideal line is drawn")

        def draw(ax):
            styles = Styles(r)
            for label, pts in w["curves"].items():
                rt = w["runtime"][label]
                xs, ys = zip(*pts)
                ax.plot(xs, ys, color=styles.colour(rt), marker=styles.marker(rt), markersize=5,
                        linewidth=1.5, linestyle="-" if label == rt else ":", label=label)
            if w["ideal"]:
                xs, ys = zip(*w["ideal"])
                ax.plot(xs, ys, "--", color="black", linewidth=1, label=f"ideal: min(K, {w['cpus']} CPUs)")
            ks = sorted({k for pts in w["curves"].values() for k, _ in pts})
            ax.set_xscale("log", base=2)
            ax.set_xticks(ks, [str(k) for k in ks])
            ax.minorticks_off()
            ax.axhline(1.0, color="grey", linestyle=":", linewidth=1)
            ax.set_ylim(bottom=0)
            ax.grid(True, alpha=0.3)
            _label(ax, title, "workers K", "speed-up vs K = 1 (×)")
        draw.curves = w     # the data drawn, for tests
        draw.notes = notes
        return draw
    return prepare


def pipeline_panel(r):
    """ns per item by hand-off (generator, channel), one bar per runtime, at each runtime's largest
    items value measured each way."""
    rows = pipeline.pipeline_rows(r)
    if not rows:
        return None
    values = {}
    for rt, _, g, c, _ in rows:
        values[("via:generator", rt)] = g
        values[("via:channel", rt)] = c

    def draw(ax):
        _grouped_bars(ax, Styles(r), ["via:generator", "via:channel"], values)
        _label(ax, "pipeline: cost per item handed from producer to consumer", "", "ns_per_item (ns, log)")
    items = [f"{rt} {n}" for rt, n, *_ in rows]
    draw.notes = [f"pipeline items (generator / channel): {'; '.join(items)}"] + ([s] if (s := pipeline.pipeline_sentence(r)) else [])
    return draw



# ---- I/O: latency against offered load, the slow I/O decision map, the pitfall -----------------

def echo_load_panels(r):
    """One panel per conns value of the rate sweep: x = achieved req/s, y = open-loop p99 (log), one
    curve per runtime in offered-rate order; a point whose generator fell behind is drawn hollow
    and grey-edged (not a server figure); dotted: the machine's hiccup max over the panel."""
    curves = io_workloads.sweep_curves(r)

    def panel(conns, by_rt):
        def draw(ax):
            styles = Styles(r)
            for rt, pts in by_rt.items():
                colour, marker = styles.colour(rt), styles.marker(rt)
                label = io_workloads.shown(r, rt)
                ax.plot([s.achieved for s in pts], [s.p99 for s in pts], color=colour, linewidth=1.3,
                        linestyle="--" if io_workloads.is_reference(r, rt) else "-", label=label,
                        marker=marker, markersize=5, markevery=[i for i, s in enumerate(pts) if s.valid])
                bad = [s for s in pts if not s.valid]
                if bad:
                    ax.plot([s.achieved for s in bad], [s.p99 for s in bad], linestyle="", marker=marker,
                            markerfacecolor="none", markeredgecolor="grey", markersize=7)
                last, _ = io_workloads.knee(pts)
                if last is not None:
                    ax.plot([last.achieved], [last.p99], linestyle="", marker="o", markersize=11,
                            markerfacecolor="none", markeredgecolor=colour, markeredgewidth=1.2)
            if any(not s.valid for pts in by_rt.values() for s in pts):
                ax.plot([], [], linestyle="", marker="o", markerfacecolor="none", markeredgecolor="grey",
                        label="INVALID: generator behind")
            ax.plot([], [], linestyle="", marker="o", markersize=11, markerfacecolor="none",
                    markeredgecolor="black", label="knee: last rate sustained")
            floor = [s.point.counters["hiccup_max_us"] for pts in by_rt.values() for s in pts
                     if "hiccup_max_us" in s.point.counters]
            if floor:
                ax.axhline(max(floor), color="black", linestyle=":", linewidth=1,
                           label="machine hiccup max")
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.grid(True, which="major", alpha=0.3)
            _label(ax, f"echo, open loop, conns:{conns}", "achieved throughput (req/s, log)",
                   "p99 latency (µs, log)")
        bad = [f"{rt} rate:{s.point.params.get('rate')}" for rt, pts in by_rt.items() for s in pts if not s.valid]
        draw.notes = ([f"conns:{conns}: the generator fell behind its schedule at {', '.join(bad)}: drawn "
                       f"hollow with a grey edge, not a figure of the server"] if bad else [])
        return lambda _r: draw
    return [(f"conns:{c}", panel(c, by_rt)) for c, by_rt in curves.items()]


def decision_map_panel(metric, title):
    """A heatmap, upstream L against conns N: each cell coloured by the winning runtime (a reference
    never wins), the margin over the runner-up written in it; ties grey and hatched, naming the
    runtimes inside the spread; ⚑ client-bound; a reference that would win is named under the margin."""
    def prepare(r):
        cells = io_workloads.decision_map(r, metric)
        if not cells:
            return None
        ls, ns = io_workloads.map_axes(cells)

        def draw(ax):
            from matplotlib.colors import to_rgb
            from matplotlib.patches import Rectangle
            styles = Styles(r)
            grid = [[(1.0, 1.0, 1.0)] * len(ns) for _ in ls]
            winners = []
            for (L, n), c in cells.items():
                i, j = ls.index(L), ns.index(n)
                if c.ranked and not c.is_tie:
                    rgb = to_rgb(styles.colour(c.winner))
                    grid[i][j] = tuple(0.45 + 0.55 * x for x in rgb)   # light enough for black text
                    if c.winner not in winners:
                        winners.append(c.winner)
                elif c.ranked:
                    grid[i][j] = (0.85, 0.85, 0.85)
            ax.imshow(grid, aspect="auto", origin="lower", interpolation="nearest")
            for (L, n), c in cells.items():
                i, j = ls.index(L), ns.index(n)
                if c.is_tie:
                    ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, hatch="///",
                                           edgecolor="#999999", linewidth=0))
                    lines = ["tie:"] + c.tie[:3] + ([f"+{len(c.tie) - 3} more"] if len(c.tie) > 3 else [])
                elif c.ranked:
                    lines = [c.winner, f"{c.margin:.2f}×" if c.margin else "alone"]
                else:
                    lines = ["–"]
                if c.saturated:
                    lines.append("⚑ client")
                if c.ranked and not c.judged:
                    lines.append(f"not judged: n={c.n}")
                for rt, text in c.reference:
                    if "would win" in text:
                        lines.append(f"{rt}: {text.replace('would win by ', 'wins ')}")
                if c.missing:
                    lines.append(f"{len(c.missing)} absent")
                ax.text(j, i, "\n".join(lines), ha="center", va="center",
                        fontsize=6 if max(len(ls), len(ns)) >= 4 else 8)
            for rt in winners:
                ax.add_patch(Rectangle((0, 0), 0, 0, facecolor=tuple(0.45 + 0.55 * x for x in
                                                                     to_rgb(styles.colour(rt))), label=rt))
            if any(c.is_tie for c in cells.values()):
                ax.add_patch(Rectangle((0, 0), 0, 0, facecolor=(0.85, 0.85, 0.85), hatch="///",
                                       edgecolor="#999999", label="tie (inside the spread)"))
            ax.set_xticks(range(len(ns)), [str(n) for n in ns])
            ax.set_yticks(range(len(ls)), [io_workloads.duration_text(L) for L in ls])
            _label(ax, title, "connections N (requests in flight)", "upstream latency L")
        draw.cells = cells   # the data drawn, for tests
        notes = []
        absent = sorted({f"{rt} ({tag})" for c in cells.values() for rt, tag, _ in c.missing})
        if absent:
            notes.append(f"{title}: absent from some cells: {', '.join(absent)}; the report's table names them")
        sat = [f"{io_workloads.duration_text(c.upstream)}/conns:{c.conns}" for c in cells.values() if c.saturated]
        if sat:
            notes.append(f"{title}: ⚑ client-bound (client_cpu_frac ≥ {io_workloads.MAP_CLIENT_SATURATED:g}) "
                         f"at {', '.join(sat)}: the client set the rate there")
        thin = [c for c in cells.values() if c.ranked and not c.judged]
        if thin:
            notes.append(f"{title}: {len(thin)} of {len(cells)} cells have fewer than "
                         f"{io_workloads.VERDICT_MIN_N} repetitions (marked not judged: n=k): their colour is "
                         "the reading of their numbers, not a verdict")
        draw.notes = notes
        return draw
    return prepare


def pitfall_panel(r):
    """Timers' max lateness per variant (block × offload), one bar per runtime, log y."""
    values = {}
    for (rt, variant), by in io_workloads.pitfall_pairs(r).items():
        for off, p in by.items():
            if "timer_late_max_us" in p.counters:
                values[(f"{variant}, offload:{off}", rt)] = p.counters["timer_late_max_us"]
    if not values:
        return None
    groups = sorted({g for g, _ in values}, key=_natural)

    def draw(ax):
        _grouped_bars(ax, Styles(r), groups, values)
        _label(ax, "blocking_pitfall: timers' max lateness", "", "timer_late_max_us (µs, log)")
    draw.notes = io_workloads.pitfall_sentences(r)
    return draw


# ---- reactor backends ----------------------------------------------------------------------------

# Line style by reactor backend, so equal curves (epoll and io_uring at few fds) stay told apart.
BACKEND_STYLES = {"epoll": "-", "poll": "--", "io_uring": "-."}


def idle_conns_panel(r):
    """Server CPU per active request against N idle connections (log x and y): one bold curve per
    backend of a backend family (named by its backend), the other runtimes thin and light."""
    curves = reactor_backends.idle_curves(r)
    if not curves:
        return None
    backend = {rt: b for fam in reactor_backends.families(r) for b, rt in fam.backends.items()}

    def draw(ax):
        styles = Styles(r)
        for rt, pts in curves.items():
            main = rt in backend
            _line(ax, pts, color=styles.colour(rt), marker=styles.marker(rt), markersize=6 if main else 3,
                  linewidth=2.2 if main else 0.9, alpha=1.0 if main else 0.35,
                  linestyle=BACKEND_STYLES.get(backend.get(rt), "-"),
                  label=f"{rt} ({backend[rt]})" if main else rt, zorder=3 if main else 1)
        if all(x > 0 for pts in curves.values() for x, _, _ in pts):
            ax.set_xscale("log")
        _yscale(ax, [y for pts in curves.values() for _, y, _ in pts])
        ax.grid(True, which="major", alpha=0.3)
        _label(ax, "idle_conns: server CPU per active request", "idle connections N (log)",
               "server_cpu_ns_per_req (ns, log)")
    draw.curves = curves   # the data drawn, for tests
    sentence = reactor_backends.idle_sentence(r)
    draw.notes = [f"idle_conns: {sentence}"] if sentence else []
    return draw


# Line style by echo_accept's accept mode: a listening socket per worker, or one shared.
ACCEPT_STYLES = {"reuseport": "-", "shared": "--"}


def echo_workers_panels(r):
    """One panel per conns value of echo_accept (stall variants left out: the report's table has
    them): x = workers, y = req_per_s, one line per runtime × accept mode."""
    pts = [p for p in r.points("echo_accept") if "req_per_s" in p.counters and not p.params.get("stall_ms")
           and all(isinstance(p.params.get(k), (int, float)) for k in ("conns", "workers"))]

    def panel(conns):
        lines = {}
        for p in pts:
            if p.params["conns"] == conns:
                key = (p.runtime, str(p.params.get("accept", "—")))
                lines.setdefault(key, []).append((p.params["workers"], p.counters["req_per_s"]))

        def draw(ax):
            styles = Styles(r)
            for (rt, mode), xy in sorted(lines.items(), key=lambda kv: (r.order_key(kv[0][0]), kv[0][1])):
                xs, ys = zip(*sorted(xy))
                ax.plot(xs, ys, color=styles.colour(rt), marker=styles.marker(rt), markersize=5,
                        linestyle=ACCEPT_STYLES.get(mode, ":"), linewidth=1.5, label=f"{rt}, accept:{mode}")
            ws = sorted({w for xy in lines.values() for w, _ in xy})
            ax.set_xticks(ws, [str(w) for w in ws])
            ax.set_ylim(bottom=0)
            ax.grid(True, alpha=0.3)
            _label(ax, f"echo_accept, conns:{conns}", "workers K", "req_per_s (requests/s)")
        return lambda _r: draw
    return [(f"conns:{c}", panel(c)) for c in sorted({p.params["conns"] for p in pts})]


@dataclass
class Chart:
    name: str
    title: str
    panels: object         # [(label, prepare)], or a function of the results giving that list
    size: tuple = (11, 4.5)   # None: 4.5 inches wide per panel
    how: str = ""          # one line: how to read the chart
    absent: str = "no data for this chart"
    expected: object = None   # function of the results: is the chart's absence worth a note? None: always
    limits: bool = False      # drawn from a limits-profile file (which holds only max_tasks entries)


def limits_era(r):
    """True for a file from a build that has the stack and worker sweeps: its runtimes declare sized_stacks
    and sized_workers. An older file could not have them, so their charts are left out silently."""
    return any(rt.sized_stacks is not None or rt.sized_workers is not None for rt in r.runtime_list)


CHARTS = [
    Chart("switch_cost", "Context-switch cost", how="Lower is better: one-way hand-off between two "
          "tasks on one core and across cores (bars), and the cost per yield as the ring grows "
          "(lines); log scales.", panels=[
        ("ping_pong", bars_panel("ping_pong", "switch_ns", "pin", "ping_pong: one-way hand-off",
                                 "switch_ns (ns, log)", group_fmt="pin:{}", order=("same", "cross"))),
        ("yield_ring", lines_panel("yield_ring", "switch_ns", "tasks", "yield_ring: cost per yield",
                                   "tasks in the ring", "switch_ns (ns, log)")),
    ]),
    Chart("spawn_cost", "Spawn cost (create + join)", [
        ("spawn", lines_panel("spawn", "spawn_ns", "tasks", "spawn: per task", "tasks",
                              "spawn_ns (ns per task, log)")),
        ("skynet", bars_panel("skynet", "spawn_ns", None, "skynet: per node of the tree",
                              "spawn_ns (ns per node, log)", group_fmt=None, note=skynet_sizes,
                              absent=("workers",))),
    ], how="Lower is better: the time to create and join one task (left) and one node of the skynet "
           "tree (right, one cluster per tree size, roots:10 starts ten subtrees at once on multi-core "
           "runtimes); log scales. Compare bars within a cluster only."),
    Chart("memory_per_task", "Memory per idle task", [
        (c, lines_panel("idle_memory", f"{c}_per_task", "tasks", f"idle_memory: {label} per task",
                        "tasks (N)", "bytes per task (log)", clip0=True, absent=("stack", "guard")))
        for c, label in (("rss", "RSS"), ("pss", "PSS"), ("kernel", "Kernel memory"))
    ], size=(14, 4.5), how="Lower is better: memory each idle task holds as the number of tasks N "
                           "grows, measured as RSS, PSS and kernel memory; log scales (symmetric-log near 0, where "
                           "values below 0 are noise drawn at 0)."),
    Chart("max_tasks", "Most tasks held at once", [("max_tasks", max_tasks_panel)], size=(9, 4), limits=True,
          how="Longer is more: the most tasks held at once, each bar marked by what stopped it and, "
              "where measured, the memory per held task; hatched bars stopped at the profile's cap or "
              "time limit (a 'limit' or 'cap' reason), so their count is a lower bound."),
    Chart("stack_sizes", "Stack size: memory per idle task and most tasks held", [
        ("memory", stack_panel("idle_memory", "pss_per_task", "idle_memory: PSS per idle task",
                               "pss_per_task (bytes, log)", per_tasks=True)),
        ("kernel", stack_panel("idle_memory", "kernel_per_task", "idle_memory: kernel memory per idle task",
                               "kernel_per_task (bytes, log)", per_tasks=True)),
        ("max_tasks", stack_panel("max_tasks", "max_tasks", "max_tasks: most tasks held", "tasks held (log)",
                                  stops=True)),
    ], size=None, expected=limits_era, limits=True, absent="no entries with a stack param in this run (the "
                                               "stack-size sweep of the runtimes with sized_stacks)",
          how="Against the stack size each task was given (log scale): memory per idle task (lower is "
              "better) and, from a limits run, the most tasks held (higher is more, each point named by "
              "what stopped it); one line per runtime, solid with a guard page, dashed without."),
    Chart("worker_sweep", "Worker-count sweep: speed-up against workers", [
        ("cpu_bound", worker_panel("cpu_bound", "cpu_bound: speed-up vs workers:1", task_workers=True)),
        ("skynet", worker_panel("skynet", "skynet: speed-up vs workers:1")),
    ], size=None, expected=limits_era, absent="no entries with a workers param in this run (the "
                                               "worker sweep of the runtimes with sized_workers)",
          how="Higher is better: the same work with K workers over K = 1, one curve per runtime; dashed, "
              "the ideal min(K, CPUs) (CPUs: context.workers.default); past the CPU count the workers are "
              "oversubscribed. Dotted: runtimes with one worker a task (K = tasks, from cpu_bound's tasks "
              "values). On a 2-CPU machine the curve is short."),
    Chart("pipeline", "Generator pipeline against a channel", [("pipeline", pipeline_panel)], size=(8, 4.5),
          expected=limits_era, absent="no pipeline entries in this run",
          how="Lower is better: the cost of handing one item from a producer to a consumer, pulled from a "
              "C++20 generator (co_yield) or passed through the runtime's channel; log scale."),
    Chart("echo", "Echo server: throughput and tail latency", [
        ("req_per_s", lines_panel("echo", "req_per_s", "conns", "echo: throughput", "concurrent connections",
                                  "req_per_s (requests/s, log)", absent=("rate",))),
        ("p99_us", lines_panel("echo", "p99_us", "conns", "echo: p99 latency", "concurrent connections",
                               "p99_us (µs, log)", absent=("rate",))),
    ], how="Closed loop (peak throughput), against concurrent client connections: requests per second "
           "(left, higher is better) and 99th-percentile latency (right, lower is better); log scales. "
           "The open loop at a fixed rate is in the section \"Echo: open loop at a fixed offered rate\"."),
    Chart("echo_load", "Echo: p99 latency against offered load (open loop)", echo_load_panels, size=None,
          expected=io_workloads.has_io, absent="no rate sweep in this run (echo/<runtime>/conns:C/rate:R "
                                              "entries: the full profile)",
          how="One panel per connection count: each runtime's open-loop p99 (log) against the throughput it "
              "achieved, one point per offered rate, in rate order; lower and further right is better. "
              "Where a curve turns up steeply is the knee (circled: the last rate sustained, achieved ≥ "
              f"{io_workloads.KNEE_ACHIEVED_FRACTION:g}× offered); past it requests queue. Hollow grey-edged "
              "markers: the generator fell behind its schedule there (INVALID, not a server figure). Dashed: "
              "a reference (the yardstick). Dotted: the machine's hiccup max, the floor under any tail."),
    Chart("decision_map", "Slow I/O decision map: which runtime wins, by upstream latency and concurrency", [
        ("req_per_s", decision_map_panel("req_per_s", "throughput winner (req/s)")),
        ("server_cpu", decision_map_panel("server_cpu_ns_per_req", "server CPU per request winner")),
    ], size=(15, 6), expected=io_workloads.has_io, absent="no slow_io entries in this run",
          how="Each cell is one upstream latency L (rows) and connection count N (columns): coloured by the "
              "runtime that served the most requests per second (left) or spent the least server CPU per "
              "request (right), with its margin over the runner-up. Grey hatched cells are ties: the "
              "runner-up's min–max range overlaps the winner's or the margin is below "
              f"{io_workloads.MAP_TIE_FACTOR:g}×; they name the runtimes inside the spread. ⚑: the client was "
              "near saturation, so the client set the rate. A reference (the Asio yardstick) never wins; a "
              "line names it where it would. 'n absent': runtimes that could not run the cell (the report's "
              "table says why)."),
    Chart("blocking_pitfall", "The blocking-call pitfall: timers' max lateness", [
        ("max", pitfall_panel)], size=(10, 4.5), expected=io_workloads.has_io,
          absent="no blocking_pitfall entries in this run",
          how="Lower is better: how late the 1 ms timers woke, at worst, while one task made a blocking call "
              "(block:read, block:hog), with the call inline (offload:no) and handed to a pool thread "
              "(offload:yes); log scale. A runtime whose timers share a thread with the blocking task shows "
              "the call's length without offload and far less with it."),
    Chart("idle_conns", "Idle connections: server CPU per active request, by reactor backend",
          [("server_cpu", idle_conns_panel)],
          how="Lower is better: the server CPU each request of the few active connections costs while N "
              "connections sit idle on the same loop (log scales). Bold: the backends of one loop (epoll solid, "
              "poll dashed, io_uring dash-dotted); light: the other runtimes. poll(2) hands the kernel every "
              "watched fd on every wait, so its cost per wait grows with N; epoll and io_uring are told once "
              "and wake only for the active fds, so their curves stay flat where poll's rises.",
          size=(10, 5), expected=reactor_backends.has_backends, absent="no idle_conns entries in this run"),
    Chart("echo_workers", "Echo across K workers: throughput by worker count", echo_workers_panels,
          size=None, absent="no echo_accept entries in this run; only runtimes of kind hybrid run it",
          how="One panel per connection count: requests per second (higher is better) as workers K grow; "
              "colour is the runtime, a solid line one SO_REUSEPORT socket per worker, a dashed line one "
              "shared socket (EPOLLEXCLUSIVE); the gain from K is bounded by the CPU count."),
    Chart("timer_fanout", "Timer fan-out: concurrent waiting", [
        ("total_ms", timer_total_panel),
        ("overhead", lines_panel("timer_fanout", "overhead_us_per_task", "tasks",
                                 "timer_fanout: overhead beyond the longest wait", "tasks",
                                 "overhead_us_per_task (µs)", fixed=("wait_ms",))),
    ], how="Left: time until every timer fired, against the longest wait (dashed) and the sum of the "
           "waits (dotted): near the dashed line the waits overlapped; task i waits wait_ms·(1+i%10)/10, "
           "so below 10 tasks the longest wait is under wait_ms. Right: overhead per task beyond the "
           "longest wait, which at small N is mostly a fixed cost divided by N (the report's table "
           "fits a + b·N)."),
    Chart("cpu_speedup", "CPU-bound work: speed-up", [
        ("speedup", speedup_panel),
        ("skynet", bars_panel("skynet", "speedup", None, "skynet: 10 roots vs 1", "speedup (×)",
                              group_fmt=None, logy=False, absent=("workers",))),
    ], how="Higher is better: throughput with N tasks over one task (left; dashed: the ideal min(tasks, "
           "CPUs), a one-core runtime stays at 1×) and skynet with 10 roots over 1 root (right)."),
    Chart("producer_consumer", "Producer/consumer channel throughput", [
        ("msgs_per_s", bars_panel("producer_consumer", "msgs_per_s", None, "producer_consumer: messages per second",
                                  "msgs_per_s (log)", group_fmt="{producers}P × {consumers}C")),
    ], size=(8, 4.5), how="Higher is better: messages per second through one channel for P producers "
                          "and C consumers; log scale."),
    Chart("bounded_fanout", "Bounded fan-out: K tasks at a time", [
        ("total_ms", lines_panel("bounded_fanout", "total_ms", "limit", "bounded_fanout: time to finish all tasks",
                                 "limit K (tasks at once)", "total_ms (ms, log)", fixed=("tasks",))),
    ], size=(7, 4.5), how="Lower is better: time to finish all tasks when at most K run at once."),
    Chart("lost_updates", "Unsynchronised shared counter: fraction of updates lost", [
        ("lost_fraction", bars_panel("lost_updates", "lost_fraction", None, "lost_updates: fraction lost",
                                     "lost_fraction (lost / attempted)", group_fmt=None, logy=False)),
    ], size=(9, 4.5), how="The fraction of increments lost when tasks update one shared counter without "
                          "a lock: 0 is correct, a bar above 0 is a race. Clusters without `await` "
                          "yield only between updates (a one-thread runtime loses nothing by "
                          "construction); `await:between` yields between the load and the store."),
]
OVERVIEW_HOW = "The first panel of every chart above, with one legend for all runtimes."


@dataclass
class RenderedChart:
    name: str
    title: str
    png: bytes
    svg: bytes
    notes: list = field(default_factory=list)   # panels not measured
    how: str = ""


def _figure(title, n, ncols, size, caption):
    nrows = (n + ncols - 1) // ncols
    fig = Figure(figsize=size, layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax in axes[n:]:
        ax.set_visible(False)
    fig.suptitle(title, fontsize=12, fontweight="bold")
    # Wrapped by hand: a caption wider than a narrow figure would be cut off.
    fig.supxlabel(textwrap.fill(caption, width=int(size[0] * 17)), fontsize=7, color="#444444")
    return fig, axes


def _encode(fig):
    out = []
    for fmt, meta in (("png", {}), ("svg", {"Date": None})):
        buf = io.BytesIO()
        fig.savefig(buf, format=fmt, dpi=110, metadata=meta)
        out.append(buf.getvalue())
    return out


def _legend_outside(axes):
    """One legend for the figure, right of the last panel, outside the data: every label once."""
    seen = {}
    for ax in axes:
        for h, label in zip(*ax.get_legend_handles_labels()):
            seen.setdefault(label, h)
    if seen:
        axes[-1].legend(seen.values(), seen.keys(), loc="upper left", bbox_to_anchor=(1.02, 1.0),
                        borderaxespad=0.0)


def render_all(results, extra=()):
    """(charts, skipped) of CHARTS and then `extra` (the charts of presentation entries)."""
    caption = machine_caption(results.context)
    charts, skipped, overview = [], [], []
    for chart in [*CHARTS, *extra]:
        panels = chart.panels(results) if callable(chart.panels) else chart.panels
        ready = [(label, draw) for label, draw in
                 ((label, prepare(results)) for label, prepare in panels) if draw]
        if not ready:
            # A limits file measures nothing else: its other charts are left out without a note.
            quiet = results.context.get("cobench_profile") == "limits" and not chart.limits
            if not quiet and (chart.expected is None or chart.expected(results)):
                skipped.append((chart.name, chart.title, chart.absent))
            continue
        notes = [f"{label}: not measured in this run" for label, prepare in panels
                 if label not in {lab for lab, _ in ready}]
        notes += [n for _, draw in ready for n in getattr(draw, "notes", [])]
        size = chart.size or (max(7.0, 4.5 * len(ready)), 4.5)
        size = (size[0] + 1.6, size[1])   # room for the legend beside the panels
        fig, axes = _figure(chart.title, len(ready), len(ready), size, caption)
        for ax, (_, draw) in zip(axes, ready):
            draw(ax)
        _legend_outside(axes[:len(ready)])
        charts.append(RenderedChart(chart.name, chart.title, *_encode(fig), notes, chart.how))
        overview.append(ready[0][1])
    if overview:
        # One slot more than panels: it holds the shared runtime legend (matplotlib
        # 3.6 cannot yet place a figure legend outside a constrained layout).
        n = len(overview) + 1
        ncols = min(3, n)
        rows = (n + ncols - 1) // ncols
        fig, axes = _figure("cobench overview", n, ncols, (4.6 * ncols, 3.6 * rows + 0.8), caption)
        for ax, draw in zip(axes, overview):
            draw(ax)
            ax.set_title(textwrap.fill(ax.get_title(), 36), fontsize=12, fontweight="bold")
        styles = Styles(results)
        handles = [Line2D([], [], color=styles.colour(rt), marker=styles.marker(rt), label=rt)
                   for rt in results.runtimes_in_run()]
        axes[n - 1].axis("off")
        axes[n - 1].legend(handles=handles, loc="center", title="runtime", fontsize=10)
        charts.append(RenderedChart("overview", "Overview", *_encode(fig), how=OVERVIEW_HOW))
    return charts, skipped
