// echo: a loopback TCP echo server written against the context, one task a
// connection (read a 64-byte request, write it back, until EOF), loaded by C
// concurrent connections from the generator (io/echo_rig.hpp says how the
// rig starts it and hands out the go byte). Requests per second and latency
// percentiles.
//
// On 2 CPUs the generator is one thread on one core, so the server has the other (or
// shares both, for the multi-threaded runtimes). On loopback the sender of a
// segment pays for most of its delivery, so a request costs the client about
// as much CPU as the server: where the client's core is nearly busy
// (client_cpu_frac near 1), req_per_s is the client's ceiling, a lower bound
// for the server.
//
// Synchronisation, all outside the clock unless said:
//   state constructor: listen on 127.0.0.1:0, spawn the client, accept its C
//     connections, configure every fd for the runtime;
//   run() (timed): every task parks once (a barrier), task 0 then writes the
//     go byte; every task serves its connection until EOF; the client closes
//     each connection after its last round trip, so the run ends when the
//     client is done;
//   verify(): reads the client's report and reaps it.
//
// Two phases per run. The client first runs a CLOSED loop, one request
// outstanding per connection (peak throughput: req_per_s, p50/p90/p99/p999_us),
// then, on the same connections, an OPEN loop at a fixed offered rate
// (open_rate, the same for every runtime and connection count of a profile,
// so open_server_cpu_ns_per_req compares runtimes at EQUAL load): requests
// sent on a constant schedule whether or not replies came, latency from the
// intended send time (coordinated omission corrected). The server's tasks
// serve until EOF, through both phases. The client measures the server's
// CPU itself, per phase, from the CPU clocks of this process and its live
// descendants but the client, so server_cpu_ns_per_req is the closed
// phase's alone, open_server_cpu_ns_per_req the open phase's, and the
// client's own CPU is never in them. req_per_s and the percentiles run from
// the go byte to the last reply: the steady service rate, not diluted by
// starting and joining C tasks (spawn and skynet measure that). The
// harness's own time and cpu_*_per_op counters span both phases. Counters
// are means over runs.
//
// The open rate is one every runtime sustains at every connection count on
// a small machine; the generator's validity says when a run fell behind
// (gen_valid = 0, with the machine's own stalls in hiccup_max_us: reported,
// not dropped). Rate sweep entries echo/RT/conns:C/rate:R (full profile) run
// the open phase alone, from a rate every runtime holds to one past where
// the fastest bends: p99 against achieved throughput. The single-threaded
// coroutine loops (ours and the Asio yardstick, compared_with_yardstick)
// also run rate:target_rate in the quick profile, and it in the full one:
// the report judges our loop against Asio there.
//
// Where this process may use 3 CPUs or more the generator runs gen_threads
// threads pinned to the last CPUs (gen_pinned = 1; io/echo_rig.hpp's
// plan_generator says how many) and the thread that runs the server keeps
// off them for the run (sched_setaffinity, restored after), so the tasks,
// workers and processes the run starts inherit the rest; threads a runtime
// made earlier and keeps (a persistent pool) are not moved.
#pragma once

#include <algorithm>
#include <string>
#include <vector>

#include <sched.h>

#include "common.hpp"
#include "io/echo_rig.hpp"

namespace cb::wl {

struct echo {
    static constexpr std::string_view name = "echo";
    static constexpr bool exercises_io = true;  // every I/O backend runs it in every profile (bench/product.hpp)
    static constexpr std::size_t request_size = echo_request_size;
    static constexpr std::size_t spare_fds = echo_spare_fds;
    struct params {
        std::size_t conns;
        std::uint64_t requests;      // per connection, closed phase (0 in a sweep entry)
        std::uint64_t rate = 0;      // open phase, total req/s
        std::uint64_t duration_ms = 0;
        bool sweep = false;          // open phase only, labelled with its rate
        std::string label() const {
            return "conns:" + std::to_string(conns) + (sweep ? "/rate:" + std::to_string(rate) : "");
        }
        std::uint64_t open_requests() const { return rate * duration_ms / 1000; }
    };
    // The open phase's fixed rate and length per profile (see the head).
    static std::uint64_t open_rate(profile p) { return by_profile<std::uint64_t>(p, 2000, 10000, 10000); }
    static std::uint64_t open_ms(profile p) { return by_profile<std::uint64_t>(p, 100, 100, 500); }
    // The offered rate, besides open_rate's, at which the report's targets
    // for our loop against Asio are judged.
    static constexpr std::uint64_t target_rate = 50000;
    // A full-profile sweep point's open phase: 2,500 requests at the lowest
    // rate, enough for a p99; 21 points a runtime.
    static constexpr std::uint64_t sweep_ms = 250;
    static constexpr bool compared_with_yardstick(const runtime_traits& rt) {
        return rt.kind == task_kind::coroutine && !rt.multi_core && !io_backend_variant(rt);
    }
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
        for (auto c : cs) out.push_back({c, std::max<std::uint64_t>(20, total / c), open_rate(p), open_ms(p), false});
        // The rate sweep: the full profile; the test profile one tiny point
        // so that the tests run it.
        if (p == profile::test) out.push_back({2, 0, 1000, 50, true});
        if (p == profile::full)
            for (std::size_t c : {10, 100, 1000}) {
                if (std::find(cs.begin(), cs.end(), c) == cs.end()) continue;  // what the runtime's cost allows
                for (std::uint64_t r : {10000, 20000, 40000, 80000, 160000, 320000, 640000})
                    out.push_back({c, 0, r, sweep_ms, true});
            }
        // The yardstick's point: the report judges the single-threaded
        // coroutine loop against Asio (both such loops by their traits; the
        // loops over another I/O backend are compared with the base loop
        // instead) at target_rate too, at every conns the sweep runs, in
        // the quick profile as in the full one. Only these runtimes, so
        // that the quick profile stays short.
        if (compared_with_yardstick(rt) && (p == profile::quick || p == profile::full))
            for (std::size_t c : {10, 100, 1000})
                if (std::find(cs.begin(), cs.end(), c) != cs.end())
                    out.push_back({c, 0, target_rate, p == profile::full ? sweep_ms : open_ms(p), true});
        return out;
    }
    // One run per repetition, no warm-up run: a run already lasts long enough
    // (REQUESTS round trips per connection, then a schedule of duration_ms),
    // and the closed phase warms the server for the open one. A sweep point
    // is one repetition (the knee's curve, read by no verdict), except the
    // target_rate points, which the yardstick's targets judge and so take
    // the repetitions asked, like every entry a verdict reads.
    static std::uint64_t iterations(const params&) { return 1; }
    static int max_repetitions(const params& p) { return p.sweep && p.rate != target_rate ? 1 : 100; }
    static std::string unsupported(const runtime_traits& rt, const params& p) {
        if (auto why = needs_concurrency(rt, "serving connections that all wait for a start signal"); !why.empty())
            return why;
        return echo_rig_unsupported(p.conns + spare_fds);
    }
    static std::size_t tasks(const params& p) { return p.conns; }
    static run_options options(const params&) {
        run_options o;
        o.parks = true;
        return o;
    }
    static double ops(const params& p) {
        return static_cast<double>(p.sweep ? p.open_requests() : p.conns * p.requests);
    }
    // Round trips the server serves over both phases.
    static std::uint64_t served(const params& p) { return p.conns * p.requests + p.open_requests(); }
    static echo_client_options client_options(const params& p) {
        echo_client_options o;
        o.rate = p.rate;
        o.duration_ms = p.duration_ms;
        o.closed_first = !p.sweep;
        return o;
    }

    template <class C>
    struct state : echo_session {
        explicit state(const params& p, const server_program* program = nullptr) {
            prepare(p.conns + spare_fds, "echo");
            echo_client_options opt = client_options(p);
            gen = plan_generator(server_workers<C>(p.conns, options(p)), p.conns);
            opt.threads = gen.threads;
            opt.pin_cpus = gen.cpus;
            connect<C>(program, p.conns, p.requests, opt);
            // The generator pinned to its CPUs: the server's tasks and
            // workers, all started by this thread in the run, keep off them.
            if (!gen.cpus.empty() && ::sched_getaffinity(0, sizeof saved_mask, &saved_mask) == 0) {
                cpu_set_t rest = saved_mask;
                for (int c : gen.cpus) CPU_CLR(c, &rest);
                restore_mask = ::sched_setaffinity(0, sizeof rest, &rest) == 0;
            }
            // The server's CPU when there is no open phase (params.rate = 0,
            // the closed loop alone): from here to before the client is
            // reaped (echo_session::report).
            start_cpu();
        }
        ~state() {
            if (restore_mask) ::sched_setaffinity(0, sizeof saved_mask, &saved_mask);
        }
        state(const state&) = delete;
        state& operator=(const state&) = delete;
        generator_plan gen;  // the generator's threads and CPUs
        cpu_set_t saved_mask{};
        bool restore_mask = false;
    };

    // Serves connection i until EOF; returns the round trips served. Once all
    // tasks are up, task 0 starts the client's timed loop.
    template <class C>
    static task<std::uint64_t> body(C& ctx, state<C>& s, std::size_t i, const params&) {
        co_await ctx.park();
        if (i == 0) check_go(co_await ctx.write(s.go_fd(), &go_byte, 1), "echo");
        co_return co_await serve_echo(ctx, s.conns[i].get(), request_size, "echo server");
    }
    // The open phase's replies, and those connection i should have had.
    static std::uint64_t open_share(const params& p, std::size_t i) {
        const std::uint64_t n = p.open_requests();
        return n / p.conns + (i < n % p.conns ? 1 : 0);
    }
    template <class C>
    static std::string verify(const state<C>& s, const params& p, const std::vector<std::uint64_t>& res) {
        const echo_report& r = s.report();
        if (p.rate == 0) {  // the closed loop alone
            if (auto why = closed_problem(r, p.conns * p.requests); !why.empty()) return why;
            return s.served_problem(res, p.conns, [&](std::size_t) { return p.requests; }, served(p));
        }
        if (!r.problem.empty()) return r.problem;
        const echo_phase& closed = r;
        const echo_phase* open = p.sweep ? &closed : r.open ? &*r.open : nullptr;
        if (!open) return "echo client: no open-loop report";
        if (const std::uint64_t bad = closed.mismatches + (open == &closed ? 0 : open->mismatches); bad != 0)
            return std::to_string(bad) + " replies differed from their request";
        if (!p.sweep)
            if (auto why = completed_problem(closed, p.conns * p.requests); !why.empty()) return why;
        if (open->sent != p.open_requests() || open->requests != open->sent || open->errors != 0)
            return "open loop: sent " + std::to_string(open->sent) + " of " + std::to_string(p.open_requests()) +
                   " requests, " + std::to_string(open->requests) + " replies, " + std::to_string(open->errors) +
                   " errors";
        if (!open->server_cpu_ok || (!p.sweep && !closed.server_cpu_ok))
            return "echo client could not read the server's CPU clock (clock_getcpuclockid)";
        return s.served_problem(res, p.conns, [&](std::size_t i) { return p.requests + open_share(p, i); },
                                served(p));
    }
    template <class C>
    static void collect(const state<C>& s, const params& p, const std::vector<std::uint64_t>&, measurement& m) {
        const echo_report& r = s.report();
        auto& x = m.sums;
        if (!p.sweep) add_closed(m, r, p.rate ? static_cast<double>(r.server_cpu_ns) : s.server_cpu);
        if (p.rate == 0) return;
        const echo_phase& o = p.sweep ? r : *r.open;
        add_phase(m, o, "open_", static_cast<double>(o.server_cpu_ns));
        x["gen_cpu_ns"] += static_cast<double>(o.cpu_ns);
        x["gen_sent"] += static_cast<double>(o.sent);
        x["gen_late"] += static_cast<double>(o.late);
        x["gen_invalid_runs"] += o.gen_valid ? 0 : 1;
        x["hiccup_max_us"] = std::max(x["hiccup_max_us"], static_cast<double>(o.hiccup_max_ns) / 1e3);
        x["hiccup_p999_us"] += static_cast<double>(o.hiccup_p999_ns) / 1e3;
        x["steal_ns"] += static_cast<double>(o.steal_ns);
        x["cpu_ns_available"] += static_cast<double>(o.elapsed_ns) * static_cast<double>(cpu_count());
        x["gen_pinned"] = s.gen.cpus.empty() ? 0 : 1;
        x["gen_threads"] = static_cast<double>(s.gen.threads);
        x["open_rate"] = static_cast<double>(p.rate);
    }
    static constexpr counter_meta counter_info[] = {
        // The closed loop (peak throughput).
        echo_counter::req_per_s, echo_counter::p50_us, echo_counter::p90_us, echo_counter::p99_us,
        echo_counter::p999_us, echo_counter::client_cpu_frac, echo_counter::server_cpu_ns_per_req,
        echo_counter::client_cpu_ns_per_req,
        // The open loop at a fixed offered rate (and the rate sweep).
        {"open_rate", "req/s", better::none}, {"open_req_per_s", "req/s", better::higher},
        {"open_p50_us", "us", better::lower}, {"open_p90_us", "us", better::lower},
        {"open_p99_us", "us", better::lower}, {"open_p999_us", "us", better::lower},
        {"open_max_us", "us", better::lower}, {"open_server_cpu_ns_per_req", "ns/req", better::lower},
        {"gen_cpu_ns_per_req", "ns/req", better::none}, {"gen_late_frac", "fraction", better::none},
        {"gen_valid", "flag", better::none}, {"gen_pinned", "flag", better::none}, echo_counter::gen_threads,
        {"hiccup_max_us", "us", better::none}, {"hiccup_p999_us", "us", better::none},
        {"steal_frac", "fraction", better::none},
        // The server's own system calls per request served (both phases),
        // for a runtime whose loop counts them (traits.counts_syscalls):
        // waits, reads and writes, epoll_ctl. bench/syscalls.sh counts the
        // same for Asio with perf stat or strace, from outside.
        {"syscalls_per_req", "syscalls/req", better::lower}};
    static counters report(const params& p, const measurement& m) {
        counters out;
        if (!p.sweep) out = closed_counters(m, counter_info);
        const sums_of sum{m};
        if (m.sums.count("loop_syscalls") && m.iterations > 0)
            out["syscalls_per_req"] = ratio(sum("loop_syscalls"), static_cast<double>(m.iterations) * static_cast<double>(served(p)));
        if (p.rate == 0) return out;
        for (const char* k : {"open_p50_us", "open_p90_us", "open_p99_us", "open_p999_us", "hiccup_p999_us"})
            out[k] = sum.mean(k);
        out.insert({{"open_rate", static_cast<double>(p.rate)},
                    {"open_req_per_s", ratio(sum("open_requests"), sum("open_s"))},
                    {"open_max_us", sum("open_max_us")},
                    {"open_server_cpu_ns_per_req", ratio(sum("open_server_cpu_ns"), sum("open_requests"))},
                    {"gen_cpu_ns_per_req", ratio(sum("gen_cpu_ns"), sum("open_requests"))},
                    {"gen_late_frac", ratio(sum("gen_late"), sum("gen_sent"))},
                    // Every run valid: at most 1% of sends late by more than
                    // an interval, every request sent and answered.
                    {"gen_valid", m.iterations > 0 && sum("gen_invalid_runs") == 0 ? 1.0 : 0.0},
                    {"gen_pinned", sum("gen_pinned")},
                    {"gen_threads", sum("gen_threads")},
                    {"hiccup_max_us", sum("hiccup_max_us")},
                    {"steal_frac", ratio(sum("steal_ns"), sum("cpu_ns_available"))}});
        return out;
    }
};

}  // namespace cb::wl
