// The runtime x workload product, registered with Google Benchmark one
// runtime family at a time, plus the pairs declared unable to run.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/product.hpp"
#include "workloads/workload.hpp"

namespace cb {


std::vector<std::string> runtime_names();

// The registered runtimes' traits, in registry order.
std::vector<runtime_traits> registered_traits();

// What the results say about themselves (results/README.md, schema 2):
// {"runtimes": [traits of every registered runtime, in registry order],
//  "counters": {counter: {"unit", "better", ...}}}. Merged into the context.
nlohmann::json results_metadata();
std::vector<declared_pair> declared_pairs(profile p);
std::vector<planned_pair> planned_pairs(profile p);

// Registers the benchmarks of one runtime whose name matches `filter` (a
// regular expression searched in the name; empty: all); returns how many.
// quiet_wait (--quiet-wait): how long a run measured beside other work waits
// for quiet before it is measured again (0: it is not).
std::size_t register_family(const std::string& runtime, profile p, const std::string& filter, int repetitions,
                            double quiet_wait);

// Runs one benchmark once with callgrind instrumentation around the run; returns
// its operation count (the divisor of instructions_per_op). Throws if unknown.
double run_instrumented(const std::string& name, profile p);

}  // namespace cb
