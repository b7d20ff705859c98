"""Entries measured beside other work, left out on load so that no verdict, chart or table rests
on them (every consumer reads Results.entries and its views); they stay listed in
Results.loaded, and Results.lost_to_load() tells a table which cell lost repetitions.

cobench records for every entry (bench/other_load.hpp) the CPU time the rest of the machine
used while it ran, less the run's own process tree, as `other_load_frac` of wall time x CPUs,
with `steal_frac` beside it. Files without the counter (older ones) load as before.
"""

OTHER_LOAD = "other_load_frac"
STEAL = "steal_frac"

# A tenth of the machine: a fifth of a CPU on 2 CPUs. More than an idle VM's own scheduler
# noise, and enough to move a timing that shares a core by several percent, so an entry
# measured beside that much other work is not a measurement of the runtime alone.
# (bench/other_load.hpp's other_load_threshold, what --quiet-wait waits for, is the same.)
LOADED_THRESHOLD = 0.10

LOADED_RULE = (f"an entry (one repetition) during which the rest of the machine used more than "
               f"{LOADED_THRESHOLD:.0%} of its CPU time ({OTHER_LOAD}: other processes' CPU, less this "
               f"run's own processes, over wall time x CPUs) was measured beside other work; it is left "
               f"out of every median, chart, table and verdict, and listed here")


def _loaded_value(entry):
    v = entry.counters.get(OTHER_LOAD)
    return v if v is not None and v > LOADED_THRESHOLD else None


def split(entries):
    """(kept, loaded): iteration entries over the threshold go to loaded, and with them the
    aggregates of their run (computed over the loaded repetition too). A run known only from
    aggregates is loaded when its median (else mean) aggregate is over the threshold."""
    loaded_runs = set()
    for e in entries:
        if e.run_type == "iteration" and _loaded_value(e) is not None:
            loaded_runs.add(e.run_name)
    with_iterations = {e.run_name for e in entries if e.run_type == "iteration"}
    for e in entries:
        if (e.run_type == "aggregate" and e.run_name not in with_iterations
                and e.aggregate in ("median", "mean") and _loaded_value(e) is not None):
            loaded_runs.add(e.run_name)
    kept, loaded = [], []
    for e in entries:
        if e.run_name in loaded_runs and (e.run_type == "aggregate" or _loaded_value(e) is not None):
            loaded.append(e)
        else:
            kept.append(e)
    return kept, loaded


def judged(loaded):
    """The entries that were judged loaded: every loaded repetition, and for a run known only
    from aggregates, its median (else mean) aggregate (its other aggregates went with it)."""
    iters = {e.run_name for e in loaded if e.run_type == "iteration"}
    return [e for e in loaded if e.run_type == "iteration"
            or (e.run_name not in iters and e.aggregate in ("median", "mean"))]


def lost(loaded, workload, runtime, params=None):
    """The judged loaded entries of a (workload, runtime[, params])."""
    return [e for e in judged(loaded) if e.workload == workload and e.runtime == runtime
            and (params is None or e.params == params)]


def rows(loaded):
    """[benchmark, repetition, other load, steal] for the report's list, one row per entry."""
    out = []
    for e in judged(loaded):
        rep = "aggregate" if e.run_type == "aggregate" else ("–" if e.repetition is None else str(e.repetition))
        steal = e.counters.get(STEAL)
        out.append([e.run_name, rep, f"{e.counters[OTHER_LOAD]:.0%}", "–" if steal is None else f"{steal:.1%}"])
    return out


def summary(entries, loaded):
    """One line on other load in this run, or None when no entry carries the counter."""
    values = [e.counters[OTHER_LOAD] for e in list(entries) + list(loaded)
              if e.run_type == "iteration" and OTHER_LOAD in e.counters]
    if not values:
        return None
    steal = [e.counters[STEAL] for e in list(entries) + list(loaded)
             if e.run_type == "iteration" and STEAL in e.counters]
    n = len(judged(loaded))
    return (f"Other load: the largest share of the machine other work used while an entry ran was "
            f"{max(values):.0%}" + (f", the largest steal {max(steal):.1%}" if steal else "")
            + f". {n} of {len(values)} repetition(s) ran beside more than {LOADED_THRESHOLD:.0%} and "
            f"were left out" + (" (listed under Problems in this run)." if n else "."))
