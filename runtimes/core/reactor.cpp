#include "reactor.hpp"

#include <sys/epoll.h>
#include <sys/eventfd.h>

#include <stdexcept>

namespace cb {

epoll_reactor::epoll_reactor(start s) {
    if (s == start::now) open();
}

void epoll_reactor::open() {
    ep_.reset(::epoll_create1(EPOLL_CLOEXEC));
    if (!ep_) throw_errno("epoll_create1");
    ev_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!ev_) throw_errno("eventfd");
    epoll_event e{};
    e.events = EPOLLIN;
    e.data.ptr = nullptr;  // the wake-up fd; never a waiter
    if (::epoll_ctl(ep_.get(), EPOLL_CTL_ADD, ev_.get(), &e) != 0) throw_errno("epoll_ctl(eventfd)");
}

void epoll_reactor::arm(int fd, std::uint32_t events, io_waiter* w) {
    if (!ep_) open();
    epoll_event e{};
    e.events = events | EPOLLONESHOT;
    e.data.ptr = w;
    // MOD first: an fd waited on before stays registered (disarmed) after its
    // one-shot fired, so the common case is a single epoll_ctl.
    if (::epoll_ctl(ep_.get(), EPOLL_CTL_MOD, fd, &e) != 0) {
        if (errno != ENOENT || ::epoll_ctl(ep_.get(), EPOLL_CTL_ADD, fd, &e) != 0) throw_errno("epoll_ctl");
    }
    armed_.fetch_add(1, std::memory_order_relaxed);
}

void epoll_reactor::watch_exclusive(int fd, io_waiter* w) {
    if (!ep_) open();
    w->persistent = true;
    epoll_event e{};
    e.events = EPOLLIN | EPOLLEXCLUSIVE;
    e.data.ptr = w;
    if (::epoll_ctl(ep_.get(), EPOLL_CTL_ADD, fd, &e) != 0) {
        // An fd armed one-shot before (a plain read or accept on it) is still
        // registered: drop that registration and add the exclusive one.
        if (errno != EEXIST || ::epoll_ctl(ep_.get(), EPOLL_CTL_DEL, fd, nullptr) != 0 ||
            ::epoll_ctl(ep_.get(), EPOLL_CTL_ADD, fd, &e) != 0)
            throw_errno("epoll_ctl(EPOLLEXCLUSIVE)");
    }
    armed_.fetch_add(1, std::memory_order_relaxed);
}

void epoll_reactor::unwatch(int fd) noexcept {
    // Fails only if the fd was closed meanwhile, which removed it already.
    ::epoll_ctl(ep_.get(), EPOLL_CTL_DEL, fd, nullptr);
    armed_.fetch_sub(1, std::memory_order_relaxed);
}

void epoll_reactor::wake() noexcept {
    if (!ev_) return;  // a lazy reactor nobody waits in has nobody to wake
    std::uint64_t one = 1;
    [[maybe_unused]] ssize_t r = ::write(ev_.get(), &one, sizeof one);
}

int epoll_reactor::poll(std::chrono::nanoseconds timeout) {
    if (!ep_) open();
    epoll_event evs[64];
    // epoll_pwait2 takes nanoseconds (Linux 5.11); epoll_wait rounds a timer
    // to whole milliseconds, which made a 1 ms sleep cost 1.1-1.4 ms.
    timespec ts{};
    if (timeout.count() >= 0) {
        ts.tv_sec = static_cast<time_t>(timeout.count() / 1'000'000'000);
        ts.tv_nsec = static_cast<long>(timeout.count() % 1'000'000'000);
    }
    ++loop_syscalls.waits;
    int n = ::epoll_pwait2(ep_.get(), evs, 64, timeout.count() >= 0 ? &ts : nullptr, nullptr);
    if (n < 0 && errno == ENOSYS) {
        ++loop_syscalls.waits;
        int ms = timeout.count() < 0 ? -1 : static_cast<int>((timeout.count() + 999'999) / 1'000'000);
        n = ::epoll_wait(ep_.get(), evs, 64, ms);
    }
    if (n < 0) {
        if (errno == EINTR) return 0;
        throw_errno("epoll_wait");
    }
    int called = 0;
    for (int i = 0; i < n; ++i) {
        auto* w = static_cast<io_waiter*>(evs[i].data.ptr);
        if (w == nullptr) {
            std::uint64_t v;
            [[maybe_unused]] ssize_t r = ::read(ev_.get(), &v, sizeof v);
            continue;
        }
        if (!w->persistent) armed_.fetch_sub(1, std::memory_order_relaxed);
        w->ready(w);
        ++called;
    }
    return called;
}

poll_reactor::poll_reactor(start s) {
    if (s == start::now) {
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
