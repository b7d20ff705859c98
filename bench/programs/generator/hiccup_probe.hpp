// The hiccup probe, jHiccup-style: a thread of the generator that sleeps
// 1 ms in a loop and records how much later than asked it woke, into a
// histogram: the machine's own stall floor during an open-loop phase, to
// read the phase's p99.9 and max against. Its CPU is not in the generating
// thread's (RUSAGE_THREAD).
#pragma once

#include <atomic>
#include <thread>

#include "workloads/io/histogram.hpp"

namespace cb::gen {

class hiccup_probe {
public:
    hiccup_probe() = default;
    hiccup_probe(const hiccup_probe&) = delete;
    hiccup_probe& operator=(const hiccup_probe&) = delete;
    ~hiccup_probe() { (void)stop(); }
    void start();  // exits 2 if the thread cannot be made
    // Joins the thread (if started); the wake-up lateness it recorded, in ns.
    [[nodiscard]] const wl::log_histogram& stop();

private:
    std::atomic<bool> stop_{false};
    std::thread thread_;
    wl::log_histogram hist_;
};

}  // namespace cb::gen
