"""Plans and measures the CPython entries: the runtime x workload product of
a profile (entries, and the declared pairs with their reasons), and one
entry's runs as rows shaped like the C++ suite's Google Benchmark entries.

A run: the workload's state built, the runtime started (untimed), then
rt.run() timed as wall-clock, then verify(). An entry repeats runs until
MIN_TIME of them (one run in the test profile, or the workload's fixed
iterations). No warm-up run: the quick profile's budget is spent on runs.
"""

import os
import platform
import re
import resource
import signal
import sys
import time
from collections import defaultdict

import runtimes
import workloads

MIN_TIME = {"test": 0.0, "quick": 0.1, "full": 0.5}
ENTRY_TIMEOUT_S = 300  # a run that deadlocks ends as an error, not a hung suite


def canonical(profile):
    return "quick" if profile == "ci" else profile


def tick_ns():
    return 1e9 / os.sysconf("SC_CLK_TCK")


# The harness's own counters, as bench/families.cpp declares them.
HARNESS_COUNTERS = {
    "ops": {"unit": "ops", "better": "none"},
    "cpu_user_ns_per_op": {"unit": "ns/op", "better": "lower", "quantum": tick_ns(), "per": "ops"},
    "cpu_sys_ns_per_op": {"unit": "ns/op", "better": "lower", "quantum": tick_ns(), "per": "ops"},
    "vcsw_per_op": {"unit": "switches/op", "better": "lower", "quantum": 1, "per": "ops"},
    "ivcsw_per_op": {"unit": "switches/op", "better": "lower", "quantum": 1, "per": "ops"},
    "workers": {"unit": "workers", "better": "none"},
}


def counters_meta():
    out = {}
    for w in workloads.ALL:
        for name, (unit, better) in w.COUNTERS.items():
            out[name] = {"unit": unit, "better": better}
    out.update(HARNESS_COUNTERS)
    return out


def entry_name(w, rt, p):
    return f"{w.NAME}/{rt.name}/{p.label()}"


def plan(profile, rts, selects=lambda name: True):
    """(entries, declared): entries are (workload, runtime, params)."""
    entries, declared = [], []
    if profile == "limits":  # the C++ limits profile probes capacity only: no workload pairs
        return entries, declared
    for rt in rts:
        ok, info = rt.available()
        for w in workloads.ALL:
            for p in w.sizes(canonical(profile), rt):
                if not selects(entry_name(w, rt, p)):
                    continue
                why = info if not ok else w.unsupported(rt, p)
                if why:
                    declared.append({"workload": w.NAME, "runtime": rt.name, "params": p.label(), "reason": why})
                else:
                    entries.append((w, rt, p))
    return entries, declared


class Measurement:
    def __init__(self):
        self.seconds, self.iterations, self.sums = 0.0, 0, defaultdict(float)

    def per_iteration(self):
        return self.seconds / self.iterations if self.iterations else 0.0


def run_once(w, rt, p, m):
    """One timed run; "" or what verify() found wrong."""
    s = w.State(p, rt) if hasattr(w, "State") else None
    body_of = w.atask if rt.is_async else w.task
    hook = w.parked(s) if hasattr(w, "parked") else None
    rt.start()
    try:
        t0 = time.perf_counter()
        res = rt.run(w.tasks(p), lambda i: body_of(rt, s, i, p), hook)
        secs = time.perf_counter() - t0
    finally:
        rt.stop()
    error = w.verify(s, p, res)
    if not error:
        m.seconds += secs
        m.iterations += 1
        if hasattr(w, "collect"):
            w.collect(s, p, res, m)
    return error


def usage():
    """user s, sys s, voluntary and involuntary switches: this process and its reaped children."""
    a, b = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return (a.ru_utime + b.ru_utime, a.ru_stime + b.ru_stime, a.ru_nvcsw + b.ru_nvcsw, a.ru_nivcsw + b.ru_nivcsw)


class EntryTimeout(Exception):
    pass


def _alarm(signum, frame):
    raise EntryTimeout(f"no result within {ENTRY_TIMEOUT_S} s")


def measure(w, rt, p, profile, min_time):
    """(Measurement, usage delta, "" or the error) of one repetition."""
    m = Measurement()
    u0 = usage()
    fixed = w.iterations(p) if hasattr(w, "iterations") else (1 if profile == "test" else None)
    while True:
        error = run_once(w, rt, p, m)
        if error:
            return m, None, error
        if (fixed and m.iterations >= fixed) or (not fixed and m.seconds >= min_time):
            return m, [b - a for a, b in zip(u0, usage())], ""


def rows(w, rt, p, profile, repetitions):
    """The entry's rows, one a repetition, or one error row where a run failed."""
    name = entry_name(w, rt, p)
    label = f"{rt.label}; CPython {platform.python_version()} (yardstick)"
    old_cpus = os.sched_getaffinity(0)
    pinned = w.pinned(p) if hasattr(w, "pinned") else None
    signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(ENTRY_TIMEOUT_S)
    try:
        if pinned:
            os.sched_setaffinity(0, pinned)  # threads, processes and pools started from here inherit it
        for rep in range(repetitions):
            try:
                m, u, error = measure(w, rt, p, canonical(profile), MIN_TIME[canonical(profile)])
            except EntryTimeout:
                raise
            except Exception as e:  # a run that raised is an error entry, never a number
                error = f"{type(e).__name__}: {e}"
            if error:
                yield {"name": name, "run_name": name, "run_type": "iteration", "reference": True,
                       "error_occurred": True, "error_message": f"CPython yardstick: {error}"}
                return
            ops = m.iterations * w.ops(p)
            per_it = m.per_iteration()
            row = {"name": name, "run_name": name, "run_type": "iteration", "repetition_index": rep,
                   "repetitions": repetitions, "iterations": m.iterations, "real_time": per_it * 1e3,
                   "cpu_time": (u[0] + u[1]) / m.iterations * 1e3, "time_unit": "ms", "reference": True,
                   "label": label, "ops": ops}
            row.update(w.report(p, m))
            row.update({"cpu_user_ns_per_op": u[0] * 1e9 / ops, "cpu_sys_ns_per_op": u[1] * 1e9 / ops,
                        "vcsw_per_op": u[2] / ops, "ivcsw_per_op": u[3] / ops})
            if rt.workers:
                row["workers"] = rt.workers
            yield row
    finally:
        signal.alarm(0)
        if pinned:
            os.sched_setaffinity(0, old_cpus)


def run_runtime(rt, profile, selects, repetitions, out=sys.stdout):
    """Every selected entry of one runtime, in this process; True if all succeeded."""
    entries, _ = plan(profile, [rt], selects)
    ok, t0 = True, time.perf_counter()
    for w, r, p in entries:
        t = time.perf_counter()
        try:
            for row in rows(w, r, p, profile, repetitions):
                out.write(json_line(row))
                out.flush()
                ok = ok and not row.get("error_occurred")
                status = row.get("error_message", "ok")
        except EntryTimeout as e:
            out.write(json_line({"name": entry_name(w, r, p), "run_name": entry_name(w, r, p),
                                 "run_type": "iteration", "reference": True, "error_occurred": True,
                                 "error_message": f"CPython yardstick: {e}"}))
            out.flush()
            print(f"cobench_py: {entry_name(w, r, p)}: {e}; its tasks may still hold the process: stopping",
                  file=sys.stderr)
            os._exit(1)
        print(f"cobench_py: {entry_name(w, r, p)}: {status} ({time.perf_counter() - t:.2f} s)", file=sys.stderr)
    print(f"cobench_py: {rt.name}: {len(entries)} entries in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    return ok


def json_line(obj):
    import json
    return json.dumps(obj, separators=(",", ":")) + "\n"


def name_filter(pattern):
    """re.search on the entry name; raises re.error on a bad pattern."""
    rx = re.compile(pattern) if pattern else None
    return (lambda name: bool(rx.search(name))) if rx else (lambda name: True)
