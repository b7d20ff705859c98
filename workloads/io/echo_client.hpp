// The echo workloads' load generator, seen from the server's side: the
// cobench_echo_client process (bench/programs/generator/) started with
// posix_spawn (never fork: the pool's and fibers' families run threads), its
// go pipe, and its one-line report. Killed and reaped on destruction.
#pragma once

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runtimes/core/fd.hpp"
#include "workloads/io/generator_report.hpp"

extern char** environ;

namespace cb::wl {

// What cobench_echo_client reported, or why it did not. The fields it
// inherits are the first phase's: the closed loop's, or the open loop's when
// it ran alone; with echo_client_options::closed_first, `open` holds the
// open loop's.
struct echo_report : echo_phase {
    std::optional<echo_phase> open;
    std::string problem;  // empty: the client exited 0 with a well-formed report
};

// What echo_accept adds to the plain echo client (bench/programs/generator/ says
// the details). All zero/empty: the plain echo client.
struct echo_client_options {
    // The server's listening sockets, which the client inherits: it connects
    // after the go byte and shuts each down (SHUT_RD) when done, which ends
    // the server's acceptors with EINVAL.
    std::vector<int> listeners;
    std::uint64_t reconnect = 0;      // a new connection after every R round trips on one
    std::uint64_t mark_every_ms = 0;  // one request per period carries the stall mark (byte 0 = 1)
    std::uint64_t slow_ms = 0;        // a reply slower than this makes its connection "stuck"
    // The open loop (bench/programs/generator/open_loop.hpp says the details); none of the
    // above can go with it.
    std::uint64_t rate = 0;          // total requests/s over all connections; 0 = the closed loop (as today)
    std::uint64_t duration_ms = 0;   // open loop: send on schedule for this long (then drain); REQUESTS then ignored
    bool hiccups = true;             // open loop: run the hiccup probe thread in the generator
    // The generator's CPUs: the whole process on them, generating thread i
    // on the i-th (empty: not pinned); one CPU is how one thread is pinned.
    std::vector<int> pin_cpus;
    std::size_t threads = 1;         // generating threads (--threads), each a slice of the connections
    // Open loop: first a closed phase of REQUESTS round trips per connection
    // on the same connections (echo_report then has both: `open` is the
    // open phase's).
    bool closed_first = false;
    pid_t server_pid = 0;            // whose CPU server_cpu_ns is (0: the client's parent, this process)
};

// The client process: spawned on construction, killed and reaped on
// destruction if finish() did not reap it.
class echo_client {
public:
    // Where the client program is: $COBENCH_ECHO_CLIENT_BIN if set, else
    // cobench_echo_client beside the running executable (the build puts the
    // binaries side by side; a moved build directory keeps working). Empty
    // with the reason in `why` if it is not there.
    static std::string find(std::string* why = nullptr) {
        std::string p;
        if (const char* env = std::getenv("COBENCH_ECHO_CLIENT_BIN"); env && *env) {
            p = env;
        } else {
            char buf[4096];
            const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
            if (n <= 0) {
                if (why) *why = "cannot read /proc/self/exe to find cobench_echo_client";
                return {};
            }
            p.assign(buf, static_cast<std::size_t>(n));
            p = p.substr(0, p.find_last_of('/') + 1) + "cobench_echo_client";
        }
        if (::access(p.c_str(), X_OK) != 0) {
            if (why) *why = "echo client '" + p + "' is not an executable file (set COBENCH_ECHO_CLIENT_BIN)";
            return {};
        }
        return p;
    }

    echo_client(std::uint16_t port, std::size_t conns, std::uint64_t requests, std::size_t size,
                std::string exe_path = find(), const echo_client_options& opt = {}) {
        if (exe_path.empty()) {
            std::string why;
            find(&why);
            throw std::runtime_error("echo: " + why);
        }
        const char* exe = exe_path.c_str();
        fd_pair go = make_pipe(), rep = make_pipe();
        // The child gets the pipes as fds 3 and 4 and the listeners as 5, 6,
        // ... Moving every source above the highest target first means no
        // dup2 can overwrite another's source; the copies are CLOEXEC, and
        // dup2 gives the child's fds without the flag.
        const int first_free = 5 + static_cast<int>(opt.listeners.size());
        const int above_all = first_free + 10;
        unique_fd go_r = above(go.read_end, above_all), rep_w = above(rep.write_end, above_all);
        std::vector<unique_fd> ls;
        for (int l : opt.listeners) {
            ls.emplace_back(::fcntl(l, F_DUPFD_CLOEXEC, above_all));
            if (!ls.back()) throw_errno("fcntl(F_DUPFD_CLOEXEC)");
        }
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_adddup2(&fa, go_r.get(), 3);
        posix_spawn_file_actions_adddup2(&fa, rep_w.get(), 4);
        std::string fds;
        for (std::size_t j = 0; j < ls.size(); ++j) {
            posix_spawn_file_actions_adddup2(&fa, ls[j].get(), 5 + static_cast<int>(j));
            if (j) fds += ',';
            fds += std::to_string(5 + j);
        }
#if defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 34)
        // Nothing else: a stray copy of someone's pipe end in the client would
        // keep that pipe from ever reporting EOF.
        posix_spawn_file_actions_addclosefrom_np(&fa, first_free);
#endif
        posix_spawnattr_t at;
        posix_spawnattr_init(&at);
        sigset_t none;
        sigemptyset(&none);
        posix_spawnattr_setsigmask(&at, &none);
        posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK);
        std::vector<std::string> a = {exe, std::to_string(port), std::to_string(conns), std::to_string(requests),
                                      std::to_string(size), "3", "4"};
        if (!fds.empty()) a.push_back("--listen-fds=" + fds);
        if (opt.reconnect) a.push_back("--reconnect=" + std::to_string(opt.reconnect));
        if (opt.mark_every_ms) a.push_back("--mark-every-ms=" + std::to_string(opt.mark_every_ms));
        if (opt.slow_ms) a.push_back("--slow-ms=" + std::to_string(opt.slow_ms));
        if (opt.rate) a.push_back("--rate=" + std::to_string(opt.rate));
        if (opt.duration_ms) a.push_back("--duration-ms=" + std::to_string(opt.duration_ms));
        if (opt.rate && !opt.hiccups) a.push_back("--no-hiccups");
        if (opt.rate && opt.closed_first) a.push_back("--closed-first");
        if (!opt.pin_cpus.empty()) {
            std::string cpus;
            for (int c : opt.pin_cpus) cpus += (cpus.empty() ? "" : ",") + std::to_string(c);
            a.push_back("--pin=" + cpus);
        }
        if (opt.threads > 1) a.push_back("--threads=" + std::to_string(opt.threads));
        if (opt.server_pid > 0) a.push_back("--server-pid=" + std::to_string(opt.server_pid));
        std::vector<char*> argv;
        for (auto& x : a) argv.push_back(x.data());
        argv.push_back(nullptr);
        int err = ::posix_spawn(&pid_, exe, &fa, &at, argv.data(), environ);
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
        const std::optional<std::vector<echo_phase>> phases = parse_report(text);
        const bool parsed = phases && phases->size() <= 2;
        if (parsed) {
            static_cast<echo_phase&>(rep_) = phases->front();
            if (phases->size() == 2) rep_.open = phases->back();
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

}  // namespace cb::wl
