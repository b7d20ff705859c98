// A workload that lives outside workloads/, to prove that adding one is a
// header plus its presentation entry: the test binary cobench_extra_workload
// is cobench built with COBENCH_EXTRA_WORKLOADS_HEADER naming this file, and
// workloads/all.hpp appends extra_workloads to its list. Nothing else in
// bench/ or workloads/ names it; check_extra_workload.py runs it.
//
// extra_tally: N tasks each add up 1..K, yielding after every step, so that
// the tasks interleave under every runtime that lets them. Its own counter,
// tally_ns (time per step, all tasks together), has nothing to do with any
// other workload's.
#pragma once

#include <tuple>

#include "workloads/common.hpp"

namespace cb::wl {

struct extra_tally : ns_per_op<extra_tally, "tally_ns"> {
    static constexpr std::string_view name = "extra_tally";
    struct params {
        std::size_t tasks;
        std::uint64_t steps;  // per task
        std::string label() const { return "tasks:" + std::to_string(tasks) + "/steps:" + std::to_string(steps); }
    };
    static std::vector<params> sizes(profile p, const runtime_traits&) {
        return {{by_profile<std::size_t>(p, 4, 16, 64), by_profile<std::uint64_t>(p, 100, 1000, 10000)}};
    }
    static std::string unsupported(const runtime_traits&, const params&) { return {}; }
    static std::size_t tasks(const params& p) { return p.tasks; }
    static double ops(const params& p) { return static_cast<double>(p.tasks * p.steps); }

    template <class C>
    using state = no_state<C, params>;
    template <class C>
    static task<std::uint64_t> body(C& ctx, state<C>&, std::size_t, const params& p) {
        std::uint64_t sum = 0;
        for (std::uint64_t k = 1; k <= p.steps; ++k) {
            sum += k;
            co_await ctx.yield();
        }
        co_return sum;
    }
    template <class C>
    static std::string verify(const state<C>&, const params& p, const std::vector<std::uint64_t>& res) {
        if (res.size() != p.tasks) return "wrong number of results";
        return expect_each(res, p.steps * (p.steps + 1) / 2, "tally");
    }
};

using extra_workloads = std::tuple<extra_tally>;

}  // namespace cb::wl
