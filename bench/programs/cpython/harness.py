"""Plans and measures the CPython entries: the runtime x workload product of
a profile (entries, and the declared pairs with their reasons), and one
entry's runs as rows shaped like the C++ suite's Google Benchmark entries.

A repetition starts the runtime (untimed: a pool's workers, an asyncio
Runner), then repeats runs until MIN_TIME of them, or MAX_WALL of its own
wall time, has passed (one run in the test profile, or the workload's fixed
iterations). A run: the workload's state built, rt.run() timed as
wall-clock, then verify(). No warm-up run: the quick profile's budget is
spent on runs. A row's real_time is the timed wall-clock per run; its
cpu_time and cpu_*_per_op counters are this process's and its children's
CPU over the whole repetition, the runtime's start, states and verify
included (as bench/families.cpp counts them).
"""

import json
import os
import platform
import re
import resource
import signal
import subprocess
import sys
import time
from collections import defaultdict

import workloads

MIN_TIME = {"test": 0.0, "quick": 0.05, "full": 0.5}
# Runs of a few microseconds repeat thousands of times to fill MIN_TIME;
# their states (a pool of queues, shared memory) cost more than the runs.
MAX_WALL = {"test": 0.0, "quick": 0.25, "full": 2.5}
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
    # The run conditions every row records (other_load below), as the C++ rows declare them.
    "other_load_frac": {"unit": "fraction", "better": "none"},
    "steal_frac": {"unit": "fraction", "better": "none"},
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
                why = info if not ok else unsupported(w, rt, p)
                if why:
                    declared.append({"workload": w.NAME, "runtime": rt.name, "params": p.label(), "reason": why})
                else:
                    entries.append((w, rt, p))
    return entries, declared


def unsupported(w, rt, p):
    return w.unsupported(rt, p) if hasattr(w, "unsupported") else ""


def tasks(w, p):
    return w.tasks(p) if hasattr(w, "tasks") else p.tasks


class Measurement:
    def __init__(self):
        self.seconds, self.iterations, self.sums = 0.0, 0, defaultdict(float)
        self.load = {}

    def per_iteration(self):
        return self.seconds / self.iterations if self.iterations else 0.0


def run_once(w, rt, p, m):
    """One timed run; "" or what verify() found wrong."""
    s = w.State(p, rt) if hasattr(w, "State") else None
    body_of = w.atask if rt.is_async else w.task
    hook = w.parked(s) if hasattr(w, "parked") else None
    t0 = time.perf_counter()
    res = rt.run(tasks(w, p), lambda i: body_of(rt, s, i, p), hook)
    secs = time.perf_counter() - t0
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


def machine_cpu():
    """(busy s, steal s) of every CPU from /proc/stat, or None where it cannot be read."""
    try:
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:9]]
    except (OSError, ValueError):
        return None
    if len(v) < 8:
        return None
    tick = os.sysconf("SC_CLK_TCK")
    user, nice, system, _idle, _iowait, _irq, _softirq, steal = v
    # Not irq or softirq, as the C++ side (bench/other_load.hpp): the kernel charges a
    # run's own loopback traffic there, not to its processes.
    return (user + nice + system) / tick, steal / tick


# Two ticks of /proc/stat's rounding are forgiven, as the C++ side does
# (bench/other_load.hpp): a short repetition on a quiet machine reads 0.
MACHINE_TICKS_MARGIN = 2


def other_load(m0, m1, own_s, wall_s):
    """{other_load_frac, steal_frac} of one repetition: the CPU the rest of the machine used
    (every CPU's busy time less this process tree's) and steal, as fractions of wall × CPUs."""
    if m0 is None or m1 is None or wall_s <= 0:
        return {}
    cap = wall_s * (os.cpu_count() or 1)
    margin = MACHINE_TICKS_MARGIN / os.sysconf("SC_CLK_TCK")
    other = max(0.0, (m1[0] - m0[0]) - own_s - margin)
    return {"other_load_frac": min(1.0, other / cap), "steal_frac": min(1.0, (m1[1] - m0[1]) / cap)}


class EntryTimeout(Exception):
    pass


def _alarm(signum, frame):
    raise EntryTimeout(f"no result within {ENTRY_TIMEOUT_S} s")


def measure(w, rt, p, profile, min_time):
    """(Measurement, usage delta, "" or the error) of one repetition; m.load holds the other
    load beside it."""
    m = Measurement()
    u0, wall0, mc0 = usage(), time.perf_counter(), machine_cpu()
    fixed = w.iterations(p) if hasattr(w, "iterations") else (1 if profile == "test" else None)
    rt.start()
    try:
        while True:
            error = run_once(w, rt, p, m)
            if error:
                return m, None, error
            enough = m.seconds >= min_time or time.perf_counter() - wall0 >= MAX_WALL[profile]
            if (fixed and m.iterations >= fixed) or (not fixed and enough):
                u = [b - a for a, b in zip(u0, usage())]
                m.load = other_load(mc0, machine_cpu(), u[0] + u[1], time.perf_counter() - wall0)
                return m, u, ""
    finally:
        rt.stop()


def rows(w, rt, p, profile, repetitions):
    """The entry's rows, one a repetition, or one error row where a run failed."""
    if getattr(w, "FRESH_PROCESS", False) and not os.environ.get(FRESH_ENV):
        yield from fresh_rows(w, rt, p, profile, repetitions)
        return
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
                yield error_row(name, error)
                return
            ops = m.iterations * w.ops(p)
            row = {"name": name, "run_name": name, "run_type": "iteration", "repetition_index": rep,
                   "repetitions": repetitions, "iterations": m.iterations, "real_time": m.per_iteration() * 1e3,
                   "cpu_time": (u[0] + u[1]) / m.iterations * 1e3, "time_unit": "ms", "reference": True,
                   "label": label, "ops": ops}
            row.update(w.report(p, m))
            row.update({"cpu_user_ns_per_op": u[0] * 1e9 / ops, "cpu_sys_ns_per_op": u[1] * 1e9 / ops,
                        "vcsw_per_op": u[2] / ops, "ivcsw_per_op": u[3] / ops})
            if rt.workers:
                row["workers"] = rt.workers
            row.update(m.load)
            yield row
    finally:
        signal.alarm(0)
        if pinned:
            os.sched_setaffinity(0, old_cpus)


def error_row(name, error):
    return {"name": name, "run_name": name, "run_type": "iteration", "reference": True, "error_occurred": True,
            "error_message": f"CPython yardstick: {error}"}


# A workload with FRESH_PROCESS (idle_memory) runs each repetition in a new
# interpreter: memory that earlier runs freed stays in CPython's allocator and
# would be handed to the parked tasks, hiding them from the delta.
FRESH_ENV = "COBENCH_PY_FRESH"


def fresh_rows(w, rt, p, profile, repetitions):
    name = entry_name(w, rt, p)
    for rep in range(repetitions):
        r = subprocess.run([sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)), "cobench_py.py"),
                            "run", "--profile", profile, "--runtimes", rt.name, "--filter", f"^{re.escape(name)}$",
                            "--in-process"], env={**os.environ, FRESH_ENV: "1"}, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=ENTRY_TIMEOUT_S)
        lines = [json.loads(x) for x in r.stdout.splitlines() if x.strip()]
        if len(lines) != 1:
            yield error_row(name, f"its process gave {len(lines)} rows, exit status {r.returncode}: "
                                  f"{r.stderr.strip()[-300:]}")
            return
        row = lines[0]
        if row.get("error_occurred"):
            yield row
            return
        row.update(repetition_index=rep, repetitions=repetitions)
        yield row


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
            out.write(json_line(error_row(entry_name(w, r, p), e)))
            out.flush()
            print(f"cobench_py: {entry_name(w, r, p)}: {e}; its tasks may still hold the process: stopping",
                  file=sys.stderr)
            os._exit(1)
        print(f"cobench_py: {entry_name(w, r, p)}: {status} ({time.perf_counter() - t:.2f} s)", file=sys.stderr)
    print(f"cobench_py: {rt.name}: {len(entries)} entries in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    return ok


def json_line(obj):
    return json.dumps(obj, separators=(",", ":")) + "\n"


def name_filter(pattern):
    """re.search on the entry name; raises re.error on a bad pattern."""
    rx = re.compile(pattern) if pattern else None
    return (lambda name: bool(rx.search(name))) if rx else (lambda name: True)
