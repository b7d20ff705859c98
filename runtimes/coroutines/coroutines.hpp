// coroutines: the suite's own single-threaded C++20 event loop.
//
// A ready queue, a timer heap and epoll readiness, in the shape of the
// single-threaded loops of libunifex and Asio (event_loop.hpp); a channel
// (channel.hpp) and a context (context.hpp) whose operations are awaitables
// living in the awaiting coroutine's frame, so waiting allocates nothing; the
// only allocation a task makes is its frame (counted by task.hpp).
#pragma once

#include <cstdint>
#include <vector>

#include "../core/context.hpp"
#include "../core/task.hpp"
#include "../core/traits.hpp"
#include "context.hpp"
#include "event_loop.hpp"
#include "run_tasks.hpp"

namespace cb {

// One loop in the caller's thread, over the backend of Loop: the coroutines
// runtime (epoll) here, coroutines_poll and coroutines_uring in their folders.
// The loop counts its system calls in the caller's thread (the traits say
// counts_syscalls: workloads/run.hpp reports them as syscalls_per_op).
template <class Loop, const runtime_traits& Traits>
struct basic_coroutines_runtime {
    static constexpr const runtime_traits& traits = Traits;
    using context = basic_coro_context<Loop, Traits>;

    template <class Body>
    static std::vector<std::uint64_t> run(std::size_t n, Body body, const run_options& opts = {}) {
        affinity_guard keep_mask;
        if (!opts.cpus.empty()) pin_this_thread(opts.cpus[0]);
        Loop loop;
        context ctx(loop);
        ctx.opts = &opts;
        ctx.tasks = n;
        std::vector<std::uint64_t> out(n);
        run_tasks_on_loop(loop, ctx, body, slice{0, 0, n}, out.data());
        return out;
    }
};

using coroutines_runtime = basic_coroutines_runtime<event_loop, coroutines_traits>;

static_assert(runtime<coroutines_runtime>);

}  // namespace cb
