// slow_io: the echo server of workloads/echo.hpp where every request waits on
// a simulated upstream of latency L before its reply, at N connections with
// one request outstanding on each (the closed-loop cobench_echo_client), so N
// requests are in flight and each holds its task for L. It measures what the
// claim "many slow I/O tasks favour coroutines, a few fast ones are fine on
// threads" is about: throughput, p99 and server CPU per request over the grid
// L in {0, 100 us, 1 ms, 100 ms} x N in {1, 10, 100, 1000, 10000} (entries
// slow_io/<runtime>/upstream:L/conns:N): the few fast (N <= 10, L <= 100 us)
// and the many slow (N >= 1000, L >= 1 ms) cells the claim is judged on, and
// between them; 10 ms, between 1 and 100 ms, is left out to keep the grid
// inside the full profile's hour at 5 repetitions.
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
// Sizes (rounds()): a run makes about 10000 round trips in all, at least 5
// a connection, so that every cell has a p99 over many samples; with an
// upstream, it waits at most about 0.4 s a connection (quick: 0.1 s),
// except that small N keep 10 round trips a connection (so 1 s for
// L = 100 ms and N <= 10). The iteration count is fixed at one run (the
// harness would otherwise repeat a 1 s cell up to its minimum time). The
// full profile runs every cell 5 times, as every grid a verdict reads (the
// decision map decides a claim): short cells, not fewer repetitions, keep
// the grid inside the profile's hour. Heavy runtimes (a forked process a
// connection) stop at N = 1000, declared.
// client_cpu_frac is the client's CPU from the go byte to its last reply
// over that time, as echo reports it (connecting the N sockets before the go
// byte is set-up and not in it).
#pragma once

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

#include <sys/resource.h>

#include "common.hpp"
#include "io/echo_rig.hpp"

namespace cb::wl {

struct slow_io {
    static constexpr std::string_view name = "slow_io";
    static constexpr bool exercises_io = true;  // every I/O backend runs it (bench/product.hpp)
    static constexpr std::size_t request_size = echo_request_size;
    static constexpr std::size_t spare_fds = echo_spare_fds;
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
    // fewer than floor_rounds: 10 for one connection, fewer as connections
    // grow (200 round trips in all), never below min_rounds.
    static std::uint64_t rounds(std::uint64_t upstream_us, std::size_t conns, std::uint64_t samples,
                                std::uint64_t max_wait_us) {
        const std::uint64_t n = std::max<std::uint64_t>(1, conns);
        const std::uint64_t want = std::max(min_rounds, (samples + n - 1) / n);
        if (upstream_us == 0) return want;
        const std::uint64_t floor_rounds = std::clamp<std::uint64_t>((200 + n - 1) / n, min_rounds, 10);
        return std::min(want, std::max(max_wait_us / upstream_us, floor_rounds));
    }

    static std::vector<params> sizes(profile pr, const runtime_traits&) {
        using v = std::vector<std::uint64_t>;
        using c = std::vector<std::size_t>;
        // The test profile (ctest under every runtime): two connections, a
        // plain and a waiting cell, a handful of round trips.
        if (pr == profile::test) return {{0, 2, 5}, {1000, 2, 5}};
        const v ls = by_profile<v>(pr, {}, {0, 1000}, {0, 100, 1000, 100'000});
        const c ns = by_profile<c>(pr, {}, {10, 1000}, {1, 10, 100, 1000, 10'000});
        const std::uint64_t samples = by_profile<std::uint64_t>(pr, 0, 10'000, 10'000);
        const std::uint64_t max_wait_us = by_profile<std::uint64_t>(pr, 0, 100'000, 400'000);
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
        if (auto why = echo_rig_unsupported(p.conns + spare_fds); !why.empty()) return why;
        // One kernel task a connection: the user's process limit bounds them.
        rlimit rl{};
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
    // Round trips the server serves.
    static std::uint64_t served(const params& p) { return p.conns * p.requests; }

    template <class C>
    struct state : echo_session {
        explicit state(const params& p, const server_program* program = nullptr) {
            prepare(p.conns + spare_fds, "slow_io");
            connect<C>(program, p.conns, p.requests, {}, p.upstream_us);
            start_cpu();
        }
    };

    // Serves connection i until EOF: read a request, wait on the upstream,
    // write the request back. Returns the round trips served. Once all tasks
    // are up, task 0 starts the client's timed loop.
    template <class C>
    static task<std::uint64_t> body(C& ctx, state<C>& s, std::size_t i, const params& p) {
        co_await ctx.park();
        if (i == 0) check_go(co_await ctx.write(s.go_fd(), &go_byte, 1), "slow_io");
        echo_service svc;
        svc.upstream = std::chrono::microseconds(p.upstream_us);
        co_return co_await serve_echo(ctx, s.conns[i].get(), request_size, "slow_io server", svc);
    }
    template <class C>
    static std::string verify(const state<C>& s, const params& p, const std::vector<std::uint64_t>& res) {
        if (auto why = closed_problem(s.report(), served(p)); !why.empty()) return why;
        return s.served_problem(res, p.conns, [&](std::size_t) { return p.requests; }, served(p));
    }
    template <class C>
    static void collect(const state<C>& s, const params&, const std::vector<std::uint64_t>&, measurement& m) {
        add_closed(m, s.report(), s.server_cpu);
    }
    static constexpr counter_meta counter_info[] = {
        echo_counter::req_per_s, echo_counter::p50_us, echo_counter::p99_us, echo_counter::server_cpu_ns_per_req,
        echo_counter::client_cpu_frac, {"ideal_req_per_s", "req/s", better::none},
        {"upstream_us", "us", better::none}};
    static counters report(const params& p, const measurement& m) {
        counters c = closed_counters(m, counter_info);
        const double l_s = static_cast<double>(p.upstream_us) / 1e6;
        c["ideal_req_per_s"] = l_s > 0 ? static_cast<double>(p.conns) / l_s : 0;
        c["upstream_us"] = static_cast<double>(p.upstream_us);
        return c;
    }
};

}  // namespace cb::wl
