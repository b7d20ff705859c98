// The generator's CPU readings: its own (getrusage), the machine's steal
// time (/proc/stat), and the server's, read from outside the server through
// the CPU clocks of its processes (server_clock).
#pragma once

#include <cstdint>

#include <sys/types.h>

#include "workloads/io/generator_report.hpp"

namespace cb::gen {

// User + system CPU of RUSAGE_SELF or RUSAGE_THREAD, in ns.
[[nodiscard]] std::uint64_t cpu_ns(int who);

// Steal time of all CPUs so far (the "cpu" line of /proc/stat, 8th value, in
// USER_HZ ticks), in ns; false if it cannot be read.
[[nodiscard]] bool steal_ns(std::uint64_t& out);

// The CPU time (user + system, ns) of process `root` and all its live
// descendants except `skip`, from their process CPU clocks; descendants are
// found through /proc/PID/task/TID/children. False if root's clock cannot be
// read. A child that exits between listing and reading is skipped.
[[nodiscard]] bool tree_cpu_ns(pid_t root, pid_t skip, std::uint64_t& out);

// The server's CPU (tree_cpu_ns of the server, this generator left out),
// sampled at a phase's two ends: stop() fills server_cpu_ns and
// server_cpu_ok when both samples could be read.
struct server_clock {
    pid_t pid;
    std::uint64_t t0 = 0;
    bool ok = false;
    void start();
    void stop(wl::echo_phase& r) const;
};

}  // namespace cb::gen
