// epoll readiness plus a timer heap: the waiting half of an event loop.
//
// Shared by the coroutine loop (which waits in it directly), the fiber
// schedulers (whose suspend_until() waits in it) and the pool's I/O thread,
// so it lives here; the coroutine loop's other backends, poll(2) and
// io_uring, serve that loop alone and live beside it (runtimes/coroutines/).
// Waiters are intrusive structs with a function pointer, so arming a wait
// allocates nothing and calls no virtual function.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <queue>
#include <vector>

#include "fd.hpp"

namespace cb {

using steady = std::chrono::steady_clock;

// System calls the loops make for waiting (epoll_pwait2/epoll_wait, ppoll,
// io_uring_enter) and for I/O (read/write/accept4 tried by an awaitable),
// counted by the code that makes them. Per thread, so counting is a plain
// increment; the harness reads the calling thread's counts around a run of a
// runtime that declares it counts (counts_syscalls: one loop, in the caller's
// thread), see workloads/run.hpp.
struct syscall_counts {
    std::uint64_t waits = 0, io = 0;
    std::uint64_t total() const noexcept { return waits + io; }
};
inline thread_local syscall_counts loop_syscalls;

struct io_waiter {
    void (*ready)(io_waiter*) noexcept = nullptr;
    // Registered with watch_exclusive() rather than armed once: stays
    // registered (level-triggered) after it fires.
    bool persistent = false;
};

struct timer_waiter {
    void (*fire)(timer_waiter*) noexcept = nullptr;
};

// How a reactor opens its kernel objects: now, or lazily on first use, so
// that an event loop whose tasks never wait on an fd makes no system call for
// them (single-threaded use only: the first use must not race). Every
// backend of the coroutine loop takes it (event_loop.hpp).
enum class reactor_start { now, lazily };

class epoll_reactor {
public:
    using start = reactor_start;
    explicit epoll_reactor(start s = start::now);
    epoll_reactor(const epoll_reactor&) = delete;
    epoll_reactor& operator=(const epoll_reactor&) = delete;

    // One-shot: the waiter is called once when fd reports `events` (EPOLLIN,
    // EPOLLOUT), then the fd is disarmed. One waiter per fd at a time.
    void arm(int fd, std::uint32_t events, io_waiter* w);
    // Level-triggered and exclusive (EPOLLIN | EPOLLEXCLUSIVE): for a listening
    // socket several loops or processes watch, the kernel wakes one of them a
    // connection rather than all. Stays registered until unwatch(); counts as
    // one armed wait meanwhile. EPOLLEXCLUSIVE cannot be combined with
    // EPOLLONESHOT or EPOLL_CTL_MOD, hence the pair of calls.
    void watch_exclusive(int fd, io_waiter* w);
    void unwatch(int fd) noexcept;
    // Thread-safe: makes a blocked poll() return.
    void wake() noexcept;
    // Waits up to `timeout` (negative: forever) and calls the ready waiters.
    // Returns how many waiters it called.
    int poll(std::chrono::nanoseconds timeout);
    int armed() const noexcept { return armed_.load(std::memory_order_relaxed); }

private:
    void open();
    unique_fd ep_, ev_;
    std::atomic<int> armed_{0};  // atomic: the pool arms from workers while its I/O thread polls
};

class timer_heap {
public:
    void add(steady::time_point when, timer_waiter* w) { heap_.push({when, seq_++, w}); }
    bool empty() const noexcept { return heap_.empty(); }
    steady::time_point next() const noexcept { return heap_.top().when; }
    std::size_t size() const noexcept { return heap_.size(); }
    // Fires every timer due at `now`; returns how many fired.
    int fire_due(steady::time_point now) {
        int n = 0;
        while (!heap_.empty() && heap_.top().when <= now) {
            timer_waiter* w = heap_.top().w;
            heap_.pop();
            w->fire(w);
            ++n;
        }
        return n;
    }

private:
    struct entry {
        steady::time_point when;
        std::uint64_t seq;  // FIFO among equal deadlines
        timer_waiter* w;
        bool operator>(const entry& o) const noexcept { return when != o.when ? when > o.when : seq > o.seq; }
    };
    std::priority_queue<entry, std::vector<entry>, std::greater<>> heap_;
    std::uint64_t seq_ = 0;
};

// Timeout for a poll: zero if work is ready, until the next timer, or forever.
inline std::chrono::nanoseconds poll_timeout(bool work_ready, const timer_heap& timers) {
    using namespace std::chrono;
    if (work_ready) return nanoseconds{0};
    if (timers.empty()) return nanoseconds{-1};
    auto d = timers.next() - steady::now();
    return d.count() < 0 ? nanoseconds{0} : duration_cast<nanoseconds>(d);
}

}  // namespace cb
