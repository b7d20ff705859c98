// spawn: create and join N empty tasks; cost per task.
#pragma once

#include "common.hpp"

namespace cb::wl {

struct spawn : deterministic_runs, ns_per_op<spawn, "spawn_ns"> {
    static constexpr std::string_view name = "spawn";
    struct params {
        std::size_t tasks;
        std::string label() const { return "tasks:" + std::to_string(tasks); }
    };
    static std::vector<params> sizes(profile p, const runtime_traits& rt) {
        using v = std::vector<std::size_t>;
        const v light = by_profile<v>(p, {16}, {10, 1000, 100000}, {10, 100, 1000, 10000, 100000});
        const v ns = by_cost<v>(rt, by_profile<v>(p, {4}, {10, 100}, {10, 100, 1000}),
                                by_profile<v>(p, {16}, {10, 100, 1000}, {10, 100, 1000, 10000}), light, light);
        std::vector<params> out;
        for (auto n : ns) out.push_back({n});
        return out;
    }
    static std::string unsupported(const runtime_traits&, const params&) { return {}; }
    static std::size_t tasks(const params& p) { return p.tasks; }
    static double ops(const params& p) { return static_cast<double>(p.tasks); }

    template <class C>
    using state = no_state<C, params>;
    template <class C>
    static task<std::uint64_t> body(C&, state<C>&, std::size_t i, const params&) {
        co_return i;
    }
    template <class C>
    static std::string verify(const state<C>&, const params& p, const std::vector<std::uint64_t>& res) {
        if (res.size() != p.tasks) return "wrong number of results";
        for (std::size_t i = 0; i < res.size(); ++i)
            if (res[i] != i) return "task " + std::to_string(i) + " returned " + std::to_string(res[i]);
        return {};
    }
};

}  // namespace cb::wl
