// slow_io: the echo server of workloads/echo.hpp where every request waits on
// a simulated upstream of latency L before its reply, at N connections with
// one request outstanding on each (the closed-loop cobench_echo_client), so N
// requests are in flight and each holds its task for L. It measures what the
// claim "many slow I/O tasks favour coroutines, a few fast ones are fine on
// threads" is about: throughput, p99 and server CPU per request over the grid
// L in {0, 100 us, 1 ms, 10 ms, 100 ms} x N in {1, 10, 100, 1000, 10000}
// (entries slow_io/<runtime>/upstream:L/conns:N; issue #13 item 4).
//
// The upstream is ctx.sleep_for(L): each runtime's own way to wait, a thread
// blocked in nanosleep for processes and threads, a timer on the loop or the
// fiber scheduler (a suspended oneTBB task for the pool) for the others. That
// is what a waiting request costs each runtime (a blocked kernel thread, or a
// parked task and a timer), and it costs no CPU of its own. A real upstream
// (a delay process answering on a socket) would be closer to life (the wait
// would end in fd readiness, like the read before it, rather than in a timer
// expiry), but on a 2-vCPU machine where the client already takes one core,
// a third process would take CPU from the server under test and add its own
// scheduling noise to every cell. The price of the choice: a thread's sleep
// overshoots by its timer slack (50 us by default), a loop's timer by its
// wake-up; both show in p50 against L, which is the runtime's, not a model's.
// L = 0 makes no call at all: the cell is the plain echo.
//
// Counters: req_per_s, p50_us, p99_us (client-side round trips, go byte to
// last reply, as echo), server_cpu_ns_per_req (this process's CPU and its
// reaped children's over the run, the client's never in it, as echo),
// client_cpu_frac (near 1: the client, not the server, set the pace),
// ideal_req_per_s = N / L (Little's law: what N requests in flight, each
// held for L, allow at best; 0 for L = 0) and upstream_us = L.
// server_cpu_ns_per_req spans the whole run (starting and joining its tasks
// included), so in cells with few requests (L = 100 ms, N <= 10: 20 to 200)
// that fixed cost is a large share of it.
//
// Sizes (rounds()): a run makes about 20000 round trips in all (quick:
// 10000), at least 5 a connection, so that every cell has a p99 over many
// samples; with an upstream, it waits at most about 1 s a connection (quick:
// 0.1 s), except that small N keep 20 round trips a connection (so 2 s for
// L = 100 ms and N <= 10). The iteration count is fixed at one run (the
// harness would otherwise repeat a 2 s cell up to its minimum time) and the
// full profile caps repetitions at two (max_repetitions). Heavy runtimes
// (a forked process a connection) stop at N = 1000, declared.
// client_cpu_frac is the client's CPU from the go byte to its last reply
// over that time, as echo reports it (connecting the N sockets before the go
// byte is set-up and not in it).
#pragma once

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <sys/resource.h>
#include <time.h>

#include "common.hpp"
#include "io/echo_client.hpp"
#include "io/echo_server.hpp"
#include "io/loopback.hpp"
#include "runtimes/core/fd.hpp"

namespace cb::wl {

struct slow_io {
    static constexpr std::string_view name = "slow_io";
    static constexpr bool exercises_io = true;  // every I/O backend runs it (bench/product.hpp)
    static constexpr std::size_t request_size = 64;
    // Descriptors a process holds besides the connections (as echo).
    static constexpr std::size_t spare_fds = 64;
    // One task a connection: a process each beyond this many is the fork
    // bomb the grid does not need to show (idle_memory and spawn measure it).
    static constexpr std::size_t heavy_max_conns = 1000;
    static constexpr std::uint64_t min_rounds = 5;

    struct params {
        std::uint64_t upstream_us;  // L
        std::size_t conns;          // N
        std::uint64_t requests;     // round trips per connection
        std::string label() const { return "upstream:" + latency_label(upstream_us) + "/conns:" + std::to_string(conns); }
    };

    // 0us, 100us, 1ms, 10ms, 100ms, 2s: the largest unit that divides L.
    static std::string latency_label(std::uint64_t us) {
        if (us != 0 && us % 1'000'000 == 0) return std::to_string(us / 1'000'000) + "s";
        if (us != 0 && us % 1'000 == 0) return std::to_string(us / 1'000) + "ms";
        return std::to_string(us) + "us";
    }

    // Round trips per connection: about `samples` in all (at least
    // min_rounds a connection), but no more than about `max_wait_us` of
    // upstream waiting a connection, unless that would leave a connection
    // fewer than floor_rounds: 20 for one connection, fewer as connections
    // grow (200 round trips in all), never below min_rounds.
    static std::uint64_t rounds(std::uint64_t upstream_us, std::size_t conns, std::uint64_t samples,
                                std::uint64_t max_wait_us) {
        const std::uint64_t n = std::max<std::uint64_t>(1, conns);
        const std::uint64_t want = std::max(min_rounds, (samples + n - 1) / n);
        if (upstream_us == 0) return want;
        const std::uint64_t floor_rounds = std::clamp<std::uint64_t>((200 + n - 1) / n, min_rounds, 20);
        return std::min(want, std::max(max_wait_us / upstream_us, floor_rounds));
    }

    static std::vector<params> sizes(profile pr, const runtime_traits&) {
        using v = std::vector<std::uint64_t>;
        using c = std::vector<std::size_t>;
        // The test profile (ctest under every runtime): two connections, a
        // plain and a waiting cell, a handful of round trips.
        if (pr == profile::test) return {{0, 2, 5}, {1000, 2, 5}};
        const v ls = by_profile<v>(pr, {}, {0, 1000}, {0, 100, 1000, 10'000, 100'000});
        const c ns = by_profile<c>(pr, {}, {10, 1000}, {1, 10, 100, 1000, 10'000});
        const std::uint64_t samples = by_profile<std::uint64_t>(pr, 0, 10'000, 20'000);
        const std::uint64_t max_wait_us = by_profile<std::uint64_t>(pr, 0, 100'000, 1'000'000);
        std::vector<params> out;
        for (auto l : ls)
            for (auto n : ns) out.push_back({l, n, rounds(l, n, samples, max_wait_us)});
        return out;
    }
    static std::string unsupported(const runtime_traits& rt, const params& p) {
        if (auto why = needs_concurrency(rt, "serving connections that all wait for a start signal"); !why.empty())
            return why;
        if (rt.cost == cost_class::heavy && p.conns > heavy_max_conns)
            return std::to_string(p.conns) + " connections would be " + std::to_string(p.conns) +
                   " forked tasks (one a connection); the grid stops at " + std::to_string(heavy_max_conns) +
                   " for heavy runtimes";
        if (std::string why; echo_client::find(&why).empty()) return why;
        rlimit rl{};
        if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_max != RLIM_INFINITY && p.conns + spare_fds > rl.rlim_max)
            return "needs " + std::to_string(p.conns + spare_fds) + " descriptors, RLIMIT_NOFILE hard limit is " +
                   std::to_string(rl.rlim_max);
        // One kernel task a connection: the user's process limit bounds them.
        if (rt.stack == stack_model::process || rt.stack == stack_model::os_thread)
            if (::getrlimit(RLIMIT_NPROC, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && p.conns + 64 > rl.rlim_cur)
                return "needs " + std::to_string(p.conns) + " threads or processes, RLIMIT_NPROC is " +
                       std::to_string(rl.rlim_cur);
        return {};
    }
    static std::size_t tasks(const params& p) { return p.conns; }
    static run_options options(const params&) {
        run_options o;
        o.parks = true;
        return o;
    }
    static double ops(const params& p) { return static_cast<double>(p.conns * p.requests); }
    // One run an iteration: a cell is sized to last long enough on its own.
    static std::uint64_t iterations(const params&) { return 1; }
    static int max_repetitions(const params&) { return 2; }

    template <class C>
    struct state {
        explicit state(const params& p) {
            if (!ensure_nofile(p.conns + spare_fds)) throw std::runtime_error("slow_io: RLIMIT_NOFILE too low");
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

    // Serves connection i until EOF: read a request, wait on the upstream,
    // write the request back. Returns the round trips served. Once all tasks
    // are up, task 0 starts the client's timed loop.
    template <class C>
    static task<std::uint64_t> body(C& ctx, state<C>& s, std::size_t i, const params& p) {
        co_await ctx.park();
        if (i == 0) {
            const char go = 'g';
            const ssize_t w = co_await ctx.write(s.client->go_fd(), &go, 1);
            const int err = w < 0 ? errno : EPIPE;
            if (w != 1) throw_errno("slow_io: go byte", err);
        }
        echo_service svc;
        svc.upstream = std::chrono::microseconds(p.upstream_us);
        co_return co_await serve_echo(ctx, s.conns[i].get(), request_size, "slow_io server", svc);
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
        if (res.size() != p.conns)
            return std::to_string(res.size()) + " task results for " + std::to_string(p.conns) + " connections";
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
        {"req_per_s", "req/s", better::higher},
        {"p50_us", "us", better::lower},
        {"p99_us", "us", better::lower},
        // Resolution: children's CPU (processes) moves in USER_HZ ticks.
        {"server_cpu_ns_per_req", "ns/req", better::lower, 1e7, true},
        {"client_cpu_frac", "fraction", better::none},
        {"ideal_req_per_s", "req/s", better::none},
        {"upstream_us", "us", better::none}};
    static counters report(const params& p, const measurement& m) {
        auto sum = [&](const char* k) {
            auto it = m.sums.find(k);
            return it == m.sums.end() ? 0.0 : it->second;
        };
        const double runs = static_cast<double>(std::max<std::uint64_t>(1, m.iterations));
        const double secs = sum("client_s");
        const double l_s = static_cast<double>(p.upstream_us) / 1e6;
        return {{"req_per_s", secs > 0 ? sum("requests") / secs : 0},
                {"p50_us", sum("p50_us") / runs},
                {"p99_us", sum("p99_us") / runs},
                {"server_cpu_ns_per_req", sum("requests") > 0 ? sum("server_cpu_ns") / sum("requests") : 0},
                {"client_cpu_frac", secs > 0 ? sum("client_cpu_s") / secs : 0},
                {"ideal_req_per_s", l_s > 0 ? static_cast<double>(p.conns) / l_s : 0},
                {"upstream_us", static_cast<double>(p.upstream_us)}};
    }
};

}  // namespace cb::wl
