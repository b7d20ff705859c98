// What the load generator's parts share: the clock, the request bytes, and
// the ways out. The program's usage and its parts are listed in main.cpp.
#pragma once

#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

#include "workloads/io/generator_report.hpp"
#include "workloads/io/histogram.hpp"

#include <unistd.h>

namespace cb::gen {

using clk = std::chrono::steady_clock;

inline std::uint64_t since_ns(clk::time_point a, clk::time_point b) {
    return b > a ? static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(b - a).count()) : 0;
}

// Byte j of request `seq` on connection c: a pattern that differs between
// connections and between consecutive requests, so a reply sent to the
// wrong connection or a stale one shows as a mismatch.
inline unsigned char pattern(std::size_t c, std::uint64_t seq, std::size_t j) {
    return static_cast<unsigned char>(c * 131 + seq * 31 + j * 7 + 1);
}

// Writes data[off, len) to a non-blocking socket, moving `off` on, until all
// is written (done), the socket buffer is full (blocked: wait for EPOLLOUT)
// or write fails (failed, errno set; 0 if write returned 0).
enum class write_result { done, blocked, failed };
[[nodiscard]] inline write_result write_out(int fd, const unsigned char* data, std::size_t len, std::size_t& off) {
    while (off < len) {
        const ssize_t w = ::write(fd, data + off, len - off);
        if (w > 0) {
            off += static_cast<std::size_t>(w);
        } else if (w < 0 && errno == EINTR) {
            continue;
        } else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return write_result::blocked;
        } else {
            if (w == 0) errno = 0;
            return write_result::failed;
        }
    }
    return write_result::done;
}

// A phase's latency fields from its histogram (within 0.8%, max exact).
inline void set_latencies(wl::echo_phase& p, const wl::log_histogram& h) {
    p.p50_ns = h.percentile(0.50), p.p90_ns = h.percentile(0.90), p.p99_ns = h.percentile(0.99);
    p.p999_ns = h.percentile(0.999);
    p.max_ns = h.max();
}

// The ways out (exits.cpp). With --listen-fds every one of them shuts the
// server's listeners down first, or the server's acceptors would wait
// forever for a connection that never comes.
void add_listener(int fd);               // one of --listen-fds, as it is parsed
[[nodiscard]] bool accepting();          // --listen-fds was given: the server accepts inside its run
void shut_listeners_on_fatal_signals();  // a catchable signal still ends the server's run
[[nodiscard]] bool shut_listeners();     // idempotent; false if a shutdown failed (said on stderr)
[[noreturn]] void die(const char* what);                  // "what: strerror(errno)", exit 2
[[noreturn]] void usage_error(const std::string& what);  // exit 2

}  // namespace cb::gen
