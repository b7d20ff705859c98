#include "poll_reactor.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <stdexcept>

namespace cb {

poll_reactor::poll_reactor(start s) {
    if (s == start::now) {
        ++loop_syscalls.ctl;
        ev_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
        if (!ev_) throw_errno("eventfd");
    }
}

void poll_reactor::add(int fd, short events, io_waiter* w) {
    if (fd < 0) throw std::invalid_argument("poll_reactor: negative fd");
    const auto ufd = static_cast<std::size_t>(fd);
    if (ufd >= slot_.size()) slot_.resize(ufd + 1, -1);
    if (slot_[ufd] >= 0) {  // one waiter per fd at a time, as with epoll: replace it
        auto i = static_cast<std::size_t>(slot_[ufd]);
        fds_[i].events = events;
        waiters_[i] = w;
        return;
    }
    slot_[ufd] = static_cast<int>(fds_.size());
    fds_.push_back(pollfd{fd, events, 0});
    waiters_.push_back(w);
}

void poll_reactor::remove_at(std::size_t i) noexcept {
    const std::size_t last = fds_.size() - 1;
    slot_[static_cast<std::size_t>(fds_[i].fd)] = -1;
    if (i != last) {
        fds_[i] = fds_[last];
        waiters_[i] = waiters_[last];
        slot_[static_cast<std::size_t>(fds_[i].fd)] = static_cast<int>(i);
    }
    fds_.pop_back();
    waiters_.pop_back();
}

void poll_reactor::arm(int fd, std::uint32_t events, io_waiter* w) {
    w->persistent = false;
    add(fd, static_cast<short>(events & (POLLIN | POLLOUT)), w);
}

void poll_reactor::watch_exclusive(int fd, io_waiter* w) {
    w->persistent = true;
    add(fd, POLLIN, w);
}

void poll_reactor::unwatch(int fd) noexcept {
    if (fd >= 0 && static_cast<std::size_t>(fd) < slot_.size() && slot_[static_cast<std::size_t>(fd)] >= 0)
        remove_at(static_cast<std::size_t>(slot_[static_cast<std::size_t>(fd)]));
}

void poll_reactor::wake() noexcept {
    if (!ev_) return;
    std::uint64_t one = 1;
    ++loop_syscalls.io;
    [[maybe_unused]] ssize_t r = ::write(ev_.get(), &one, sizeof one);
}

int poll_reactor::poll(std::chrono::nanoseconds timeout) {
    // The eventfd rides at the end of the array for this call only.
    const std::size_t n = fds_.size();
    if (ev_) fds_.push_back(pollfd{ev_.get(), POLLIN, 0});
    timespec ts{};
    if (timeout.count() >= 0) {
        ts.tv_sec = static_cast<time_t>(timeout.count() / 1'000'000'000);
        ts.tv_nsec = static_cast<long>(timeout.count() % 1'000'000'000);
    }
    ++loop_syscalls.waits;
    int r = ::ppoll(fds_.data(), fds_.size(), timeout.count() >= 0 ? &ts : nullptr, nullptr);
    const bool woken = ev_ && r > 0 && fds_.back().revents != 0;
    if (ev_) fds_.pop_back();
    if (r < 0) {
        if (errno == EINTR) return 0;
        throw_errno("ppoll");
    }
    if (woken) {
        std::uint64_t v;
        ++loop_syscalls.io;
        [[maybe_unused]] ssize_t rd = ::read(ev_.get(), &v, sizeof v);
        --r;
    }
    // Collect first, then call: a waiter's callback may arm or unwatch fds,
    // which reorders the array. One-shot waits are disarmed before the call.
    fired_.clear();
    for (std::size_t i = n; i-- > 0 && r > 0;) {
        if (fds_[i].revents == 0) continue;
        --r;
        fds_[i].revents = 0;
        fired_.push_back(waiters_[i]);
        if (!waiters_[i]->persistent) remove_at(i);
    }
    for (io_waiter* w : fired_) w->ready(w);
    return static_cast<int>(fired_.size());
}

}  // namespace cb
