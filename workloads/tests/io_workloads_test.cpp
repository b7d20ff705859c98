// Behaviour of the I/O and coordination workloads beyond "runs and verifies"
// (workloads_test.cpp): that the echo client really catches a bad server, that
// the checks in verify() fire, that the cooperative runtimes lose no update,
// and that the channels the semaphore relies on hold what they promise.
#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <cstring>
#include <thread>

#include <unistd.h>

#include "workloads/run.hpp"
#include "runtimes/registry.hpp"
#include "workloads/all.hpp"

namespace {

using namespace std::chrono_literals;
namespace wl = cb::wl;

// A server in the test itself (plain blocking sockets) that serves `rounds`
// round trips on each connection, changing a byte of every reply if `corrupt`,
// then closes the connections.
wl::echo_report serve(std::size_t conns, std::uint64_t requests, std::uint64_t rounds, bool corrupt) {
    std::uint16_t port = 0;
    cb::unique_fd listener = wl::listen_loopback(16, port);
    wl::echo_client client(port, conns, requests, wl::echo::request_size);
    std::vector<cb::unique_fd> cs = wl::accept_clients(listener.get(), conns, client);
    const char go = 'g';
    EXPECT_TRUE(cb::write_full(client.go_fd(), &go, 1));
    char buf[wl::echo::request_size];
    for (std::uint64_t r = 0; r < rounds; ++r) {
        for (auto& c : cs) {
            if (!cb::read_full(c.get(), buf, sizeof buf)) return client.finish();
            if (corrupt) buf[r % sizeof buf] ^= 0x5a;
            if (!cb::write_full(c.get(), buf, sizeof buf)) return client.finish();
        }
    }
    cs.clear();
    return client.finish(10s);
}

TEST(EchoClient, CleanEchoPasses) {
    wl::echo_report r = serve(2, 10, 10, false);
    EXPECT_EQ(r.problem, "");
    EXPECT_EQ(r.requests, 20u);
    EXPECT_EQ(r.mismatches, 0u);
    EXPECT_EQ(r.errors, 0u);
    EXPECT_GT(r.p50_ns, 0u);
    EXPECT_GE(r.p99_ns, r.p50_ns);
}

TEST(EchoClient, ReportsMismatchAsError) {
    wl::echo_report r = serve(2, 10, 10, true);
    EXPECT_NE(r.problem, "") << "the client must exit non-zero when replies differ";
    EXPECT_EQ(r.mismatches, 20u);
}

TEST(EchoClient, ReportsServerClosingEarly) {
    wl::echo_report r = serve(2, 10, 3, false);
    EXPECT_NE(r.problem, "");
    EXPECT_EQ(r.requests, 6u);
    EXPECT_EQ(r.errors, 2u);
}

TEST(EchoClient, MissingExecutableIsAnError) {
    EXPECT_THROW(wl::echo_client(1, 1, 1, 64, "/nonexistent/cobench_echo_client"), std::system_error);
}

TEST(EchoWorkload, VerifyChecksServedCounts) {
    using W = wl::echo;
    W::params p{2, 5};
    W::state<cb::coro_context> s(p);
    auto res = cb::coroutines_runtime::run(W::tasks(p),
                                           [&](cb::coro_context& ctx, std::size_t i) { return W::body(ctx, s, i, p); },
                                           W::options(p));
    EXPECT_EQ(W::verify(s, p, res), "");
    res[1] = 4;
    EXPECT_NE(W::verify(s, p, res), "");
}

// One OS thread switching only at yields: no load/store pair is ever split.
template <class R>
void expect_no_lost_updates() {
    using W = wl::lost_updates;
    W::params p{8, 20000, 100};
    cb::measurement m;
    cb::run_result r = cb::run_once<R, W>(p, m);
    ASSERT_EQ(r.error, "");
    auto c = W::report(p, m);
    EXPECT_EQ(c["lost_updates"], 0);
    EXPECT_EQ(c["lost_fraction"], 0);
}
TEST(LostUpdates, NoneUnderCoroutines) { expect_no_lost_updates<cb::coroutines_runtime>(); }
TEST(LostUpdates, NoneUnderFibers) { expect_no_lost_updates<cb::fibers_runtime>(); }

TEST(LostUpdates, VerifyRejectsACounterAboveTheIncrementsMade) {
    using W = wl::lost_updates;
    W::params p{2, 10, 5};
    W::state<cb::coro_context> s(p);
    s.counter[0].store(21);
    EXPECT_NE(W::verify(s, p, {10, 10}), "");
    s.counter[0].store(15);  // lost updates are a result, not an error
    EXPECT_EQ(W::verify(s, p, {10, 10}), "");
}

// Cooperative and single-threaded: the first K tasks all acquire before any
// releases, so the limit is reached exactly, and N/K rounds of sleeps follow.
TEST(BoundedFanout, ReachesButNeverExceedsTheLimit) {
    using W = wl::bounded_fanout;
    using C = cb::coro_context;
    W::params p{20, 5, 2ms};
    W::state<C> s(p);
    const auto t0 = std::chrono::steady_clock::now();
    auto res = cb::coroutines_runtime::run(W::tasks(p), [&](C& ctx, std::size_t i) { return W::body(ctx, s, i, p); });
    const auto took = std::chrono::steady_clock::now() - t0;
    EXPECT_EQ(W::verify(s, p, res), "");
    EXPECT_EQ(s.shared[1].load(), 5u);
    EXPECT_GE(took, 4 * p.hold);
    s.shared[1].store(6);
    EXPECT_NE(W::verify(s, p, res), "");
}

TEST(TimerFanout, VerifyRejectsAnEarlyWake) {
    using W = wl::timer_fanout;
    W::params p{3, 10};
    W::state<cb::coro_context> s(p);
    std::vector<std::uint64_t> res{1'000'000, 2'000'000, 3'000'000};
    EXPECT_EQ(W::verify(s, p, res), "");
    res[2] = 2'999'999;
    EXPECT_NE(W::verify(s, p, res), "");
    auto c = W::report(p, cb::measurement{0.05, 1, {}, {}});
    EXPECT_DOUBLE_EQ(c["longest_wait_ms"], 3);
    EXPECT_DOUBLE_EQ(c["sum_wait_ms"], 6);
    EXPECT_DOUBLE_EQ(c["overhead_us_per_task"], (50'000.0 - 3'000.0) / 3);
}

TEST(ProducerConsumer, VerifyRejectsALostMessage) {
    using W = wl::producer_consumer;
    W::params p{1, 1, 4};
    W::state<cb::coro_context> s(p);
    s.shared[1].store(4);
    s.shared[2].store(10);
    EXPECT_EQ(W::verify(s, p, {4, 4}), "");
    s.shared[2].store(9);
    EXPECT_NE(W::verify(s, p, {4, 4}), "");
    s.shared[2].store(10);
    EXPECT_NE(W::verify(s, p, {4, 3}), "");
}

// Regression: a one-page pipe with one unread message blocked its 512th send
// (a page is reused only once read to its end), which hung bounded_fanout
// under processes at 1000 tasks. A hang here is turned into a failure by the alarm.
TEST(Channels, PipeChannelHoldsItsCapacityWhereverReadsLeftOff) {
    cb::pipe_channel<std::uint64_t> ch(2);
    ::alarm(20);
    ch.send(0);
    for (std::uint64_t i = 1; i < 3000; ++i) {
        ch.send(i);
        ASSERT_EQ(ch.recv(), i - 1);
    }
    ::alarm(0);
}

// Regression: Boost's buffered_channel holds one less than its size, so a
// fiber channel of capacity 4 blocked the 4th send and the semaphore deadlocked.
TEST(Channels, FiberChannelHoldsItsCapacity) {
    ::alarm(20);
    auto out = cb::fibers_runtime::run(1, [](cb::fiber_context& ctx, std::size_t) -> cb::task<std::uint64_t> {
        cb::fiber_channel<std::uint64_t> ch(4);
        for (std::uint64_t k = 0; k < 4; ++k) co_await ctx.send(ch, k);
        std::uint64_t s = 0;
        for (int k = 0; k < 4; ++k) s += co_await ctx.recv(ch);
        co_return s;
    });
    ::alarm(0);
    EXPECT_EQ(out.at(0), 6u);
}

}  // namespace
