// The worker-count sweep: for runtimes that honour
// run_options::workers (runtime_traits::sized_workers), a workload runs the
// same work at K = 1, 2, 4, ... (powers of two up to the CPUs), the CPU count
// itself, then 2x and 4x the CPUs (oversubscribed), and reports `speedup` =
// its seconds at workers:1 over its seconds at workers:K, from the same run.
// The ideal line, min(K, CPUs), is the charts' to draw from the results'
// context.workers.default: the CPUs here are that same default_workers().
#pragma once

#include <cstddef>
#include <vector>

#include "workloads/workload.hpp"
#include "runtimes/core/worker_group.hpp"

namespace cb::wl {

// The K values for a machine of `cpus` CPUs, ascending, each once:
// 2 CPUs: 1 2 4 8; 6 CPUs: 1 2 4 6 12 24; 1 CPU: 1 2 4.
inline std::vector<std::size_t> worker_sweep(std::size_t cpus) {
    if (cpus == 0) cpus = 1;
    std::vector<std::size_t> ks;
    for (std::size_t k = 1; k <= cpus; k *= 2) ks.push_back(k);
    if (ks.back() != cpus) ks.push_back(cpus);
    ks.push_back(2 * cpus);
    ks.push_back(4 * cpus);
    return ks;
}

// The CPUs a profile sweeps for: the runtimes' default worker count (the
// CPUs this process may run on, or --workers / COBENCH_WORKERS), so the
// curve's knee sits where context.workers.default says. The test profile
// always sweeps for 2, so the test product is the same on every machine.
inline std::size_t sweep_cpus(profile p) { return p == profile::test ? 2 : default_workers(); }

// The K values a profile runs: test, the whole sweep for 2 CPUs; full, the
// whole sweep; quick (and ci), the curve's three telling points only: one
// worker, every CPU, and 4x oversubscribed (2 CPUs: 1 2 8).
inline std::vector<std::size_t> workers_to_sweep(profile p) {
    const std::size_t cpus = sweep_cpus(p);
    if (p == profile::test || p == profile::full) return worker_sweep(cpus);
    std::vector<std::size_t> ks{1};
    if (cpus > 1) ks.push_back(cpus);
    ks.push_back(4 * cpus);
    return ks;
}

// Tasks for the sweep's entries, the same at every K: four per worker at the
// largest K (4 x CPUs), so every worker has work even oversubscribed, and a
// work-sharing runtime can even out. 16 x CPUs is a multiple of every K in the
// sweep unless the CPU count has few factors of two (e.g. 33: K = 32 then gets
// slices of 16 and 17 tasks, within 1/16 of even).
constexpr std::size_t sweep_tasks(std::size_t cpus) { return 16 * (cpus ? cpus : 1); }

// The run_options of an entry with `workers` K (0: the runtime's default).
inline run_options with_workers(std::size_t workers) {
    run_options o;
    o.workers = workers;
    return o;
}

}  // namespace cb::wl
