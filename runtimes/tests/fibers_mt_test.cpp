// fibers_mt beyond the conformance suite: what only a multi-threaded fiber
// runtime must do. Tasks (and nested children) run on two threads at once,
// worker() names the thread, pinning applies to every worker thread, and a
// deadlock across threads ends the process loudly instead of hanging it.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <sched.h>

#include "runtimes/fibers_mt/fibers_mt.hpp"

namespace {

using namespace std::chrono_literals;
using cb::task;
using R = cb::fibers_mt_runtime;
using C = cb::fibers_mt_context;

// Spins without yielding until `k` tasks arrived or 5 s passed: cooperative
// fibers on one thread could never get past it, two threads do at once.
bool all_arrive_spinning(std::atomic<std::size_t>& arrived, std::size_t k) {
    arrived.fetch_add(1);
    const auto give_up = std::chrono::steady_clock::now() + 5s;
    while (arrived.load() < k)
        if (std::chrono::steady_clock::now() > give_up) return false;
    return true;
}

cb::run_options with_workers(std::size_t w) {
    cb::run_options o;
    o.workers = w;
    return o;
}

TEST(FibersMt, WorkersFollowTheContract) {
    EXPECT_EQ(C::workers_for(0, with_workers(4)), 1u);
    EXPECT_EQ(C::workers_for(1, with_workers(4)), 1u);
    EXPECT_EQ(C::workers_for(10, with_workers(3)), 3u);
    EXPECT_GE(C::workers_for(1000, {}), 1u);
}

TEST(FibersMt, TwoTasksRunAtOnceOnTwoThreads) {
    std::atomic<std::size_t> arrived{0};
    auto res = R::run(2, [&](C& ctx, std::size_t) -> task<std::uint64_t> {
        const bool together = all_arrive_spinning(arrived, 2);
        co_return together ? 1 + ctx.worker() : 0;  // 1 + worker, 0 if alone
    }, with_workers(2));
    ASSERT_EQ(res.size(), 2u);
    EXPECT_NE(res[0], 0u) << "task 0 never saw task 1 run beside it";
    EXPECT_NE(res[1], 0u) << "task 1 never saw task 0 run beside it";
    EXPECT_NE(res[0], res[1]) << "both tasks report the same worker";
    for (auto r : res) EXPECT_LE(r, 2u);
}

TEST(FibersMt, ChildrenOfTwoRootsShareBothThreads) {
    std::atomic<std::size_t> arrived{0};
    // Two roots give two threads (W = min(K, n): one root would get one);
    // each root's 3 children go to the shared queue, and the first child
    // finishes (with 1) only if another one runs beside it.
    auto res = R::run(2, [&](C& ctx, std::size_t) -> task<std::uint64_t> {
        co_return co_await ctx.spawn_all(3, [&](C&, std::size_t) -> task<std::uint64_t> {
            co_return all_arrive_spinning(arrived, 2) ? 1 : 0;
        });
    }, with_workers(2));
    EXPECT_EQ(res[0] + res[1], 6u);
}

TEST(FibersMt, PinningAppliesToEveryWorkerThread) {
    cpu_set_t set;
    ASSERT_EQ(::sched_getaffinity(0, sizeof set, &set), 0);
    int cpu = 0;
    while (!CPU_ISSET(cpu, &set)) ++cpu;
    cb::run_options o = with_workers(2);
    o.cpus = {cpu};
    auto res = R::run(8, [&](C& ctx, std::size_t) -> task<std::uint64_t> {
        co_await ctx.yield();
        co_return static_cast<std::uint64_t>(::sched_getcpu() == cpu);
    }, o);
    EXPECT_EQ(cb::sum(res), 8u);
}

task<std::uint64_t> wait_forever(C& ctx, C::channel<std::uint64_t>& ch) { co_return co_await ctx.recv(ch); }

TEST(FibersMt, DeadlockAcrossThreadsEndsLoudly) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    EXPECT_DEATH(
        {
            C::channel<std::uint64_t> never(1);
            R::run(4, [&](C& ctx, std::size_t) { return wait_forever(ctx, never); }, with_workers(2));
        },
        "deadlock");
}

}  // namespace
