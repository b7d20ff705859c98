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
// All three counters come from the client, measured from the go byte to the
// last reply: req_per_s is the steady service rate, not diluted by starting
// and joining C tasks (1000 forks take over a second, and spawn and skynet
// measure that already); p50/p99 are per-request round trips. Counters are
// means over runs.
#pragma once

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "common.hpp"
#include "runtimes/core/fd.hpp"

extern char** environ;

namespace cb::wl {

// What cobench_echo_client reported, or why it did not.
struct echo_report {
    std::uint64_t requests = 0, mismatches = 0, errors = 0, p50_ns = 0, p99_ns = 0;
    std::uint64_t elapsed_ns = 0, cpu_ns = 0;  // go to last reply; the client's own CPU time (includes set-up)
    std::string problem;  // empty: the client exited 0 with a well-formed report
};

// The client process: spawned on construction, killed and reaped on
// destruction if finish() did not reap it.
class echo_client {
public:
#ifdef COBENCH_ECHO_CLIENT
    static constexpr const char* path = COBENCH_ECHO_CLIENT;
#else
    static constexpr const char* path = nullptr;
#endif

    echo_client(std::uint16_t port, std::size_t conns, std::uint64_t requests, std::size_t size,
                const char* exe = path) {
        if (exe == nullptr) throw std::logic_error("echo: built without cobench_echo_client");
        fd_pair go = make_pipe(), rep = make_pipe();
        // The child gets the pipes as fds 3 and 4. Moving our ends above 10
        // first means neither dup2 can overwrite the other's source.
        unique_fd go_r = above(go.read_end, 10), rep_w = above(rep.write_end, 10);
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_adddup2(&fa, go_r.get(), 3);
        posix_spawn_file_actions_adddup2(&fa, rep_w.get(), 4);
#if defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 34)
        // Nothing else: a stray copy of someone's pipe end in the client would
        // keep that pipe from ever reporting EOF.
        posix_spawn_file_actions_addclosefrom_np(&fa, 5);
#endif
        posix_spawnattr_t at;
        posix_spawnattr_init(&at);
        sigset_t none;
        sigemptyset(&none);
        posix_spawnattr_setsigmask(&at, &none);
        posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK);
        std::string a[] = {exe, std::to_string(port), std::to_string(conns), std::to_string(requests),
                           std::to_string(size), "3", "4"};
        char* argv[] = {a[0].data(), a[1].data(), a[2].data(), a[3].data(), a[4].data(), a[5].data(), a[6].data(), nullptr};
        int err = ::posix_spawn(&pid_, exe, &fa, &at, argv, environ);
        posix_spawn_file_actions_destroy(&fa);
        posix_spawnattr_destroy(&at);
        if (err != 0) {
            pid_ = -1;
            throw_errno(std::string("echo: posix_spawn ") + exe, err);
        }
        go_ = std::move(go.write_end);
        report_ = std::move(rep.read_end);
    }
    ~echo_client() {
        if (pid_ > 0) {
            ::kill(pid_, SIGKILL);
            reap(0);
        }
    }
    echo_client(const echo_client&) = delete;
    echo_client& operator=(const echo_client&) = delete;

    // The write end of the go pipe: one byte starts the client's timed loop.
    int go_fd() const noexcept { return go_.get(); }

    // True once the client has exited (reaped here, status kept).
    bool exited() {
        if (pid_ > 0) reap(WNOHANG);
        return pid_ <= 0;
    }

    // Waits for the report (EOF on its pipe: the client has exited) and the
    // exit status; at most `timeout`, then the client is killed. Idempotent.
    const echo_report& finish(std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
        if (report_done_) return rep_;
        report_done_ = true;
        std::string text;
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        char buf[256];
        for (;;) {
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
            pollfd pf{report_.get(), POLLIN, 0};
            int pr = ::poll(&pf, 1, static_cast<int>(std::max<std::int64_t>(0, left.count())));
            if (pr < 0 && errno == EINTR) continue;
            if (pr <= 0) {
                rep_.problem = "echo client: no report within " + std::to_string(timeout.count()) + " ms";
                if (pid_ > 0) ::kill(pid_, SIGKILL);
                break;
            }
            ssize_t r = ::read(report_.get(), buf, sizeof buf);
            if (r < 0 && errno == EINTR) continue;
            if (r <= 0) break;
            text.append(buf, static_cast<std::size_t>(r));
        }
        reap(0);
        unsigned long long v[7];
        const bool parsed = std::sscanf(text.c_str(), "%llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
                                        &v[4], &v[5], &v[6]) == 7;
        if (parsed) {
            rep_.requests = v[0], rep_.mismatches = v[1], rep_.errors = v[2];
            rep_.p50_ns = v[3], rep_.p99_ns = v[4], rep_.elapsed_ns = v[5], rep_.cpu_ns = v[6];
        }
        if (rep_.problem.empty() && status_ == lost) {
            rep_.problem = "echo client: reaped by someone else, exit status unknown";
        } else if (rep_.problem.empty() && !(WIFEXITED(status_) && WEXITSTATUS(status_) == 0)) {
            rep_.problem = WIFSIGNALED(status_) ? "echo client killed by signal " + std::to_string(WTERMSIG(status_))
                                                : "echo client exited with status " + std::to_string(WEXITSTATUS(status_));
        }
        if (rep_.problem.empty() && !parsed) rep_.problem = "echo client: malformed report '" + text + "'";
        if (!rep_.problem.empty() && parsed) rep_.problem += " (report: " + text.substr(0, text.find('\n')) + ")";
        return rep_;
    }

private:
    static unique_fd above(unique_fd& fd, int min) {
        int moved = ::fcntl(fd.get(), F_DUPFD_CLOEXEC, min);
        if (moved < 0) throw_errno("fcntl(F_DUPFD_CLOEXEC)");
        fd.reset();
        return unique_fd{moved};
    }
    static constexpr int lost = -1;  // not a status waitpid can give
    void reap(int flags) {
        if (pid_ <= 0) return;  // waitpid(-1) would reap any child of the process
        int st = 0;
        pid_t r;
        while ((r = ::waitpid(pid_, &st, flags)) < 0 && errno == EINTR) {
        }
        if (r == pid_ || r < 0) {  // r < 0 (ECHILD): somebody else reaped it; nothing left to wait for
            status_ = r == pid_ ? st : lost;
            pid_ = -1;
        }
    }

    pid_t pid_ = -1;
    int status_ = 0;
    unique_fd go_, report_;
    bool report_done_ = false;
    echo_report rep_;
};

// A listening socket on 127.0.0.1 with a kernel-chosen port.
inline unique_fd listen_loopback(int backlog, std::uint16_t& port) {
    unique_fd s{::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)};
    if (!s) throw_errno("echo: socket");
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    if (::bind(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) throw_errno("echo: bind");
    if (::listen(s.get(), backlog) != 0) throw_errno("echo: listen");
    socklen_t len = sizeof a;
    if (::getsockname(s.get(), reinterpret_cast<sockaddr*>(&a), &len) != 0) throw_errno("echo: getsockname");
    port = ntohs(a.sin_port);
    return s;
}

// Accepts n connections, giving up when the client exits first or after
// `timeout` without one.
inline std::vector<unique_fd> accept_clients(int listen_fd, std::size_t n, echo_client& client,
                                             std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
    std::vector<unique_fd> out;
    out.reserve(n);
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (out.size() < n) {
        pollfd pf{listen_fd, POLLIN, 0};
        int pr = ::poll(&pf, 1, 100);
        if (pr < 0 && errno != EINTR) throw_errno("echo: poll");
        if (pr > 0) {
            int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
            if (fd >= 0) {
                out.emplace_back(fd);
                int one = 1;
                ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                deadline = std::chrono::steady_clock::now() + timeout;
                continue;
            }
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ECONNABORTED)
                throw_errno("echo: accept");
        }
        if (client.exited())
            throw std::runtime_error("echo: the client exited after " + std::to_string(out.size()) + " of " +
                                     std::to_string(n) + " connections: " + client.finish().problem);
        if (std::chrono::steady_clock::now() > deadline)
            throw std::runtime_error("echo: timed out accepting connection " + std::to_string(out.size() + 1) + " of " +
                                     std::to_string(n));
    }
    return out;
}

// Raises the soft RLIMIT_NOFILE to the hard one if fewer than `need`
// descriptors are allowed; false if even the hard limit is too low.
inline bool ensure_nofile(std::size_t need) {
    rlimit rl{};
    if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) return false;
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need) {
        rl.rlim_cur = rl.rlim_max;
        if (::setrlimit(RLIMIT_NOFILE, &rl) != 0) return false;
    }
    return rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= need;
}

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
    static std::vector<params> sizes(profile p, std::string_view runtime) {
        std::vector<std::size_t> cs;
        if (runtime == "processes")
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
    static std::string unsupported(std::string_view, const params& p) {
        if (echo_client::path == nullptr) return "built without cobench_echo_client (COBENCH_ECHO_CLIENT undefined)";
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
        }
        // verify() reads the client's report; the state is const there.
        mutable std::optional<echo_client> client;
        std::vector<unique_fd> conns;
        const echo_report& report() const { return client->finish(); }
    };

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
    }
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
                {"client_cpu_frac", secs > 0 ? sum("client_cpu_s") / secs : 0}};
    }
};

}  // namespace cb::wl
