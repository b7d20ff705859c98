// Pieces shared by the runtimes whose tasks block by parking (fibers park the
// fiber, the pool suspends the oneTBB task): fd operations built on a
// runtime's own wait_fd, and a barrier whose last arrival runs the park hook.
#pragma once

#include <cassert>
#include <cerrno>
#include <cstdint>
#include <mutex>
#include <utility>

#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "context.hpp"
#include "task.hpp"

namespace cb {

// park(): every task arrives once; the last one runs the hook (while all
// others wait) and releases them. Mutex and CondVar are the runtime's own, so
// waiting parks a fiber or suspends a task rather than blocking a thread.
template <class Mutex, class CondVar>
class hooked_barrier {
public:
    hooked_barrier() = default;
    // A run that returns while some tasks arrived and were never released
    // left them parked.
    ~hooked_barrier() { assert((arrived_ == 0 || released_) && "a run returned with tasks still parked"); }
    hooked_barrier(const hooked_barrier&) = delete;
    hooked_barrier& operator=(const hooked_barrier&) = delete;
    void arrive_and_wait(std::size_t tasks, const run_options* opts) {
        std::unique_lock lk(m_);
        if (++arrived_ == tasks) {
            if (opts && opts->on_parked) opts->on_parked(opts->user, parked_info{tasks, {}});
            released_ = true;
            cv_.notify_all();
        } else {
            cv_.wait(lk, [&] { return released_; });
        }
    }

private:
    Mutex m_;
    CondVar cv_;
    std::size_t arrived_ = 0;
    bool released_ = false;
};

// The operations every parking context shares: read/write/accept on
// non-blocking fds (try the call; on EAGAIN park until epoll reports
// readiness through Derived::wait_fd, then retry), send/recv on the
// runtime's channel, and park() on a hooked barrier of its own primitives.
template <class Derived, class Mutex, class CondVar>
class parking_context {
public:
    ready<ssize_t> read(int fd, void* b, std::size_t n) {
        return {retry(fd, EPOLLIN, [&] { return ::read(fd, b, n); })};
    }
    ready<ssize_t> write(int fd, const void* b, std::size_t n) {
        return {retry(fd, EPOLLOUT, [&] { return ::write(fd, b, n); })};
    }
    ready<ssize_t> accept(int fd) {
        return {retry(fd, EPOLLIN, [&] {
            return static_cast<ssize_t>(::accept4(fd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
        })};
    }

    template <class Ch, class T>
    ready<void> send(Ch& ch, T v) {
        ch.send(std::move(v));
        return {};
    }
    template <class Ch>
    ready<decltype(std::declval<Ch&>().recv())> recv(Ch& ch) {
        return {ch.recv()};
    }
    ready<void> park() {
        barrier_.arrive_and_wait(tasks, opts);
        return {};
    }

    const run_options* opts = nullptr;
    std::size_t tasks = 0;

private:
    hooked_barrier<Mutex, CondVar> barrier_;

    template <class Sys>
    static ssize_t retry(int fd, std::uint32_t events, Sys sys) {
        for (;;) {
            ssize_t r = sys();
            if (r >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) return r;
            if (errno != EINTR) Derived::wait_fd(fd, events);
        }
    }
};

}  // namespace cb
