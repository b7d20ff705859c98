// Offloading a blocking call, the way asyncio's loop.run_in_executor does: the
// task hands the call to a small executor (OS threads of its own) and awaits
// its completion through the context, so the task's runtime keeps running
// its other tasks while the call blocks a thread that runs nothing else.
//
// Completion comes back over an eventfd in semaphore mode (one count per
// finished call, one read takes one): the awaiting task reads it with
// ctx.read, which parks a fiber, suspends a coroutine on its loop or a pool
// task, or blocks a thread or process, each the runtime's own way. The task
// passes the fd through C::configure_fd first (non-blocking for runtimes
// that wait in epoll, blocking for the others).
//
// Threads and fork: the executor is made inside the task that uses it, after
// any fork (the process runtimes fork their tasks, and a process with
// threads must not fork), and its destructor joins every thread, after the
// calls already handed over have finished: a task that leaves (returns or
// throws) never leaves a thread behind. Calls run in submission order; with
// one thread (the default) completions come back in that order too.
#pragma once

#include <chrono>
#include <cerrno>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include <sys/eventfd.h>
#include <unistd.h>

#include "runtimes/core/fd.hpp"

namespace cb::wl {

// One offloaded call on steady_clock: submitted (by the awaiting task),
// started and finished (its own run on the executor thread), resumed (the
// awaiting task going on after reading its completion). waited() - call()
// is what offloading cost: the hand-over to the executor thread, its
// wake-up, the completion's write and the awaiting task's wake-up through
// its runtime.
struct offload_timing {
    using time_point = std::chrono::steady_clock::time_point;
    time_point submitted{}, started{}, finished{}, resumed{};
    bool ok = false;  // the completion was read
    std::chrono::nanoseconds waited() const { return resumed - submitted; }
    std::chrono::nanoseconds call() const { return finished - started; }
};

class offload_executor {
public:
    explicit offload_executor(std::size_t threads = 1) : done_(::eventfd(0, EFD_CLOEXEC | EFD_SEMAPHORE)) {
        if (!done_) throw_errno("offload: eventfd");
        const std::size_t n = threads == 0 ? 1 : threads;
        threads_.reserve(n);
        try {
            for (std::size_t t = 0; t < n; ++t) threads_.emplace_back([this] { serve(); });
        } catch (...) {
            stop_and_join();
            throw;
        }
    }
    // Runs what was handed over, then joins: the callables submitted must
    // outlive the executor (declare them before it).
    ~offload_executor() { stop_and_join(); }
    offload_executor(const offload_executor&) = delete;
    offload_executor& operator=(const offload_executor&) = delete;

    // Readable (8 bytes, value 1) once per finished call.
    int done_fd() const noexcept { return done_.get(); }

    // Queues f() to run on an executor thread. f must stay alive until its
    // completion has been read from done_fd(), or until the executor is
    // destroyed. What f throws is swallowed: f reports failure through its
    // own state (the caller awaits a count, not a value).
    // Returns when it was submitted, for complete().
    template <class F>
    std::chrono::steady_clock::time_point submit(F& f) {
        const auto now = std::chrono::steady_clock::now();
        {
            std::lock_guard lk(m_);
            jobs_.push_back({[](void* p) { (*static_cast<F*>(p))(); }, &f});
        }
        cv_.notify_one();
        return now;
    }

    // After the awaiting task read done_fd() (read_result: what the read
    // returned): the call submitted at `submitted` as an offload_timing. The
    // shape of an awaited call, with no coroutine of its own (g++ 12 warns
    // falsely about a nested coroutine's frame once it is inlined):
    //     const auto sent = ex.submit(f);
    //     ssize_t r;
    //     do r = co_await ctx.read(ex.done_fd(), &count, 8); while (r < 0 && errno == EINTR);
    //     const offload_timing t = ex.complete(sent, r);
    [[nodiscard]] offload_timing complete(offload_timing::time_point submitted, ssize_t read_result) {
        offload_timing t;
        t.resumed = std::chrono::steady_clock::now();
        t.submitted = submitted;
        t.ok = read_result == static_cast<ssize_t>(sizeof(std::uint64_t)) && take_run(t.started, t.finished);
        return t;
    }

    // When the oldest finished call not yet taken ran (calls finish in
    // submission order with one thread); false if none finished.
    [[nodiscard]] bool take_run(offload_timing::time_point& started, offload_timing::time_point& finished) {
        std::lock_guard lk(m_);
        if (finished_.empty()) return false;
        started = finished_.front().first;
        finished = finished_.front().second;
        finished_.pop_front();
        return true;
    }

private:
    struct job {
        void (*run)(void*);
        void* arg;
    };

    void serve() {
        using clock = std::chrono::steady_clock;
        for (;;) {
            job j{};
            {
                std::unique_lock lk(m_);
                cv_.wait(lk, [&] { return stopping_ || !jobs_.empty(); });
                if (jobs_.empty()) return;  // stopping, and every call handed over has run
                j = jobs_.front();
                jobs_.pop_front();
            }
            const auto t0 = clock::now();
            try {
                j.run(j.arg);
            } catch (...) {  // see submit(): the call's owner records its own failure
            }
            const auto t1 = clock::now();
            {
                std::lock_guard lk(m_);
                finished_.emplace_back(t0, t1);
            }
            const std::uint64_t one = 1;
            // Cannot fail short of a bad fd: the counter would have to reach
            // 2^64 - 2, and only this executor writes it.
            while (::write(done_.get(), &one, sizeof one) < 0 && errno == EINTR) {
            }
        }
    }

    void stop_and_join() noexcept {
        {
            std::lock_guard lk(m_);
            stopping_ = true;
        }
        cv_.notify_all();
        for (auto& t : threads_)
            if (t.joinable()) t.join();
        threads_.clear();
    }

    unique_fd done_;
    std::mutex m_;
    std::condition_variable cv_;
    std::deque<job> jobs_;
    std::deque<std::pair<offload_timing::time_point, offload_timing::time_point>> finished_;
    bool stopping_ = false;
    std::vector<std::thread> threads_;
};

}  // namespace cb::wl
