// The server loop the echo-like workloads (echo, echo_accept, slow_io,
// idle_conns) and `cobench serve` share: one connection's requests, each
// read and written back, until the client closes the connection; the
// accept outcomes; a task result carrying two counts; and the server's CPU
// as this process measures it.
#pragma once

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

#include <sys/resource.h>
#include <time.h>

#include "runtimes/core/fd.hpp"
#include "runtimes/core/task.hpp"

namespace cb::wl {

// What a server does between reading a request and writing it back, and
// what a request is.
struct echo_service {
    std::chrono::nanoseconds upstream{0};  // a simulated upstream's latency (slow_io): ctx.sleep_for, if > 0
    // Called with each whole request before its reply (echo_accept's stall
    // mark); nullptr: nothing.
    void (*on_request)(const char* request, const void* arg) = nullptr;
    const void* arg = nullptr;
    // `cobench serve`, for load tools of any protocol: each read (up to
    // `size` bytes, into `buffer`, which holds that many) is a request, and
    // a connection error (reset, or shut down when stopping) ends the
    // connection instead of throwing. nullptr: requests of exactly `size`
    // bytes (at most max_echo_request), read whole, any error throws.
    char* buffer = nullptr;
};

inline constexpr std::size_t max_echo_request = 64;

// An error that ends one connection, not the server: the client reset it,
// or it was shut down when stopping.
inline bool connection_error(int err) {
    return err == ECONNRESET || err == EPIPE || err == ETIMEDOUT || err == EHOSTUNREACH || err == ENETUNREACH;
}

// Serves fd until the client closes it (EOF before a request's first byte)
// and returns the requests served. An EOF inside a request, a read or write
// error throws, naming `who` ("echo server", ...). One frame per connection:
// the loop over requests runs inside it, so a request costs no allocation.
template <class C>
task<std::uint64_t> serve_echo(C& ctx, int fd, std::size_t size, std::string who, echo_service svc = {}) {
    char local[max_echo_request];
    const bool any_size = svc.buffer != nullptr;
    char* const buf = any_size ? svc.buffer : local;
    if (size == 0 || (!any_size && size > max_echo_request))
        throw std::invalid_argument(who + ": request size out of range");
    const std::size_t whole = any_size ? 1 : size;  // a request is read once this much has come
    std::uint64_t served = 0;
    for (;;) {
        std::size_t got = 0;
        while (got < whole) {
            const ssize_t r = co_await ctx.read(fd, buf + got, size - got);
            const int err = r < 0 ? errno : ECONNRESET;  // EOF inside a request: the client broke off
            if (r == 0 && got == 0) co_return served;
            if (r < 0 && any_size && connection_error(err)) co_return served;
            if (r <= 0) throw_errno(who + ": read", err);
            got += static_cast<std::size_t>(r);
        }
        if (svc.on_request) svc.on_request(buf, svc.arg);
        if (svc.upstream.count() > 0) co_await ctx.sleep_for(svc.upstream);
        for (std::size_t put = 0; put < got;) {
            const ssize_t w = co_await ctx.write(fd, buf + put, got - put);
            const int err = w < 0 ? errno : EPIPE;
            if (w <= 0 && any_size && connection_error(err)) co_return served;
            if (w <= 0) throw_errno(who + ": write", err);
            put += static_cast<std::size_t>(w);
        }
        ++served;
    }
}

// What an accept through the context returned: the connection's descriptor;
// accept_stopped once the listener was shut down (EINVAL: the run, or the
// server, is over); accept_again for a connection reset while queued
// (ECONNABORTED) or a signal (EINTR). Anything else throws, naming `who`.
// Reads errno: call it on the accept's result at once.
inline constexpr int accept_stopped = -1, accept_again = -2;
inline int accepted(ssize_t a, std::string_view who) {
    if (a >= 0) return static_cast<int>(a);
    const int err = errno;
    if (err == EINVAL) return accept_stopped;
    if (err == ECONNABORTED || err == EINTR) return accept_again;
    throw_errno(std::string(who) + ": accept", err);
}

// A server task's result where it carries two counts (a forked worker's
// result is its only channel back): connections accepted << 40 | requests
// served, room for 2^40 requests and 2^24 connections.
struct served_count {
    static constexpr unsigned conn_shift = 40;
    std::uint64_t conns = 0, requests = 0;
    constexpr std::uint64_t packed() const { return conns << conn_shift | requests; }
    static constexpr served_count unpack(std::uint64_t v) {
        return {v >> conn_shift, v & ((std::uint64_t{1} << conn_shift) - 1)};
    }
};

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
