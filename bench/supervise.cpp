#include "supervise.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <stdexcept>

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace cb {
namespace {

using clock_type = std::chrono::steady_clock;

// ---- parent side: signals ---------------------------------------------------

volatile std::sig_atomic_t g_signal = 0;
std::atomic<pid_t> g_child_group{0};
static_assert(std::atomic<pid_t>::is_always_lock_free, "used in a signal handler");

constexpr auto grace = std::chrono::seconds(3);  // a forwarded signal's time to work before SIGKILL

void on_parent_signal(int sig) {
    const int saved = errno;
    const pid_t group = g_child_group.load(std::memory_order_relaxed);
    if (g_signal == 0) {
        g_signal = sig;
        if (group > 0) ::kill(-group, sig);
    } else if (group > 0) {
        ::kill(-group, SIGKILL);  // a second signal: no more grace
    }
    errno = saved;
}

// ---- child side: dying with the parent --------------------------------------

volatile pid_t g_supervised_pid = 0;

// In the family child itself (the leader of its process group) a signal takes
// the whole group down: its forked tasks and the echo client too. A forked
// task inherits this handler and simply dies of the signal.
void on_child_signal(int sig) {
    const pid_t self = ::getpid();
    if (self == g_supervised_pid && ::getpgrp() == self) ::kill(0, SIGKILL);
    ::signal(sig, SIG_DFL);
    ::raise(sig);
}

// ---- running a child --------------------------------------------------------

bool is_pipe_or_socket(int fd) {
    struct stat st{};
    return ::fstat(fd, &st) == 0 && (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode));
}

// One of the child's output streams, read from a pipe and either passed on to
// ours (a reader that went away, EPIPE, stops the passing, never the child:
// SIGPIPE is ignored here) or kept.
struct stream_relay {
    int from = -1, to = -1;
    bool broken = false;
    std::string* sink = nullptr;

    void pass_on(const char* p, std::size_t n) {
        if (sink) {
            if (sink->size() < (1u << 20)) sink->append(p, std::min(n, (std::size_t{1} << 20) - sink->size()));
            return;
        }
        while (n > 0 && !broken) {
            ssize_t w = ::write(to, p, n);
            if (w < 0 && errno == EINTR && pending_signal() == 0) continue;
            if (w <= 0) {
                broken = true;  // EPIPE, or a signal arrived: the rest is dropped
                break;
            }
            p += w;
            n -= static_cast<std::size_t>(w);
        }
    }
    // Reads what is there; false once the stream has ended.
    bool pump() {
        if (from < 0) return false;
        char buf[16384];
        for (;;) {
            ssize_t n = ::read(from, buf, sizeof buf);
            if (n > 0) {
                pass_on(buf, static_cast<std::size_t>(n));
                continue;
            }
            if (n < 0 && errno == EINTR) continue;
            if (n < 0 && errno == EAGAIN) return true;
            ::close(from);
            from = -1;
            return false;
        }
    }
};

void wait_readable(stream_relay* relays, int count, int timeout_ms) {
    pollfd fds[2];
    int n = 0;
    for (int i = 0; i < count; ++i)
        if (relays[i].from >= 0) fds[n++] = {relays[i].from, POLLIN, 0};
    ::poll(fds, static_cast<nfds_t>(n), timeout_ms);  // EINTR: a signal, looked at by the caller
    for (int i = 0; i < count; ++i) relays[i].pump();
}

}  // namespace

// ---- parent side ------------------------------------------------------------

void install_parent_signals() {
    for (int sig : {SIGINT, SIGTERM, SIGHUP}) {
        struct sigaction old{};
        ::sigaction(sig, nullptr, &old);
        if (old.sa_handler == SIG_IGN) continue;  // started under nohup or in the background: keep ignoring
        struct sigaction sa{};
        sa.sa_handler = on_parent_signal;
        sigemptyset(&sa.sa_mask);
        sa.sa_flags = 0;  // no SA_RESTART: waits wake up and look at the signal
        ::sigaction(sig, &sa, nullptr);
    }
    ::signal(SIGPIPE, SIG_IGN);  // a closed stdout or stderr costs output, not results
}

int pending_signal() { return g_signal; }

void throw_if_interrupted() {
    if (int sig = pending_signal()) throw interrupted(sig);
}

void die_of_signal(int sig) {
    std::fflush(nullptr);
    ::signal(sig, SIG_DFL);
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, sig);
    ::pthread_sigmask(SIG_UNBLOCK, &s, nullptr);
    ::raise(sig);
    ::_exit(128 + sig);
}

std::string self_exe() {
    char buf[4096];
    ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n <= 0) throw std::runtime_error("cannot find my own executable (/proc/self/exe)");
    return std::string(buf, static_cast<std::size_t>(n));
}

child_result run_child(const std::vector<std::string>& args, const child_options& co) {
    throw_if_interrupted();
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);

    child_result r;
    // Output goes straight to our stdout/stderr when those are a terminal or
    // a file; through a relay when they are a pipe or socket, whose reader may
    // go away (`| head`): then the child would die of SIGPIPE.
    stream_relay relays[2];
    int nrelays = 0;
    auto make_pipe = [&](stream_relay& rel, int to) -> int {
        int p[2];
        if (::pipe2(p, O_CLOEXEC) != 0) throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
        ::fcntl(p[0], F_SETFL, O_NONBLOCK);
        rel.from = p[0];
        rel.to = to;
        ++nrelays;
        return p[1];
    };

    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    std::vector<int> write_ends;
    if (co.capture) {
        int w = make_pipe(relays[0], -1);
        relays[0].sink = &r.output;
        posix_spawn_file_actions_adddup2(&fa, w, 1);
        posix_spawn_file_actions_adddup2(&fa, w, 2);
        write_ends.push_back(w);
    } else {
        if (co.quiet_stdout) {
            posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
        } else if (is_pipe_or_socket(1)) {
            int w = make_pipe(relays[nrelays], 1);
            posix_spawn_file_actions_adddup2(&fa, w, 1);
            write_ends.push_back(w);
        }
        if (is_pipe_or_socket(2)) {
            int w = make_pipe(relays[nrelays], 2);
            posix_spawn_file_actions_adddup2(&fa, w, 2);
            write_ends.push_back(w);
        }
    }
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
    posix_spawnattr_setpgroup(&attr, 0);
    sigset_t defaults, none;
    sigemptyset(&defaults);
    for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGPIPE}) sigaddset(&defaults, sig);
    sigemptyset(&none);
    posix_spawnattr_setsigdefault(&attr, &defaults);
    posix_spawnattr_setsigmask(&attr, &none);

    pid_t pid = -1;
    const int rc = co.search_path ? ::posix_spawnp(&pid, argv[0], &fa, &attr, argv.data(), environ)
                                  : ::posix_spawn(&pid, argv[0], &fa, &attr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    for (int w : write_ends) ::close(w);
    if (rc != 0) {
        for (auto& rel : relays)
            if (rel.from >= 0) ::close(rel.from);
        r.status = "error";
        r.message = "could not start " + args[0] + ": " + std::strerror(rc);
        return r;
    }
    g_child_group.store(pid, std::memory_order_relaxed);

    const auto t0 = clock_type::now();
    const auto deadline = t0 + std::chrono::duration_cast<clock_type::duration>(std::chrono::duration<double>(co.timeout_s));
    bool forwarded = false, killed = false, timed_out = false;
    clock_type::time_point grace_end{};
    for (;;) {
        wait_readable(relays, nrelays, 20);
        siginfo_t si{};
        if (::waitid(P_PID, static_cast<id_t>(pid), &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == pid) break;
        const auto now = clock_type::now();
        if (int sig = pending_signal(); sig && !forwarded) {
            ::kill(-pid, sig);  // the handler did too, unless it came before the child existed
            forwarded = true;
            grace_end = now + grace;
        }
        if (forwarded && !killed && now > grace_end) {
            ::kill(-pid, SIGKILL);
            killed = true;
        }
        if (!forwarded && !timed_out && now > deadline) {
            ::kill(-pid, SIGKILL);
            timed_out = true;
        }
    }
    // The leader has exited but is not reaped, so its pid still names the
    // group: whatever it left behind there goes now.
    ::kill(-pid, SIGKILL);
    g_child_group.store(0, std::memory_order_relaxed);
    int st = 0;
    while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
    r.wall_s = std::chrono::duration<double>(clock_type::now() - t0).count();
    // The rest of its output; a grandchild that escaped the group could hold
    // the pipe open, so this is bounded.
    for (const auto until = clock_type::now() + std::chrono::seconds(1);
         clock_type::now() < until && std::any_of(relays, relays + nrelays, [](auto& x) { return x.from >= 0; });)
        wait_readable(relays, nrelays, 50);
    for (auto& rel : relays)
        if (rel.from >= 0) ::close(rel.from);
    throw_if_interrupted();

    if (timed_out) {
        r.status = "timeout";
        char buf[64];
        std::snprintf(buf, sizeof buf, "killed after %g s (--family-timeout)", co.timeout_s);
        r.message = buf;
    } else if (WIFSIGNALED(st)) {
        r.status = "crashed";
        r.message = "killed by signal " + std::to_string(WTERMSIG(st)) + " (" + ::strsignal(WTERMSIG(st)) + ")";
    } else if (WIFEXITED(st) && WEXITSTATUS(st) != 0) {
        r.exit_status = WEXITSTATUS(st);
        r.status = "error";
        r.message = "exited with status " + std::to_string(WEXITSTATUS(st));
    }
    return r;
}

// ---- child side -------------------------------------------------------------

void become_supervised_child(pid_t supervisor) {
    if (supervisor <= 0) return;  // run by hand: nothing to die with
    g_supervised_pid = ::getpid();
    struct sigaction sa{};
    sa.sa_handler = on_child_signal;
    sigemptyset(&sa.sa_mask);
    for (int sig : {SIGINT, SIGTERM, SIGHUP}) ::sigaction(sig, &sa, nullptr);
    if (!die_with_parent(supervisor, SIGTERM)) on_child_signal(SIGTERM);
}

bool die_with_parent(pid_t parent, int sig) {
    ::prctl(PR_SET_PDEATHSIG, sig);
    // The parent may have died before prctl: then we were re-parented already.
    return ::getppid() == parent;
}

std::string errno_name(int err) {
    const char* name = ::strerrorname_np(err);
    return std::string(std::strerror(err)) + " (" + (name ? name : "errno " + std::to_string(err)) + ")";
}

}  // namespace cb
