// Runs tasks [first, last) of a body on one event loop until all finish: the
// core of the coroutines runtime and of every worker of the hybrids
// (runtimes/process_loops, runtimes/thread_loops).
#pragma once

#include <cstdint>
#include <vector>

#include "../core/task.hpp"
#include "../core/worker_group.hpp"
#include "event_loop.hpp"

namespace cb {

// out[i - s.first] = body(ctx, i)'s result; rethrows the first task's error
// (in task order) once the loop is done. A sharded loop (one of several in a
// process) runs with run_sharded.
template <class Body, class Ctx, class Loop>
void run_tasks_on_loop(Loop& loop, Ctx& ctx, Body& body, slice s, std::uint64_t* out,
                       loop_mode m = loop_mode::single) {
    std::vector<task<std::uint64_t>> tasks;
    tasks.reserve(s.size());
    std::size_t live = 0;
    for (std::size_t i = s.first; i < s.last; ++i) {
        tasks.push_back(body(ctx, i));
        if (!tasks.back().done()) {
            ++live;
            tasks.back().on_done([](void* p) noexcept { --*static_cast<std::size_t*>(p); }, &live);
        }
    }
    if (m == loop_mode::sharded) loop.run_sharded(live);
    else loop.run(live);
    for (std::size_t k = 0; k < tasks.size(); ++k) out[k] = tasks[k].get();
}

}  // namespace cb
