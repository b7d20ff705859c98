// Behaviour of the I/O and coordination workloads beyond "runs and verifies"
// (workloads_test.cpp): that the echo client really catches a bad server, that
// the checks in verify() fire, that echo_accept spreads connections over the
// hybrids' workers, accounts for them and ends through the client's
// shutdown, that the cooperative runtimes lose no update, and that the
// channels the semaphore relies on hold what they promise.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstring>
#include <thread>

#include <sched.h>
#include <unistd.h>

#include "workloads/run.hpp"
#include "runtimes/registry.hpp"
#include "workloads/all.hpp"
#include "workloads/tests/typed_runtimes.hpp"

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

// The generator's threads and CPUs: one unpinned thread below 3 CPUs (this
// machine's numbers unchanged), else T threads pinned to the last T CPUs,
// T at most the server's workers, a quarter of the CPUs and the connections.
TEST(EchoWorkload, GeneratorPlanFollowsWorkersAndCpus) {
    cpu_set_t set;
    CPU_ZERO(&set);
    ASSERT_EQ(::sched_getaffinity(0, sizeof set, &set), 0);
    const std::size_t cpus = static_cast<std::size_t>(CPU_COUNT(&set));
    for (std::size_t workers : {1, 2, 8, 64})
        for (std::size_t conns : {1, 3, 1000}) {
            const cb::wl::generator_plan g = cb::wl::plan_generator(workers, conns);
            if (cpus < 3) {
                EXPECT_EQ(g.threads, 1u);
                EXPECT_TRUE(g.cpus.empty());
                continue;
            }
            EXPECT_EQ(g.threads, std::clamp<std::size_t>(std::min(workers, cpus / 4), 1, conns));
            ASSERT_EQ(g.cpus.size(), g.threads);
            EXPECT_LE(g.threads + 2, cpus);  // the server keeps at least two
            for (int c : g.cpus) EXPECT_TRUE(CPU_ISSET(c, &set));
            EXPECT_TRUE(std::is_sorted(g.cpus.begin(), g.cpus.end()));
        }
}

TEST(EchoWorkload, VerifyChecksServedCounts) {
    using W = wl::echo;
    W::params p{2, 5};
    W::state<cb::coro_context> s(p);
    auto res = cb::testing::run_tasks<cb::coroutines_runtime, W>(s, p);
    EXPECT_EQ(W::verify(s, p, res), "");
    res[1] = 4;
    EXPECT_NE(W::verify(s, p, res), "");
}

// ---- echo_accept under the hybrids ------------------------------------------

// One echo_accept run outside the harness, keeping what the tests look at.
template <class R>
struct accept_run {
    using W = wl::echo_accept;
    using C = typename R::context;
    W::params p;
    W::state<C> s;
    std::vector<std::uint64_t> res;
    explicit accept_run(const W::params& q) : p(q), s(p) { res = cb::testing::run_tasks<R, W>(s, p); }
    std::string verify() const { return W::verify(s, p, res); }
    const wl::echo_report& report() const { return s.report(); }
    std::vector<W::served> workers() const { return W::per_worker(res, p.conns); }
};

template <class R>
class EchoAccept : public cb::testing::alarmed<R> {};
using Hybrids = ::testing::Types<cb::process_loops_runtime, cb::thread_loops_runtime>;
TYPED_TEST_SUITE(EchoAccept, Hybrids, cb::testing::runtime_names);

using accept_mode = wl::echo_accept::accept_mode;

// 64 connections hashed over 2 SO_REUSEPORT listeners: each worker gets some
// (all on one would be a 2^-63 chance, or a listener nobody accepts on).
TYPED_TEST(EchoAccept, EveryWorkerGetsConnectionsWithReuseport) {
    accept_run<TypeParam> r({64, 20, accept_mode::reuseport, 2});
    ASSERT_EQ(r.verify(), "");
    const auto ws = r.workers();
    ASSERT_EQ(ws.size(), 2u);
    for (std::size_t w = 0; w < ws.size(); ++w) {
        EXPECT_GT(ws[w].conns, 0u) << "worker " << w << " accepted no connection";
        EXPECT_GT(ws[w].requests, 0u) << "worker " << w << " served no request";
    }
}

// The per-worker numbers the balance counters come from add up to what the
// client counted, and verify() notices when they do not.
TYPED_TEST(EchoAccept, BalanceCountersAddUpToTheTotals) {
    using W = wl::echo_accept;
    for (auto mode : {accept_mode::reuseport, accept_mode::shared}) {
        accept_run<TypeParam> r({16, 25, mode, 2});
        ASSERT_EQ(r.verify(), "");
        std::uint64_t conns = 0, requests = 0, most_conns = 0, most_requests = 0;
        for (const auto& w : r.workers()) {
            conns += w.conns, requests += w.requests;
            most_conns = std::max(most_conns, w.conns), most_requests = std::max(most_requests, w.requests);
        }
        EXPECT_EQ(conns, 16u);
        EXPECT_EQ(requests, 16u * 25u);
        EXPECT_EQ(r.report().conns, conns);
        EXPECT_EQ(r.report().requests, requests);
        cb::measurement m;
        m.iterations = 1;
        W::collect(r.s, r.p, r.res, m);
        auto c = W::report(r.p, m);
        EXPECT_DOUBLE_EQ(c["conn_balance"], static_cast<double>(most_conns) * 2 / 16);
        EXPECT_DOUBLE_EQ(c["req_balance"], static_cast<double>(most_requests) * 2 / (16 * 25));
        EXPECT_GE(c["conn_balance"], 1.0);
        EXPECT_LE(c["conn_balance"], 2.0);
        EXPECT_EQ(c["workers"], 2);
        EXPECT_EQ(c.count("stuck_conns"), 0u) << "only the stall variants count stuck connections";

        auto res = r.res;
        res[0] = W::pack(W::unpack(res[0]).conns, W::unpack(res[0]).requests + 1);
        EXPECT_NE(W::verify(r.s, r.p, res), "") << "a request the client never made";
        res = r.res;
        res[31] = W::pack(W::unpack(res[31]).conns + 1, W::unpack(res[31]).requests);
        EXPECT_NE(W::verify(r.s, r.p, res), "") << "a connection the client never made";
    }
}

// 3 connections, 2 workers x 3 acceptors: at least 3 tasks never get a
// connection and wait in accept; only the client's shutdown of the listeners
// ends them, and the run then returns with every task's count.
TYPED_TEST(EchoAccept, ShutdownEndsWaitingAcceptors) {
    using W = wl::echo_accept;
    for (auto mode : {accept_mode::reuseport, accept_mode::shared}) {
        accept_run<TypeParam> r({3, 5, mode, 2});
        ASSERT_EQ(r.verify(), "");
        ASSERT_EQ(r.res.size(), 6u);
        std::size_t idle = 0;
        for (auto v : r.res) idle += W::unpack(v).conns == 0;
        EXPECT_GE(idle, 3u);
    }
}

// A marked request stalls its worker for stall_ms: the client's max round
// trip is at least that, and connections made during the run (reconnecting
// every 20 round trips) are all accounted for.
TYPED_TEST(EchoAccept, StallShowsInMaxLatency) {
    using W = wl::echo_accept;
    for (auto mode : {accept_mode::reuseport, accept_mode::shared}) {
        W::params p{8, 60, mode, 2, 30, 100};
        accept_run<TypeParam> r(p);
        ASSERT_EQ(r.verify(), "") << p.label();
        const auto& rep = r.report();
        EXPECT_GE(rep.marks, 1u);
        EXPECT_GE(rep.max_ns, 30'000'000u) << p.label();
        EXPECT_EQ(rep.conns, 8u * 3u) << "60 round trips a slot, a new connection every 20";
        cb::measurement m;
        m.iterations = 1;
        W::collect(r.s, r.p, r.res, m);
        auto c = W::report(r.p, m);
        EXPECT_GE(c["max_us"], 30'000.0);
        ASSERT_EQ(c.count("stuck_conns"), 1u);
        EXPECT_GE(c["stuck_conns"], 0.0);
    }
}

TEST(EchoAcceptWorkload, OnlyHybridsRunIt) {
    using W = wl::echo_accept;
    const W::params p{4, 20, accept_mode::shared, 1};
    EXPECT_NE(W::unsupported(cb::coroutines_runtime::traits, p), "");
    EXPECT_NE(W::unsupported(cb::threads_runtime::traits, p), "");
    EXPECT_EQ(W::unsupported(cb::process_loops_runtime::traits, p), "");
    EXPECT_EQ(W::params({10, 20, accept_mode::reuseport, 2}).label(), "conns:10/accept:reuseport/workers:2");
    EXPECT_EQ(W::params({100, 20, accept_mode::shared, 2, 50, 250}).label(),
              "conns:100/accept:shared/workers:2/stall_ms:50");
    EXPECT_EQ(W::unpack(W::pack(3, 12345)).conns, 3u);
    EXPECT_EQ(W::unpack(W::pack(3, 12345)).requests, 12345u);
}

// A worker count the runtime does not run is refused before anything starts
// (a listener per worker that no worker accepts on would strand its
// connections): the plain coroutines runtime has one worker, so 2 is refused.
TEST(EchoAcceptWorkload, StateRefusesAWorkerCountTheRuntimeDoesNotRun) {
    using W = wl::echo_accept;
    EXPECT_THROW(W::state<cb::coro_context>({4, 20, accept_mode::reuseport, 2}), std::runtime_error);
}

// The pool waits on fds in an I/O thread of its own: a run whose tasks wait
// on pipes has that thread's CPU in its sums (the harness reports it as
// io_thread_cpu_frac), and a runtime without one has no such sum.
TEST(IoThreadCpu, ThePoolsIoThreadIsReadAroundARun) {
    static_assert(cb::reports_io_thread_cpu<cb::pool_runtime>);
    static_assert(!cb::reports_io_thread_cpu<cb::threads_runtime>);
    using W = wl::pipe_pong;
    const W::params p = W::sizes(cb::profile::test, cb::pool_traits).front();
    cb::measurement m;
    ASSERT_EQ((cb::run_once<cb::pool_runtime, W>(p, m).error), "");
    ASSERT_TRUE(m.sums.contains("io_thread_cpu_ns"));
    EXPECT_GT(m.sums["io_thread_cpu_ns"], 0);  // it waited in epoll and resumed every wait
    EXPECT_LE(m.sums["io_thread_cpu_ns"], m.sums["run_cpu_ns"]);  // one of the process's threads
    cb::measurement t;
    ASSERT_EQ((cb::run_once<cb::threads_runtime, W>(p, t).error), "");
    EXPECT_FALSE(t.sums.contains("io_thread_cpu_ns"));
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
