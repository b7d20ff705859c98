// The workloads the suite runs. Adding one: a header in workloads/ that
// satisfies the `workload` concept (workload.hpp), one entry here; the
// workload tests then run it under every runtime at test sizes, and the
// report shows it through its presentation entry (plots/).
//
// A build may append workloads kept elsewhere: with
// COBENCH_EXTRA_WORKLOADS_HEADER defined (a quoted path from the repository
// root), that header defines cb::wl::extra_workloads, a std::tuple of
// workload types, which goes after the suite's own. Only the test binary
// cobench_extra_workload does (bench/tests/extra_workload/): it proves that
// a workload needs no edit anywhere else.
#pragma once

#include <tuple>
#include <utility>

#include "blocking_pitfall.hpp"
#include "bounded_fanout.hpp"
#include "cpu_bound.hpp"
#include "echo.hpp"
#include "echo_accept.hpp"
#include "idle_conns.hpp"
#include "idle_memory.hpp"
#include "lost_updates.hpp"
#include "ping_pong.hpp"
#include "pipeline.hpp"
#include "pipe_pong.hpp"
#include "producer_consumer.hpp"
#include "skynet.hpp"
#include "slow_io.hpp"
#include "spawn.hpp"
#include "timer_fanout.hpp"
#include "yield_ring.hpp"

#ifdef COBENCH_EXTRA_WORKLOADS_HEADER
#include COBENCH_EXTRA_WORKLOADS_HEADER
#else
namespace cb::wl {
using extra_workloads = std::tuple<>;
}
#endif

namespace cb::wl {

using suite_workloads = std::tuple<ping_pong, pipe_pong, yield_ring, spawn, skynet, cpu_bound, idle_memory,
                                   timer_fanout, producer_consumer, pipeline, bounded_fanout, lost_updates, echo,
                                   echo_accept, slow_io, blocking_pitfall, idle_conns>;

using all_workloads = decltype(std::tuple_cat(std::declval<suite_workloads>(), std::declval<extra_workloads>()));

template <class List>
struct all_are_workloads;
template <class... W>
struct all_are_workloads<std::tuple<W...>> : std::bool_constant<(workload<W> && ...)> {};
static_assert(all_are_workloads<all_workloads>::value);

}  // namespace cb::wl
