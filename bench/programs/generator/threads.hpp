// --threads T (main.cpp says what it means): the phases run by T threads,
// each on its own closed_loop (its slice of the connections, its own epoll
// set) and, for the open phase, its slice of the schedule; then merged into
// one phase each, exactly (counts added, histograms added bucket by bucket).
// One thread runs in main.cpp as it always has; this is for T >= 2.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include <sys/types.h>

#include "closed_loop.hpp"
#include "open_loop.hpp"
#include "workloads/io/generator_report.hpp"
#include "workloads/io/histogram.hpp"

namespace cb::gen {

// A phase as the threads ran it: the merged one and each thread's own.
struct phase_result {
    wl::echo_phase merged;
    wl::log_histogram hist;
    std::vector<wl::echo_phase> parts;
    std::vector<wl::log_histogram> part_hists;
};

// Thread t's connections start at slice_first(t) (of conns, over threads).
[[nodiscard]] inline std::size_t slice_first(std::size_t t, std::size_t conns, std::size_t threads) {
    return t * conns / threads;
}

// The parts summed: counts added, elapsed the longest (they share a start),
// latencies from the merged histogram; threads_invalid added. gen_valid is
// every part's, and for an open phase (open_total > 0) also the whole's
// own rule (every send made, at most 1% late, every reply back intact).
[[nodiscard]] wl::echo_phase merge_parts(const std::vector<wl::echo_phase>& parts, const wl::log_histogram& h,
                                         std::uint64_t open_total);

struct thread_plan {
    bool closed_phase_reported = true;  // the closed phase is a report line (not an open loop alone)
    bool closed_first = false;          // sample the server's CPU over the closed phase
    bool open = false;
    open_config oc{};
    pid_t server = 0;
    std::vector<unsigned> pin;          // thread t on pin[t % size] (empty: not pinned)
    std::size_t conns = 0;              // over all threads
    std::uint64_t requests = 0;         // per connection, closed phase
};

// Runs the phases on loops.size() threads from the go byte on; the report's
// phases in order (closed, open as the plan says).
[[nodiscard]] std::vector<phase_result> run_threads(std::vector<std::unique_ptr<closed_loop>>& loops,
                                                    const thread_plan& plan);

// Pins the calling thread to `cpu`; exits 2 if it cannot.
void pin_thread(unsigned cpu);

}  // namespace cb::gen
