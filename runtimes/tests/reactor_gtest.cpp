// The epoll reactor's two arming modes (core/reactor.hpp): register-once
// makes no system call for a wait on a registered fd, latches an edge that
// came with no waiter, survives close-and-reuse of an fd number and wakes a
// waiter whose fd was closed under it; watch_exclusive still wakes one
// reactor of several; one-shot still re-arms with one epoll_ctl a wait.
#include <gtest/gtest.h>

#include <sys/epoll.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <thread>

#include <netinet/in.h>

#include "runtimes/core/fd.hpp"
#include "runtimes/core/reactor.hpp"

namespace {

using cb::epoll_reactor;
using cb::io_waiter;
using cb::loop_syscalls;
using cb::unique_fd;
using namespace std::chrono_literals;

struct counted : io_waiter {
    int calls = 0;
    bool saw_closed = false;
    counted() : io_waiter{&on_ready} {}
    static void on_ready(io_waiter* w) noexcept {
        auto* c = static_cast<counted*>(w);
        ++c->calls;
        c->saw_closed = c->fd_closed;
    }
};

struct sock_pair {
    unique_fd a, b;
    sock_pair() {
        int fds[2];
        if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) != 0) cb::throw_errno("socketpair");
        a.reset(fds[0]);
        b.reset(fds[1]);
    }
};

void put(int fd) { ASSERT_EQ(::write(fd, "x", 1), 1); }
void drain(int fd) {
    char buf[64];
    while (::read(fd, buf, sizeof buf) > 0) {}
}

// A new socket pair with a reader armed on its first end.
std::unique_ptr<sock_pair> waited_on(epoll_reactor& r, counted& reader) {
    auto p = std::make_unique<sock_pair>();
    r.arm(p->a.get(), EPOLLIN, &reader);
    return p;
}

epoll_reactor once() { return epoll_reactor(cb::reactor_start::now, cb::reactor_arming::register_once); }

TEST(ReactorRegisterOnce, SecondWaitOnAnFdMakesNoEpollCtl) {
    epoll_reactor r = once();
    sock_pair p;
    counted w;
    const auto c0 = loop_syscalls.ctl;
    r.arm(p.a.get(), EPOLLIN, &w);
    EXPECT_EQ(loop_syscalls.ctl - c0, 1u) << "the first wait registers the fd";
    put(p.b.get());
    EXPECT_EQ(r.poll(1s), 1);
    EXPECT_EQ(w.calls, 1);
    drain(p.a.get());
    const auto c1 = loop_syscalls.ctl;
    for (int i = 0; i < 3; ++i) {
        r.arm(p.a.get(), EPOLLIN, &w);
        put(p.b.get());
        EXPECT_EQ(r.poll(1s), 1);
        drain(p.a.get());
    }
    EXPECT_EQ(w.calls, 4);
    EXPECT_EQ(loop_syscalls.ctl - c1, 0u) << "later waits are a table write";
    EXPECT_EQ(r.armed(), 0);
}

TEST(ReactorRegisterOnce, LatchedEdgeCompletesTheNextWaitWithoutASystemCall) {
    epoll_reactor r = once();
    sock_pair p;
    counted first, second;
    r.arm(p.a.get(), EPOLLIN, &first);
    put(p.b.get());
    ASSERT_EQ(r.poll(1s), 1);
    // An edge with nobody waiting: seen by this poll and latched.
    put(p.b.get());
    EXPECT_EQ(r.poll(0ns), 0);
    const auto before = loop_syscalls.total();
    r.arm(p.a.get(), EPOLLIN, &second);
    EXPECT_EQ(r.armed(), 1);
    EXPECT_EQ(r.poll(-1ns), 1) << "latched: completes at once, never blocks";
    EXPECT_EQ(loop_syscalls.total() - before, 0u) << "no epoll_ctl and no epoll_wait";
    EXPECT_EQ(second.calls, 1);
    EXPECT_EQ(r.armed(), 0);
    // The edge is used up: the next wait waits for a new one.
    drain(p.a.get());
    r.arm(p.a.get(), EPOLLIN, &second);
    EXPECT_EQ(r.poll(0ns), 0);
    put(p.b.get());
    EXPECT_EQ(r.poll(1s), 1);
    EXPECT_EQ(second.calls, 2);
}

TEST(ReactorRegisterOnce, ReaderAndWriterSlotsAndHangUp) {
    epoll_reactor r = once();
    sock_pair p;
    counted rd, wr;
    r.arm(p.a.get(), EPOLLOUT, &wr);
    EXPECT_EQ(r.poll(1s), 1) << "a fresh socket is writable";
    EXPECT_EQ(wr.calls, 1);
    r.arm(p.a.get(), EPOLLIN, &rd);
    counted other;
    EXPECT_THROW(r.arm(p.a.get(), EPOLLIN, &other), std::logic_error) << "one reader a fd";
    p.b.reset();  // the peer hangs up: the reader wakes (EOF)
    EXPECT_EQ(r.poll(1s), 1);
    EXPECT_EQ(rd.calls, 1);
    // A hang-up does not end: every later wait completes at once.
    r.arm(p.a.get(), EPOLLIN, &rd);
    EXPECT_EQ(r.poll(-1ns), 1);
    EXPECT_EQ(rd.calls, 2);
}

TEST(ReactorRegisterOnce, ClosedFdNumberReusedByANewFileIsRegisteredAgain) {
    epoll_reactor r = once();
    counted w;
    auto p = waited_on(r, w);
    const int num = p->a.get();
    put(p->b.get());
    ASSERT_EQ(r.poll(1s), 1);
    p.reset();  // both ends closed: the kernel drops the registration silently
    auto q = std::make_unique<sock_pair>();
    ASSERT_EQ(q->a.get(), num) << "the lowest free number comes back";
    const auto c0 = loop_syscalls.ctl;
    counted w2;
    r.arm(q->a.get(), EPOLLIN, &w2);
    EXPECT_EQ(loop_syscalls.ctl - c0, 1u) << "a new generation: registered again";
    EXPECT_EQ(r.poll(0ns), 0);
    put(q->b.get());
    EXPECT_EQ(r.poll(1s), 1) << "the new file reports under the reused number";
    EXPECT_EQ(w2.calls, 1);
    EXPECT_FALSE(w2.saw_closed);
}

TEST(ReactorRegisterOnce, WaiterOnAFdClosedUnderItIsWoken) {
    epoll_reactor r = once();
    counted w;
    auto p = waited_on(r, w);
    p->a.reset();
    const auto t0 = std::chrono::steady_clock::now();
    EXPECT_EQ(r.poll(5s), 1) << "found at the next blocking poll, not after the timeout";
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 1s);
    EXPECT_EQ(w.calls, 1);
    EXPECT_TRUE(w.saw_closed);
    EXPECT_EQ(r.armed(), 0);
}

TEST(ReactorRegisterOnce, WaiterOnAFdClosedAndReusedBeforeThePollIsWoken) {
    epoll_reactor r = once();
    counted old_reader;
    auto p = waited_on(r, old_reader);
    const int num = p->a.get();
    p.reset();
    sock_pair q;
    ASSERT_EQ(q.a.get(), num);
    counted new_reader;
    r.arm(q.a.get(), EPOLLIN, &new_reader);
    put(q.b.get());
    int called = 0;
    for (int i = 0; i < 3 && called < 2; ++i) called += r.poll(1s);
    EXPECT_EQ(called, 2);
    EXPECT_EQ(old_reader.calls, 1);
    EXPECT_TRUE(old_reader.saw_closed) << "the old file's waiter learns its fd was closed";
    EXPECT_EQ(new_reader.calls, 1);
    EXPECT_FALSE(new_reader.saw_closed);
}

unique_fd listener() {
    unique_fd l{::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)};
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (!l || ::bind(l.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(l.get(), 16) != 0)
        cb::throw_errno("listen");
    return l;
}
unique_fd connect_to(int l) {
    sockaddr_in a{};
    socklen_t len = sizeof a;
    ::getsockname(l, reinterpret_cast<sockaddr*>(&a), &len);
    unique_fd c{::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)};
    if (!c || ::connect(c.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) cb::throw_errno("connect");
    return c;
}

TEST(ReactorRegisterOnce, ExclusiveWatchStaysAndAnArmAfterUnwatchRegistersAgain) {
    epoll_reactor r = once();
    unique_fd l = listener();
    counted first;
    r.arm(l.get(), EPOLLIN, &first);  // an edge-triggered registration the watch replaces
    unique_fd c0 = connect_to(l.get());
    EXPECT_EQ(r.poll(1s), 1);
    unique_fd a0{::accept4(l.get(), nullptr, nullptr, SOCK_CLOEXEC)};
    ASSERT_TRUE(a0);
    counted w;
    r.watch_exclusive(l.get(), &w);
    EXPECT_EQ(r.armed(), 1);
    unique_fd c1 = connect_to(l.get());
    EXPECT_EQ(r.poll(1s), 1);
    EXPECT_EQ(r.poll(1s), 1) << "level-triggered: the connection is still queued";
    EXPECT_EQ(w.calls, 2);
    unique_fd a1{::accept4(l.get(), nullptr, nullptr, SOCK_CLOEXEC)};
    ASSERT_TRUE(a1);
    r.unwatch(l.get());
    counted after;
    const auto ctl0 = loop_syscalls.ctl;
    r.arm(l.get(), EPOLLIN, &after);
    EXPECT_EQ(loop_syscalls.ctl - ctl0, 1u) << "the edge-triggered registration is made again";
    unique_fd c2 = connect_to(l.get());
    EXPECT_EQ(r.poll(1s), 1);
    EXPECT_EQ(after.calls, 1);
}

TEST(ReactorRegisterOnce, ExclusiveWatchWakesOneOfTwoBlockedReactors) {
    unique_fd l = listener();
    std::atomic<int> woken{0}, blocked{0};
    struct watcher : io_waiter {
        std::atomic<int>* woken;
        explicit watcher(std::atomic<int>* w) : io_waiter{&on_ready}, woken(w) {}
        static void on_ready(io_waiter* w) noexcept { static_cast<watcher*>(w)->woken->fetch_add(1); }
    };
    auto serve = [&] {
        epoll_reactor r = once();
        watcher w(&woken);
        r.watch_exclusive(l.get(), &w);
        blocked.fetch_add(1);
        r.poll(1500ms);
        r.unwatch(l.get());
    };
    std::thread t1(serve), t2(serve);
    while (blocked.load() < 2) std::this_thread::sleep_for(1ms);
    std::this_thread::sleep_for(200ms);  // both asleep in epoll_pwait2
    unique_fd c = connect_to(l.get());
    t1.join();
    t2.join();
    EXPECT_EQ(woken.load(), 1) << "EPOLLEXCLUSIVE: one connection wakes one reactor";
}

TEST(ReactorOneShot, EveryWaitReArmsWithOneEpollCtl) {
    epoll_reactor r;  // the default: one-shot (the pool, fibers_mt)
    EXPECT_EQ(r.mode(), cb::reactor_arming::one_shot);
    sock_pair p;
    counted w;
    r.arm(p.a.get(), EPOLLIN, &w);
    put(p.b.get());
    ASSERT_EQ(r.poll(1s), 1);
    drain(p.a.get());
    const auto c0 = loop_syscalls.ctl;
    r.arm(p.a.get(), EPOLLIN, &w);
    EXPECT_EQ(loop_syscalls.ctl - c0, 1u);
    put(p.b.get());
    EXPECT_EQ(r.poll(1s), 1);
    EXPECT_EQ(w.calls, 2);
}

}  // namespace
