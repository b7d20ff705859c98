// fibers_mt beyond the conformance suite: what only a multi-threaded fiber
// runtime must do. Tasks (and nested children) run on two threads at once,
// worker() names the thread, idle threads steal what a busy one spawned,
// yields stay round-robin, runs end cleanly while threads are busy stealing,
// pinning applies to every worker thread, and a deadlock across threads ends
// the process loudly instead of hanging it.
#include <gtest/gtest.h>

#include <atomic>
#include <bit>
#include <chrono>
#include <mutex>
#include <sched.h>
#include <vector>

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

TEST(FibersMt, IdleWorkersStealWhatOneWorkerSpawned) {
    // Every child comes from root 0; roots 1-3 end at once, so their threads
    // go idle and can only get work by stealing root 0's children. Each child
    // holds its thread for 2 ms without yielding, so a thread that does not
    // steal leaves root 0's thread to run them all, one after another.
    std::atomic<unsigned> ran_on{0};
    auto res = R::run(4, [&](C& ctx, std::size_t i) -> task<std::uint64_t> {
        if (i != 0) co_return 0;
        co_return co_await ctx.spawn_all(32, [&](C& c, std::size_t) -> task<std::uint64_t> {
            const auto until = std::chrono::steady_clock::now() + 2ms;
            while (std::chrono::steady_clock::now() < until) {
            }
            ran_on.fetch_or(1u << c.worker());
            co_return 1;
        });
    }, with_workers(4));
    EXPECT_EQ(cb::sum(res), 32u);
    EXPECT_GE(std::popcount(ran_on.load()), 2) << "root 0's children ran on threads " << ran_on.load() << " (a bit each)";
}

TEST(FibersMt, YieldsGoBehindEveryWaitingFiber) {
    // One thread, three tasks yielding: each yield lets both others run once
    // before the yielder again, in the same order every round (lost_updates'
    // interleavings and idle_conns' "behind every task's first step" rely on
    // it). A last-in-first-out queue would bounce between two of them.
    std::vector<std::size_t> order;
    R::run(3, [&](C& ctx, std::size_t i) -> task<std::uint64_t> {
        for (int r = 0; r < 5; ++r) {
            order.push_back(i);
            co_await ctx.yield();
        }
        co_return 0;
    }, with_workers(1));
    ASSERT_EQ(order.size(), 15u);
    EXPECT_NE(order[0], order[1]);
    EXPECT_NE(order[0], order[2]);
    EXPECT_NE(order[1], order[2]);
    for (std::size_t k = 3; k < order.size(); ++k) EXPECT_EQ(order[k], order[k % 3]) << "at " << k;
}

task<std::uint64_t> tree(C& ctx, std::size_t depth) {
    if (depth == 0) {
        co_await ctx.yield();
        co_return 1;
    }
    co_return co_await ctx.spawn_all(4, [depth](C& c, std::size_t) { return tree(c, depth - 1); });
}

TEST(FibersMt, RunsEndCleanlyUnderLoad) {
    // Runs that end while their threads are busy: spawn trees to steal from,
    // hand-offs between tasks on different threads (remote wake-ups), sleeps
    // and yields, more workers than cores. Every run adds up, and no thread
    // outlives its run.
    const int threads_before = cb::thread_count();
    for (int round = 0; round < 20; ++round) {
        constexpr std::size_t n = 16;
        std::vector<std::unique_ptr<C::channel<std::uint64_t>>> to(n);
        for (auto& ch : to) ch = std::make_unique<C::channel<std::uint64_t>>(1);
        auto res = R::run(n, [&](C& ctx, std::size_t i) -> task<std::uint64_t> {
            std::uint64_t got = 0;
            for (std::uint64_t m = 0; m < 50; ++m) {  // i and i ^ 1 take turns
                if ((m + i) % 2 == 0) {
                    co_await ctx.send(*to[i ^ 1], m);
                } else {
                    got += co_await ctx.recv(*to[i]);
                }
                if (m % 16 == 0) co_await ctx.sleep_for(50us);
            }
            co_return got + co_await tree(ctx, 3);
        }, with_workers(8));
        // Each pair passes 0..49 between them: 1225 in all, plus 64 leaves each.
        EXPECT_EQ(cb::sum(res), (n / 2) * 1225 + n * 64) << "round " << round;
    }
    EXPECT_EQ(cb::thread_count(), threads_before);
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
