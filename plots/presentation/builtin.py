"""The presentation entries of the workloads this repository ships, in report order (ENTRIES), and
the notes and tables of their own that the entries point at. Subject modules hold the larger
pieces: capacity.py (walls, stack sizes, the worker sweep), io_workloads.py (echo's open loop, the
decision map, the pitfall), yardstick.py (our loop against Asio), io_thread_cpu.py (the pool's CPU
between requests), reactor_backends.py, pipeline.py.
"""

import dataclasses
import re

import capacity
import claims
import io_thread_cpu
import io_workloads
import pipeline
import reactor_backends
import tables
import yardstick
from cobench_results import count, fmt, held
from presentation.entry import HeadlineRow, Presentation
from presentation.generic import heading
from tables import NO_RATE, NO_STACK, NO_WORKERS, natural, params_text


# ---- caveats computed per workload ---------------------------------------------------------------

def _saturated_notes(r, pts):
    """Echo points where the client was near saturation: req_per_s there is the client's bound."""
    sat = [p for p in pts if p.counters.get("client_cpu_frac", 0) >= claims.CLIENT_SATURATED_FRAC]
    if not sat:
        return []
    return [f"The echo client was near saturation (client_cpu_frac ≥ {claims.CLIENT_SATURATED_FRAC:g}) at: "
            + ", ".join(f"{p.runtime} {params_text(p.params)} ({p.counters['client_cpu_frac']:.2f})" for p in sat)
            + ". There req_per_s is a bound set by the client, not the server's capacity."]


def _timer_notes(r, pts):
    longest = {}
    for p in pts:
        if "longest_wait_ms" in p.counters:
            longest.setdefault((p.params.get("tasks"), p.params.get("wait_ms")), p.counters["longest_wait_ms"])
    notes = ["Task i waits W·(1+i%10)/10 ms (W = wait_ms): the waits are spread between W/10 and "
             "W, so with fewer than 10 tasks the longest wait is below W"
             + (": " + ", ".join(f"tasks:{n} waits at most {fmt(v)} ms of wait_ms:{w}"
                                 for (n, w), v in sorted(longest.items(), key=lambda kv: natural(str(kv[0])))
                                 if isinstance(n, int) and n < 10) if longest else "") + "."]
    if overhead_fit(r):
        notes.append("overhead_us_per_task is (total_ms − longest wait) / N; fitted as total overhead "
                     "= a + b·N (least squares over the tasks values, numpy.polyfit), a fixed cost a "
                     "dominates at small N, so the per-task figure there is mostly a / N. Table "
                     "\"timer_fanout: fixed and per-task overhead\" below.")
    return notes


def _skynet_notes(r, pts):
    sizes = {p.runtime: p.params.get("leaves") for p in pts if not p.params.get("roots")}
    if len(set(sizes.values())) <= 1:
        return []
    return ["Tree sizes differ by runtime (each runs the largest tree it holds: "
            + ", ".join(f"{rt} leaves:{v}" for rt, v in sizes.items())
            + "): per-node costs compare like with like only at equal leaves."]


def _lost_updates_notes(r, pts):
    return ["Plain variant (no `await` param): every task yields only between one "
            "load-and-store and the next, never inside one, so a runtime that runs one task "
            "at a time on one thread loses nothing by construction. Variant "
            "`await:between`: the yield comes between the load and the store (read a value, "
            "await, write it back), where such a runtime can lose updates too."
            + ("" if any(p.params.get("await") for p in pts) else
               " This file has no `await:between` entries.")]


def _idle_memory_notes(r, pts):
    neg = [p for p in pts if p.counters.get("kernel_per_task", 0) < 0]
    if not neg:
        return []
    return ["kernel_per_task below 0 is measurement noise (the kernel's own counters move "
            "while the probe runs): " + ", ".join(f"{p.runtime} {params_text(p.params)}" for p in neg)
            + "; read it as 0."]


# ---- max_tasks -------------------------------------------------------------------------------------

def _count_is(label):
    """What a max_tasks count is, by what stopped it (tables.stop_kind)."""
    kind = tables.stop_kind(label)[0]
    if kind == tables.CAP:
        return "a cap of the harness: a lower bound, not what the machine holds"
    if kind in (tables.WALL, tables.BUDGET, tables.TIME, tables.ERROR):
        return tables.STOP_MEANING[kind]
    return "a spawn failed here: a limit of this system (its settings, not necessarily its memory)"


def _max_tasks_section(doc, r, level):
    """One row per entry: tasks held, what stopped it, what the count is."""
    heading(doc, r, MAX_TASKS, level)
    doc.table(["runtime", "max_tasks", "stopped because", "what the count is"],
              [[" ".join([p.runtime] + ([params_text(p.params)] if p.params else [])),
                held(p.counters["max_tasks"]), p.label or "no reason given", _count_is(p.label)]
               for p in r.points("max_tasks") if "max_tasks" in p.counters])
    return True


# ---- cpu_bound: speed-up against tasks:1 -----------------------------------------------------------

def _with_speedup(r, points):
    """cpu_bound points with a speedup counter, computed where the entry has none."""
    s = r.speedups()
    out = []
    for p in points:
        v = s.get(p.runtime, {}).get(p.params.get("tasks"))
        if "speedup" not in p.counters and v is not None:
            p = dataclasses.replace(p, counters={**p.counters, "speedup": v})
        out.append(p)
    return out


def _speedup_table(doc, r, plain):
    cells = {}
    for rt, by_n in r.speedups().items():
        for n, v in by_n.items():
            cells[(rt, f"tasks:{n}")] = f"{v:.2f}"
    if cells:
        cols = sorted({c for _, c in cells}, key=natural)
        doc.p("speedup (×, vs tasks:1 of the same runtime in the same run):")
        doc.table(["runtime"] + cols, [[rt] + [cells.get((rt, c), "–") for c in cols]
                                       for rt in sorted({rt for rt, _ in cells}, key=r.order_key)])


# ---- timer_fanout: fixed cost and per-task cost ------------------------------------------

def overhead_fit(r):
    """{runtime: (a µs fixed, b µs per task, points)} from overhead_us_per_task × N = a + b·N."""
    import numpy as np
    by = {}
    for p in r.points("timer_fanout"):
        n = p.params.get("tasks")
        if "overhead_us_per_task" in p.counters and isinstance(n, (int, float)) and n > 0:
            by.setdefault(p.runtime, []).append((n, p.counters["overhead_us_per_task"] * n))
    out = {}
    for rt, pts in by.items():
        if len({n for n, _ in pts}) >= 2:
            xs, ys = zip(*sorted(pts))
            b, a = np.polyfit(xs, ys, 1)
            out[rt] = (float(a), float(b), len(pts))
    return dict(sorted(out.items(), key=lambda kv: r.order_key(kv[0])))


def _fit_table(doc, r):
    fit = overhead_fit(r)
    if fit:
        doc.p("**timer_fanout: fixed and per-task overhead** (total overhead = a + b·N µs, fitted "
              "over the tasks values):")
        doc.table(["runtime", "fixed a (µs)", "per task b (µs)", "tasks values fitted"],
                  [[rt, fmt(a), fmt(b), str(k)] for rt, (a, b, k) in fit.items()])


# ---- echo: the closed loop here, the open loop in io_workloads ------------------------------------

# echo's open-loop counters: shown in the open loop's own table (io_workloads.open_table).
OPEN_LOOP = re.compile(r"^(open_|gen_|hiccup_|steal_frac$)")


def _echo_intro(doc, r, plain):
    if any(OPEN_LOOP.match(c) for p in plain for c in p.counters):
        doc.p("**Closed loop (peak throughput)** below: each connection sends when its reply came. The open "
              "loop at a fixed offered rate is in the section \"Echo: open loop at a fixed offered rate\".")


# ---- echo_accept: balance across workers, one worker stalled --------------------------------------

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
    cols = sorted({c for by_c in cells.values() for c in by_c}, key=lambda c: natural(str(c)))
    rows = sorted(cells, key=lambda k: (r.order_key(k[0]), k[1], natural(str(k[2]))))
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
            [[*k] + [count(rows[k].get(m, {}).get(c)) for c in counters for m in modes]
             for k in sorted(rows, key=lambda k: (r.order_key(k[0]), natural(str(k[1:]))))])


def _accept_tables(doc, r):
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


# ---- pipe_pong against the kernel's own benchmark ------------------------------------------------

def kernel_reference_rows(r):
    """pipe_pong vs perf bench sched pipe, same-core, for every runtime the kernel benchmark ran for."""
    rows = []
    for rt in r.runtimes():
        ours = r.value("pipe_pong", rt, "switch_ns", pin="same")
        kern = r.value("kernel_sched_pipe", rt, "switch_ns", pin="same")
        if ours is not None and kern is not None and kern > 0:
            rows.append([rt, fmt(ours), fmt(kern), f"{ours / kern:.2f}"])
    return rows


def kernel_reference_section(doc, r, level=2):
    doc.h(level, "Switch cost against the kernel's own scheduler benchmark")
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
    return True


# ---- the entries, in report order --------------------------------------------------------------------

MAX_TASKS = Presentation(
    "max_tasks", section=_max_tasks_section, held=True,
    headline=(HeadlineRow("most tasks held", "max_tasks", NO_STACK),),
    sections=(capacity.walls_section, capacity.stack_sizes_section))

ENTRIES = (
    Presentation("ping_pong", rusage=True, headline=(
        HeadlineRow("one-way hand-off, same core", "switch_ns", {"pin": "same"}),
        HeadlineRow("one-way hand-off, across cores", "switch_ns", {"pin": "cross"}))),
    Presentation("pipe_pong", rusage=True, headline=(
        HeadlineRow("hand-off through a pipe, same core", "switch_ns", {"pin": "same"}),)),
    Presentation("kernel_sched_pipe", sections=(kernel_reference_section,)),
    Presentation("yield_ring", rusage=True, headline=(HeadlineRow("yield", "switch_ns"),)),
    Presentation("spawn", headline=(HeadlineRow("create + join, per task", "spawn_ns"),)),
    Presentation("skynet", notes=_skynet_notes, headline=(
        HeadlineRow("spawn tree, per node", "spawn_ns", {"roots": None, **NO_WORKERS}, "own"),
        HeadlineRow("spawn tree speed-up, 10 roots", "speedup", {"roots": 10, **NO_WORKERS}, "own"))),
    Presentation("idle_memory", notes=_idle_memory_notes, headline=(
        HeadlineRow("memory per idle task (PSS)", "pss_per_task", NO_STACK, "own"),
        HeadlineRow("kernel memory per idle task", "kernel_per_task", NO_STACK, "own"))),
    MAX_TASKS,
    Presentation("cpu_bound", intro=_speedup_table, hidden=lambda c: c == "speedup", fold=_with_speedup,
                 headline=(HeadlineRow("CPU-bound speed-up", "speedup", NO_WORKERS, "cpus"),),
                 sections=(capacity.worker_sweep_section,)),
    Presentation("timer_fanout", notes=_timer_notes, tables=_fit_table),
    Presentation("echo", notes=_saturated_notes, intro=_echo_intro, hidden=OPEN_LOOP.match,
                 counter_prefix="closed loop (peak throughput): ", rusage=True, headline=(
                     HeadlineRow("echo throughput, fewest connections", "req_per_s", NO_RATE, "fewest"),
                     HeadlineRow("echo throughput, most connections", "req_per_s", NO_RATE),
                     HeadlineRow("echo p99 latency, most connections", "p99_us", NO_RATE),
                     HeadlineRow("echo server CPU per request, most connections", "server_cpu_ns_per_req",
                                 NO_RATE)),
                 sections=(io_workloads.echo_open_section, yardstick.section, io_workloads.load_section,
                           io_thread_cpu.io_thread_section)),
    Presentation("echo_accept", notes=_saturated_notes, tables=_accept_tables),
    Presentation("slow_io", section=io_workloads.slow_io_tables, sections=(io_workloads.slow_io_section,)),
    Presentation("blocking_pitfall", sections=(io_workloads.pitfall_section,)),
    Presentation("idle_conns", sections=(reactor_backends.backends_section,)),
    Presentation("producer_consumer", headline=(HeadlineRow("channel throughput", "msgs_per_s"),)),
    Presentation("pipeline", section=pipeline.pipeline_section),
    Presentation("bounded_fanout"),
    Presentation("lost_updates", notes=_lost_updates_notes, headline=(
        HeadlineRow("updates lost (no await inside the update)", "lost_fraction", {"await": None}),
        HeadlineRow("updates lost (an await between load and store)", "lost_fraction", {"await": "between"}))),
)
