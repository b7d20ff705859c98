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

namespace cb {

struct coroutines_runtime {
    static constexpr const runtime_traits& traits = coroutines_traits;
    using context = coro_context;

    template <class Body>
    static std::vector<std::uint64_t> run(std::size_t n, Body body, const run_options& opts = {}) {
        affinity_guard keep_mask;
        if (!opts.cpus.empty()) pin_this_thread(opts.cpus[0]);
        event_loop loop;
        coro_context ctx(loop);
        ctx.opts = &opts;
        ctx.tasks = n;
        std::vector<task<std::uint64_t>> tasks;
        tasks.reserve(n);
        std::size_t live = 0;
        for (std::size_t i = 0; i < n; ++i) {
            tasks.push_back(body(ctx, i));
            if (!tasks.back().done()) {
                ++live;
                tasks.back().on_done([](void* p) noexcept { --*static_cast<std::size_t*>(p); }, &live);
            }
        }
        loop.run(live);
        std::vector<std::uint64_t> out;
        out.reserve(n);
        for (auto& t : tasks) out.push_back(t.get());
        return out;
    }
};

static_assert(runtime<coroutines_runtime>);

}  // namespace cb
