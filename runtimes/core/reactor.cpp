#include "reactor.hpp"

#include <algorithm>
#include <stdexcept>
#include <utility>

#include <sys/epoll.h>
#include <sys/eventfd.h>

namespace cb {

namespace {

// An event's data: a register-once fd carries fd_tag | generation << 32 | fd
// (user-space pointers never have bit 63 set); a one-shot or exclusive
// registration carries its waiter; the wake-up eventfd carries 0.
constexpr std::uint64_t fd_tag = 1ull << 63;
constexpr std::uint32_t gen_mask = 0x7fffffff;
constexpr std::uint64_t tag_of(int fd, std::uint32_t gen) noexcept {
    return fd_tag | (std::uint64_t{gen & gen_mask} << 32) | static_cast<std::uint32_t>(fd);
}

int ctl(int ep, int op, int fd, epoll_event* e) noexcept {
    ++loop_syscalls.ctl;
    return ::epoll_ctl(ep, op, fd, e);
}

}  // namespace

epoll_reactor::epoll_reactor(start s, arming a)
    : mode_(a), closes_seen_(fd_reuse::closes.load(std::memory_order_relaxed)) {
    if (s == start::now) open();
}

void epoll_reactor::open() {
    loop_syscalls.ctl += 2;
    ep_.reset(::epoll_create1(EPOLL_CLOEXEC));
    if (!ep_) throw_errno("epoll_create1");
    ev_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!ev_) throw_errno("eventfd");
    epoll_event e{};
    e.events = EPOLLIN;
    e.data.u64 = 0;  // the wake-up fd; never a waiter
    if (ctl(ep_.get(), EPOLL_CTL_ADD, ev_.get(), &e) != 0) throw_errno("epoll_ctl(eventfd)");
}

// Single-threaded in register_once mode: plain loads and stores, no locked
// instruction on every wait.
void epoll_reactor::add_armed(int d) noexcept {
    if (mode_ == arming::register_once) armed_.store(armed_.load(std::memory_order_relaxed) + d, std::memory_order_relaxed);
    else armed_.fetch_add(d, std::memory_order_relaxed);
}

void epoll_reactor::arm(int fd, std::uint32_t events, io_waiter* w) {
    if (!ep_) open();
    if (mode_ == arming::one_shot || fd < 0 || fd >= fd_reuse::tracked_fds) return arm_one_shot(fd, events, w);
    if (static_cast<std::size_t>(fd) >= fds_.size())
        fds_.resize(std::max<std::size_t>({static_cast<std::size_t>(fd) + 1, 2 * fds_.size(), 64}));
    fd_state& s = fds_[static_cast<std::size_t>(fd)];
    if (const std::uint32_t gen = fd_reuse::current(fd); !s.registered || s.gen != gen) register_fd(fd, s, gen);
    const bool reading = (events & EPOLLIN) != 0;
    io_waiter*& slot = reading ? s.reader : s.writer;
    if (slot) throw std::logic_error(reading ? "epoll_reactor: two readers wait on one fd" : "epoll_reactor: two writers wait on one fd");
    w->fd_closed = false;
    add_armed(1);
    // An edge that came while nobody waited: complete at the next poll()
    // with no system call. The edge is used up; an error or hang-up stays
    // (it does not end), as does a read hang-up for readers (EOF).
    const std::uint32_t take = reading ? EPOLLIN : EPOLLOUT;
    const std::uint32_t ends = EPOLLERR | EPOLLHUP | (reading ? EPOLLRDHUP : 0u);
    if (s.latched & (take | ends)) {
        s.latched &= ~take;
        due_.push_back(w);
        return;
    }
    slot = w;
    ++table_waiters_;
}

void epoll_reactor::arm_one_shot(int fd, std::uint32_t events, io_waiter* w) {
    epoll_event e{};
    e.events = events | EPOLLONESHOT;
    e.data.ptr = w;
    w->fd_closed = false;
    // MOD first: an fd waited on before stays registered (disarmed) after its
    // one-shot fired, so the common case is a single epoll_ctl.
    if (ctl(ep_.get(), EPOLL_CTL_MOD, fd, &e) != 0) {
        if (errno != ENOENT || ctl(ep_.get(), EPOLL_CTL_ADD, fd, &e) != 0) throw_errno("epoll_ctl");
    }
    add_armed(1);
}

void epoll_reactor::register_fd(int fd, fd_state& s, std::uint32_t gen) {
    drop_closed(s);  // waiters of the file that had this number before
    epoll_event e{};
    e.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    e.data.u64 = tag_of(fd, gen);
    if (ctl(ep_.get(), EPOLL_CTL_ADD, fd, &e) != 0) {
        // The same file is registered already (configured again: a new
        // generation, the same file): re-registered under this generation.
        if (errno != EEXIST || ctl(ep_.get(), EPOLL_CTL_MOD, fd, &e) != 0) throw_errno("epoll_ctl(EPOLLET)");
    }
    s.gen = gen;
    s.latched = 0;
    s.registered = true;
}

// The waiters of a file that was closed: called by the next poll() with
// fd_closed set (they stay counted in armed() until then).
void epoll_reactor::drop_closed(fd_state& s) {
    for (io_waiter** slot : {&s.reader, &s.writer}) {
        if (!*slot) continue;
        (*slot)->fd_closed = true;
        due_.push_back(std::exchange(*slot, nullptr));
        --table_waiters_;
    }
    s.registered = false;
}

// After a close somewhere in the process: the waiters whose fd number has
// moved on to a newer generation (closed under them). O(fd numbers) once per
// blocking poll that follows closes, nothing otherwise.
void epoll_reactor::find_closed() {
    for (std::size_t fd = 0; fd < fds_.size() && table_waiters_ > 0; ++fd) {
        fd_state& s = fds_[fd];
        if ((s.reader || s.writer) && s.gen != fd_reuse::current(static_cast<int>(fd))) drop_closed(s);
    }
}

void epoll_reactor::watch_exclusive(int fd, io_waiter* w) {
    if (!ep_) open();
    if (fd >= 0 && static_cast<std::size_t>(fd) < fds_.size() && (fds_[static_cast<std::size_t>(fd)].reader || fds_[static_cast<std::size_t>(fd)].writer))
        throw std::logic_error("epoll_reactor: watch_exclusive on an fd a waiter waits on");
    w->persistent = true;
    epoll_event e{};
    e.events = EPOLLIN | EPOLLEXCLUSIVE;
    e.data.ptr = w;
    if (ctl(ep_.get(), EPOLL_CTL_ADD, fd, &e) != 0) {
        // An fd armed before (a plain read or accept on it) is still
        // registered: drop that registration and add the exclusive one.
        if (errno != EEXIST || ctl(ep_.get(), EPOLL_CTL_DEL, fd, nullptr) != 0 ||
            ctl(ep_.get(), EPOLL_CTL_ADD, fd, &e) != 0)
            throw_errno("epoll_ctl(EPOLLEXCLUSIVE)");
    }
    // Its edge-triggered registration, if it had one, is gone: the next
    // arm() after unwatch() registers it again.
    if (fd >= 0 && static_cast<std::size_t>(fd) < fds_.size()) fds_[static_cast<std::size_t>(fd)].registered = false;
    add_armed(1);
}

void epoll_reactor::unwatch(int fd) noexcept {
    // Fails only if the fd was closed meanwhile, which removed it already.
    ctl(ep_.get(), EPOLL_CTL_DEL, fd, nullptr);
    add_armed(-1);
}

void epoll_reactor::wake() noexcept {
    if (!ev_) return;  // a lazy reactor nobody waits in has nobody to wake
    std::uint64_t one = 1;
    ++loop_syscalls.io;
    [[maybe_unused]] ssize_t r = ::write(ev_.get(), &one, sizeof one);
}

int epoll_reactor::call_due() {
    calling_.swap(due_);  // a waiter called may arm again: into due_
    for (io_waiter* w : calling_) {
        add_armed(-1);
        w->ready(w);
    }
    const int n = static_cast<int>(calling_.size());
    calling_.clear();
    return n;
}

// One event of a register-once fd: to its reader and/or writer, or latched
// for the next one. Returns the waiters called.
int epoll_reactor::dispatch(std::uint64_t data, std::uint32_t ev) {
    const auto fd = static_cast<std::size_t>(static_cast<std::uint32_t>(data));
    if (fd >= fds_.size()) return 0;
    fd_state& s = fds_[fd];
    // An older generation's file, still open elsewhere (a dup, a child):
    // its registration outlived our number's use of it.
    if (!s.registered || (s.gen & gen_mask) != ((data >> 32) & gen_mask)) return 0;
    const std::uint32_t ends = ev & (EPOLLERR | EPOLLHUP);
    io_waiter* r = nullptr;
    io_waiter* w = nullptr;
    if ((ev & (EPOLLIN | EPOLLRDHUP)) || ends) {
        if (s.reader) r = std::exchange(s.reader, nullptr);
        else s.latched |= ev & (EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP);
    }
    if ((ev & EPOLLOUT) || ends) {
        if (s.writer) w = std::exchange(s.writer, nullptr);
        else s.latched |= ev & (EPOLLOUT | EPOLLERR | EPOLLHUP);
    }
    // s is not touched below: a waiter called may arm another fd and grow fds_.
    int called = 0;
    for (io_waiter* x : {r, w}) {
        if (!x) continue;
        --table_waiters_;
        add_armed(-1);
        x->ready(x);
        ++called;
    }
    return called;
}

int epoll_reactor::poll(std::chrono::nanoseconds timeout) {
    if (!ep_) open();
    if (mode_ == arming::register_once) {
        if (!due_.empty()) return call_due();
        if (timeout.count() != 0 && table_waiters_ > 0) {
            if (const auto c = fd_reuse::closes.load(std::memory_order_relaxed); c != closes_seen_) {
                closes_seen_ = c;
                find_closed();
                if (!due_.empty()) return call_due();
            }
        }
    }
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
        const std::uint64_t data = evs[i].data.u64;
        if (data & fd_tag) {
            called += dispatch(data, evs[i].events);
            continue;
        }
        auto* w = static_cast<io_waiter*>(evs[i].data.ptr);
        if (w == nullptr) {
            std::uint64_t v;
            ++loop_syscalls.io;
            [[maybe_unused]] ssize_t r = ::read(ev_.get(), &v, sizeof v);
            continue;
        }
        if (!w->persistent) add_armed(-1);
        w->ready(w);
        ++called;
    }
    return called;
}

}  // namespace cb
