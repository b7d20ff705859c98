// The server side the echo-like workloads share (echo, echo_accept,
// slow_io, idle_conns): one connection's fixed-size requests, each read
// whole and written back, until the client closes the connection; and the
// server's CPU as this process measures it.
#pragma once

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>

#include <sys/resource.h>
#include <time.h>

#include "runtimes/core/fd.hpp"
#include "runtimes/core/task.hpp"

namespace cb::wl {

// What a server does between reading a request and writing it back.
struct echo_service {
    std::chrono::nanoseconds upstream{0};  // a simulated upstream's latency (slow_io): ctx.sleep_for, if > 0
    // Called with each whole request before its reply (echo_accept's stall
    // mark); nullptr: nothing.
    void (*on_request)(const char* request, const void* arg) = nullptr;
    const void* arg = nullptr;
};

inline constexpr std::size_t max_echo_request = 64;

// Serves fd until the client closes it (EOF before a request's first byte)
// and returns the requests served. An EOF inside a request, a read or write
// error throws, naming `who` ("echo server", ...). One frame per connection:
// the loop over requests runs inside it, so a request costs no allocation.
template <class C>
task<std::uint64_t> serve_echo(C& ctx, int fd, std::size_t size, std::string who, echo_service svc = {}) {
    char buf[max_echo_request];
    if (size == 0 || size > max_echo_request) throw std::invalid_argument(who + ": request size out of range");
    std::uint64_t served = 0;
    for (;;) {
        std::size_t got = 0;
        while (got < size) {
            const ssize_t r = co_await ctx.read(fd, buf + got, size - got);
            const int err = r < 0 ? errno : ECONNRESET;  // EOF inside a request: the client broke off
            if (r == 0 && got == 0) co_return served;
            if (r <= 0) throw_errno(who + ": read", err);
            got += static_cast<std::size_t>(r);
        }
        if (svc.on_request) svc.on_request(buf, svc.arg);
        if (svc.upstream.count() > 0) co_await ctx.sleep_for(svc.upstream);
        for (std::size_t put = 0; put < size;) {
            const ssize_t w = co_await ctx.write(fd, buf + put, size - put);
            const int err = w < 0 ? errno : EPIPE;
            if (w <= 0) throw_errno(who + ": write", err);
            put += static_cast<std::size_t>(w);
        }
        ++served;
    }
}

// This process's CPU, every thread (CLOCK_PROCESS_CPUTIME_ID), plus that of
// its reaped children (RUSAGE_CHILDREN: task or worker processes, reaped
// when a run returns; the load generator only after its report is read), in
// ns.
inline double server_cpu_ns() {
    timespec ts{};
    ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    rusage ru{};
    ::getrusage(RUSAGE_CHILDREN, &ru);
    const auto us = [](const timeval& t) { return static_cast<double>(t.tv_sec) * 1e6 + static_cast<double>(t.tv_usec); };
    return static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec) + (us(ru.ru_utime) + us(ru.ru_stime)) * 1e3;
}

}  // namespace cb::wl
