// What the harness needs from a workload, and what it gives back.
//
// A workload is a struct with:
//   name                       "ping_pong"
//   params                     a value type; params.label() gives "key:value/..."
//   sizes(profile, runtime)    the params a profile runs for a runtime
//   unsupported(runtime, p)    "" or the reason the pair cannot run (declared)
//   tasks(p)                   how many top-level tasks
//   ops(p)                     operations per run (the unit of *_per_op counters)
//   state<C>                   built from p before each run, outside the clock
//   body(ctx, state, i)        one task, a coroutine written against the context
//   verify(state, p, results)  "" or what is wrong with the results
//   report(p, measurement)     the workload's own counters
// and optionally options(p, state) for pinning and park hooks, collect(...) to
// keep per-run numbers, iterations(p) to fix the iteration count.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "runtimes/core/context.hpp"

namespace cb {

enum class profile { test, quick, full, ci };

inline std::string_view profile_name(profile p) {
    switch (p) {
        case profile::test: return "test";
        case profile::quick: return "quick";
        case profile::full: return "full";
        case profile::ci: return "ci";
    }
    return "?";
}

// Totals over the timed runs of one benchmark.
struct measurement {
    double seconds = 0;          // timed wall-clock, all iterations
    std::uint64_t iterations = 0;
    std::map<std::string, double> sums;   // per-workload accumulators
    std::vector<double> samples;          // per-workload samples (latencies, ...)
    double per_iteration() const { return iterations ? seconds / static_cast<double>(iterations) : 0; }
};

using counters = std::map<std::string, double>;

}  // namespace cb
