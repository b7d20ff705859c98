// skynet: the 10-way spawn tree (github.com/atemerev/skynet): each node spawns
// 10 children and sums their results; leaf i returns i. 1,000,000 leaves sum
// to 499999500000. Runtimes that cannot hold a million-leaf tree run a smaller
// declared size, named in the benchmark (leaves:N).
//
// Multi-core runtimes also run roots:10: the root's ten children are the
// run's ten top-level tasks, so a runtime that spreads top-level tasks over
// workers (process_loops, thread_loops) has a tree per worker to run, and
// `speedup` is its time at one root over its time at ten, in the same run.
//
// Runtimes that take a worker count (sized_workers) also run the worker
// sweep (worker_sweep.hpp) on a multi-root tree: leaves:L/roots:R/workers:K,
// R the smallest power of ten with four roots a worker at the largest K
// (16 x CPUs: 100 on 2 to 6 CPUs), at most L/10 so each root is still a
// tree (the test size, 100 leaves, has 10 roots for K up to 8). `speedup` is
// seconds at workers:1 over seconds at workers:K, same leaves and roots.
// Full profile only (and test): quick sweeps cpu_bound alone, to stay small.
#pragma once

#include <map>
#include <tuple>
#include <utility>

#include "common.hpp"
#include "worker_sweep.hpp"

namespace cb::wl {

struct skynet : deterministic_runs {
    static constexpr std::string_view name = "skynet";
    static constexpr std::uint64_t fanout = 10;
    struct params {
        std::uint64_t leaves;
        std::uint64_t roots = 1;
        std::size_t workers = 0;  // the sweep's K; 0: the runtime's default (not a sweep entry)
        std::string runtime{};    // for the speed-up reference; not part of the name
        std::string label() const {
            std::string l = "leaves:" + std::to_string(leaves);
            if (roots > 1 || workers) l += "/roots:" + std::to_string(roots);
            return workers ? l + "/workers:" + std::to_string(workers) : l;
        }
    };
    // Every parent stays alive while its children run, so what a waiting
    // task holds bounds the tree: 1,111 processes or 11,111 threads alive at
    // once; ~111k fiber stacks; frames only for coroutines; a pool task that
    // waits on its group runs other tasks on its own stack and holds none.
    static std::vector<params> sizes(profile p, const runtime_traits& rt) {
        using u = std::uint64_t;
        const u full = by_stack<u>(rt, 1000, 10000, 1000000, 100000, 1000000);
        const u quick = std::min<u>(full, by_stack<u>(rt, 100, 1000, 100000, 100000, 100000));
        const u leaves = by_profile<u>(p, rt.stack == stack_model::process ? 10 : 100, quick, full);
        std::vector<params> out{{leaves, 1, 0, std::string(rt.name)}};
        if (rt.multi_core) out.push_back({leaves, fanout, 0, std::string(rt.name)});
        // The sweep: full and test only (quick's share of the sweep is cpu_bound's).
        if (rt.sized_workers && (p == profile::full || p == profile::test)) {
            const std::size_t cpus = sweep_cpus(p);
            const u roots = sweep_roots(leaves, cpus);
            for (auto k : workers_to_sweep(p)) out.push_back({leaves, roots, k, std::string(rt.name)});
        }
        return out;
    }
    // The sweep's roots: a power of ten (each root's subtree is a whole
    // 10-way tree), at least 16 x CPUs, at most leaves / 10.
    static std::uint64_t sweep_roots(std::uint64_t leaves, std::size_t cpus) {
        std::uint64_t r = fanout;
        while (r < sweep_tasks(cpus) && r * fanout <= leaves / fanout) r *= fanout;
        return std::min(r, std::max<std::uint64_t>(1, leaves / fanout));
    }
    static run_options options(const params& p) { return with_workers(p.workers); }
    static std::string unsupported(const runtime_traits&, const params&) { return {}; }
    static std::size_t tasks(const params& p) { return p.roots; }
    static double nodes(const params& p) {
        double n = 0;
        for (std::uint64_t level = p.leaves; level >= 1; level /= fanout) n += static_cast<double>(level);
        return n;
    }
    // Nodes spawned: the levels from the roots down (above them, nothing runs).
    static double ops(const params& p) {
        double n = 0;
        for (std::uint64_t level = p.leaves; level >= p.roots && level >= 1; level /= fanout)
            n += static_cast<double>(level);
        return n;
    }

    template <class C>
    using state = no_state<C, params>;
    template <class C>
    static task<std::uint64_t> node(C& ctx, std::uint64_t first, std::uint64_t size) {
        if (size == 1) co_return first;
        const std::uint64_t part = size / fanout;
        co_return co_await ctx.spawn_all(fanout, [=](C& c, std::size_t i) { return node(c, first + i * part, part); });
    }
    template <class C>
    static task<std::uint64_t> body(C& ctx, state<C>&, std::size_t i, const params& p) {
        const std::uint64_t part = p.leaves / p.roots;
        return node(ctx, i * part, part);
    }
    template <class C>
    static std::string verify(const state<C>&, const params& p, const std::vector<std::uint64_t>& res) {
        const std::uint64_t want = p.leaves * (p.leaves - 1) / 2;
        std::uint64_t got = 0;
        for (auto r : res) got += r;
        if (res.size() != p.roots || got != want)
            return "sum " + std::to_string(got) + " over " + std::to_string(res.size()) + " roots, expected " +
                   std::to_string(want) + " over " + std::to_string(p.roots);
        return {};
    }
    // References: roots:1 per runtime and leaves; workers:1 per runtime, leaves and roots.
    static speedup_memo<std::pair<std::string, std::uint64_t>>& one_root() {
        static speedup_memo<std::pair<std::string, std::uint64_t>> m;
        return m;
    }
    static speedup_memo<std::tuple<std::string, std::uint64_t, std::uint64_t>>& one_worker() {
        static speedup_memo<std::tuple<std::string, std::uint64_t, std::uint64_t>> m;
        return m;
    }
    static constexpr counter_meta counter_info[] = {{"spawn_ns", "ns", better::lower}, {"speedup", "x", better::higher}};
    static counters report(const params& p, const measurement& m) {
        counters c{{"spawn_ns", m.per_iteration() * 1e9 / ops(p)}};
        if (p.workers) {
            if (auto s = one_worker().record({p.runtime, p.leaves, p.roots}, p.workers == 1, m.per_iteration()))
                c["speedup"] = *s;
            return c;
        }
        // roots:1 is the reference and reports no speed-up of its own.
        if (auto s = one_root().record({p.runtime, p.leaves}, p.roots == 1, m.per_iteration()); s && p.roots != 1)
            c["speedup"] = *s;
        return c;
    }
};

}  // namespace cb::wl
