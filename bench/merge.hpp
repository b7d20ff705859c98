// Merging a family's Google Benchmark JSON into the one results document
// the orchestrator writes (bench/orchestrate.cpp).
#pragma once

#include <cstddef>
#include <string>

#include <nlohmann/json.hpp>

#include "bench/supervise.hpp"

namespace cb {

struct family_part {
    std::size_t benchmarks = 0, errors = 0;
    std::string first_error;  // "run_name: message" of the first errored entry
    // {name: {wall_s, repetitions}}: each benchmark's wall time, all its
    // repetitions, set-up and warm-up included (empty if the child wrote none).
    nlohmann::json entry_walls = nlohmann::json::object();
};

// Where a family child writes its benchmarks' wall times, beside its output.
std::string entry_walls_path(const std::string& family_out);

// A child that exited with output_errno_status + errno (bench/supervise.hpp):
// its message becomes "could not write family output 'PATH': No space left
// on device (ENOSPC)". True if it was one.
bool name_output_error(child_result& r, const std::string& path);

// Appends the entries of one family's output file to `benchmarks` (a
// statistic that does not exist, null, left out) and takes its context if
// `context` has none yet. A child that ended "ok" but wrote nothing, or
// nothing readable, becomes an error in `r`; one that could not write its
// output is named so (name_output_error), and nothing of it is merged.
// The benchmarks' wall times come back in the result's entry_walls.
family_part merge_family(const std::string& path, child_result& r, nlohmann::json& benchmarks,
                         nlohmann::json& context);

}  // namespace cb
