// The poll(2) backend of the coroutine loop (the coroutines_poll runtime,
// runtimes/coroutines_poll/). It lives beside the loop rather than in core/:
// the loop (event_loop.cpp) is compiled for every backend and is its only
// user, where epoll (core/reactor.hpp) also serves fibers and the pool.
#pragma once

#include <chrono>
#include <cstdint>
#include <vector>

#include <poll.h>

#include "../core/reactor.hpp"

namespace cb {

// epoll_reactor's interface (core/reactor.hpp) over poll(2): every wait
// passes the whole set of armed fds to the kernel, which scans it, so a wait
// costs O(armed fds) where epoll's costs O(ready fds). One-shot and
// level-triggered waits as epoll's; watch_exclusive() cannot be exclusive
// here (poll has no EPOLLEXCLUSIVE): only for one loop alone on its
// listener. Single-threaded apart from wake().
class poll_reactor {
public:
    using start = reactor_start;
    explicit poll_reactor(start s = start::now);
    poll_reactor(const poll_reactor&) = delete;
    poll_reactor& operator=(const poll_reactor&) = delete;

    void arm(int fd, std::uint32_t events, io_waiter* w);
    void watch_exclusive(int fd, io_waiter* w);
    void unwatch(int fd) noexcept;
    void wake() noexcept;
    int poll(std::chrono::nanoseconds timeout);
    int armed() const noexcept { return static_cast<int>(waiters_.size()); }

private:
    void add(int fd, short events, io_waiter* w);
    void remove_at(std::size_t i) noexcept;
    unique_fd ev_;                      // wake-up eventfd (start::now only)
    std::vector<struct pollfd> fds_;    // armed fds; [size] = ev_ when open
    std::vector<io_waiter*> waiters_;   // waiters_[i] for fds_[i]
    std::vector<int> slot_;             // fd -> index in fds_, -1: none
    std::vector<io_waiter*> fired_;     // scratch: the waiters one poll calls
};

}  // namespace cb
