// skynet: the 10-way spawn tree (github.com/atemerev/skynet): each node spawns
// 10 children and sums their results; leaf i returns i. 1,000,000 leaves sum
// to 499999500000. Runtimes that cannot hold a million-leaf tree run a smaller
// declared size, named in the benchmark (leaves:N).
#pragma once

#include "common.hpp"

namespace cb::wl {

struct skynet {
    static constexpr std::string_view name = "skynet";
    static constexpr std::uint64_t fanout = 10;
    struct params {
        std::uint64_t leaves;
        std::string label() const { return "leaves:" + std::to_string(leaves); }
    };
    static std::vector<params> sizes(profile p, std::string_view runtime) {
        std::uint64_t full;
        if (runtime == "processes") full = 1000;       // 1,111 processes alive at once
        else if (runtime == "threads") full = 10000;   // 11,111 threads alive at once
        else if (runtime == "fibers") full = 100000;   // every fiber of the tree is alive at once: ~111k stacks
        else full = 1000000;
        std::uint64_t quick = std::min<std::uint64_t>(full, runtime == "processes" ? 100 : runtime == "threads" ? 1000 : 100000);
        return {{by_profile<std::uint64_t>(p, runtime == "processes" ? 10 : 100, quick, full)}};
    }
    static std::string unsupported(std::string_view, const params&) { return {}; }
    static std::size_t tasks(const params&) { return 1; }
    static double nodes(const params& p) {
        double n = 0;
        for (std::uint64_t level = p.leaves; level >= 1; level /= fanout) n += static_cast<double>(level);
        return n;
    }
    static double ops(const params& p) { return nodes(p); }

    template <class C>
    struct state {
        explicit state(const params&) {}
    };
    template <class C>
    static task<std::uint64_t> node(C& ctx, std::uint64_t first, std::uint64_t size) {
        if (size == 1) co_return first;
        const std::uint64_t part = size / fanout;
        co_return co_await ctx.spawn_all(fanout, [=](C& c, std::size_t i) { return node(c, first + i * part, part); });
    }
    template <class C>
    static task<std::uint64_t> body(C& ctx, state<C>&, std::size_t, const params& p) {
        return node(ctx, 0, p.leaves);
    }
    template <class C>
    static std::string verify(const state<C>&, const params& p, const std::vector<std::uint64_t>& res) {
        const std::uint64_t want = p.leaves * (p.leaves - 1) / 2;
        if (res.size() != 1 || res[0] != want)
            return "sum " + std::to_string(res.empty() ? 0 : res[0]) + ", expected " + std::to_string(want);
        return {};
    }
    static counters report(const params& p, const measurement& m) {
        return {{"spawn_ns", m.per_iteration() * 1e9 / ops(p)}};
    }
};

}  // namespace cb::wl
