"""The classic claims as data: for each, the rule that decides it (rules.py), the runtimes it
compares (by the traits the file declares, never by name), the entries it reads and its thresholds.

The thresholds are the named constants below; THRESHOLDS says what each means, and the report
prints it beside the verdicts. A record's text is the rule as the report states it, a template
over the record's thresholds and the runtimes its roles chose.
"""

import io_workloads
from tables import NO_STACK

from .engine import Entries, Kinds, Record
from .rules import (LARGEST, Factor, Held, decision_map, echo_ends, factors, hybrid_lead, lost_updates,
                    speedup_split, waits)

SWITCH_CONFIRM_FACTOR = 10.0
SWITCH_REFUTE_FACTOR = 2.0
HOLD_CONFIRM_FACTOR = 10.0
HOLD_REFUTE_FACTOR = 2.0
WAIT_NEAR_LONGEST = 1.5
SPEEDUP_MULTI_MIN = 1.5
SPEEDUP_SINGLE_MAX = 1.2
ECHO_FEW_FINE_FRACTION = 0.8
ECHO_MANY_FAVOUR_FACTOR = 1.2
HYBRID_LEAD_FACTOR = 1.1
HYBRID_LEVEL_FRACTION = 0.9
CLIENT_SATURATED_FRAC = 0.8
FEW_CONNS = 10
FAST_UPSTREAM_US = 100
MANY_CONNS = 1000
SLOW_UPSTREAM_US = 1000

_MEANINGS = {
    "SWITCH_CONFIRM_FACTOR": "(a) confirmed at or above this threads/coroutines switch-cost factor",
    "SWITCH_REFUTE_FACTOR": "(a) refuted below this factor; mixed in between",
    "HOLD_CONFIRM_FACTOR": "(b) confirmed at or above this factor in max_tasks and in rss_per_task",
    "HOLD_REFUTE_FACTOR": "(b) refuted below this factor; mixed in between",
    "WAIT_NEAR_LONGEST": "(c) total_ms ≤ this × longest_wait_ms counts as about the longest wait",
    "SPEEDUP_MULTI_MIN": "(d, f) cpu_bound speed-up that counts as using several cores",
    "SPEEDUP_SINGLE_MAX": "(d) cpu_bound speed-up at or below which a runtime counts as one-core",
    "ECHO_FEW_FINE_FRACTION": "(e) threads' req/s in a few-fast cell (echo: at the fewest conns) must reach "
                              "this × the winner's (echo: coroutines')",
    "ECHO_MANY_FAVOUR_FACTOR": "(e, echo only) coroutines must lead by this factor (req/s or p99) at the "
                               "most conns",
    "FEW_CONNS": "(e) slow_io: a few fast tasks are the cells with conns ≤ this ...",
    "FAST_UPSTREAM_US": "(e) ... and an upstream latency ≤ this many µs",
    "MANY_CONNS": "(e) slow_io: many slow tasks are the cells with conns ≥ this ...",
    "SLOW_UPSTREAM_US": "(e) ... and an upstream latency ≥ this many µs",
    "HYBRID_LEAD_FACTOR": "(f) echo: the hybrid is ahead of the best single-kind runtime at this factor "
                          "(req/s, or server CPU per request inverted)",
    "HYBRID_LEVEL_FRACTION": "(f) echo: behind below this factor, level in between; speed-up: at or above "
                             "this × the best single-kind runtime's is as strong",
    "CLIENT_SATURATED_FRAC": "(f) client_cpu_frac at or above which the echo client was near saturation "
                             "(req_per_s is then a bound set by the client)",
}
THRESHOLDS = [(name, globals()[name], meaning) for name, meaning in _MEANINGS.items()]

# ---- the runtimes a claim compares, by traits -------------------------------------------------

# One runtime stands for its kind: the first of that kind in display order.
THREAD_VS_COROUTINE = {"thread": Kinds({"kind": "thread"}, first=True),
                       "coroutine": Kinds({"kind": "coroutine"}, first=True)}
# Light tasks by the stack trait: stackless coroutines, and stackful-light user-space tasks (fibers
# on a fixed user stack). A pool's resumable tasks (per_suspended_task) and OS threads are neither.
LIGHT_STACKS = ("stackless", "fixed_user_stack")
LIGHT = Kinds({"stack": LIGHT_STACKS}, references=False)
# Every task gets an OS thread or process of its own.
PER_TASK = Kinds({"kind": ("thread", "process")})


def _hybrids(shared_memory):
    """Hybrids that ran: several workers, each a stackless coroutine loop; shared_memory False
    means K processes × a loop each, True K threads × a loop each."""
    return Kinds({"kind": "hybrid", "multi_core": True, "shared_memory": shared_memory, "stack": "stackless"},
                 ran=True)


# ---- the entries a claim reads ----------------------------------------------------------------

def _switch(workload, **how):
    return Factor(workload, "switch_ns", unit="ns", **how)


# The echo points of a runtime; the rate sweep is apart. echo_accept without a stall stands in for
# a runtime without echo entries.
ECHO = Entries("echo", ("req_per_s", "p99_us"), {"rate": None}, over="conns")
ACCEPT = Entries("echo_accept", params={"stall_ms": (None, 0)}, over="conns")
# cpu_bound speed-up as Results.speedups reads it: against tasks:1, the worker sweep left out.
SPEEDUP = Entries("cpu_bound", "speedup", {"workers": None}, over="tasks")

# ---- the claims -------------------------------------------------------------------------------

_TWO_SIDES = "Many slow I/O tasks favour coroutines, while a few fast ones are fine on threads."

CLAIMS = (
    Record(
        "a", "Switching between coroutines costs far less than switching between threads.",
        factors, kinds=THREAD_VS_COROUTINE,
        entries=(_switch("ping_pong", params={"pin": "same"}, spread=True),
                 _switch("ping_pong", params={"pin": "cross"}, spread=True, judged=False),
                 _switch("yield_ring", over="tasks")),
        thresholds={"confirm": SWITCH_CONFIRM_FACTOR, "refute": SWITCH_REFUTE_FACTOR},
        text="factor = switch_ns of the thread runtime / of the coroutine runtime (by kind), for ping_pong "
             "pin:same and for yield_ring at every tasks value both measured; each measure is confirmed if "
             "the factor ≥ {confirm:g}, mixed if {refute:g}–{confirm:g}, refuted if < {refute:g}; measures "
             "that disagree make the claim mixed. Cross-core ping_pong is shown but not judged."),
    Record(
        "b", "A machine holds far more coroutines than threads.",
        factors, kinds=THREAD_VS_COROUTINE,
        entries=(Held("max_tasks", "max_tasks"),
                 Factor("idle_memory", "rss_per_task", NO_STACK, over="tasks", at=LARGEST, unit="B",
                        named=True, shown=("pss_per_task", "kernel_per_task"))),
        thresholds={"confirm": HOLD_CONFIRM_FACTOR, "refute": HOLD_REFUTE_FACTOR},
        text="between the runtimes of kind coroutine and thread: max_tasks factor = coroutine / thread; "
             "memory factor = thread rss_per_task / coroutine rss_per_task at the largest tasks value both "
             "measured (idle_memory); a runtime that held none (its first group failed) gives no factor. "
             "Each is confirmed if ≥ {confirm:g}, mixed if {refute:g}–{confirm:g}, refuted if < {refute:g}. "
             "The max_tasks factor is the real ratio when both counts stopped at a limit of the machine (a "
             "refused spawn or the memory budget); a count stopped by the harness's own cap or time limit "
             "is a lower bound: the factor is then a ratio of caps (or a bound), which never confirms the "
             "claim (and a coroutine count so stopped cannot refute it). Disagreeing measures make the "
             "claim mixed."),
    Record(
        "c", "Waiting concurrently takes about as long as the longest wait; waiting sequentially takes "
             "the sum of the waits.",
        waits, entries=(Entries("timer_fanout", ("total_ms", "longest_wait_ms", "sum_wait_ms")),),
        thresholds={"near": WAIT_NEAR_LONGEST},
        text="timer_fanout, every runtime and tasks value where sum_wait_ms > {near:g} × longest_wait_ms "
             "(elsewhere the two cannot be told apart): the point agrees if total_ms ≤ {near:g} × "
             "longest_wait_ms. All agree → confirmed, none → refuted, some → mixed (the exceptions are "
             "listed; OS threads at large N are expected to pay creation overhead)."),
    Record(
        "d", "For CPU-bound work only multi-core runtimes speed up; single-core ones (one thread, such as "
             "coroutines and fibers) stay at about 1×.",
        speedup_split, kinds={"multi": Kinds({"multi_core": True}), "single": Kinds({"multi_core": False})},
        entries=(SPEEDUP,),
        thresholds={"multi_min": SPEEDUP_MULTI_MIN, "single_max": SPEEDUP_SINGLE_MAX},
        text="cpu_bound speed-up at the largest tasks value ≤ cpu_count (computed from items_per_second vs "
             "tasks:1 where the speedup counter is absent): each runtime with multi_core true ({multi}) "
             "agrees if ≥ {multi_min:g}, each with multi_core false ({single}) agrees if ≤ {single_max:g}. "
             "All agree → confirmed, none → refuted, some → mixed. Needs cpu_count ≥ 2."),
    Record(
        "e", _TWO_SIDES, decision_map, when="slow_io", kinds={"light": LIGHT, "per_task": PER_TASK},
        entries=(Entries("slow_io", "req_per_s"), Entries("slow_io", "server_cpu_ns_per_req")),
        thresholds={"few_conns": FEW_CONNS, "fast_us": FAST_UPSTREAM_US, "many_conns": MANY_CONNS,
                    "slow_us": SLOW_UPSTREAM_US, "fine_fraction": ECHO_FEW_FINE_FRACTION,
                    "tie_factor": io_workloads.MAP_TIE_FACTOR, "client_bound": io_workloads.MAP_CLIENT_SATURATED},
        text="from the slow I/O decision map (slow_io, winner per cell on req_per_s, ties when the "
             "runner-up's min–max range overlaps or the margin is below {tie_factor:g}×; references never "
             "win). Light runtimes by traits: stack " + " or ".join(LIGHT_STACKS) + " (stackless "
             "coroutines, fibers); thread-per-task runtimes: kind thread or process. Few fast tasks (conns "
             "≤ {few_conns}, upstream ≤ {fast_us} µs): fine on threads in a cell if a thread-per-task "
             "runtime wins, ties, or reaches ≥ {fine_fraction:g}× the winner's req/s. Many slow tasks "
             "(conns ≥ {many_conns}, upstream ≥ {slow_us} µs): light tasks are favoured in a cell if a "
             "light runtime wins throughput outside every thread-per-task runtime's spread, or throughput "
             "is a tie and a light runtime wins server CPU per request so. Client-bound cells "
             "(client_cpu_frac ≥ {client_bound:g}) decide nothing. A side holds when every decided cell "
             "agrees, fails when none does; both hold → confirmed, both fail → refuted, a side undecided "
             "or level → that, otherwise mixed."),
    Record(
        "e", _TWO_SIDES, echo_ends, kinds=THREAD_VS_COROUTINE, entries=(ECHO,),
        thresholds={"fine_fraction": ECHO_FEW_FINE_FRACTION, "favour_factor": ECHO_MANY_FAVOUR_FACTOR,
                    "client_saturated": CLIENT_SATURATED_FRAC},
        note="no slow_io entries in this file: judged on echo (loopback, fast I/O) as before; the slow I/O "
             "grid (slow_io) decides this claim where it ran",
        text="echo, the thread runtime vs the coroutine runtime (by kind) at the conns values both measured: "
             "at the fewest conns threads are fine if their req_per_s ≥ {fine_fraction:g} × coroutines'; at "
             "the most conns coroutines are favoured if their req_per_s ≥ {favour_factor:g} × the thread "
             "runtime's, or its p99_us ≥ {favour_factor:g} × coroutines'. Both → confirmed, neither → "
             "refuted, one → mixed. Needs two conns values. Where the curves cross is reported."),
    Record(
        "f", "Several processes, each running coroutines, are the strongest setup.",
        hybrid_lead,
        kinds={"hybrids": _hybrids(shared_memory=False), "loops": _hybrids(shared_memory=True),
               "singles": Kinds({}, unlike={"kind": "hybrid"})},
        entries=(Entries("echo", ("server_cpu_ns_per_req", "req_per_s"), {"rate": None}, over="conns"),
                 ACCEPT, SPEEDUP, Entries("skynet", "speedup", {"roots": 10, "workers": None})),
        thresholds={"lead": HYBRID_LEAD_FACTOR, "level": HYBRID_LEVEL_FRACTION, "multi_min": SPEEDUP_MULTI_MIN,
                    "client_saturated": CLIENT_SATURATED_FRAC},
        text="each runtime of kind hybrid that is multi_core, shares no memory and has stackless tasks (K "
             "processes × a coroutine loop) against the best single-kind runtime (any kind but hybrid) at "
             "each point. Echo, at each conns value, on server_cpu_ns_per_req (lower is better) where the "
             "file has it, else req_per_s: ahead if ≥ {lead:g}× better, behind if below {level:g}×, level "
             "in between; where client_cpu_frac ≥ {client_saturated:g} the client was near saturation, "
             "req_per_s is a bound set by the client, and a point the bound could overturn is undecided. "
             "Echo is confirmed if the hybrid is ahead somewhere and behind nowhere, refuted for the "
             "reverse, undecided if every point is, mixed otherwise. cpu_bound speed-up at the hybrid's "
             "largest tasks value, and skynet roots:10 speed-up: confirmed if ≥ {level:g}× the best "
             "single-kind runtime's, refuted if below {multi_min:g}, mixed in between; undecided on one "
             "CPU. Measures that disagree make the claim mixed. The gain from more cores is bounded by the "
             "CPU count (context cpu_count). The hybrids of K threads × a loop each are shown beside it, "
             "not judged: processes against threads × loops separates processes-or-threads from "
             "one-core-or-many."),
    Record(
        "g", "Tasks on one coroutine loop lose no updates to shared state without locks; threads do.",
        lost_updates, kinds=THREAD_VS_COROUTINE,
        entries=(Entries("lost_updates", ("lost_fraction", "lost_updates"), variant="await"),),
        text="lost_updates, the coroutine and the thread runtime (by kind), worst lost_fraction over all "
             "tasks values, per variant. Plain variant (no await param): each task yields only between one "
             "load-and-store and the next, so a runtime running one task at a time loses nothing by "
             "construction; there the claim is confirmed if the coroutine runtime loses 0 and the thread "
             "runtime > 0, but it tests nothing about coroutines. Variant await:between: the yield comes "
             "between the load and the store (read, await, write back); the claim is refuted there if the "
             "coroutine runtime loses any. Both variants → their verdicts combined (confirmed on one, "
             "refuted on the other: mixed); the coroutine runtime losing any on the plain variant refutes; "
             "no loss anywhere means the race did not show (undecided)."),
)
