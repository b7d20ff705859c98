// echo: a loopback TCP echo server written against the context, one task a
// connection (read a 64-byte request, write it back, until EOF), loaded by C
// concurrent connections. Requests per second and latency p50/p99.
//
// How clients are driven: not by the runtime under test (it would measure
// itself twice) but by a separate executable, cobench_echo_client
// (bench/echo_client.cpp): one thread, epoll, closed loop, one request
// outstanding per connection. It is started with posix_spawn, never fork,
// because the pool and the fibers' families run threads. It takes one core of
// the 2-core machine, so the server has the other (or shares both, for the
// multi-threaded runtimes). On loopback the sender of a segment pays for most
// of its delivery, so a request costs the client about as much CPU as the
// server: at 10 connections and more the single-threaded runtimes keep the
// client's core nearly busy (its CPU time is in echo_report::cpu_ns), and
// their req_per_s is then the client's ceiling, a lower bound for the server.
//
// Synchronisation, all outside the clock unless said:
//   state constructor: listen on 127.0.0.1:0, spawn the client, accept its C
//     connections (the client connects them all, then waits for a go byte on
//     a pipe), configure every fd for the runtime;
//   run() (timed): every task parks once (a barrier: no hook), so that each
//     connection has its server before any request is sent; task 0 then
//     writes the go byte through ctx.write; every task serves its connection
//     until EOF; the client closes each connection after its last round
//     trip, so the run ends when the client is done;
//   verify(): reads the client's one-line report and reaps it.
// server_cpu_ns_per_req is the server side alone: this process's CPU
// (CLOCK_PROCESS_CPUTIME_ID, every thread) plus its reaped children's
// (RUSAGE_CHILDREN: task or worker processes, reaped when the run returns),
// from after the connections were accepted to before the client is reaped,
// so the client's CPU is never in it; client_cpu_ns_per_req is the client's
// own. On loopback the sender pays for most of a segment's delivery, so each
// side's system time is mostly its own writes.
// The other counters come from the client, measured from the go byte to the
// last reply: req_per_s is the steady service rate, not diluted by starting
// and joining C tasks (1000 forks take over a second, and spawn and skynet
// measure that already); p50/p99 are per-request round trips. Counters are
// means over runs.
#pragma once

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <optional>
#include <string>
#include <vector>

#include <sys/resource.h>
#include <time.h>

#include "common.hpp"
#include "io/echo_client.hpp"
#include "io/loopback.hpp"
#include "runtimes/core/fd.hpp"

namespace cb::wl {

struct echo {
    static constexpr std::string_view name = "echo";
    static constexpr std::size_t request_size = 64;
    // Descriptors a process holds besides the connections: the listener,
    // pipes, epoll, standard streams, the test framework's.
    static constexpr std::size_t spare_fds = 64;
    struct params {
        std::size_t conns;
        std::uint64_t requests;  // per connection
        std::string label() const { return "conns:" + std::to_string(conns); }
    };
    static std::vector<params> sizes(profile p, const runtime_traits& rt) {
        std::vector<std::size_t> cs;
        if (rt.cost == cost_class::heavy)
            cs = by_profile<std::vector<std::size_t>>(p, {2}, {1, 10, 100}, {1, 10, 100, 1000});
        else
            cs = by_profile<std::vector<std::size_t>>(p, {2}, {1, 10, 100, 1000}, {1, 10, 100, 1000, 4000});
        // A fixed total per run, at least 20 round trips per connection so
        // that every connection's latencies are in the percentiles.
        const std::uint64_t total = by_profile<std::uint64_t>(p, 100, 10000, 50000);
        std::vector<params> out;
        for (auto c : cs) out.push_back({c, std::max<std::uint64_t>(20, total / c)});
        return out;
    }
    static std::string unsupported(const runtime_traits& rt, const params& p) {
        if (auto why = needs_concurrency(rt, "serving connections that all wait for a start signal"); !why.empty())
            return why;
        if (std::string why; echo_client::find(&why).empty()) return why;
        rlimit rl{};
        if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_max != RLIM_INFINITY && p.conns + spare_fds > rl.rlim_max)
            return "needs " + std::to_string(p.conns + spare_fds) + " descriptors, RLIMIT_NOFILE hard limit is " +
                   std::to_string(rl.rlim_max);
        return {};
    }
    static std::size_t tasks(const params& p) { return p.conns; }
    static run_options options(const params&) {
        run_options o;
        o.parks = true;
        return o;
    }
    static double ops(const params& p) { return static_cast<double>(p.conns * p.requests); }

    template <class C>
    struct state {
        explicit state(const params& p) {
            if (!ensure_nofile(p.conns + spare_fds)) throw std::runtime_error("echo: RLIMIT_NOFILE too low");
            // A server task writing to a client that died must get EPIPE (an
            // error its task reports), not kill the whole benchmark process.
            if (struct sigaction sa{}; ::sigaction(SIGPIPE, nullptr, &sa) == 0 && sa.sa_handler == SIG_DFL)
                std::signal(SIGPIPE, SIG_IGN);
            std::uint16_t port = 0;
            unique_fd listener = listen_loopback(static_cast<int>(p.conns + 16), port);
            client.emplace(port, p.conns, p.requests, request_size);
            conns = accept_clients(listener.get(), p.conns, *client);
            for (auto& c : conns) C::configure_fd(c.get());
            C::configure_fd(client->go_fd());
            server_cpu0 = server_cpu_ns();
        }
        // verify() reads the client's report; the state is const there.
        mutable std::optional<echo_client> client;
        std::vector<unique_fd> conns;
        double server_cpu0 = 0;
        mutable double server_cpu = -1;  // ns, taken once, before the client is reaped
        const echo_report& report() const {
            if (server_cpu < 0) server_cpu = server_cpu_ns() - server_cpu0;
            return client->finish();
        }
    };
    // This process's CPU, every thread, plus that of its reaped children.
    static double server_cpu_ns() {
        timespec ts{};
        ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
        rusage ru{};
        ::getrusage(RUSAGE_CHILDREN, &ru);
        const auto us = [](const timeval& t) { return static_cast<double>(t.tv_sec) * 1e6 + static_cast<double>(t.tv_usec); };
        return static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec) + (us(ru.ru_utime) + us(ru.ru_stime)) * 1e3;
    }

    // Serves connection i until EOF; returns the round trips served. Once all
    // tasks are up, task 0 starts the client's timed loop.
    template <class C>
    static task<std::uint64_t> body(C& ctx, state<C>& s, std::size_t i, const params&) {
        co_await ctx.park();
        if (i == 0) {
            const char go = 'g';
            const ssize_t w = co_await ctx.write(s.client->go_fd(), &go, 1);
            const int err = w < 0 ? errno : EPIPE;
            if (w != 1) throw_errno("echo: go byte", err);
        }
        const int fd = s.conns[i].get();
        char buf[request_size];
        std::uint64_t served = 0;
        for (;;) {
            std::size_t got = 0;
            while (got < request_size) {
                const ssize_t r = co_await ctx.read(fd, buf + got, request_size - got);
                const int err = r < 0 ? errno : ECONNRESET;  // EOF inside a request: the client broke off
                if (r == 0 && got == 0) co_return served;
                if (r <= 0) throw_errno("echo server: read", err);
                got += static_cast<std::size_t>(r);
            }
            for (std::size_t put = 0; put < request_size;) {
                const ssize_t w = co_await ctx.write(fd, buf + put, request_size - put);
                const int err = w < 0 ? errno : EPIPE;
                if (w <= 0) throw_errno("echo server: write", err);
                put += static_cast<std::size_t>(w);
            }
            ++served;
        }
    }
    template <class C>
    static std::string verify(const state<C>& s, const params& p, const std::vector<std::uint64_t>& res) {
        const echo_report& r = s.report();
        if (!r.problem.empty()) return r.problem;
        if (r.mismatches != 0) return std::to_string(r.mismatches) + " replies differed from their request";
        const std::uint64_t want = p.conns * p.requests;
        if (r.requests != want || r.errors != 0)
            return "client completed " + std::to_string(r.requests) + " of " + std::to_string(want) + " requests, " +
                   std::to_string(r.errors) + " connection errors";
        return expect_each(res, p.requests, "round trips served");
    }
    template <class C>
    static void collect(const state<C>& s, const params&, const std::vector<std::uint64_t>&, measurement& m) {
        const echo_report& r = s.report();
        m.sums["requests"] += static_cast<double>(r.requests);
        m.sums["client_s"] += static_cast<double>(r.elapsed_ns) / 1e9;
        m.sums["p50_us"] += static_cast<double>(r.p50_ns) / 1e3;
        m.sums["p99_us"] += static_cast<double>(r.p99_ns) / 1e3;
        m.sums["client_cpu_s"] += static_cast<double>(r.cpu_ns) / 1e9;
        m.sums["server_cpu_ns"] += s.server_cpu;
    }
    static constexpr counter_meta counter_info[] = {
        {"req_per_s", "req/s", better::higher}, {"p50_us", "us", better::lower}, {"p99_us", "us", better::lower},
        {"client_cpu_frac", "fraction", better::none},
        // Resolution: children's CPU (processes) moves in USER_HZ ticks.
        {"server_cpu_ns_per_req", "ns/req", better::lower, 1e7, true},
        {"client_cpu_ns_per_req", "ns/req", better::none, 0, true}};
    static counters report(const params&, const measurement& m) {
        auto sum = [&](const char* k) {
            auto it = m.sums.find(k);
            return it == m.sums.end() ? 0.0 : it->second;
        };
        const double runs = static_cast<double>(std::max<std::uint64_t>(1, m.iterations));
        const double secs = sum("client_s");
        return {{"req_per_s", secs > 0 ? sum("requests") / secs : 0},
                {"p50_us", sum("p50_us") / runs},
                {"p99_us", sum("p99_us") / runs},
                // Near 1, the client had its core to itself and req_per_s is
                // a lower bound on what the server could do.
                {"client_cpu_frac", secs > 0 ? sum("client_cpu_s") / secs : 0},
                {"server_cpu_ns_per_req", sum("requests") > 0 ? sum("server_cpu_ns") / sum("requests") : 0},
                {"client_cpu_ns_per_req", sum("requests") > 0 ? sum("client_cpu_s") * 1e9 / sum("requests") : 0}};
    }
};

}  // namespace cb::wl
