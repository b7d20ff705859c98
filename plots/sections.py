"""Report sections for issue #11's measurements: walls (most tasks held and what stopped each
runtime), stack sizes, the worker-count sweep and the generator pipeline.

Each is a function `xxx_section(doc, results, level=2)` that adds its blocks to a report.Doc and
returns True, or adds nothing and returns False when the file has no data for it (a limits-only
file has only max_tasks entries; an older file has none of these). Every sentence is computed
from the numbers. report.build_report calls them.
"""

import tables
from cobench_results import fmt


def walls_section(doc, r, level=2):
    """Most tasks held per runtime, by what stopped it (wall, budget, cap, time, error), with the
    memory per held task. Only for files whose labels name their kind (the limits era): an older
    file's max_tasks table (report.py) already says cap or failed spawn."""
    if not tables.has_new_stops(r):
        return False
    t = tables.walls_table(r)
    if t is None:
        return False
    doc.h(level, "Walls: most tasks held and what stopped each runtime")
    profile = r.context.get("cobench_profile")
    doc.p("Each runtime held more and more idle tasks, in groups growing geometrically, until "
          "something said no: the machine (a **wall**: a spawn refused, naming the sysctl or rlimit), "
          "the memory budget (checked before each step, so the run never drives the machine into "
          "swap), the profile's cap, or the time limit per group."
          + (" This is a limits run: no profile cap applies." if profile == "limits" else
             f" Profile {profile or 'unknown'}: a count stopped by its cap is a lower bound; "
             "`cobench --profile limits` pushes every runtime to a wall or the budget."))
    sentence = tables.walls_sentence(r)
    if sentence:
        doc.p(sentence)
    doc.table(*t)
    st = tables.stops(r, stacks=True)
    if st:
        doc.p("The same probe per stack size is in the section on stack sizes.")
    return True


def stack_sizes_section(doc, r, level=2):
    """Memory per idle task and most tasks held against the stack size (runtimes with
    sized_stacks), one row per runtime × guard page."""
    parts = [("idle_memory", "pss_per_task", "bytes/task", "PSS per idle task"),
             ("idle_memory", "kernel_per_task", "bytes/task", "kernel memory per idle task"),
             ("idle_memory", "rss_per_task", "bytes/task", "RSS per idle task"),
             ("max_tasks", "max_tasks", None, "most tasks held (what stopped it in parentheses)")]
    made = [(what, t) for workload, counter, unit, what in parts
            if (t := tables.stack_table(r, workload, counter, unit)) is not None]
    if not made:
        return False
    doc.h(level, "Stack size")
    sized = r.runtimes_where(sized_stacks=True)
    doc.p("The runtimes that take a stack size"
          + (f" ({', '.join(sized)})" if sized else "")
          + " ran idle tasks with each stack size, with a guard page below the stack (guard:yes: an "
            "overflow faults and is reported) or without (guard:no). Memory per idle task is what "
            "the tasks touched and the kernel holds for them, not the size reserved.")
    for what, (header, rows) in made:
        doc.p(f"**{what}**:")
        doc.table(header, rows)
    growth = _stack_growth(r)
    if growth:
        doc.bullets(growth)
    return True


def _stack_growth(r):
    """Per line, how memory per idle task changes from the smallest to the largest stack size."""
    out = []
    for (rt, guard), pts in tables.stack_lines(r, "idle_memory", "pss_per_task").items():
        if len(pts) >= 2 and pts[0][1] > 0:
            (x0, y0, _), (x1, y1, _) = pts[0], pts[-1]
            out.append(f"{rt}, guard:{guard}: PSS per idle task {fmt(y0)} B at {tables.size_text(x0)}, "
                       f"{fmt(y1)} B at {tables.size_text(x1)}: {fmt(y1 / y0)}× the memory for a stack "
                       f"{fmt(x1 / x0)}× as large")
    return out


def worker_sweep_section(doc, r, level=2):
    """Speed-up against workers K for cpu_bound and skynet, the ideal min(K, CPUs) beside it."""
    made = [(w, t) for w in ("cpu_bound", "skynet") if (t := tables.worker_table(r, w)) is not None]
    if not made:
        return False
    doc.h(level, "Worker-count sweep")
    cpus = r.worker_cpus()
    sized = r.runtimes_where(sized_workers=True)
    doc.p("The same work with K workers, K from 1 up to the CPU count, then 2× and 4× "
          "oversubscribed; each speed-up is that runtime's time at K = 1 over its time at K"
          + (f" (runtimes with sized_workers: {', '.join(sized)})" if sized else "") + ". "
          + (f"This machine has {cpus} CPUs, so the ideal is min(K, {cpus})"
             + (": on so few CPUs the curve is short, and the same command on a larger machine gives "
                "the full curve." if cpus <= 2 else ".") if cpus else
             "The CPU count is unknown, so no ideal is given."))
    for workload, (header, rows, notes) in made:
        doc.p(f"**{workload}** (speed-up ×, vs K = 1):")
        doc.table(header, rows, notes + _best_lines(r, workload))
    return True


def _best_lines(r, workload):
    """Where each curve peaks, and how far that is from the ideal."""
    w = tables.worker_curves(r, workload)
    out = []
    for label, pts in w["curves"].items():
        k, s = max(pts, key=lambda t: t[1])
        line = f"{label}: best {s:.2f}× at K = {k}"
        if w["cpus"]:
            line += f", {s / min(k, w['cpus']):.0%} of the ideal {min(k, w['cpus'])}×"
        out.append(line)
    return out


def pipeline_section(doc, r, level=2):
    """ns per item handed from producer to consumer, by generator and by channel, per runtime;
    report.py's generic workload tables are replaced by this one."""
    t = tables.pipeline_table(r)
    if t is None:
        return False
    doc.h(level, "pipeline")
    doc.p("A consumer pulls items from a producer. via:generator: the producer is a C++20 generator "
          "(co_yield), resumed by the consumer in the same task, no scheduler involved. via:channel: "
          "a producer task and a consumer task hand items through the runtime's own channel.")
    sentence = tables.pipeline_sentence(r)
    if sentence:
        doc.p(sentence)
    doc.table(*t, ["Each runtime at the largest items value it measured each way (the two ways are sized "
                   "apart: a hand-off costs nanoseconds to microseconds; the cost per item does not depend "
                   "on the count); channel / generator is how many times the generator's cost per item "
                   "the channel's is."])
    return True


SECTIONS = (walls_section, stack_sizes_section, worker_sweep_section, pipeline_section)
