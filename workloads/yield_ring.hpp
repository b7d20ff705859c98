// yield_ring: N tasks each yield M times, all on CPU 0, so every yield is a
// real switch to another task rather than a return to the only runnable one.
// Scheduler switch cost per yield as N grows.
#pragma once

#include "common.hpp"

namespace cb::wl {

struct yield_ring : deterministic_runs, ns_per_op<yield_ring, "switch_ns"> {
    static constexpr std::string_view name = "yield_ring";
    struct params {
        std::size_t tasks;
        std::uint64_t yields;  // per task
        std::string label() const { return "tasks:" + std::to_string(tasks); }
    };
    static std::vector<params> sizes(profile p, const runtime_traits& rt) {
        std::vector<std::size_t> ns;
        double total;  // yields per run, all tasks together
        if (!rt.multi_core) {
            ns = by_profile<std::vector<std::size_t>>(p, {2, 16}, {2, 100, 10000}, {2, 10, 100, 1000, 10000, 100000});
            total = by_profile(p, 2e3, 1e6, 2e6);
        } else if (rt.cost == cost_class::heavy) {
            ns = by_profile<std::vector<std::size_t>>(p, {2, 4}, {2, 16}, {2, 10, 100});
            total = by_profile(p, 2e2, 2e4, 1e5);
        } else {
            ns = by_profile<std::vector<std::size_t>>(p, {2, 16}, {2, 100}, {2, 10, 100, 1000});
            total = by_profile(p, 5e2, 5e4, 2e5);
        }
        std::vector<params> out;
        for (auto n : ns) out.push_back({n, std::max<std::uint64_t>(1, static_cast<std::uint64_t>(total / n))});
        return out;
    }
    static std::string unsupported(const runtime_traits&, const params&) { return {}; }
    static std::size_t tasks(const params& p) { return p.tasks; }
    static double ops(const params& p) { return static_cast<double>(p.tasks * p.yields); }
    static run_options options(const params&) {
        run_options o;
        o.cpus = {0};
        return o;
    }

    template <class C>
    using state = no_state<C, params>;
    template <class C>
    static task<std::uint64_t> body(C& ctx, state<C>&, std::size_t, const params& p) {
        std::uint64_t n = 0;
        for (std::uint64_t k = 0; k < p.yields; ++k) {
            co_await ctx.yield();
            ++n;
        }
        co_return n;
    }
    template <class C>
    static std::string verify(const state<C>&, const params& p, const std::vector<std::uint64_t>& res) {
        return expect_each(res, p.yields, "yields");
    }
};

}  // namespace cb::wl
