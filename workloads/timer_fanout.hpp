// timer_fanout: the classic "crawler": N tasks each wait a simulated latency
// (ctx.sleep_for) and finish. Ideal wall time is the longest wait; what a run
// takes beyond it is the runtime's cost of starting, timing and waking N
// sleepers: overhead_us_per_task = (total - longest) / N.
//
// Waits are a deterministic spread so that timers expire in a mix of orders
// and at ten distinct deadlines, not all at one instant: task i asks for
// W * (1 + i % 10) / 10, i.e. W/10, 2W/10, ..., W. With N >= 10 the longest is
// W; with fewer tasks it is N*W/10.
#pragma once

#include <algorithm>
#include <chrono>

#include "common.hpp"

namespace cb::wl {

struct timer_fanout {
    static constexpr std::string_view name = "timer_fanout";
    struct params {
        std::size_t tasks;
        std::uint64_t wait_ms;
        std::string label() const { return "tasks:" + std::to_string(tasks) + "/wait_ms:" + std::to_string(wait_ms); }
    };
    // Every sleeper is a waiting task: a process, an OS thread, a suspended
    // oneTBB task with a stack of its own, a fiber, a frame.
    static std::vector<params> sizes(profile p, const runtime_traits& rt) {
        using v = std::vector<std::size_t>;
        const v stacks = by_profile<v>(p, {1, 16}, {1, 100, 1000}, {1, 10, 100, 1000, 10000});
        const v user = by_profile<v>(p, {1, 100}, {1, 100, 10000}, {1, 10, 100, 1000, 10000, 100000});
        const v ns = by_stack<v>(rt, by_profile<v>(p, {1, 4}, {1, 10, 100}, {1, 10, 100, 1000}), stacks, stacks, user, user);
        const std::uint64_t w = by_profile<std::uint64_t>(p, 2, 10, 20);
        std::vector<params> out;
        for (auto n : ns) out.push_back({n, w});
        return out;
    }
    static std::string unsupported(const runtime_traits&, const params&) { return {}; }
    static std::size_t tasks(const params& p) { return p.tasks; }
    static double ops(const params& p) { return static_cast<double>(p.tasks); }

    static std::chrono::nanoseconds wait_of(const params& p, std::size_t i) {
        return std::chrono::nanoseconds(p.wait_ms * 1'000'000 * (1 + i % 10) / 10);
    }
    static double longest_ns(const params& p) {
        return static_cast<double>(wait_of(p, std::min<std::size_t>(p.tasks, 10) - 1).count());
    }
    static double sum_ns(const params& p) {
        double s = 0;
        for (std::size_t i = 0; i < p.tasks; ++i) s += static_cast<double>(wait_of(p, i).count());
        return s;
    }

    template <class C>
    using state = no_state<C, params>;
    // Returns the wait the task saw, in ns, timed around the sleep itself.
    template <class C>
    static task<std::uint64_t> body(C& ctx, state<C>&, std::size_t i, const params& p) {
        const auto t0 = std::chrono::steady_clock::now();
        co_await ctx.sleep_for(wait_of(p, i));
        const auto waited = std::chrono::steady_clock::now() - t0;
        co_return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(waited).count());
    }
    template <class C>
    static std::string verify(const state<C>&, const params& p, const std::vector<std::uint64_t>& res) {
        if (res.size() != p.tasks) return "wrong number of results";
        for (std::size_t i = 0; i < res.size(); ++i) {
            const auto want = static_cast<std::uint64_t>(wait_of(p, i).count());
            if (res[i] < want)
                return "task " + std::to_string(i) + " woke after " + std::to_string(res[i]) + " ns, before the " +
                       std::to_string(want) + " ns it asked for";
        }
        return {};
    }
    static constexpr counter_meta counter_info[] = {
        {"total_ms", "ms", better::lower}, {"longest_wait_ms", "ms", better::none}, {"sum_wait_ms", "ms", better::none},
        {"overhead_us_per_task", "us/task", better::lower}};
    static counters report(const params& p, const measurement& m) {
        const double total_ns = m.per_iteration() * 1e9;
        return {{"total_ms", total_ns / 1e6},
                {"longest_wait_ms", longest_ns(p) / 1e6},
                {"sum_wait_ms", sum_ns(p) / 1e6},
                // Can dip below zero only if a run were shorter than its longest
                // wait, which verify() rules out; clamp keeps a failed run finite.
                {"overhead_us_per_task", std::max(0.0, total_ns - longest_ns(p)) / 1e3 / static_cast<double>(p.tasks)}};
    }
};

}  // namespace cb::wl
