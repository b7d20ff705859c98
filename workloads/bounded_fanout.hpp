// bounded_fanout: N tasks, at most K of them in their critical section at
// once, each holding its permit for a short sleep (a rate-limited crawler).
// Ideal wall time is ceil(N / K) * sleep; the rest is the cost of the
// semaphore hand-offs and of N sleeping tasks.
//
// The semaphore is a channel of K tokens: receive a token to acquire, send it
// back to release. Tokens are brought in by the tasks themselves (task i < K
// sends one before it first acquires), because a channel can only be written
// through a context and the state has none. With K tokens in existence at
// most K tasks hold one, whatever the channel's real capacity, which matters
// for processes: their pipe holds at least a page, far more than K. Sends
// never block, as the channel never holds more than K tokens.
//
// The in-flight count is tracked in shared memory (atomics in a MAP_SHARED
// mapping: threads and pool tasks run truly in parallel, processes in separate
// address spaces) and its maximum checked by verify().
#pragma once

#include <chrono>

#include "common.hpp"
#include "shared_memory.hpp"

namespace cb::wl {

struct bounded_fanout {
    static constexpr std::string_view name = "bounded_fanout";
    struct params {
        std::size_t tasks, limit;
        std::chrono::microseconds hold;  // sleep while holding a permit
        std::string label() const { return "tasks:" + std::to_string(tasks) + "/limit:" + std::to_string(limit); }
    };
    static std::vector<params> sizes(profile p, const runtime_traits& rt) {
        std::size_t n;
        std::vector<std::size_t> ks;
        if (rt.cost == cost_class::heavy) {
            n = by_profile<std::size_t>(p, 8, 100, 1000);
            ks = by_profile<std::vector<std::size_t>>(p, {1, 3}, {10, 100}, {10, 100, 1000});
        } else {
            n = by_profile<std::size_t>(p, 16, 1000, 10000);
            ks = by_profile<std::vector<std::size_t>>(p, {1, 4}, {10, 100, 1000}, {10, 100, 1000, 10000});
        }
        const std::chrono::microseconds hold{1000};
        std::vector<params> out;
        for (auto k : ks) out.push_back({n, k, hold});
        return out;
    }
    static std::string unsupported(const runtime_traits& rt, const params&) { return needs_concurrency(rt, "a task waiting for a permit"); }
    static std::size_t tasks(const params& p) { return p.tasks; }
    static double ops(const params& p) { return static_cast<double>(p.tasks); }

    template <class C>
    struct state {
        explicit state(const params& p) : permits(p.limit), shared(3) {}
        typename C::template channel<std::uint64_t> permits;
        // [0] in flight now, [1] most ever in flight, [2] tasks that held a permit
        shared_array<shared_counter> shared;
    };

    template <class C>
    static task<std::uint64_t> body(C& ctx, state<C>& s, std::size_t i, const params& p) {
        if (i < p.limit) co_await ctx.send(s.permits, std::uint64_t{1});
        const std::uint64_t token = co_await ctx.recv(s.permits);
        const std::uint64_t now = s.shared[0].fetch_add(1, std::memory_order_acq_rel) + 1;
        raise_to(s.shared[1], now);
        s.shared[2].fetch_add(1, std::memory_order_relaxed);
        co_await ctx.sleep_for(p.hold);
        s.shared[0].fetch_sub(1, std::memory_order_acq_rel);
        co_await ctx.send(s.permits, token);
        co_return token;
    }
    template <class C>
    static std::string verify(const state<C>& s, const params& p, const std::vector<std::uint64_t>& res) {
        if (res.size() != p.tasks) return "wrong number of results";
        std::uint64_t tokens = 0;
        for (auto r : res) tokens += r;
        const std::uint64_t ran = s.shared[2].load(), most = s.shared[1].load(), left = s.shared[0].load();
        if (tokens != p.tasks || ran != p.tasks)
            return std::to_string(ran) + " of " + std::to_string(p.tasks) + " tasks held a permit (" +
                   std::to_string(tokens) + " valid tokens)";
        if (most > p.limit)
            return std::to_string(most) + " tasks held a permit at once, limit " + std::to_string(p.limit);
        if (most == 0 || left != 0) return "in-flight count inconsistent: most " + std::to_string(most) + ", left " + std::to_string(left);
        return {};
    }
    static constexpr counter_meta counter_info[] = {{"total_ms", "ms", better::lower}};
    static counters report(const params&, const measurement& m) {
        return {{"total_ms", m.per_iteration() * 1e3}};
    }
};

}  // namespace cb::wl
