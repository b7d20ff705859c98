// pool: a oneTBB task_arena of W worker threads (default: hardware threads;
// run_options::workers = K: an arena of K, oversubscribed past the CPUs if
// asked).
//
// A pool worker that blocks in a system call or on a condition variable is a
// worker lost to every other task, and with more waiting tasks than workers it
// deadlocks. So every wait here suspends the oneTBB task instead
// (tbb::task::suspend, oneTBB's resumable tasks): the worker picks up other
// tasks, and whoever ends the wait calls tbb::task::resume. oneTBB runs a
// suspended task on a stack of its own (a coroutine inside oneTBB), which is
// part of the memory this runtime is measured with. fd readiness and timers
// are watched by one extra I/O thread running epoll, as in a pool plus reactor.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string_view>
#include <thread>
#include <vector>

#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/task.h>
#include <oneapi/tbb/task_arena.h>
#include <oneapi/tbb/task_group.h>
#include <oneapi/tbb/task_scheduler_observer.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../core/blocking_channel.hpp"
#include "../core/context.hpp"
#include "../core/fd.hpp"
#include "../core/group.hpp"
#include "../core/parking.hpp"
#include "../core/reactor.hpp"

namespace cb {

// The pool's reactor: one thread, started on first use, stopped at exit.
class pool_io_service {
public:
    static pool_io_service& get();
    ~pool_io_service();
    // CPU the I/O thread has used (its thread CPU clock), in ns; 0 before
    // the service starts. Read by the harness around a run, never inside it.
    static std::uint64_t cpu_ns_if_started();
    void add_timer(steady::time_point when, timer_waiter* w);
    void arm(int fd, std::uint32_t events, io_waiter* w) { reactor_.arm(fd, events, w); }

private:
    pool_io_service();
    void loop();
    std::mutex m_;
    timer_heap timers_;
    epoll_reactor reactor_;
    std::atomic<bool> stop_{false};
    std::thread thread_;
};

// A condition variable whose wait suspends the oneTBB task, not the thread.
// notify_* must be called with the associated mutex held.
class task_condvar {
public:
    void wait(std::unique_lock<std::mutex>& lk) {
        tbb::task::suspend([&](tbb::task::suspend_point sp) {
            waiters_.push_back(sp);
            lk.unlock();
        });
        lk.lock();
    }
    template <class Pred>
    void wait(std::unique_lock<std::mutex>& lk, Pred p) {
        while (!p()) wait(lk);
    }
    void notify_one() {
        if (waiters_.empty()) return;
        tbb::task::resume(waiters_[head_]);
        if (++head_ == waiters_.size()) waiters_.clear(), head_ = 0;
    }
    void notify_all() {
        for (std::size_t i = head_; i < waiters_.size(); ++i) tbb::task::resume(waiters_[i]);
        waiters_.clear();
        head_ = 0;
    }

private:
    std::vector<tbb::task::suspend_point> waiters_;
    std::size_t head_ = 0;
};

// oneTBB maps a stack for a task when it suspends, and when that mapping
// fails (a low RLIMIT_AS, `ulimit -v`) it does not report it: makecontext runs
// on the failed stack and the process dies of SIGSEGV, which no caller can
// catch. So a run of n tasks under an address-space limit that could not hold
// n suspended stacks beside what is mapped now is refused up front, with a
// spawn_error that names RLIMIT_AS. Conservative (a run whose tasks never
// suspend would fit), and free without a limit: one getrlimit a run.
//
// The same crash follows when the mapping fails at vm.max_map_count: each
// suspended stack is two mappings (the stack and its guard page). When every
// task suspends at once (a run that parks them all), a run that could not
// map them beside the mappings there are now is refused the same way, naming
// the sysctl. Runs whose tasks come and go are not judged: they may fit.
void check_room_for_suspended_stacks(std::size_t tasks, bool all_suspended_at_once);

struct pool_options {
    int workers = 0;  // 0: std::thread::hardware_concurrency()
};
pool_options& pool_config();

// Threads of the default arena: pool_config().workers, or the hardware threads.
inline std::size_t pool_default_workers() {
    const int w = pool_config().workers;
    return w > 0 ? static_cast<std::size_t>(w) : std::max(1u, std::thread::hardware_concurrency());
}

// What this runtime is (traits.hpp): declared once, asked everywhere.
inline constexpr runtime_traits pool_traits{
    .name = "pool", .label = "oneTBB pool (resumable tasks)", .kind = task_kind::pooled,
    .multi_core = true, .shared_memory = true, .stack = stack_model::per_suspended_task, .cost = cost_class::light, .sized_workers = true};

class pool_context : public parking_context<pool_context, std::mutex, task_condvar> {
public:
    static constexpr const runtime_traits& traits = pool_traits;
    template <class T>
    using channel = blocking_channel<T, std::mutex, task_condvar>;

    static void configure_fd(int fd) { set_nonblocking(fd, true); }

    // Threads that can run a run's n tasks: the arena's (K, or the default),
    // never more than the tasks, at least 1.
    static std::size_t workers_for(std::size_t n, const run_options& o) {
        const std::size_t k = o.workers ? o.workers : pool_default_workers();
        return std::max<std::size_t>(1, std::min(k, n));
    }

    // Re-queues the task: suspend, and resume at once from the suspend callback.
    ready<void> yield() {
        tbb::task::suspend([](tbb::task::suspend_point sp) { tbb::task::resume(sp); });
        return {};
    }
    ready<void> sleep_for(std::chrono::nanoseconds d);

    template <class F>
    ready<std::uint64_t> spawn_all(std::size_t n, F f) {
        std::vector<result_slot> slots(n);
        tbb::task_group tg;
        for (std::size_t i = 0; i < n; ++i) tg.run([&, i] { run_blocking(f, *this, i, slots[i]); });
        tg.wait();
        return {sum(collect(slots))};
    }

    static void wait_fd(int fd, std::uint32_t events);

};

// Pins each thread that enters the arena to the next CPU of a list, and
// gives it back the process's CPU mask when it leaves: pool workers outlive
// the arena, and one left pinned would skew every later benchmark.
class pinning_observer : public tbb::task_scheduler_observer {
public:
    pinning_observer(tbb::task_arena& a, std::vector<int> cpus)
        : tbb::task_scheduler_observer(a), cpus_(std::move(cpus)), unpinned_(cpu_mask::of_this_thread()) {
        observe(true);
    }
    ~pinning_observer() override { observe(false); }
    void on_scheduler_entry(bool) override { pin_this_thread(cpus_[next_.fetch_add(1) % cpus_.size()]); }
    void on_scheduler_exit(bool) override { unpinned_.apply_to_this_thread(); }

private:
    std::vector<int> cpus_;
    cpu_mask unpinned_;
    std::atomic<std::size_t> next_{0};
};

// run_options::workers as an arena size: past int's range is bad input
// (std::invalid_argument naming it).
int checked_workers(std::size_t k);

struct pool_runtime : runtime_of<pool_context> {
    static int workers() { return static_cast<int>(pool_default_workers()); }

    // The CPU of the I/O thread (epoll, timers, tbb::task::resume), which
    // runs no task: workloads/run.hpp reads it around each run and the
    // harness reports its share of the process's CPU (io_thread_cpu_frac);
    // the rest is oneTBB's threads: the tasks, and the stealing loop they
    // spin in before they sleep (README, "The pool between requests").
    static std::uint64_t io_thread_cpu_ns() { return pool_io_service::cpu_ns_if_started(); }

    // A pool lives longer than one group of tasks: unpinned runs share one
    // arena, started on first use, so a run pays for its tasks and not for
    // the arena. A pinned run gets an arena of its own, whose observer pins
    // only that arena's threads.
    static tbb::task_arena& shared_arena() {
        static tbb::task_arena a(workers());
        return a;
    }

    // Unpinned runs that ask for K workers share the arena of K, kept like
    // the default one. An arena of K has one slot for the calling thread and
    // K - 1 for oneTBB workers: K = 1 runs every task on the caller.
    static tbb::task_arena& sized_arena(int k);

    // oneTBB gives all arenas together at most max_allowed_parallelism - 1
    // workers (by default the hardware threads - 1), so an arena of K past
    // that would quietly run on fewer threads. A run that asks for K raises
    // the limit to K for as long as it runs (the limit is process-wide; the
    // default arena keeps its own size, so nothing else grows). Runs that
    // ask for nothing keep oneTBB's default limit, as before.
    static bool needs_room(int k) {
        return static_cast<std::size_t>(k) >
               tbb::global_control::active_value(tbb::global_control::max_allowed_parallelism);
    }

    template <class Body>
    static std::vector<std::uint64_t> run(std::size_t n, Body body, const run_options& opts = {}) {
        affinity_guard keep_mask;  // the observer pins this thread too while it works in the arena
        const int k = opts.workers ? checked_workers(opts.workers) : workers();
        std::optional<tbb::global_control> room;
        if (opts.workers && needs_room(k)) room.emplace(tbb::global_control::max_allowed_parallelism, static_cast<std::size_t>(k));
        std::optional<tbb::task_arena> pinned;
        std::unique_ptr<pinning_observer> pin;
        if (!opts.cpus.empty()) {
            pinned.emplace(k);
            pin = std::make_unique<pinning_observer>(*pinned, opts.cpus);
        }
        tbb::task_arena& arena = pinned ? *pinned : opts.workers ? sized_arena(k) : shared_arena();
        check_room_for_suspended_stacks(n, opts.parks);
        pool_context ctx;
        ctx.opts = &opts;
        ctx.tasks = n;
        std::vector<result_slot> slots(n);
        arena.execute([&] {
            tbb::task_group tg;
            for (std::size_t i = 0; i < n; ++i) tg.run([&, i] { run_blocking(body, ctx, i, slots[i]); });
            tg.wait();
        });
        return collect(slots);
    }
};

static_assert(runtime<pool_runtime>);

}  // namespace cb
