// The runtimes the suite knows. Adding a runtime: a folder under runtimes/
// whose runtime type declares its traits (core/traits.hpp) and satisfies the
// `runtime` concept (core/context.hpp), its header here, one entry in the
// list, and a green conformance suite. Nothing else names a runtime: the
// harness, the workloads and the charts ask its traits.
#pragma once

#include <tuple>

#include "coroutines/coroutines.hpp"
#include "coroutines_poll/coroutines_poll.hpp"
#include "coroutines_uring/coroutines_uring.hpp"
#include "fibers/fibers.hpp"
#include "fibers_mt/fibers_mt.hpp"
#include "pool/pool.hpp"
#include "process_loops/process_loops.hpp"
#include "processes/processes.hpp"
#include "thread_loops/thread_loops.hpp"
#include "threads/threads.hpp"

namespace cb {

// The order is the order of families in a run and of runtimes in charts.
using all_runtimes = std::tuple<processes_runtime, threads_runtime, pool_runtime, fibers_runtime, coroutines_runtime,
                                coroutines_poll_runtime, coroutines_uring_runtime, fibers_mt_runtime, process_loops_runtime, thread_loops_runtime>;

// Calls f(R{}) for every runtime R of a list (a std::tuple of runtime types).
template <class List, class F>
void for_each_runtime_in(F&& f) {
    std::apply([&](auto... r) { (f(r), ...); }, List{});
}

template <class F>
void for_each_runtime(F&& f) {
    for_each_runtime_in<all_runtimes>(std::forward<F>(f));
}

template <class List>
struct all_are_runtimes;
template <class... R>
struct all_are_runtimes<std::tuple<R...>> : std::bool_constant<(runtime<R> && ...)> {};
static_assert(all_are_runtimes<all_runtimes>::value);

}  // namespace cb
