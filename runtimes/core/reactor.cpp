#include "reactor.hpp"

#include <sys/epoll.h>
#include <sys/eventfd.h>


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

}  // namespace cb
