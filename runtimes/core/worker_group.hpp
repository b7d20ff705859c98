// A worker group: K workers, each an OS process or an OS thread, each given a
// contiguous slice of the task range [0, n), with results and errors coming
// back to the caller. "One child (or thread) per task" is the case K = n;
// "K processes, each running many tasks on a loop of its own" is the same
// primitive with a slice function that runs a whole slice.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "context.hpp"
#include "fd.hpp"
#include "task_limits.hpp"

namespace cb {

struct slice {
    std::size_t worker, first, last;  // tasks [first, last) of the group
    std::size_t size() const noexcept { return last - first; }
};

// Worker w of k over n tasks: as even as possible, in task order.
constexpr slice slice_of(std::size_t n, std::size_t k, std::size_t w) noexcept {
    return {w, n * w / k, n * (w + 1) / k};
}

// The worker count of runtimes with several workers when a run does not set
// run_options::workers: the CPUs this process may run on (sched_getaffinity),
// or COBENCH_WORKERS when set (cobench --workers sets it). A malformed or zero
// COBENCH_WORKERS throws std::invalid_argument naming it.
std::size_t default_workers();

// Workers a run of n tasks uses: the asked count (or the default), never more
// than the tasks (a worker without a task would have nothing to run), at least 1.
inline std::size_t workers_for(std::size_t n, const run_options& o) {
    std::size_t k = o.workers ? o.workers : default_workers();
    if (k > n) k = n;
    return k == 0 ? 1 : k;
}

// ---- process workers ------------------------------------------------------

// The descriptors of the group-wide park barrier, valid in the workers while
// a group with run_options::parks runs: a task writes one byte to `arrive`,
// then reads one byte from `release`. The parent runs the park hook once
// `arrivals` bytes have arrived, with every worker's pid in parked_info.
struct park_fds {
    int arrive = -1, release = -1;
};

// Runs a slice in a worker process: fills results[0 .. s.size()) for tasks
// s.first .. s.last-1, or throws. Called in the child after fork.
using process_slice_fn = void (*)(void* arg, slice s, std::uint64_t* results);

struct process_group {
    std::size_t tasks = 0, workers = 0;
    // Bytes the park barrier waits for (0: tasks). A worker that parks its
    // whole slice at once on a barrier of its own would send one per worker.
    std::size_t arrivals = 0;
    const run_options* opts = nullptr;  // pinning (worker w on cpus[w % size]) and parking
    park_fds* park = nullptr;           // set for the duration of the group, if opts->parks
};

// Forks g.workers children from a single-threaded process (refused
// otherwise: a child would inherit locks held by threads it does not have),
// collects every task's result, and reaps every child. A failed fork kills
// and reaps the children already started and throws spawn_error; a worker
// that fails, dies or exits before parking is an error too.
std::vector<std::uint64_t> run_process_workers(const process_group& g, process_slice_fn fn, void* arg);

// Number of threads in this process (from /proc/self/status).
int thread_count();

// ---- thread workers -------------------------------------------------------

// Runs fn(slice) on k threads behind a start gate, worker w pinned to
// cpus[w % size] if any. If a thread cannot be created the gate opens on
// "abort": the threads already made return without running their slice
// (which could block forever waiting on a sibling that was never born), are
// joined, and spawn_error is thrown. Errors inside fn are fn's to record.
template <class Fn>
void run_thread_workers(std::size_t k, std::size_t n, const std::vector<int>& cpus, Fn&& fn) {
    enum : int { wait = 0, go = 1, abort = 2 };
    std::atomic<int> gate{wait};
    std::vector<std::thread> ts;
    ts.reserve(k);
    try {
        for (std::size_t w = 0; w < k; ++w) {
            ts.emplace_back([&, w] {
                gate.wait(wait, std::memory_order_acquire);
                if (gate.load(std::memory_order_acquire) == abort) return;
                if (!cpus.empty()) pin_this_thread(cpus[w % cpus.size()]);
                fn(slice_of(n, k, w));
            });
        }
    } catch (const std::system_error& e) {
        gate.store(abort, std::memory_order_release);
        gate.notify_all();
        for (auto& t : ts) t.join();
        throw spawn_error("threads: could not create thread " + std::to_string(ts.size() + 1) + " of " +
                              std::to_string(k) + ": " + e.what() + " (" + task_limits() + ")",
                          slice_of(n, k, ts.size()).first);
    }
    gate.store(go, std::memory_order_release);
    gate.notify_all();
    for (auto& t : ts) t.join();
}

}  // namespace cb
