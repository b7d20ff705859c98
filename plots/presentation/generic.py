"""The section any workload gets in the report's "Workloads" part, with what its presentation
entry adds: a heading, its parameters in a sentence (naming runtimes that ran other values), its
computed notes, then one table per result counter it reports (rows the runtimes, columns the
parameter combinations), and the CPU and context-switch table where the entry asks for it.

workload_section(doc, r, entry, level=3)
                                entry: the workload's Presentation (registry.entry(workload))
heading(doc, r, entry, level)   the heading, parameters sentence and notes alone (an entry's own
                                section starts with them)
params_sentence(r, workload)
"""

import tables
from tables import natural

# Params of sweep entries (worker counts, stack sizes, offered rates): their own sections show
# them, so the generic tables keep to each workload's default runs.
SWEEP_PARAMS = ("workers", "stack", "rate")
BETTER = {"lower": ", lower is better", "higher": ", higher is better"}


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
        every = sorted(set().union(*per_rt.values()), key=lambda v: natural(str(v)))
        text = f"{k} = {', '.join(map(str, every))}"
        odd = {rt: vs for rt, vs in per_rt.items() if vs != set(every)}
        if odd:
            text += " (" + "; ".join(f"{rt} only {', '.join(map(str, sorted(vs, key=lambda v: natural(str(v)))))}"
                                     for rt, vs in sorted(odd.items(), key=lambda kv: r.order_key(kv[0]))) + ")"
        parts.append(text)
    return f"`{workload}` ran at " + "; ".join(parts) + "."


def heading(doc, r, entry, level=3):
    doc.h(level, entry.workload)
    doc.p(params_sentence(r, entry.workload))
    doc.bullets(entry.notes(r, r.points(entry.workload)) if entry.notes else [])


def counter_heading(r, counter, points, prefix=""):
    """'**counter** (unit, direction; median (min–max), n = k):' above a counter's table."""
    info = r.counter(counter)
    return (f"{prefix}**{counter}** ({info.unit or 'no unit declared'}{BETTER.get(info.better, '')}; "
            f"median (min–max), {tables.n_summary(points, [counter])}):")


def workload_section(doc, r, entry, level=3):
    if entry.section and entry.section(doc, r, level):
        return
    workload = entry.workload
    heading(doc, r, entry, level)
    pts = r.points(workload)
    plain = [p for p in pts if not any(k in p.params for k in SWEEP_PARAMS)]
    if entry.intro:
        entry.intro(doc, r, plain)
    for counter in tables.result_counters(r, plain):
        if not entry.shows(counter):
            continue
        t = tables.counter_table(r, workload, counter, plain)
        if t is None:
            continue
        doc.p(counter_heading(r, counter, pts, entry.counter_prefix))
        doc.table(*t)
    if entry.rusage:
        t = tables.rusage_table(r, workload)
        if t:
            doc.p("CPU time and context switches per operation (the explanation of the numbers above: "
                  "system time and voluntary switches are kernel work; involuntary switches "
                  "measure preemption, load as much as code):")
            doc.table(*t)
    if entry.tables:
        entry.tables(doc, r)
