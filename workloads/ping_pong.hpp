// ping_pong: two tasks hand a token back and forth through the runtime's own
// hand-off (its channel: a pipe, a futex-backed condition variable, a fiber
// channel, a suspended task or coroutine). One-way switch cost is a round trip
// divided by two; same-core (both pinned to CPU 0) and cross-core (CPU 0 and
// 1) are measured apart.
#pragma once

#include "common.hpp"

namespace cb::wl {

struct ping_pong : deterministic_runs, ns_per_op<ping_pong, "switch_ns"> {
    static constexpr std::string_view name = "ping_pong";
    struct params {
        std::uint64_t rounds;
        bool same_core;
        std::string label() const { return same_core ? "pin:same" : "pin:cross"; }
    };
    static std::vector<params> sizes(profile p, const runtime_traits& rt) {
        std::uint64_t r = by_profile<std::uint64_t>(p, 200, 20000, 100000);
        // Blocking hand-offs cost microseconds on a VM; fewer rounds keep runs short.
        if (rt.multi_core) r /= 10;
        return {{r, true}, {r, false}};
    }
    static std::string unsupported(const runtime_traits& rt, const params& p) {
        if (auto why = needs_concurrency(rt, "a hand-off"); !why.empty()) return why;
        if (p.same_core) return {};
        if (!rt.multi_core) return "one OS thread runs every task: a cross-core hand-off cannot happen";
        if (cpu_count() < 2) return "cross-core needs 2 CPUs";
        return {};
    }
    static std::size_t tasks(const params&) { return 2; }
    static double ops(const params& p) { return 2.0 * static_cast<double>(p.rounds); }
    static run_options options(const params& p) {
        run_options o;
        o.cpus = p.same_core ? std::vector<int>{0} : std::vector<int>{0, 1};
        return o;
    }

    template <class C>
    struct state {
        explicit state(const params&) {}
        typename C::template channel<std::uint64_t> to_b{1}, to_a{1};
    };

    template <class C>
    static task<std::uint64_t> body(C& ctx, state<C>& s, std::size_t i, const params& p) {
        std::uint64_t in_order = 0;
        for (std::uint64_t m = 1; m <= p.rounds; ++m) {
            if (i == 0) {
                co_await ctx.send(s.to_b, m);
                in_order += (co_await ctx.recv(s.to_a)) == m;
            } else {
                std::uint64_t got = co_await ctx.recv(s.to_b);
                in_order += got == m;
                co_await ctx.send(s.to_a, got);
            }
        }
        co_return in_order;
    }
    template <class C>
    static std::string verify(const state<C>&, const params& p, const std::vector<std::uint64_t>& res) {
        return expect_each(res, p.rounds, "tokens in order");
    }
};

}  // namespace cb::wl
