// threads: one std::thread a task. Waits are futex-backed (atomic wait,
// condition variables) and fd operations are plain blocking system calls.
#pragma once

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <sys/socket.h>
#include <unistd.h>

#include "../core/blocking_channel.hpp"
#include "../core/context.hpp"
#include "../core/fd.hpp"
#include "../core/group.hpp"
#include "../core/worker_group.hpp"

namespace cb {

// What this runtime is (traits.hpp): declared once, asked everywhere.
inline constexpr runtime_traits threads_traits{"threads", "std::thread (one a task)", task_kind::thread, true, true, stack_model::os_thread, cost_class::medium};

class thread_context {
public:
    static constexpr const runtime_traits& traits = threads_traits;
    template <class T>
    using channel = blocking_channel<T, std::mutex, std::condition_variable>;

    static void configure_fd(int fd) { set_nonblocking(fd, false); }

    ready<void> yield() { std::this_thread::yield(); return {}; }
    ready<void> sleep_for(std::chrono::nanoseconds d) { std::this_thread::sleep_for(d); return {}; }
    ready<ssize_t> read(int fd, void* b, std::size_t n) { return {::read(fd, b, n)}; }
    ready<ssize_t> write(int fd, const void* b, std::size_t n) { return {::write(fd, b, n)}; }
    ready<ssize_t> accept(int fd) { return {::accept4(fd, nullptr, nullptr, SOCK_CLOEXEC)}; }
    template <class T>
    ready<void> send(channel<T>& ch, T v) { ch.send(std::move(v)); return {}; }
    template <class T>
    ready<T> recv(channel<T>& ch) { return {ch.recv()}; }
    ready<void> park();

    // Spawns n child tasks f(ctx, i), one thread each, and returns the sum of
    // their results once all have finished.
    template <class F>
    ready<std::uint64_t> spawn_all(std::size_t n, F f);

    const run_options* opts = nullptr;
    std::size_t tasks = 0;

private:
    std::atomic<std::size_t> arrived_{0};
    std::atomic<bool> released_{false};
};


inline ready<void> thread_context::park() {
    std::size_t me = arrived_.fetch_add(1, std::memory_order_acq_rel) + 1;
    if (me == tasks) {
        if (opts && opts->on_parked) opts->on_parked(opts->user, parked_info{tasks, {}});
        released_.store(true, std::memory_order_release);
        released_.notify_all();
    } else {
        released_.wait(false, std::memory_order_acquire);
    }
    return {};
}

template <class F>
ready<std::uint64_t> thread_context::spawn_all(std::size_t n, F f) {
    std::vector<result_slot> slots(n);
    run_thread_workers(n, n, {}, [&](slice s) { run_blocking(f, *this, s.first, slots[s.first]); });
    return {sum(collect(slots))};
}

struct threads_runtime {
    static constexpr const runtime_traits& traits = threads_traits;
    using context = thread_context;

    template <class Body>
    static std::vector<std::uint64_t> run(std::size_t n, Body body, const run_options& opts = {}) {
        thread_context ctx;
        ctx.opts = &opts;
        ctx.tasks = n;
        std::vector<result_slot> slots(n);
        // A worker group of one thread a task (core/worker_group.hpp).
        run_thread_workers(n, n, opts.cpus, [&](slice s) { run_blocking(body, ctx, s.first, slots[s.first]); });
        return collect(slots);
    }
};

static_assert(runtime<threads_runtime>);

}  // namespace cb
