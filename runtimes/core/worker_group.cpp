#include "worker_group.hpp"

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <exception>
#include <fstream>
#include <stdexcept>

#include <poll.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

namespace cb {

std::size_t default_workers() {
    if (const char* env = std::getenv("COBENCH_WORKERS"); env && *env) {
        char* end = nullptr;
        errno = 0;
        const unsigned long long k = std::strtoull(env, &end, 10);
        if (errno != 0 || *end != '\0' || k == 0 || k > 4096 || env[0] == '-')
            throw std::invalid_argument(std::string("COBENCH_WORKERS='") + env + "': expected a worker count from 1 to 4096");
        return static_cast<std::size_t>(k);
    }
    cpu_set_t set;
    CPU_ZERO(&set);
    if (::sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0) return static_cast<std::size_t>(CPU_COUNT(&set));
    const unsigned hc = std::thread::hardware_concurrency();
    return hc ? hc : 1;
}

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

namespace {

// One task's result on the results pipe; at most PIPE_BUF, so writes from
// several workers never interleave.
struct record {
    std::uint64_t index;
    std::uint64_t value;
};
static_assert(sizeof(record) <= PIPE_BUF);

// Owns the workers of one group: whatever is not reaped by the normal path
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
    // A worker that has ended badly (a signal, a non-zero status), left
    // unreaped; "" if none. Its siblings may be waiting on it forever.
    std::string first_failed() const {
        for (pid_t p : pids_) {
            siginfo_t si{};
            if (::waitid(P_PID, static_cast<id_t>(p), &si, WEXITED | WNOHANG | WNOWAIT) != 0 || si.si_pid != p) continue;
            if (si.si_code == CLD_EXITED && si.si_status == 0) continue;
            return describe(p, si.si_code == CLD_EXITED, si.si_status);
        }
        return {};
    }
    static std::string describe(pid_t p, bool exited, int code) {
        if (exited) return "worker " + std::to_string(p) + " exited with status " + std::to_string(code);
        return "worker " + std::to_string(p) + " killed by signal " + std::to_string(code) + " (" + sigabbrev(code) + ")";
    }
    static std::string sigabbrev(int sig) {
        const char* d = ::sigdescr_np(sig);
        return d ? d : "unknown signal";
    }
    // Reaps every child; returns a description of the first that failed.
    std::string reap_all() {
        std::string err;
        for (pid_t p : pids_) {
            int st = 0;
            while (::waitpid(p, &st, 0) < 0) {
                if (errno != EINTR) { st = 0; break; }
            }
            if (err.empty()) {
                if (WIFSIGNALED(st)) err = describe(p, false, WTERMSIG(st));
                else if (WIFEXITED(st) && WEXITSTATUS(st) != 0) err = describe(p, true, WEXITSTATUS(st));
            }
        }
        pids_.clear();
        return err;
    }

private:
    std::vector<pid_t> pids_;
};

// In the child: runs the slice and sends its results; never returns.
[[noreturn]] void run_worker(const process_group& g, slice s, int results_fd, process_slice_fn fn, void* arg) {
    bool ok = false;
    try {
        if (g.opts && !g.opts->cpus.empty()) pin_this_thread(g.opts->cpus[s.worker % g.opts->cpus.size()]);
        std::vector<std::uint64_t> out(s.size());
        fn(arg, s, out.data());
        ok = true;
        for (std::size_t i = 0; i < s.size() && ok; ++i) {
            const record r{s.first + i, out[i]};
            ok = write_full(results_fd, &r, sizeof r);
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "processes: worker %zu (tasks %zu..%zu) failed: %s\n", s.worker, s.first, s.last - 1, e.what());
    } catch (...) {
        std::fprintf(stderr, "processes: worker %zu (tasks %zu..%zu) failed\n", s.worker, s.first, s.last - 1);
    }
    std::fflush(nullptr);
    ::_exit(ok ? 0 : 1);
}

// In the parent: waits until `expected` park bytes have arrived, watching
// for a worker that ends or dies first (the others would wait forever).
void await_arrivals(int arrive_fd, int results_fd, std::size_t expected) {
    std::vector<char> buf(expected);
    std::size_t arrived = 0;
    while (arrived < expected) {
        pollfd pf[2] = {{arrive_fd, POLLIN, 0}, {results_fd, POLLIN, 0}};
        int pr = ::poll(pf, 2, 100);
        if (pr < 0 && errno != EINTR) throw_errno("processes: poll");
        siginfo_t si{};
        bool died = ::waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid != 0;
        if ((pr > 0 && (pf[1].revents & (POLLIN | POLLHUP))) || died)
            throw std::runtime_error("processes: a task ended before every task had parked");
        if (pr > 0 && (pf[0].revents & POLLIN)) {
            ssize_t got = ::read(arrive_fd, buf.data(), expected - arrived);
            if (got > 0) arrived += static_cast<std::size_t>(got);
        }
    }
}

}  // namespace

std::vector<std::uint64_t> run_process_workers(const process_group& g, process_slice_fn fn, void* arg) {
    if (int t = thread_count(); t != 1)
        throw std::logic_error("processes: refusing to fork from a process with " + std::to_string(t) +
                               " threads (the child would inherit locks held by threads it does not have)");
    const std::size_t n = g.tasks, k = g.workers == 0 ? 1 : g.workers;
    const bool parks = g.opts && g.opts->parks;
    const std::size_t arrivals = g.arrivals == 0 ? n : g.arrivals;
    fd_pair results = make_pipe(false);
    fd_pair arrive, release;
    if (parks) {
        arrive = make_pipe(false);
        release = make_pipe(false);
    }
    park_fds saved;
    if (g.park) {
        saved = *g.park;
        *g.park = {arrive.write_end.get(), release.read_end.get()};
    }
    std::fflush(nullptr);  // buffered output would otherwise be printed by every child too

    child_set kids(k);
    for (std::size_t w = 0; w < k; ++w) {
        pid_t pid = ::fork();
        if (pid < 0) {
            int err = errno;
            if (g.park) *g.park = saved;
            throw spawn_error("processes: fork failed for worker " + std::to_string(w + 1) + " of " +
                                  std::to_string(k) + ": " + std::strerror(err) + " (" + task_limits() + ")",
                              slice_of(n, k, w).first);
        }
        if (pid == 0) {
            results.read_end.reset();
            run_worker(g, slice_of(n, k, w), results.write_end.get(), fn, arg);
        }
        kids.add(pid);
    }
    if (g.park) *g.park = saved;
    results.write_end.reset();  // EOF arrives once every worker has exited

    if (parks) {
        arrive.write_end.reset();
        await_arrivals(arrive.read_end.get(), results.read_end.get(), arrivals);
        if (g.opts->on_parked) g.opts->on_parked(g.opts->user, parked_info{n, kids.pids()});
        std::vector<char> go(arrivals);
        if (!write_full(release.write_end.get(), go.data(), arrivals)) throw_errno("processes: release");
    }

    std::vector<std::uint64_t> out(n);
    std::vector<bool> have(n);
    std::size_t got = 0;
    for (;;) {
        pollfd pf{results.read_end.get(), POLLIN, 0};
        const int pr = ::poll(&pf, 1, 100);
        if (pr < 0 && errno != EINTR) throw_errno("processes: poll");
        if (pr > 0) {
            record r;
            if (!read_full(results.read_end.get(), &r, sizeof r)) break;  // EOF: every worker has exited
            if (r.index < n && !have[r.index]) {
                out[r.index] = r.value;
                have[r.index] = true;
                ++got;
            }
            continue;
        }
        // Quiet for 100 ms: a worker that died would leave its siblings
        // waiting on it (a hand-off, a barrier) forever. Failing here kills
        // and reaps them all (child_set).
        if (std::string dead = kids.first_failed(); !dead.empty())
            throw std::runtime_error("processes: " + dead + " before its tasks finished; its " +
                                     std::to_string(k - 1) + " sibling workers were killed");
    }
    std::string why = kids.reap_all();
    if (!why.empty() || got != n)
        throw std::runtime_error("processes: " + std::to_string(n - got) + " of " + std::to_string(n) +
                                 " tasks failed" + (why.empty() ? "" : ": " + why));
    return out;
}

}  // namespace cb
