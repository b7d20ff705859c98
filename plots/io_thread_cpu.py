"""Report section: where the CPU of a runtime with an I/O thread of its own goes between requests
(echo's open loop against its closed loop, and the I/O thread's share).

A runtime whose entries carry io_thread_cpu_frac (the pool: its epoll thread, which runs no task)
is shown; the section is absent from a file without that counter. Every number is computed
from the entries; the oneTBB mechanism it names is read from oneTBB's sources (waiters.h,
scheduler_common.h), not measured here.
"""

from cobench_results import fmt, human
from tables import natural, params_text

IO_THREAD = "io_thread_cpu_frac"
CLOSED = "server_cpu_ns_per_req"
OPEN = "open_server_cpu_ns_per_req"
NOT_REPORTED = "– (not reported)"
HEADING = "Echo: CPU between requests (runtimes with an I/O thread)"


def io_thread_points(r):
    """echo entries (no rate sweep) that carry the I/O thread's CPU, by runtime, then conns."""
    pts = [p for p in r.points("echo") if IO_THREAD in p.counters and "rate" not in p.params]
    return sorted(pts, key=lambda p: (r.order_key(p.runtime), natural(params_text(p.params))))


def io_thread_rows(r):
    rows = []
    for p in io_thread_points(r):
        closed, opened = p.counters.get(CLOSED), p.counters.get(OPEN)
        rate = p.counters.get("open_rate")
        share = p.counters[IO_THREAD]
        rows.append([p.runtime, params_text(p.params),
                     human(closed, "ns") if closed is not None else NOT_REPORTED,
                     (human(opened, "ns") + (f" at {human(rate, 'req/s')}" if rate else ""))
                     if opened is not None else NOT_REPORTED,
                     f"×{fmt(opened / closed, 2)}" if opened is not None and closed else "–",
                     f"I/O thread {share:.0%} · other threads {1 - share:.0%}"])
    return rows


def io_thread_section(doc, r, level=2):
    rows = io_thread_rows(r)
    if not rows:
        return False
    names = list(dict.fromkeys(row[0] for row in rows))
    pooled = [n for n in names if getattr(r.runtime(n), "kind", None) == "pooled"]
    tbb = r.context.get("tbb_version")
    doc.h(level, HEADING)
    doc.p(f"{', '.join(names)} {'waits' if len(names) == 1 else 'wait'} on sockets in an I/O thread of "
          "its own (it resumes the waiting task) and runs tasks on other threads. In the closed loop "
          "the server never idles; at the open loop's fixed rate it idles between requests, and the CPU "
          "per request it spends there beyond the closed loop's is what idling costs it. The I/O "
          "thread's share of the process's CPU (over both phases) says which threads spend it.")
    if pooled:
        version = f"oneTBB {tbb}" if tbb else "oneTBB"
        doc.p(f"{', '.join(pooled)} runs tasks on a oneTBB arena: its workers and the thread that waits "
              f"in `task_group::wait`. {version} puts an idle thread to sleep only after a spin set in its "
              "sources, with no setting to change it: a worker that finds no task pauses "
              "(`prolonged_pause`, about 1000 TSC ticks of `pause`) and calls `sched_yield` some 100 "
              "times, then asks to leave the arena and yields for up to 80 µs more before it sleeps; "
              "the thread in `task_group::wait` spins ten times as many rounds. Requests closer "
              "together than that keep every such thread spinning, never asleep. What a user of this "
              "oneTBB can set changes only how many threads spin (a smaller arena, `global_control` "
              "`max_allowed_parallelism`, a caller that waits outside the arena), not how long; "
              "oneTBB 2022's preview `task_arena::leave_policy::fast` is the setting made for it.")
    doc.table(["runtime", "params", "server CPU / req, closed loop", "server CPU / req, open loop",
               "open / closed", "share of the server's CPU"], rows,
              [f"Share: {IO_THREAD}, the I/O thread's CPU over the server process's (every thread, the "
               "echo client's process not included) across the timed runs, both phases together."])
    return True
