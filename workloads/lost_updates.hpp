// lost_updates: N tasks each add 1 to a shared counter R times without a
// lock, as a relaxed load followed by a relaxed store: no undefined behaviour
// (it is a std::atomic), but not a read-modify-write either, so two tasks that
// run the pair truly at once lose an update. The counter lives in a shared
// mapping so that forked processes race on it too.
//
// Every `yield_every` increments a task yields through the context. In the
// plain variant (tasks:N) the yield comes between two pairs, never inside one:
// a cooperative runtime on one thread (fibers, coroutines) then interleaves
// tasks and still loses nothing, by construction. The await:between variant
// moves that yield between the load and the store, the shape of "read a
// balance, await I/O, write it back": there a cooperative runtime loses
// updates too, which is the real lesson about races in coroutines. Threads, pool workers and processes run pairs in
// parallel on different cores (and may be preempted inside one) and usually
// lose some. Losing updates is the measured result, not an error: verify()
// only checks that the counter never exceeds what was added.
#pragma once

#include "common.hpp"
#include "shared_memory.hpp"

namespace cb::wl {

struct lost_updates {
    static constexpr std::string_view name = "lost_updates";
    struct params {
        std::size_t tasks;
        std::uint64_t increments;   // per task (R)
        std::uint64_t yield_every;  // K
        bool await_between = false;  // the K-th increment awaits between its load and its store
        std::string label() const { return "tasks:" + std::to_string(tasks) + (await_between ? "/await:between" : ""); }
        std::uint64_t total() const { return tasks * increments; }
    };
    static std::vector<params> sizes(profile p, const runtime_traits& rt) {
        // 64 processes yielding on 2 cores take seconds: processes stop at 16.
        auto ns = rt.cost == cost_class::heavy ? by_profile<std::vector<std::size_t>>(p, {2}, {2, 4, 16}, {2, 4, 16})
                                         : by_profile<std::vector<std::size_t>>(p, {2, 8}, {2, 4, 16}, {2, 4, 16, 64});
        const std::uint64_t r = by_profile<std::uint64_t>(p, 5000, 100000, 1000000);
        std::vector<params> out;
        for (auto n : ns) out.push_back({n, r, 100});
        for (auto n : ns) out.push_back({n, r, 100, true});
        return out;
    }
    static std::string unsupported(const runtime_traits&, const params&) { return {}; }
    static std::size_t tasks(const params& p) { return p.tasks; }
    static double ops(const params& p) { return static_cast<double>(p.total()); }

    template <class C>
    struct state {
        explicit state(const params&) : counter(1) {}
        shared_array<shared_counter> counter;
        std::uint64_t final_value() const { return counter[0].load(); }
    };

    template <class C>
    static task<std::uint64_t> body(C& ctx, state<C>& s, std::size_t, const params& p) {
        shared_counter& c = s.counter[0];
        for (std::uint64_t k = 1; k <= p.increments; ++k) {
            const bool yields = k % p.yield_every == 0;
            const std::uint64_t v = c.load(std::memory_order_relaxed);
            if (yields && p.await_between) co_await ctx.yield();
            c.store(v + 1, std::memory_order_relaxed);
            if (yields && !p.await_between) co_await ctx.yield();
        }
        co_return p.increments;
    }
    template <class C>
    static std::string verify(const state<C>& s, const params& p, const std::vector<std::uint64_t>& res) {
        if (auto e = expect_each(res, p.increments, "increments"); !e.empty()) return e;
        if (s.final_value() > p.total())
            return "counter reached " + std::to_string(s.final_value()) + ", more than the " + std::to_string(p.total()) +
                   " increments made";
        return {};
    }
    template <class C>
    static void collect(const state<C>& s, const params& p, const std::vector<std::uint64_t>&, measurement& m) {
        m.sums["lost"] += static_cast<double>(p.total() - s.final_value());
    }
    // Mean over the runs.
    // Lost updates are what the workload shows, not a cost: no better direction.
    static constexpr counter_meta counter_info[] = {{"lost_updates", "updates", better::none},
                                                    {"lost_fraction", "fraction", better::none}};
    static counters report(const params& p, const measurement& m) {
        const double runs = static_cast<double>(std::max<std::uint64_t>(1, m.iterations));
        auto it = m.sums.find("lost");
        const double lost = it == m.sums.end() ? 0 : it->second / runs;
        return {{"lost_updates", lost}, {"lost_fraction", lost / static_cast<double>(p.total())}};
    }
};

}  // namespace cb::wl
