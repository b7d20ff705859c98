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
// io_uring_enter), for I/O (read/write/accept4 tried by an awaitable, the
// wake-up eventfd's read and write) and for managing the reactor (epoll_ctl:
// registering, re-arming and dropping fds; epoll_create1 and eventfd when it
// opens), counted by the code that makes them. Per thread, so counting is a
// plain increment; the harness reads the calling thread's counts around a
// run of a runtime that declares it counts (counts_syscalls: one loop, in the
// caller's thread), see workloads/run.hpp.
struct syscall_counts {
    std::uint64_t waits = 0, io = 0, ctl = 0;
    std::uint64_t total() const noexcept { return waits + io + ctl; }
};
inline thread_local syscall_counts loop_syscalls;

struct io_waiter {
    void (*ready)(io_waiter*) noexcept = nullptr;
    // Registered with watch_exclusive() rather than armed once: stays
    // registered (level-triggered) after it fires.
    bool persistent = false;
    // Set when the waiter was called because its fd was closed under it
    // (register-once reactors: the fd's generation moved on while it
    // waited). The number may already name another file, so a waiter that
    // sees this should not retry its call on it: the coroutine awaitables
    // complete with EBADF; the parking contexts (fibers) retry, which fails
    // with EBADF unless the number was reused meanwhile.
    bool fd_closed = false;
};

struct timer_waiter {
    void (*fire)(timer_waiter*) noexcept = nullptr;
};

// How a reactor opens its kernel objects: now, or lazily on first use, so
// that an event loop whose tasks never wait on an fd makes no system call for
// them (single-threaded use only: the first use must not race). Every
// backend of the coroutine loop takes it (event_loop.hpp).
enum class reactor_start { now, lazily };

// How epoll_reactor registers the fds it waits on.
//
// register_once (the coroutine loops, the single-threaded fibers): an fd is
// added once, for EPOLLIN | EPOLLOUT | EPOLLRDHUP, edge-triggered, as Asio's
// and Tokio's reactors do, and stays registered while its file lives. A wait
// on it is then a table write: no system call. Per fd the reactor keeps one
// reader and one writer slot and the edges that came while nobody waited
// (latched), so a wait armed after such an edge completes at the next
// poll() without entering the kernel. Edge- rather than level-triggered
// with interest tracked per fd: level-triggered would report an fd nobody
// waits on (a connection whose reply was written: writable) at every
// epoll_wait unless its interest were changed with epoll_ctl, the call this
// mode exists to avoid; with edges, a readiness nobody waited for costs one
// latched bit. The contract that comes with edges: arm a wait only after
// the call it guards failed with EAGAIN (or on a fresh fd), as every
// awaitable here does; an fd woken and not drained to EAGAIN gets no new edge.
// A closed fd leaves the epoll set by itself and its number may come back as
// another file: a registration remembers the fd number's generation
// (fd.hpp, fd_reuse), and an arm under a newer generation registers the new
// file (and wakes, with fd_closed, a waiter the old one still had); an event
// of an older generation (a file closed here but kept open by a dup or a
// child) is ignored. A waiter whose fd is closed under it and never reused
// is found when the loop is about to block after a close, and woken with
// fd_closed. Single-threaded: arm(), watch_exclusive(), unwatch() and poll()
// from one thread; wake() from any.
//
// one_shot (the default; the pool, fibers_mt): every wait is an
// EPOLLONESHOT registration, re-armed with epoll_ctl(MOD), one system call
// a wait. Kept where threads other than the poller arm waits: the pool's
// workers arm while its I/O thread polls, and a fibers_mt fiber arms the
// reactor of whatever thread it runs on, so one fd can be waited on through
// several reactors over its life. One-shot registrations carry the waiter
// itself and hand each event to exactly one waiter, with the kernel's epoll
// lock as the only synchronisation, where a per-fd table shared by arming
// and polling threads would need a lock or atomics on every wait and would
// leave an fd registered in the reactors of threads a fiber has left (their
// edges waking threads for nothing).
enum class reactor_arming { one_shot, register_once };

class epoll_reactor {
public:
    using start = reactor_start;
    using arming = reactor_arming;
    explicit epoll_reactor(start s = start::now, arming a = arming::one_shot);
    epoll_reactor(const epoll_reactor&) = delete;
    epoll_reactor& operator=(const epoll_reactor&) = delete;

    // The waiter is called once when fd reports `events` (EPOLLIN or
    // EPOLLOUT; errors and hang-ups wake either), from poll(). One reader
    // and one writer per fd at a time (register_once: a second one throws;
    // one_shot: one waiter per fd, the last armed).
    void arm(int fd, std::uint32_t events, io_waiter* w);
    // Level-triggered and exclusive (EPOLLIN | EPOLLEXCLUSIVE): for a listening
    // socket several loops or processes watch, the kernel wakes one of them a
    // connection rather than all. Stays registered until unwatch(); counts as
    // one armed wait meanwhile. EPOLLEXCLUSIVE cannot be combined with
    // EPOLLONESHOT, EPOLLET re-arming or EPOLL_CTL_MOD, hence the pair of calls.
    void watch_exclusive(int fd, io_waiter* w);
    void unwatch(int fd) noexcept;
    // Thread-safe: makes a blocked poll() return.
    void wake() noexcept;
    // Waits up to `timeout` (negative: forever) and calls the ready waiters.
    // Returns how many waiters it called. Waiters completed by latched
    // readiness are called without waiting and without a system call.
    int poll(std::chrono::nanoseconds timeout);
    int armed() const noexcept { return armed_.load(std::memory_order_relaxed); }
    arming mode() const noexcept { return mode_; }

private:
    // One fd number's registration (register_once).
    struct fd_state {
        io_waiter* reader = nullptr;
        io_waiter* writer = nullptr;
        std::uint32_t gen = 0;      // fd_reuse generation it was registered under
        std::uint32_t latched = 0;  // events that came with no waiter for them
        bool registered = false;    // an edge-triggered registration of that generation
    };
    void open();
    void arm_one_shot(int fd, std::uint32_t events, io_waiter* w);
    void register_fd(int fd, fd_state& s, std::uint32_t gen);
    void drop_closed(fd_state& s);
    void find_closed();
    int dispatch(std::uint64_t data, std::uint32_t events);
    void add_armed(int d) noexcept;
    int call_due();

    unique_fd ep_, ev_;
    arming mode_;
    std::atomic<int> armed_{0};  // atomic: the pool arms from workers while its I/O thread polls
    std::vector<fd_state> fds_;       // by fd number (register_once)
    std::vector<io_waiter*> due_;     // to be called by the next poll(), without waiting
    std::vector<io_waiter*> calling_; // scratch: the due waiters one poll() calls
    std::uint64_t closes_seen_ = 0;   // fd_reuse::closes when fds_ was last checked for closed fds
    int table_waiters_ = 0;           // readers and writers in fds_
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
