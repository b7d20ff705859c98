"""The workloads, in the order they are listed and run. Each module mirrors
its C++ header in workloads/ (name, params and their labels, counters,
verify) and offers the harness: NAME, COUNTERS, Params (with label()),
sizes(profile, rt), ops(p), task (a blocking body) and atask (an asyncio
body), verify(s, p, res), report(p, m); and where it needs them
unsupported(rt, p) (default: every pair runs), tasks(p) (default:
p.tasks), State(p, rt), pinned(p), iterations(p), parked(s),
collect(s, p, res, m), FRESH_PROCESS."""

from workloads import (cpu_bound, idle_memory, lost_updates, ping_pong, producer_consumer, spawn, timer_fanout,
                       yield_ring)

ALL = [ping_pong, yield_ring, spawn, idle_memory, cpu_bound, timer_fanout, producer_consumer, lost_updates]
