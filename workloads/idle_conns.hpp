// idle_conns: what idle connections cost the busy ones. A loopback TCP echo
// server (as in echo.hpp: a task a connection, 64-byte requests) serves A = 10
// active connections driven by cobench_echo_client, while N more connections
// (1, 100, 1000, 10000) stay open and idle, each with a server task waiting
// to read from it. The counter is the server's CPU per active request (and
// req/s): a reactor whose wait costs O(watched fds) (poll) pays for every idle
// connection on every wait, one whose wait costs O(ready fds) (epoll) or that
// keeps operations in flight in the kernel (io_uring) does not. Plotted
// against N for the three coroutine-loop backends it shows where poll falls
// over.
//
// The idle connections' client ends are held by helper processes (/bin/cat
// reading a pipe, started with posix_spawn, inheriting the sockets; one per
// `chunk` connections), so this process holds only the server ends: 10 000
// idle connections need about 10 000 descriptors here, not 20 000. Closing
// the pipes ends the helpers, which closes every client end at once: each
// idle task then reads EOF and ends.
//
// Synchronisation, all outside the clock unless said:
//   state constructor: listen on 127.0.0.1:0; connect and accept the N idle
//     connections one by one (no backlog limit matters), hand their client
//     ends to the helper; spawn the echo client and accept its A connections;
//     configure every server fd for the runtime;
//   run() (timed): every task parks once; task 0 then yields once, so that
//     every idle task has armed its read before the measured window opens,
//     takes the server CPU and writes the go byte; active tasks serve until
//     EOF; the last of them to end takes the server CPU again (the window is
//     the active phase alone: arming and tearing down the idle connections
//     are not in it) and closes the helper's pipe; the idle tasks then read
//     EOF and end;
//   verify(): the client's report (every reply checked byte for byte), every
//     active task served its requests, every idle task saw EOF and no data.
// The window needs the tasks' shared counter and this process's CPU clock to
// cover every task: runtimes whose tasks are processes are declared
// unsupported.
#pragma once

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <memory>
#include <string>
#include <vector>

#include <fcntl.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common.hpp"
#include "io/echo_rig.hpp"

extern char** environ;

namespace cb::wl {

// Holds the client ends of idle connections in a helper process until
// release() (or destruction): then the helper exits and the kernel closes
// them all. RAII: the helper is always reaped.
class idle_peer_holder {
public:
    static constexpr const char* helper = "/bin/cat";
    // Takes the client ends (made inheritable here), spawns the helper and
    // closes this process's copies.
    explicit idle_peer_holder(std::vector<unique_fd>& peers) {
        fd_pair p = make_pipe();
        for (auto& f : peers)
            if (::fcntl(f.get(), F_SETFD, 0) != 0) throw_errno("idle_conns: fcntl(F_SETFD)");
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_adddup2(&fa, p.read_end.get(), 0);
        posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
        char* argv[] = {const_cast<char*>(helper), nullptr};
        const int err = ::posix_spawn(&pid_, helper, &fa, nullptr, argv, environ);
        posix_spawn_file_actions_destroy(&fa);
        peers.clear();  // the helper has them now (or, on failure, nobody)
        if (err != 0) {
            pid_ = -1;
            throw_errno(std::string("idle_conns: posix_spawn ") + helper, err);
        }
        stdin_ = std::move(p.write_end);
    }
    ~idle_peer_holder() {
        release();
        if (pid_ > 0) {
            // cat exits at EOF on its stdin; a helper that does not is killed.
            for (int i = 0; i < 200 && pid_ > 0; ++i) {
                if (::waitpid(pid_, nullptr, WNOHANG) == pid_) pid_ = -1;
                else ::usleep(5000);
            }
            if (pid_ > 0) {
                ::kill(pid_, SIGKILL);
                ::waitpid(pid_, nullptr, 0);
            }
        }
    }
    idle_peer_holder(const idle_peer_holder&) = delete;
    idle_peer_holder& operator=(const idle_peer_holder&) = delete;
    // Ends the helper: every client end closes (async-signal-safe: one close).
    void release() noexcept { stdin_.reset(); }

private:
    pid_t pid_ = -1;
    unique_fd stdin_;
};

struct idle_conns {
    static constexpr std::string_view name = "idle_conns";
    static constexpr bool exercises_io = true;  // every I/O backend runs it in every profile (bench/product.hpp)
    static constexpr std::size_t request_size = echo_request_size;
    static constexpr std::size_t spare_fds = echo_spare_fds;
    // Client ends handed to one helper at a time: this process holds at most
    // this many of them besides the server ends.
    static constexpr std::size_t chunk = 1024;
    struct params {
        std::size_t idle;
        std::size_t active;
        std::uint64_t requests;  // per active connection
        std::string label() const { return "idle:" + std::to_string(idle); }
    };
    static std::size_t fds_needed(const params& p) { return p.idle + std::min(p.idle, chunk) + p.active + spare_fds; }
    static std::vector<params> sizes(profile p, const runtime_traits& rt) {
        const bool cheap = rt.cost == cost_class::tiny || rt.cost == cost_class::light;
        std::vector<std::size_t> ns;
        // The quick profile: one point (its budget is minutes); the curve
        // against N is the full profile's.
        if (cheap) ns = by_profile<std::vector<std::size_t>>(p, {4}, {1000}, {1, 100, 1000, 10000});
        else ns = by_profile<std::vector<std::size_t>>(p, {4}, {100}, {1, 100, 1000});
        const std::size_t active = p == profile::test ? 2 : 10;
        const std::uint64_t per = by_profile<std::uint64_t>(p, 20, 500, 2000);
        std::vector<params> out;
        for (auto n : ns) out.push_back({n, active, per});
        return out;
    }
    static std::string unsupported(const runtime_traits& rt, const params& p) {
        if (auto why = needs_concurrency(rt, "serving connections that all wait for a start signal"); !why.empty())
            return why;
        if (!rt.shared_memory)
            return "tasks do not share memory: the active phase's end (a counter the tasks share) and the server "
                   "CPU over it (this process's clock) cannot be taken";
        if (std::string why; echo_client::find(&why).empty()) return why;
        if (::access(idle_peer_holder::helper, X_OK) != 0)
            return std::string("no ") + idle_peer_holder::helper + " to hold the idle connections' client ends";
        return nofile_short(fds_needed(p));
    }
    static std::size_t tasks(const params& p) { return p.active + p.idle; }
    static run_options options(const params&) {
        run_options o;
        o.parks = true;
        return o;
    }
    static double ops(const params& p) { return static_cast<double>(p.active * p.requests); }

    // This process's CPU, every thread.
    static double process_cpu_ns() {
        timespec ts{};
        ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
        return static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
    }

    template <class C>
    struct state : echo_session {
        explicit state(const params& p) : active_left(p.active) {
            prepare(fds_needed(p), "idle_conns");
            std::uint16_t port = 0;
            unique_fd listener = listen_loopback(static_cast<int>(p.active + 16), port);
            idle.reserve(p.idle);
            {
                std::vector<unique_fd> peers;
                peers.reserve(p.idle);
                sockaddr_in a{};
                a.sin_family = AF_INET;
                a.sin_port = htons(port);
                a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
                for (std::size_t k = 0; k < p.idle; ++k) {
                    if (peers.size() == chunk) holders.push_back(std::make_unique<idle_peer_holder>(peers));
                    unique_fd c(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
                    if (!c) throw_errno("idle_conns: socket");
                    if (::connect(c.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0)
                        throw_errno("idle_conns: connect");
                    unique_fd s(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
                    if (!s) throw_errno("idle_conns: accept");
                    peers.push_back(std::move(c));
                    idle.push_back(std::move(s));
                }
                if (!peers.empty()) holders.push_back(std::make_unique<idle_peer_holder>(peers));
            }
            accept_from<C>(listener.get(), port, p.active, p.requests);
            for (auto& c : idle) C::configure_fd(c.get());
        }
        std::vector<std::unique_ptr<idle_peer_holder>> holders;
        void release_idle() noexcept {
            for (auto& h : holders) h->release();
        }
        std::vector<unique_fd> idle;
        std::atomic<std::size_t> active_left;
        std::atomic<double> cpu0{0}, cpu1{0};
    };

    template <class C>
    static task<std::uint64_t> body(C& ctx, state<C>& s, std::size_t i, const params& p) {
        co_await ctx.park();
        if (i >= p.active) {  // idle: one read, which must see EOF and no data
            char b = 0;
            const ssize_t r = co_await ctx.read(s.idle[i - p.active].get(), &b, 1);
            if (r < 0) throw_errno("idle_conns: idle read", errno);
            co_return r == 0 ? 1 : 0;
        }
        std::uint64_t served = 0;
        try {
            if (i == 0) {
                co_await ctx.yield();  // behind every idle task's first step: their reads are armed now
                s.cpu0.store(process_cpu_ns());
                check_go(co_await ctx.write(s.go_fd(), &go_byte, 1), "idle_conns");
            }
            const int fd = s.conns[i].get();
            served = co_await serve_echo(ctx, fd, request_size, "idle_conns server");
        } catch (...) {
            // The idle tasks would wait forever for a client that is gone.
            if (s.active_left.fetch_sub(1) == 1) s.release_idle();
            throw;
        }
        if (s.active_left.fetch_sub(1) == 1) {
            s.cpu1.store(process_cpu_ns());
            s.release_idle();
        }
        co_return served;
    }
    template <class C>
    static std::string verify(const state<C>& s, const params& p, const std::vector<std::uint64_t>& res) {
        if (auto why = closed_problem(s.report(), p.active * p.requests); !why.empty()) return why;
        for (std::size_t i = 0; i < res.size(); ++i) {
            const std::uint64_t expect = i < p.active ? p.requests : 1;
            if (res[i] != expect)
                return (i < p.active ? "active task " : "idle task ") + std::to_string(i) + " returned " +
                       std::to_string(res[i]) + ", expected " + std::to_string(expect);
        }
        if (!(s.cpu1.load() >= s.cpu0.load()) || s.cpu0.load() <= 0) return "the active phase's CPU window was not taken";
        return {};
    }
    template <class C>
    static void collect(const state<C>& s, const params&, const std::vector<std::uint64_t>&, measurement& m) {
        const echo_report& r = s.report();
        add_closed(m, r, s.cpu1.load() - s.cpu0.load());
    }
    // The server's CPU here is this process's clock alone (no children's
    // ticks): no resolution stated.
    static constexpr counter_meta counter_info[] = {echo_counter::req_per_s,
                                                    {"server_cpu_ns_per_req", "ns/req", better::lower, 0, true}};
    static counters report(const params&, const measurement& m) { return closed_counters(m, counter_info); }
};

}  // namespace cb::wl
