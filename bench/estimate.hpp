// How long a run will take, said before it starts: each selected entry's
// wall time per repetition, as a whole earlier run of the profile measured it
// (bench/timings.json, per profile, made by bench/timings.py from that run's results:
// families[].entry_walls, the family child's time from one benchmark's report
// to the next, set-up and warm-up included), times the repetitions this run
// gives it, plus each family's own start-up. An entry the timings lack (a new
// runtime, a new grid point) counts at the median of the same workload and
// params on the runtimes that have it, else of its workload; the estimate
// says how many it guessed so. The waits for a quiet machine are not in it.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "bench/cli.hpp"
#include "bench/product.hpp"

namespace cb {

struct run_estimate {
    double seconds = 0;
    std::size_t entries = 0;   // selected entries, references included
    std::size_t measured = 0;  // of them, found in the timings by name
    std::size_t guessed = 0;   // counted at a similar entry's median
    std::string source;        // what the timings were measured on, for the message
    std::string missing;       // why there is no estimate (no timings for this profile), or empty
};

// The default timings (bench/timings.json in the source tree), or
// COBENCH_TIMINGS from the environment.
std::string default_timings_path();

// The estimate of a run of `o` over the planned entries and reference entries
// named (each with its repetition cap, 0 for none). Never throws: a missing or
// unreadable timings file, or one of another profile, sets `missing`.
run_estimate estimate_run(const options& o, const std::vector<planned_pair>& entries, const std::string& timings_path);

// "about 52 min (...)" for stderr.
std::string describe(const run_estimate& e);

}  // namespace cb
