// --report-out FILE: the report as JSON, with each phase's histogram whole,
// so that reports of generators on several hosts merge exactly
// (bench/merge_generators.py reads it):
//
//   {"format": "cobench-generator-report", "version": 1,
//    "host": "...", "port": P, "thread_count": T,
//    "phases": [{"fields": {NAME: VALUE, ...},        // the report line's fields
//                "histogram": HIST,                    // the phase's latencies, ns
//                "per_thread": [{"fields": {...}, "histogram": HIST}, ...]}]}
//   HIST: {"sub_bits": 6, "count": N, "min": NS, "max": NS,
//          "buckets": [[INDEX, COUNT], ...]}           // non-empty buckets only
//
// A bucket's index is log_histogram::index() (workloads/io/histogram.hpp):
// below 64 the value itself, above it 64 sub-buckets per power of two.
#pragma once

#include <string>
#include <vector>

#include "threads.hpp"

namespace cb::gen {

struct report_origin {
    std::string host;
    unsigned port = 0;
};

// Writes the JSON to `path`; false (and why, on stderr) if it cannot.
[[nodiscard]] bool write_report_json(const std::string& path, const report_origin& from,
                                     const std::vector<phase_result>& phases);

}  // namespace cb::gen
