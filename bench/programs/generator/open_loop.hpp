// The generator's open loop (--rate=R --duration-ms=D): constant total rate
// R over the CONNS connections for D ms, in the manner of wrk2. Send n
// (n = 0, 1, ...) is due at t0 + n/R on connection n mod CONNS, so
// connection c sends at t0 + (c + k*CONNS)/R. A request is sent when due
// whether or not its connection's previous reply has come (pipelined; each
// connection keeps a FIFO of intended send times, and replies come back in
// order), and its latency is measured from its INTENDED send time, so a
// server stall shows in the percentiles instead of silencing the client
// (coordinated omission). Cheap by batching: one timed wait (epoll_pwait2,
// to the next due send but at least `tick` after the last sent one's due
// time, tick = 1/R within [20 us, 250 us]) then every send that is due, one
// write per connection.
//
// Late sends: a send written more than one interval after its intended
// time, the interval being the per-connection one (CONNS/R) or 1 ms if that
// is larger (above 50k req/s the tick makes sends up to 20-250 us late by
// design). The phase is valid (gen_valid) when at most 1% of sends were
// late, every send was made and every reply came back intact. After the
// schedule it drains the outstanding replies (giving up after 10 s without
// one). Also measured:
//   cpu_ns         the generating thread's own CPU over the phase
//                  (RUSAGE_THREAD: the hiccup probe's is not in it);
//   hiccup_*       the hiccup probe (hiccup_probe.hpp; 0 with --no-hiccups);
//   steal_ns       steal time over the phase, all CPUs, from /proc/stat;
//   server_cpu_ns  the server's CPU over the phase (server_clock,
//                  cpu_sampling.hpp), sampled when the phase starts and
//                  after its last reply, before any connection closes (so
//                  process-per-task servers' children are still alive and
//                  counted); server_cpu_ok false if it could not be read.
//
// With --threads T each thread owns a slice of the connections and the
// sends due on them (open_sends): the schedule is the one above over all
// CONNS, so the threads together send exactly what one thread would, at the
// same intended times; lateness and validity are judged per slice (every
// send of the slice made, at most 1% of them late) and for the whole.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

#include <sys/types.h>

#include "cpu_sampling.hpp"
#include "generator.hpp"
#include "hiccup_probe.hpp"
#include "workloads/io/generator_report.hpp"
#include "workloads/io/histogram.hpp"

namespace cb::gen {

struct open_config {
    std::uint64_t rate = 0, duration_ms = 0;
    bool hiccups = true;
    std::size_t size = 0;
};

// The open phase over already-connected, epoll-registered (data = index,
// EPOLLIN) non-blocking sockets `fds` (-1: a connection already lost) in
// the epoll set `ep`; base[c] is the number of requests connection c made
// before (the next request's pattern). `server` is whose CPU it measures.
// A thread's share: its connections are the schedule's first..first+n-1
// of all_conns (0: all of them, one thread).
struct open_slice {
    std::size_t first = 0, all_conns = 0;
};

// One slice's sends and replies from the common start t0: its sends,
// replies, lateness and validity, the thread's CPU from cpu0 (RUSAGE_THREAD)
// to after at_end (called once the last reply is in, before anything
// closes), its latencies recorded into `lat`; the whole-phase readings
// (server CPU, steal, hiccups) are not in it.
[[nodiscard]] wl::echo_phase open_sends(const std::vector<int>& fds, const std::vector<std::uint64_t>& base, int ep,
                                        const open_config& cfg, const open_slice& slice, clk::time_point t0,
                                        std::uint64_t cpu0, wl::log_histogram& lat,
                                        const std::function<void(wl::echo_phase&)>& at_end = {});

// The whole phase's readings around the slices: steal time, the server's
// CPU (sc.stop once every slice is done) and the hiccup probe.
struct open_meter {
    server_clock sc;
    hiccup_probe probe;
    std::uint64_t steal0 = 0;
    bool steal_ok = false;
    explicit open_meter(pid_t server) : sc{server} {}
    void start();                   // steal and the server's CPU (then start the probe if wanted)
    void stop(wl::echo_phase& r);   // the probe and steal into r (sc.stop is the caller's, earlier)
};

// The whole phase on this thread alone: one slice of every connection;
// its latencies recorded into `lat`.
[[nodiscard]] wl::echo_phase open_loop(const std::vector<int>& fds, const std::vector<std::uint64_t>& base, int ep,
                                       const open_config& cfg, pid_t server, wl::log_histogram& lat);

}  // namespace cb::gen
