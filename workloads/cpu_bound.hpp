// cpu_bound: a fixed total of kernel units split into N tasks. Throughput and
// speed-up against one task of the same runtime measured in the same run.
// Single-threaded runtimes (fibers, coroutines) are expected not to speed up.
//
// Runtimes that take a worker count (sized_workers) also run the worker
// sweep (worker_sweep.hpp): tasks:16xCPUs/workers:K, the same units, and
// `speedup` = seconds at workers:1 over seconds at workers:K. Quick runs
// three of its points (1, CPUs, 4xCPUs), full all of them. Processes and
// threads have a worker a task: their tasks:N entries are their curve.
#pragma once

#include <map>
#include <mutex>
#include <tuple>

#include "common.hpp"
#include "kernels/mix.hpp"
#include "worker_sweep.hpp"

namespace cb::wl {

struct cpu_bound : deterministic_runs {
    static constexpr std::string_view name = "cpu_bound";
    struct params {
        std::size_t tasks;
        std::uint64_t units;
        std::size_t workers = 0;  // the sweep's K; 0: the runtime's default (not a sweep entry)
        std::string runtime{};    // for the speed-up reference; not part of the name
        std::string label() const {
            return "tasks:" + std::to_string(tasks) + (workers ? "/workers:" + std::to_string(workers) : "");
        }
    };
    static std::vector<params> sizes(profile p, const runtime_traits& rt) {
        const std::uint64_t units = by_profile<std::uint64_t>(p, 2000, 200000, 400000);
        auto ns = by_profile<std::vector<std::size_t>>(p, {1, 2}, {1, 2, 4}, {1, 2, 4, 8, 16, 64});
        std::vector<params> out;
        for (auto n : ns) out.push_back({n, units, 0, std::string(rt.name)});
        if (rt.sized_workers) {
            const std::size_t cpus = sweep_cpus(p);
            for (auto k : workers_to_sweep(p)) out.push_back({sweep_tasks(cpus), units, k, std::string(rt.name)});
        }
        return out;
    }
    static run_options options(const params& p) { return with_workers(p.workers); }
    static std::string unsupported(const runtime_traits&, const params&) { return {}; }
    static std::size_t tasks(const params& p) { return p.tasks; }
    static double ops(const params& p) { return static_cast<double>(p.units); }

    template <class C>
    using state = no_state<C, params>;
    template <class C>
    static task<std::uint64_t> body(C&, state<C>&, std::size_t i, const params& p) {
        const std::uint64_t first = p.units * i / p.tasks, last = p.units * (i + 1) / p.tasks;
        co_return kernels::range(first, last);
    }
    static std::uint64_t reference(std::uint64_t units) {
        static std::mutex m;
        static std::map<std::uint64_t, std::uint64_t> memo;
        std::lock_guard lk(m);
        auto it = memo.find(units);
        if (it == memo.end()) it = memo.emplace(units, kernels::range(0, units)).first;
        return it->second;
    }
    template <class C>
    static std::string verify(const state<C>&, const params& p, const std::vector<std::uint64_t>& res) {
        std::uint64_t s = 0;
        for (auto r : res) s += r;
        return s == reference(p.units) ? std::string{} : "checksum differs from the single-task reference";
    }
    // References: tasks:1 per runtime; workers:1 per runtime, task count and units.
    static speedup_memo<std::string>& one_task() {
        static speedup_memo<std::string> m;
        return m;
    }
    static speedup_memo<std::tuple<std::string, std::size_t, std::uint64_t>>& one_worker() {
        static speedup_memo<std::tuple<std::string, std::size_t, std::uint64_t>> m;
        return m;
    }
    static constexpr counter_meta counter_info[] = {{"items_per_second", "items/s", better::higher},
                                                    {"speedup", "x", better::higher}};
    static counters report(const params& p, const measurement& m) {
        counters c{{"items_per_second", ops(p) / m.per_iteration()}};
        const std::optional<double> s =
            p.workers ? one_worker().record({p.runtime, p.tasks, p.units}, p.workers == 1, m.per_iteration())
                      : one_task().record(p.runtime, p.tasks == 1, m.per_iteration());
        if (s) c["speedup"] = *s;
        return c;
    }
};

}  // namespace cb::wl
