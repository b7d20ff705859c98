// An echo server that is a program of its own rather than a runtime's tasks
// (a reference such as the Asio server, bench/reference.cpp): spawned with
// posix_spawn on the rig's listener, it accepts the generator's connections
// itself and serves the same fixed-size requests. The protocol it speaks:
//
//   PROGRAM [ARGS...] REQUEST_BYTES UPSTREAM_US
//         (ARGS: what an interpreted server needs before the sizes, e.g.
//         python3's script and its subcommand; none for a compiled one)
//   fd 3  the listening socket (127.0.0.1, already listening)
//   fd 4  the control pipe (read end): each byte 's' asks for a snapshot; EOF
//         stops the server
//   fd 5  the report pipe (write end): one line per snapshot and one at exit,
//         "REQUESTS CONNS CPU_NS", CPU_NS the program's own CPU time
//
// Stopped (its control pipe closed), then killed if it lingers, and reaped
// on destruction.
#pragma once

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include "echo_client.hpp"
#include "runtimes/core/fd.hpp"

extern char** environ;

namespace cb::wl {

// Which program serves a run, where it does not run in this process.
struct server_program {
    std::string path;               // the executable (an interpreter for a script)
    std::vector<std::string> args;  // between it and the sizes
};

class server_process {
public:
    struct snapshot {
        std::uint64_t requests = 0, conns = 0, cpu_ns = 0;
    };

    server_process(const server_program& prog, int listener, std::size_t request_size, std::uint64_t upstream_us) {
        fd_pair ctl = make_pipe(), rep = make_pipe();
        // Sources above every target first (no dup2 overwrites another's
        // source); dup2 clears CLOEXEC on the targets.
        auto above = [](int fd) {
            unique_fd moved{::fcntl(fd, F_DUPFD_CLOEXEC, 10)};
            if (!moved) throw_errno("fcntl(F_DUPFD_CLOEXEC)");
            return moved;
        };
        unique_fd l = above(listener), c = above(ctl.read_end.get()), r = above(rep.write_end.get());
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_adddup2(&fa, l.get(), 3);
        posix_spawn_file_actions_adddup2(&fa, c.get(), 4);
        posix_spawn_file_actions_adddup2(&fa, r.get(), 5);
#if defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 34)
        posix_spawn_file_actions_addclosefrom_np(&fa, 6);
#endif
        posix_spawnattr_t at;
        posix_spawnattr_init(&at);
        sigset_t none, defaults;
        sigemptyset(&none);
        sigemptyset(&defaults);
        for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGPIPE}) sigaddset(&defaults, sig);
        posix_spawnattr_setsigmask(&at, &none);
        posix_spawnattr_setsigdefault(&at, &defaults);
        posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
        std::vector<std::string> a{prog.path};
        a.insert(a.end(), prog.args.begin(), prog.args.end());
        a.insert(a.end(), {std::to_string(request_size), std::to_string(upstream_us)});
        std::vector<char*> argv;
        for (auto& x : a) argv.push_back(x.data());
        argv.push_back(nullptr);
        const int err = ::posix_spawn(&pid_, prog.path.c_str(), &fa, &at, argv.data(), environ);
        posix_spawn_file_actions_destroy(&fa);
        posix_spawnattr_destroy(&at);
        if (err != 0) {
            pid_ = -1;
            throw_errno("posix_spawn " + prog.path, err);
        }
        control_ = std::move(ctl.write_end);
        report_ = std::move(rep.read_end);
    }
    ~server_process() {
        using namespace std::chrono_literals;
        control_.reset();  // EOF: the server stops
        if (pid_ <= 0) return;
        for (auto until = std::chrono::steady_clock::now() + 2s; std::chrono::steady_clock::now() < until;) {
            if (::waitpid(pid_, nullptr, WNOHANG) == pid_) return;
            std::this_thread::sleep_for(1ms);
        }
        ::kill(pid_, SIGKILL);
        while (::waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
        }
    }
    server_process(const server_process&) = delete;
    server_process& operator=(const server_process&) = delete;

    pid_t pid() const noexcept { return pid_; }

    // Waits until the server has accepted `conns` connections (the generator
    // connects them all before it waits for the go byte); its counts then.
    // Throws if it does not answer, or the generator gives up first.
    snapshot wait_accepted(std::uint64_t conns, echo_client& client) {
        using namespace std::chrono_literals;
        const auto deadline = std::chrono::steady_clock::now() + 60s;
        for (;;) {
            const auto s = ask();
            if (!s) throw std::runtime_error("the server program does not answer");
            if (s->conns >= conns) return *s;
            if (client.exited() || std::chrono::steady_clock::now() > deadline)
                throw std::runtime_error("the server program accepted " + std::to_string(s->conns) + " of " +
                                         std::to_string(conns) + " connections");
            std::this_thread::sleep_for(2ms);
        }
    }
    // Stops the server (EOF on its control pipe) and returns its final
    // counts; nullopt if it does not report or exits with a failure.
    [[nodiscard]] std::optional<snapshot> stop(std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
        control_.reset();
        auto s = next_line(timeout);
        int st = 0;
        pid_t r;
        while ((r = ::waitpid(pid_, &st, 0)) < 0 && errno == EINTR) {
        }
        pid_ = -1;
        if (r < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) return std::nullopt;
        return s;
    }

private:
    // The server's counts now; nullopt if it does not answer within `timeout`.
    std::optional<snapshot> ask(std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
        const char s = 's';
        if (::write(control_.get(), &s, 1) != 1) return std::nullopt;
        return next_line(timeout);
    }
    std::optional<snapshot> next_line(std::chrono::milliseconds timeout) {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        for (;;) {
            if (const auto nl = buf_.find('\n'); nl != std::string::npos) {
                unsigned long long a = 0, b = 0, c = 0;
                const bool ok = std::sscanf(buf_.c_str(), "%llu %llu %llu", &a, &b, &c) == 3;
                buf_.erase(0, nl + 1);
                if (!ok) return std::nullopt;
                return snapshot{a, b, c};
            }
            const auto left =
                std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
            if (left.count() <= 0) return std::nullopt;
            pollfd pf{report_.get(), POLLIN, 0};
            const int pr = ::poll(&pf, 1, static_cast<int>(left.count()));
            if (pr < 0 && errno == EINTR) continue;
            if (pr <= 0) return std::nullopt;
            char b[256];
            const ssize_t n = ::read(report_.get(), b, sizeof b);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) return std::nullopt;
            buf_.append(b, static_cast<std::size_t>(n));
        }
    }

    pid_t pid_ = -1;
    unique_fd control_, report_;
    std::string buf_;
};

}  // namespace cb::wl
