// The rig the echo-like workloads share (echo, slow_io, echo_accept,
// idle_conns): descriptors and SIGPIPE, the loopback listener, the load
// generator (cobench_echo_client, echo_client.hpp) and its go byte, the
// server's CPU over the run, the checks of the generator's report, and the
// counters every echo entry reports, meta and arithmetic. A workload keeps
// what differs: its sizes, its body, its own checks and counters.
//
// The server side is a runtime's tasks (the session accepts the generator's
// connections here and configures them for the runtime's context C), or a
// program of its own (server_program.hpp: a reference such as the Asio
// server), which takes the listener and accepts by itself; program_run.hpp
// runs a workload's entry against it through the same state, verify,
// collect and report as under a runtime.
//
// Clients are never driven by the runtime under test (it would measure
// itself twice), but by the generator process, started with posix_spawn
// (never fork: the pool's and the fibers' families run threads). It connects
// every connection, then waits for the go byte on a pipe: task 0 writes it
// through ctx.write once every task has parked, so each connection has its
// server before the first request.
#pragma once

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include "echo_client.hpp"
#include "echo_server.hpp"
#include "loopback.hpp"
#include "runtimes/core/fd.hpp"
#include "server_program.hpp"
#include "workloads/common.hpp"
#include "sums.hpp"
#include "workloads/workload.hpp"

namespace cb::wl {

inline constexpr std::size_t echo_request_size = 64;
// Descriptors a process holds besides the connections: the listener, pipes,
// epoll, standard streams, the test framework's.
inline constexpr std::size_t echo_spare_fds = 64;
inline constexpr char go_byte = 'g';

// "" or why a run needing `fds` descriptors cannot be had here: the
// generator is missing, or the hard RLIMIT_NOFILE is below `fds`.
inline std::string nofile_short(std::size_t fds) {
    rlimit rl{};
    if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_max != RLIM_INFINITY && fds > rl.rlim_max)
        return "needs " + std::to_string(fds) + " descriptors, RLIMIT_NOFILE hard limit is " +
               std::to_string(rl.rlim_max);
    return {};
}
inline std::string echo_rig_unsupported(std::size_t fds) {
    if (std::string why; echo_client::find(&why).empty()) return why;
    return nofile_short(fds);
}

// Task 0's go byte, after ctx.write returned `written`: throws unless it went out.
inline void check_go(ssize_t written, std::string_view who) {
    const int err = written < 0 ? errno : EPIPE;
    if (written != 1) throw_errno(std::string(who) + ": go byte", err);
}

// The context type of a run served by a program (program_run.hpp): its
// descriptors are this process's own, left blocking.
struct program_served {
    static void configure_fd(int) noexcept {}
};

// "" or the line saying that the generator's closed phase fell short of `want`.
inline std::string completed_problem(const echo_phase& r, std::uint64_t want) {
    if (r.requests != want || r.errors != 0)
        return "client completed " + std::to_string(r.requests) + " of " + std::to_string(want) + " requests, " +
               std::to_string(r.errors) + " connection errors";
    return {};
}
// The generator's report of a closed loop of `want` round trips: "" or what went wrong.
inline std::string closed_problem(const echo_report& r, std::uint64_t want) {
    if (!r.problem.empty()) return r.problem;
    if (r.mismatches != 0) return std::to_string(r.mismatches) + " replies differed from their request";
    return completed_problem(r, want);
}

// One run's generator and server side; the workloads' states derive from it.
class echo_session {
public:
    // Descriptors for `fds` (the soft RLIMIT_NOFILE raised to the hard one if
    // need be), and SIGPIPE ignored: a server task writing to a client that
    // died gets EPIPE, an error its task reports, instead of killing the
    // benchmark process.
    static void prepare(std::size_t fds, std::string_view who) {
        if (!ensure_nofile(fds)) {
            const std::string why = nofile_short(fds);
            throw std::runtime_error(std::string(who) + ": " + (why.empty() ? "RLIMIT_NOFILE too low" : why));
        }
        if (struct sigaction sa{}; ::sigaction(SIGPIPE, nullptr, &sa) == 0 && sa.sa_handler == SIG_DFL)
            std::signal(SIGPIPE, SIG_IGN);
    }

    // The generator on `port`, `conns` connections of `requests` round trips.
    void start_client(std::uint16_t port, std::size_t conns, std::uint64_t requests, echo_client_options o = {}) {
        if (process_) o.server_pid = process_->pid();  // whose CPU the generator reads
        client.emplace(port, conns, requests, echo_request_size, echo_client::find(), o);
    }

    // The generator connected to `listener` and its connections accepted
    // here, configured (and the go pipe) for the runtime's context C.
    template <class C>
    void accept_from(int listener, std::uint16_t port, std::size_t n, std::uint64_t requests,
                     const echo_client_options& o = {}) {
        start_client(port, n, requests, o);
        conns = accept_clients(listener, n, *client);
        for (auto& c : conns) C::configure_fd(c.get());
        C::configure_fd(client->go_fd());
    }

    // A listener for `n` connections and the generator connected to it;
    // they are accepted here for C's tasks, or by `program` where one is
    // given (which then waits on a simulated upstream of `upstream_us`).
    template <class C>
    void connect(const server_program* program, std::size_t n, std::uint64_t requests, const echo_client_options& o,
                 std::uint64_t upstream_us = 0) {
        std::uint16_t port = 0;
        unique_fd listener = listen_loopback(static_cast<int>(n + 16), port);
        if (!program) return accept_from<C>(listener.get(), port, n, requests, o);
        int one = 1;  // accepted sockets inherit it (a server sets it again, as Asio's users do)
        if (::setsockopt(listener.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0) throw_errno("TCP_NODELAY");
        process_.emplace(*program, listener.get(), echo_request_size, upstream_us);
        listener.reset();  // the server holds its own copy
        start_client(port, n, requests, o);
        accepted_ = process_->wait_accepted(n, *client);
    }

    // The server's CPU from here to report(): this process's and its reaped
    // children's (server_cpu_ns); a program's own clock, from every
    // connection accepted to its exit.
    void start_cpu() { cpu0_ = server_cpu_ns(); }

    int go_fd() const { return client->go_fd(); }

    // The generator's report, read once (its first call waits for the
    // generator to exit), with the server's CPU taken before the generator
    // is reaped and, for a program, its final counts after it.
    const echo_report& report(std::chrono::milliseconds timeout = std::chrono::seconds(60)) const {
        if (!process_) {
            if (server_cpu < 0) server_cpu = server_cpu_ns() - cpu0_;
            return client->finish(timeout);
        }
        const echo_report& r = client->finish(timeout);
        if (!stopped_) {
            stopped_ = true;
            final_ = process_->stop();
            server_cpu = final_ ? static_cast<double>(final_->cpu_ns - accepted_.cpu_ns) : 0;
        }
        return r;
    }

    // "" or how the server side's count differs: each of `tasks` task
    // results against expect(i), or a program's total against `total`.
    template <class F>
    std::string served_problem(const std::vector<std::uint64_t>& res, std::size_t tasks, F expect,
                               std::uint64_t total) const {
        if (process_) {
            report();
            if (!final_) return "the server program did not report at exit, or failed";
            if (final_->requests != total)
                return "the server program served " + std::to_string(final_->requests) + " requests, expected " +
                       std::to_string(total);
            return {};
        }
        if (res.size() != tasks)
            return std::to_string(res.size()) + " task results for " + std::to_string(tasks) + " connections";
        for (std::size_t i = 0; i < res.size(); ++i)
            if (res[i] != expect(i))
                return "round trips served: task " + std::to_string(i) + " returned " + std::to_string(res[i]) +
                       ", expected " + std::to_string(expect(i));
        return {};
    }

    // verify() reads the generator's report; the state is const there.
    mutable std::optional<echo_client> client;
    std::vector<unique_fd> conns;   // the server ends, accepted here
    mutable double server_cpu = -1;  // ns, taken once in report()

private:
    double cpu0_ = 0;
    mutable std::optional<server_process> process_;
    server_process::snapshot accepted_;
    mutable std::optional<server_process::snapshot> final_;
    mutable bool stopped_ = false;
};

// ---- the counters every echo entry shares -----------------------------------

namespace echo_counter {
inline constexpr counter_meta req_per_s{"req_per_s", "req/s", better::higher};
inline constexpr counter_meta p50_us{"p50_us", "us", better::lower};
inline constexpr counter_meta p90_us{"p90_us", "us", better::lower};
inline constexpr counter_meta p99_us{"p99_us", "us", better::lower};
inline constexpr counter_meta p999_us{"p999_us", "us", better::lower};
inline constexpr counter_meta max_us{"max_us", "us", better::lower};
inline constexpr counter_meta client_cpu_frac{"client_cpu_frac", "fraction", better::none};
// Resolution: children's CPU (task processes, process workers) moves in USER_HZ ticks.
inline constexpr counter_meta server_cpu_ns_per_req{"server_cpu_ns_per_req", "ns/req", better::lower, 1e7, true};
inline constexpr counter_meta client_cpu_ns_per_req{"client_cpu_ns_per_req", "ns/req", better::none, 0, true};
// The generator's threads (generator_plan below).
inline constexpr counter_meta gen_threads{"gen_threads", "count", better::none};
}  // namespace echo_counter

// How many threads the generator runs and where (echo_client_options::
// threads, pin_cpus). Below 3 CPUs: one thread, unpinned, sharing the
// machine with the server (pinning one of two CPUs would halve a multi-core
// server). From 3 CPUs: T = the server's workers, at most a quarter of the
// CPUs (at least 1) and at most `conns`, pinned one a CPU to the last T
// CPUs this process may use, which the server keeps off (it keeps CPUs - T,
// at least 2). A generator thread costs about what a
// server worker does per request on loopback, so a quarter is what keeps
// both sides from starving at the hybrids' default of one worker a CPU.
struct generator_plan {
    std::size_t threads = 1;
    std::vector<int> cpus;  // empty: not pinned
};
inline generator_plan plan_generator(std::size_t server_workers, std::size_t conns) {
    generator_plan g;
    cpu_set_t set;
    CPU_ZERO(&set);
    if (::sched_getaffinity(0, sizeof set, &set) != 0) return g;
    const std::size_t cpus = static_cast<std::size_t>(CPU_COUNT(&set));
    if (cpus < 3) return g;
    g.threads = std::clamp<std::size_t>(std::min(server_workers, cpus / 4), 1, std::max<std::size_t>(conns, 1));
    for (int c = CPU_SETSIZE - 1; c >= 0 && g.cpus.size() < g.threads; --c)
        if (CPU_ISSET(c, &set)) g.cpus.insert(g.cpus.begin(), c);
    return g;
}
// The server's worker count for C's run of `tasks` (a runtime of one
// worker a task or one loop has none of its own: the CPUs bound it).
template <class C>
std::size_t server_workers(std::size_t tasks, const run_options& o) {
    if constexpr (requires { { C::workers_for(tasks, o) } -> std::convertible_to<std::size_t>; })
        return C::workers_for(tasks, o);
    else
        return std::max<std::size_t>(1, cpu_count());
}

// One phase into the sums, under `prefix` ("" the closed loop, "open_" the
// open one): its requests, time, percentiles, slowest round trip (a max
// over runs) and the server's CPU.
inline void add_phase(measurement& m, const echo_phase& r, const std::string& prefix, double server_cpu_ns) {
    auto& x = m.sums;
    x[prefix + "requests"] += static_cast<double>(r.requests);
    x[prefix.empty() ? "client_s" : prefix + "s"] += static_cast<double>(r.elapsed_ns) / 1e9;
    for (const auto& [key, ns] : {std::pair{"p50_us", r.p50_ns}, std::pair{"p90_us", r.p90_ns},
                                  std::pair{"p99_us", r.p99_ns}, std::pair{"p999_us", r.p999_ns}})
        x[prefix + key] += static_cast<double>(ns) / 1e3;
    double& most = x[prefix + "max_us"];
    most = std::max(most, static_cast<double>(r.max_ns) / 1e3);
    x[prefix + "server_cpu_ns"] += server_cpu_ns;
}
// The closed phase, with the generator's CPU.
inline void add_closed(measurement& m, const echo_phase& r, double server_cpu_ns) {
    add_phase(m, r, "", server_cpu_ns);
    m.sums["client_cpu_s"] += static_cast<double>(r.cpu_ns) / 1e9;
}

// The closed-loop counters of those sums, the ones `declared` names.
inline counters closed_counters(const measurement& m, std::span<const counter_meta> declared) {
    const sums_of sum{m};
    const double secs = sum("client_s");
    // client_cpu_frac near 1: the client had its core to itself, and
    // req_per_s is a lower bound on what the server could do.
    counters all{{"req_per_s", ratio(sum("requests"), secs)},
                 {"max_us", sum("max_us")},
                 {"client_cpu_frac", ratio(sum("client_cpu_s"), secs)},
                 {"server_cpu_ns_per_req", ratio(sum("server_cpu_ns"), sum("requests"))},
                 {"client_cpu_ns_per_req", ratio(sum("client_cpu_s") * 1e9, sum("requests"))}};
    for (const char* k : {"p50_us", "p90_us", "p99_us", "p999_us"}) all[k] = sum.mean(k);
    counters out;
    for (const counter_meta& c : declared)
        if (const auto it = all.find(std::string(c.name)); it != all.end()) out.insert(*it);
    return out;
}

}  // namespace cb::wl
