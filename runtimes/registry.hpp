// The runtimes the suite knows. Adding a runtime: a folder under runtimes/,
// its header here, one entry in the list, and a green conformance suite.
#pragma once

#include <tuple>

#include "coroutines/loop.hpp"
#include "fibers/fibers.hpp"
#include "pool/pool.hpp"
#include "processes/processes.hpp"
#include "threads/threads.hpp"

namespace cb {

using all_runtimes = std::tuple<processes_runtime, threads_runtime, pool_runtime, fibers_runtime, coroutines_runtime>;

template <class F>
void for_each_runtime(F&& f) {
    std::apply([&](auto... r) { (f(r), ...); }, all_runtimes{});
}

}  // namespace cb
