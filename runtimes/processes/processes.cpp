#include "processes.hpp"

#include <csignal>
#include <cstdio>
#include <cstring>
#include <exception>
#include <fstream>

#include <poll.h>
#include <sys/resource.h>
#include <sys/wait.h>

namespace cb {

int thread_count() {
    std::ifstream f("/proc/self/status");
    std::string key;
    while (f >> key) {
        if (key == "Threads:") {
            int n = 0;
            f >> n;
            return n;
        }
        f.ignore(4096, '\n');
    }
    return -1;
}

ready<void> process_context::park() {
    char c = 0;
    if (!write_full(arrive_fd, &c, 1)) throw_errno("park: arrive");
    if (!read_full(release_fd, &c, 1)) throw_errno("park: release", errno ? errno : EPIPE);
    return {};
}

namespace {

struct record {
    std::uint64_t index;
    std::uint64_t value;
    std::uint64_t ok;
};
static_assert(sizeof(record) <= PIPE_BUF);

// Owns the children of one group: whatever is not reaped by the normal path
// (an exception, a failed fork) is killed and reaped here.
class child_set {
public:
    explicit child_set(std::size_t n) { pids_.reserve(n); }
    ~child_set() {
        for (pid_t p : pids_) ::kill(p, SIGKILL);
        for (pid_t p : pids_) while (::waitpid(p, nullptr, 0) < 0 && errno == EINTR) {}
    }
    child_set(const child_set&) = delete;
    child_set& operator=(const child_set&) = delete;
    void add(pid_t p) { pids_.push_back(p); }
    const std::vector<pid_t>& pids() const { return pids_; }
    // Reaps every child; returns a description of the first that failed.
    std::string reap_all() {
        std::string err;
        for (pid_t p : pids_) {
            int st = 0;
            while (::waitpid(p, &st, 0) < 0) {
                if (errno != EINTR) { st = 0; break; }
            }
            if (err.empty()) {
                if (WIFSIGNALED(st)) err = "child " + std::to_string(p) + " killed by signal " + std::to_string(WTERMSIG(st));
                else if (WIFEXITED(st) && WEXITSTATUS(st) != 0) err = "child " + std::to_string(p) + " exited with status " + std::to_string(WEXITSTATUS(st));
            }
        }
        pids_.clear();
        return err;
    }

private:
    std::vector<pid_t> pids_;
};

}  // namespace

std::vector<std::uint64_t> run_children(std::size_t n, const run_options& opts, process_context& ctx,
                                        std::uint64_t (*fn)(void*, std::size_t), void* arg) {
    if (int t = thread_count(); t != 1)
        throw std::logic_error("processes: refusing to fork from a process with " + std::to_string(t) +
                               " threads (the child would inherit locks held by threads it does not have)");
    fd_pair results = make_pipe(false);
    fd_pair arrive, release;
    if (opts.parks) {
        arrive = make_pipe(false);
        release = make_pipe(false);
    }
    const int saved_arrive = ctx.arrive_fd, saved_release = ctx.release_fd;
    ctx.arrive_fd = arrive.write_end.get();
    ctx.release_fd = release.read_end.get();
    std::fflush(nullptr);  // buffered output would otherwise be printed by every child too

    child_set kids(n);
    for (std::size_t i = 0; i < n; ++i) {
        pid_t pid = ::fork();
        if (pid < 0) {
            int err = errno;
            ctx.arrive_fd = saved_arrive;
            ctx.release_fd = saved_release;
            throw spawn_error("processes: fork failed for child " + std::to_string(i + 1) + " of " +
                              std::to_string(n) + ": " + std::strerror(err) + " (" + task_limits() + ")");
        }
        if (pid == 0) {
            record r{i, 0, 0};
            try {
                results.read_end.reset();
                if (!opts.cpus.empty()) pin_this_thread(opts.cpus[i % opts.cpus.size()]);
                r.value = fn(arg, i);
                r.ok = 1;
            } catch (const std::exception& e) {
                std::fprintf(stderr, "processes: task %zu failed: %s\n", i, e.what());
            } catch (...) {
                std::fprintf(stderr, "processes: task %zu failed\n", i);
            }
            bool sent = write_full(results.write_end.get(), &r, sizeof r);
            std::fflush(nullptr);
            ::_exit(r.ok && sent ? 0 : 1);
        }
        kids.add(pid);
    }
    ctx.arrive_fd = saved_arrive;
    ctx.release_fd = saved_release;
    results.write_end.reset();  // EOF arrives once every child has exited

    if (opts.parks) {
        arrive.write_end.reset();
        std::vector<char> buf(n);
        // A child that finishes, fails or dies before parking would leave the
        // others parked forever: watch the results pipe and the children too.
        std::size_t arrived = 0;
        while (arrived < n) {
            pollfd pf[2] = {{arrive.read_end.get(), POLLIN, 0}, {results.read_end.get(), POLLIN, 0}};
            int pr = ::poll(pf, 2, 100);
            if (pr < 0 && errno != EINTR) throw_errno("processes: poll");
            siginfo_t si{};
            bool died = ::waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid != 0;
            if ((pr > 0 && (pf[1].revents & (POLLIN | POLLHUP))) || died)
                throw std::runtime_error("processes: a task ended before every task had parked");
            if (pr > 0 && (pf[0].revents & POLLIN)) {
                ssize_t got = ::read(arrive.read_end.get(), buf.data(), n - arrived);
                if (got > 0) arrived += static_cast<std::size_t>(got);
            }
        }
        if (opts.on_parked) opts.on_parked(opts.user, parked_info{n, kids.pids()});
        if (!write_full(release.write_end.get(), buf.data(), n)) throw_errno("processes: release");
    }

    std::vector<std::uint64_t> out(n);
    std::size_t got = 0;
    record r;
    while (got < n && read_full(results.read_end.get(), &r, sizeof r)) {
        if (r.ok && r.index < n) {
            out[r.index] = r.value;
            ++got;
        }
    }
    std::string why = kids.reap_all();
    if (!why.empty() || got != n)
        throw std::runtime_error("processes: " + std::to_string(n - got) + " of " + std::to_string(n) +
                                 " tasks failed" + (why.empty() ? "" : ": " + why));
    return out;
}

}  // namespace cb
