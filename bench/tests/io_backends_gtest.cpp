// The reactor backends of the coroutine loop, through the harness: the loops
// count their system calls (syscalls_per_op), echo at 1000 connections and
// idle_conns verify every byte on epoll, poll and io_uring,
// io_uring's unavailable path (COBENCH_URING_DISABLE=1) is declared with its
// reason, and the backend variants run their I/O workloads in every profile.
// Runtime-level tests: runtimes/tests/uring_gtest.cpp.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <optional>

#include "bench/product.hpp"
#include "runtimes/registry.hpp"
#include "runtimes/tests/backend_fixture.hpp"
#include "workloads/all.hpp"
#include "workloads/run.hpp"

namespace {

using cb::task;
namespace wl = cb::wl;
using cb::testing::env_guard;

template <class R>
using Backend = cb::testing::runtime_test<R>;
TYPED_TEST_SUITE(Backend, cb::testing::loop_backends, cb::testing::runtime_names);

// The loop counts its own system calls: a pipe ping-pong makes some, a
// channel ping-pong none.
TYPED_TEST(Backend, SyscallCounterCountsTheLoopsCalls) {
    using R = TypeParam;
    cb::measurement m;
    wl::pipe_pong::params pp{200, true};
    ASSERT_EQ((cb::run_once<R, wl::pipe_pong>(pp, m).error), "");
    ASSERT_TRUE(m.sums.count("loop_syscalls"));
    EXPECT_GT(m.sums["loop_syscalls"], 0.0);
    // At most a few per byte (a read, a write, a wait): counted, not invented.
    EXPECT_LE(m.sums["loop_syscalls"], 8.0 * wl::pipe_pong::ops(pp));
    cb::measurement q;
    wl::ping_pong::params pq{200, true};
    ASSERT_EQ((cb::run_once<R, wl::ping_pong>(pq, q).error), "");
    EXPECT_EQ(q.sums["loop_syscalls"], 0.0) << "a hand-off through a channel makes no system call";
}

// Every byte of every reply is checked by the client.
TYPED_TEST(Backend, EchoAt1000ConnectionsVerifies) {
    using R = TypeParam;
    // The test profile's first entry (whatever phases echo runs), at 1000 connections.
    wl::echo::params p = wl::echo::sizes(cb::profile::test, R::traits).front();
    p.conns = 1000;
    p.requests = 3;
    ASSERT_EQ(wl::echo::unsupported(R::traits, p), "");
    cb::measurement m;
    EXPECT_EQ((cb::run_once<R, wl::echo>(p, m).error), "");
    EXPECT_EQ(m.iterations, 1u);
}

// The same through a provided-buffer ring of 2 buffers of 64 bytes: the
// multishot recvs run out of buffers all the time (ENOBUFS, single-shot
// fallbacks, re-arms) and the client still gets every byte in order.
TEST(Uring, EchoAt1000ConnectionsOnATinyBufferRingVerifies) {
    using R = cb::coroutines_uring_runtime;
    if (std::string why = cb::unavailable_reason<R>(); !why.empty()) GTEST_SKIP() << why;
    env_guard g("COBENCH_URING_BUFS", "2x64");
    wl::echo::params p = wl::echo::sizes(cb::profile::test, R::traits).front();
    p.conns = 1000;
    p.requests = 3;
    cb::measurement m;
    EXPECT_EQ((cb::run_once<R, wl::echo>(p, m).error), "");
    EXPECT_EQ(m.iterations, 1u);
}

TYPED_TEST(Backend, IdleConnectionsDoNotDisturbTheActiveOnes) {
    using R = TypeParam;
    wl::idle_conns::params p{1000, 4, 20};
    ASSERT_EQ(wl::idle_conns::unsupported(R::traits, p), "");
    cb::measurement m;
    EXPECT_EQ((cb::run_once<R, wl::idle_conns>(p, m).error), "");
    const cb::counters c = wl::idle_conns::report(p, m);
    EXPECT_GT(c.at("server_cpu_ns_per_req"), 0.0);
    EXPECT_GT(c.at("req_per_s"), 0.0);
}

// COBENCH_URING_DISABLE=1 forces the unavailable path: the reason names the
// variable, run() throws it, the harness declares every pair with it and
// plans none, and no max_tasks probe is planned.
TEST(Uring, DisabledByEnvironmentIsDeclaredWithTheReason) {
    env_guard g("COBENCH_URING_DISABLE", "1");
    using R = cb::coroutines_uring_runtime;
    const std::string why = cb::unavailable_reason<R>();
    EXPECT_NE(why.find("COBENCH_URING_DISABLE"), std::string::npos) << why;
    try {
        (void)R::run(1, [](R::context&, std::size_t) -> task<std::uint64_t> { co_return 1; });
        ADD_FAILURE() << "run() must refuse an unavailable ring";
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("COBENCH_URING_DISABLE"), std::string::npos) << e.what();
    }
    using P = cb::product<std::tuple<cb::coroutines_runtime, R>, std::tuple<wl::ping_pong, wl::echo>>;
    std::size_t mine = 0;
    for (const auto& d : P::declared(cb::profile::quick)) {
        if (d.runtime != "coroutines_uring") continue;
        ++mine;
        EXPECT_NE(d.reason.find("COBENCH_URING_DISABLE"), std::string::npos) << d.reason;
    }
    EXPECT_GT(mine, 0u);
    for (const auto& pl : P::planned(cb::profile::quick)) EXPECT_NE(pl.runtime, "coroutines_uring") << pl.name;
    // The epoll runtime is untouched by it.
    bool epoll_planned = false;
    for (const auto& pl : P::planned(cb::profile::quick)) epoll_planned = epoll_planned || pl.runtime == "coroutines";
    EXPECT_TRUE(epoll_planned);
}

// The backend variants run only the workloads that wait in the reactor, in
// every profile: the rest is the same loop code as coroutines'.
TEST(Backends, VariantsRunOnlyIoWorkloads) {
    using P = cb::product<std::tuple<cb::coroutines_runtime, cb::coroutines_poll_runtime>,
                          std::tuple<wl::ping_pong, wl::pipe_pong, wl::idle_conns>>;
    auto planned = [](cb::profile pr) {
        std::vector<std::string> v;
        for (const auto& p : P::planned(pr)) v.push_back(p.name);
        return v;
    };
    auto has = [](const std::vector<std::string>& v, const std::string& n) { return std::find(v.begin(), v.end(), n) != v.end(); };
    const auto quick = planned(cb::profile::quick), full = planned(cb::profile::full);
    EXPECT_TRUE(has(quick, "ping_pong/coroutines/pin:same"));
    EXPECT_FALSE(has(quick, "ping_pong/coroutines_poll/pin:same"));
    EXPECT_TRUE(has(quick, "pipe_pong/coroutines_poll/pin:same"));
    EXPECT_TRUE(has(quick, "idle_conns/coroutines_poll/idle:1000"));
    EXPECT_FALSE(has(quick, "max_tasks/coroutines_poll"));
    EXPECT_FALSE(has(full, "ping_pong/coroutines_poll/pin:same"));
    EXPECT_TRUE(has(full, "pipe_pong/coroutines_poll/pin:same"));
    EXPECT_TRUE(has(full, "ping_pong/coroutines/pin:same"));
    EXPECT_FALSE(has(full, "max_tasks/coroutines_poll"));
    bool declared = false;
    for (const auto& d : P::declared(cb::profile::quick))
        declared = declared || (d.runtime == "coroutines_poll" && d.workload == "ping_pong" && !d.reason.empty());
    EXPECT_TRUE(declared) << "a pair left out is declared with its reason";
}

}  // namespace
