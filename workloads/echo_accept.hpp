// echo_accept: echo served by a runtime of several workers (task_kind
// hybrid: K processes or K threads, each a coroutine loop), which accept the
// connections themselves, inside the timed run, as a real multi-worker server
// does. Two ways to spread connections over the workers:
//   reuseport: one listening socket per worker, all with SO_REUSEPORT on one
//     port; the kernel hashes each connection to one of them, for good;
//   shared: one listening socket for all; the workers race for each
//     connection (the runtime watches it with EPOLLEXCLUSIVE, so one worker
//     is woken, not all).
// Counters: what echo reports (req_per_s, p50/p99 round trip, client CPU,
// server and client CPU per request, measured as echo does: for
// process_loops the workers' CPU arrives with their reaping at the end of the
// run; in the stall variants it includes the stalls), the max round trip, how evenly connections and requests landed
// (conn_balance, req_balance: max over workers / mean; 1.0 = even), and, in
// the stall variants, stuck_conns.
//
// Shape of a run. Worker w (ctx.worker()) runs tasks [w*C, (w+1)*C): C server
// tasks, so that one worker could serve every connection if the kernel sent
// it all of them. Each task loops: co_await accept on its worker's listener,
// serve 64-byte requests until EOF, close, accept again. The client (the
// plain echo client, cobench_echo_client, with options) inherits copies of
// the listeners, connects after the go byte, and once every request is
// answered calls shutdown(SHUT_RD) on each listener: every waiting acceptor
// is then resumed with -1/EINVAL and its task returns (checked on Linux 6.x:
// shutdown wakes epoll waiters, EPOLLEXCLUSIVE ones in other processes
// included, with EPOLLHUP, and accept4 then fails with EINVAL; a connection
// still queued would be reset, which is why the client shuts down only when
// all of its connections have been served). Surplus tasks just wait in
// accept until then. A server task that fails shuts the listeners down
// itself, so one error ends the run at once instead of leaving the others
// waiting for connections that will not come.
//
// The stall variants (stall_ms:S): the blocking-call pitfall of event loops.
// The client marks one request per period (the first request started at or
// after each tick; ticks start once every connection is first open, so a
// stall hits a server in its steady state): 250 ms in quick (a run of about a
// second holds several), 1 s in full ("50 ms in every second"),
// 100 ms in test. The server task that reads a marked request busy-waits S ms
// before replying, a CPU hog inside a handler, so its worker's whole loop
// stalls. Clients reconnect after every 20 round trips so that new
// connections keep arriving during a stall: with reuseport those hashed to
// the stalled worker wait in its queue; with shared accept another worker can
// take them. Already-accepted connections of the stalled worker wait either
// way. stuck_conns: connections that saw a reply slower than S/2 other than
// the marked request's own, counted by the client once per connection per
// mark, divided by the marks: connections stuck per stall event.
//
// Balance: a task's result is the only channel back from a forked worker, so
// it packs both numbers: connections accepted << 40 | requests served (2^40
// requests, 2^24 connections: far beyond any size here). verify() checks that
// the per-worker sums add up to the client's totals.
//
// Each run is one iteration (iterations()): a run already lasts long enough
// (quick: a quarter to a second), and the stall variants are sized by the
// stall period, not by a time budget.
#pragma once

#include <algorithm>
#include <chrono>
#include <stdexcept>
#include <string>
#include <vector>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "common.hpp"
#include "io/echo_rig.hpp"

namespace cb::wl {

// The optional interface of contexts with several workers (see the hybrid
// runtimes' contract): which worker runs the calling task, and how many a run uses.
template <class C>
concept worker_context = requires(const C& c, std::size_t n, const run_options& o) {
    { c.worker() } -> std::convertible_to<std::size_t>;
    { C::workers_for(n, o) } -> std::convertible_to<std::size_t>;
};

struct echo_accept {
    static constexpr std::string_view name = "echo_accept";
    static constexpr std::size_t request_size = echo_request_size;
    static constexpr std::size_t spare_fds = echo_spare_fds;
    static constexpr std::uint64_t reconnect_every = 20;  // round trips per connection in the stall variants
    static constexpr unsigned char stall_mark = 1;        // byte 0 of a marked request (bench/programs/generator/)

    enum class accept_mode { reuseport, shared };
    struct params {
        std::size_t conns;
        std::uint64_t requests;  // per client connection slot (over its reconnections)
        accept_mode accept;
        std::size_t workers;
        std::uint64_t stall_ms = 0;   // 0: no stall, no reconnections
        std::uint64_t period_ms = 0;  // one stall per period; by profile, so not in the name
        std::string label() const {
            std::string l = "conns:" + std::to_string(conns) +
                            (accept == accept_mode::reuseport ? "/accept:reuseport" : "/accept:shared") +
                            "/workers:" + std::to_string(workers);
            return stall_ms ? l + "/stall_ms:" + std::to_string(stall_ms) : l;
        }
    };

    static std::vector<params> sizes(profile p, const runtime_traits& rt) {
        // 1 and every CPU; test always 1 and 2, so ctest covers two workers
        // on any machine and the test product does not depend on it.
        const std::size_t cpus = p == profile::test ? 2 : cpu_count();
        std::vector<std::size_t> ks{1};
        if (cpus > 1) ks.push_back(cpus);
        const auto cs = by_profile<std::vector<std::size_t>>(p, {4}, {10, 100}, {10, 100, 1000});
        // As echo: a fixed total per run, at least 20 round trips a connection.
        const std::uint64_t total = by_profile<std::uint64_t>(p, 80, 10000, 50000);
        std::vector<params> out;
        for (auto c : cs)
            for (auto mode : {accept_mode::reuseport, accept_mode::shared})
                for (auto k : ks) out.push_back({c, std::max<std::uint64_t>(20, total / c), mode, k});
        // A runtime of another kind declares it once (unsupported()), not once a size.
        if (rt.kind != task_kind::hybrid || !rt.concurrent) return {out.front()};
        // The stall variants, at every CPU busy: about 4 stalls a run in
        // quick, 5 in full, at the rate two workers serve on 2 CPUs.
        const std::size_t sc = by_profile<std::size_t>(p, 4, 100, 100);
        const std::uint64_t stotal = by_profile<std::uint64_t>(p, 160, 50000, 250000);
        const std::uint64_t period = by_profile<std::uint64_t>(p, 100, 250, 1000);
        const std::uint64_t stall = by_profile<std::uint64_t>(p, 20, 50, 50);
        for (auto mode : {accept_mode::reuseport, accept_mode::shared})
            out.push_back({sc, stotal / sc, mode, ks.back(), stall, period});
        return out;
    }
    static std::string unsupported(const runtime_traits& rt, const params& p) {
        if (auto why = needs_concurrency(rt, "acceptors waiting for connections"); !why.empty()) return why;
        if (rt.kind != task_kind::hybrid)
            return "needs several workers that each accept on a loop (task_kind hybrid); single-loop and "
                   "task-per-connection runtimes run echo";
        return echo_rig_unsupported(p.conns + p.workers + spare_fds);
    }
    static std::size_t tasks(const params& p) { return p.workers * p.conns; }
    static run_options options(const params& p) {
        run_options o;
        o.parks = true;  // every acceptor is up before the go byte
        o.workers = p.workers;
        return o;
    }
    static double ops(const params& p) { return static_cast<double>(p.conns * p.requests); }
    static std::uint64_t iterations(const params&) { return 1; }

    // Connections a run makes: one per slot, or one per reconnect_every round trips.
    static std::uint64_t expected_conns(const params& p) {
        if (p.requests == 0) return 0;
        const std::uint64_t per = p.stall_ms ? (p.requests + reconnect_every - 1) / reconnect_every : 1;
        return p.conns * per;
    }

    using served = served_count;
    static constexpr std::uint64_t pack(std::uint64_t conns, std::uint64_t requests) {
        return served{conns, requests}.packed();
    }
    static constexpr served unpack(std::uint64_t v) { return served::unpack(v); }
    // Task i ran on worker i / conns (the runtime's contiguous slices, checked in body()).
    static std::vector<served> per_worker(const std::vector<std::uint64_t>& res, std::size_t conns) {
        std::vector<served> w(conns ? res.size() / conns : 0);
        for (std::size_t i = 0; i < res.size() && conns; ++i) {
            const served s = unpack(res[i]);
            w[i / conns].conns += s.conns;
            w[i / conns].requests += s.requests;
        }
        return w;
    }
    // max / mean over workers: 1.0 is perfectly even, W is all on one worker.
    template <class F>
    static double balance(const std::vector<served>& w, F field) {
        double total = 0, most = 0;
        for (const served& s : w) {
            total += static_cast<double>(field(s));
            most = std::max(most, static_cast<double>(field(s)));
        }
        return total > 0 ? most * static_cast<double>(w.size()) / total : 1.0;
    }

    template <class C>
    static std::size_t workers_of_run(const params& p) {
        if constexpr (worker_context<C>) return C::workers_for(tasks(p), options(p));
        else return 1;
    }

    template <class C>
    struct state : echo_session {
        explicit state(const params& p) : workers(workers_of_run<C>(p)) {
            if (workers != p.workers)
                throw std::runtime_error("echo_accept: the runtime runs " + std::to_string(workers) + " workers for " +
                                         std::to_string(tasks(p)) + " tasks where " + std::to_string(p.workers) +
                                         " were asked");
            prepare(p.conns + workers + spare_fds, "echo_accept");
            // Room for every connection in any one queue: a full queue drops
            // SYNs, and a dropped SYN costs the client a 1 s retransmit.
            const int backlog = static_cast<int>(p.conns + 64);
            std::uint16_t port = 0;
            if (p.accept == accept_mode::reuseport) listeners = listen_loopback_group(workers, backlog, port);
            else listeners.push_back(listen_loopback(backlog, port));
            echo_client_options o;
            for (auto& l : listeners) {
                // Accepted sockets inherit TCP_NODELAY from the listener on
                // Linux: one setsockopt here rather than one a connection.
                int one = 1;
                if (::setsockopt(l.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0)
                    throw_errno("echo_accept: TCP_NODELAY");
                C::configure_fd(l.get());
                o.listeners.push_back(l.get());
            }
            if (p.stall_ms) {
                o.reconnect = reconnect_every;
                o.mark_every_ms = p.period_ms;
                o.slow_ms = std::max<std::uint64_t>(1, p.stall_ms / 2);
            }
            start_client(port, p.conns, p.requests, o);
            C::configure_fd(go_fd());
            start_cpu();
        }
        int listener_of(std::size_t worker) const { return listeners[listeners.size() == 1 ? 0 : worker].get(); }
        // Ends every acceptor of every worker (and the client's connecting):
        // the way out when a server task fails. Safe from a forked worker:
        // shutdown acts on the socket all copies share.
        void abort() const noexcept {
            for (auto& l : listeners) ::shutdown(l.get(), SHUT_RD);
        }

        std::size_t workers;
        std::vector<unique_fd> listeners;
    };

    // A CPU hog inside a handler: no co_await, so nothing else on this
    // worker's loop runs meanwhile.
    static void stall(std::chrono::milliseconds d) {
        const auto until = std::chrono::steady_clock::now() + d;
        while (std::chrono::steady_clock::now() < until) {
        }
    }

    template <class C>
    static task<std::uint64_t> body(C& ctx, state<C>& s, std::size_t i, const params& p) {
        co_await ctx.park();
        std::uint64_t conns = 0, requests = 0;
        try {
            std::size_t w = 0;
            if constexpr (worker_context<C>) w = ctx.worker();
            if (w != i / p.conns)
                throw std::runtime_error("echo_accept: task " + std::to_string(i) + " runs on worker " +
                                         std::to_string(w) + ", expected " + std::to_string(i / p.conns) +
                                         " (contiguous slices of " + std::to_string(p.conns) + " tasks)");
            if (i == 0) check_go(co_await ctx.write(s.go_fd(), &go_byte, 1), "echo_accept");
            const int lfd = s.listener_of(w);
            // A marked request makes its task busy-wait: its whole loop stalls.
            echo_service svc;
            if (p.stall_ms) {
                svc.arg = &p.stall_ms;
                svc.on_request = [](const char* req, const void* ms) {
                    if (static_cast<unsigned char>(req[0]) == stall_mark)
                        stall(std::chrono::milliseconds(*static_cast<const decltype(p.stall_ms)*>(ms)));
                };
            }
            for (;;) {
                const int a = accepted(co_await ctx.accept(lfd), "echo_accept");
                if (a == accept_stopped) break;  // the listener was shut down: the run is over
                if (a == accept_again) continue;
                unique_fd conn{a};
                C::configure_fd(conn.get());
                ++conns;
                requests += co_await serve_echo(ctx, conn.get(), request_size, "echo_accept server", svc);
            }
        } catch (...) {
            s.abort();
            throw;
        }
        co_return served{conns, requests}.packed();
    }

    template <class C>
    static std::string verify(const state<C>& s, const params& p, const std::vector<std::uint64_t>& res) {
        const echo_report& r = s.report();
        if (auto why = closed_problem(r, p.conns * p.requests); !why.empty()) return why;
        if (r.conns != expected_conns(p))
            return "client made " + std::to_string(r.conns) + " connections, expected " +
                   std::to_string(expected_conns(p));
        if (res.size() != s.workers * p.conns)
            return std::to_string(res.size()) + " results for " + std::to_string(s.workers * p.conns) + " tasks";
        served sum;
        for (const served& w : per_worker(res, p.conns)) sum.conns += w.conns, sum.requests += w.requests;
        if (sum.requests != r.requests)
            return "the workers served " + std::to_string(sum.requests) + " requests, the client completed " +
                   std::to_string(r.requests);
        if (sum.conns != r.conns)
            return "the workers accepted " + std::to_string(sum.conns) + " connections, the client made " +
                   std::to_string(r.conns);
        if (p.stall_ms && r.marks == 0) return "no request carried the stall mark";
        return {};
    }
    template <class C>
    static void collect(const state<C>& s, const params& p, const std::vector<std::uint64_t>& res, measurement& m) {
        const echo_report& r = s.report();
        const auto w = per_worker(res, p.conns);
        add_closed(m, r, s.server_cpu);
        m.sums["conn_balance"] += balance(w, [](const served& x) { return x.conns; });
        m.sums["req_balance"] += balance(w, [](const served& x) { return x.requests; });
        m.sums["stuck"] += static_cast<double>(r.stuck);
        m.sums["marks"] += static_cast<double>(r.marks);
        m.sums["workers"] = static_cast<double>(s.workers);
    }
    static constexpr counter_meta counter_info[] = {
        echo_counter::req_per_s, echo_counter::p50_us, echo_counter::p99_us, echo_counter::max_us,
        echo_counter::client_cpu_frac, echo_counter::server_cpu_ns_per_req, echo_counter::client_cpu_ns_per_req,
        {"workers", "workers", better::none}, {"conn_balance", "max/mean", better::lower},
        {"req_balance", "max/mean", better::lower}, {"stuck_conns", "connections/stall", better::lower}};
    static counters report(const params& p, const measurement& m) {
        const sums_of sum{m};
        counters c = closed_counters(m, counter_info);
        c["workers"] = sum("workers");
        c["conn_balance"] = sum.mean("conn_balance");
        c["req_balance"] = sum.mean("req_balance");
        if (p.stall_ms) c["stuck_conns"] = sum("stuck") / std::max(1.0, sum("marks"));
        return c;
    }
};

}  // namespace cb::wl
