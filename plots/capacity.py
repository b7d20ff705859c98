"""Report sections on what a machine holds and how work scales: walls (most tasks held and what
stopped each runtime), stack sizes (memory per idle task and tasks held against the stack size)
and the worker-count sweep.

Each is a function `xxx_section(doc, results, level=2)` that adds its blocks to a doc.Doc and
returns True, or adds nothing and returns False when the file has no data for it (a limits-only
file has only max_tasks entries; an older file has none of these). Every sentence is computed
from the numbers. The presentation entries of max_tasks and cpu_bound list them (presentation/).
"""

import tables
from cobench_results import VERDICT_MIN_N, fmt, not_judged, thin


def walls_section(doc, r, level=2):
    """Most tasks held per runtime, by what stopped it (wall, budget, cap, time, error), with the
    memory per held task. Only for files whose labels name their kind (the limits era): an older
    file's max_tasks table (its workload section) already says cap or failed spawn."""
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
    # (workload, counter, unit, what, options of tables.stack_table)
    parts = [("idle_memory", "pss_per_task", "bytes/task", "PSS per idle task", {"per_tasks": True}),
             ("idle_memory", "kernel_per_task", "bytes/task", "kernel memory per idle task", {"per_tasks": True}),
             ("idle_memory", "rss_per_task", "bytes/task", "RSS per idle task", {"per_tasks": True}),
             ("max_tasks", "max_tasks", None, "most tasks held (what stopped it in parentheses)", {"stops": True})]
    made = [(what, t) for workload, counter, unit, what, options in parts
            if (t := tables.stack_table(r, workload, counter, unit, **options)) is not None]
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
    for (rt, guard), pts in tables.stack_lines(r, "idle_memory", "pss_per_task", per_tasks=True).items():
        if len(pts) >= 2 and pts[0][1] > 0:
            (x0, y0, _), (x1, y1, _) = pts[0], pts[-1]
            out.append(f"{rt}, guard:{guard}: PSS per idle task {fmt(y0)} B at {tables.size_text(x0)}, "
                       f"{fmt(y1)} B at {tables.size_text(x1)}: {fmt(y1 / y0)}× the memory for a stack "
                       f"{fmt(x1 / x0)}× as large")
    return out


def worker_sweep_section(doc, r, level=2):
    """Speed-up against workers K for cpu_bound and skynet, the ideal min(K, CPUs) beside it."""
    # (workload, whether its tasks param is its parallelism: tables.worker_curves)
    swept = (("cpu_bound", True), ("skynet", False))
    made = [(w, task_workers, t) for w, task_workers in swept
            if (t := tables.worker_table(r, w, task_workers)) is not None]
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
    for workload, task_workers, (header, rows, notes) in made:
        doc.p(f"**{workload}** (speed-up ×, vs K = 1):")
        doc.table(header, rows, notes + _best_lines(r, workload, task_workers))
    return True


# Below this fraction of its speed-up at K = CPUs, a curve is said to lose when oversubscribed.
OVERSUBSCRIBED_LOSS = 0.9


def _oversubscribed(pts, cpus):
    """'; oversubscribed (K = 8) it keeps 74% of its K = 2 speed-up' where the curve falls by
    more than OVERSUBSCRIBED_LOSS from K = CPUs to its largest K; '' otherwise. Workers beyond the
    CPUs share cores: a task woken by another worker waits until its own worker's OS thread runs."""
    at = dict(pts)
    top = max(at)
    if cpus not in at or top <= cpus or at[cpus] <= 0 or at[top] >= OVERSUBSCRIBED_LOSS * at[cpus]:
        return ""
    return f"; oversubscribed (K = {top}) it keeps {at[top] / at[cpus]:.0%} of its K = {cpus} speed-up"


def _best_lines(r, workload, task_workers):
    """Where each curve peaks, and how far that is from the ideal; a curve whose points have fewer
    than VERDICT_MIN_N repetitions is not judged against the ideal (its numbers are still given)."""
    w = tables.worker_curves(r, workload, task_workers)
    out = []
    for label, pts in w["curves"].items():
        k, s = max(pts, key=lambda t: t[1])
        line = f"best {s:.2f}× at K = {k}"
        if w["cpus"]:
            line += f", {s / min(k, w['cpus']):.0%} of the ideal {min(k, w['cpus'])}×"
            line += _oversubscribed(pts, w["cpus"])
        n = w["n"].get(label)
        out.append(f"{label}: {not_judged(n)} (from these numbers: {line}; not a verdict)" if thin(n)
                   else f"{label}: {line}")
    if any(thin(n) for n in w["n"].values()):
        out.append(f"not judged: n = k: a curve whose points have fewer than {VERDICT_MIN_N} repetitions is "
                   "not judged against the ideal (cobench_results.verdict_n).")
    return out
