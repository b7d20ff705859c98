"""The workloads, in the order they are listed and run. Each module mirrors
its C++ header in workloads/ (name, params and their labels, counters,
verify) and offers the harness: NAME, COUNTERS, Params (with label()),
sizes(profile, rt), unsupported(rt, p), tasks(p), ops(p), task (a blocking
body) and atask (an asyncio body), verify(s, p, res), report(p, m); and
where it needs them State(p, rt), pinned(p), iterations(p), parked(s),
collect(s, p, res, m)."""

from workloads import (cpu_bound, idle_memory, lost_updates, ping_pong, producer_consumer, spawn, timer_fanout,
                       yield_ring)

ALL = [ping_pong, yield_ring, spawn, idle_memory, cpu_bound, timer_fanout, producer_consumer, lost_updates]
