// Every workload under every runtime at test sizes, verified. A pair that
// cannot run must say why (its declared reason); it is skipped, not hidden.
#include <gtest/gtest.h>

#include "workloads/run.hpp"
#include "runtimes/tests/test_registry.hpp"
#include "workloads/all.hpp"

namespace {

template <class Pair>
class Workloads : public ::testing::Test {};

template <class R, class W>
struct pair {
    using runtime = R;
    using workload = W;
};

// One list of every runtime x workload pair, test-only runtimes included.
template <class Rs, class Ws>
struct to_types;
template <class... Rs, class... Ws>
struct to_types<std::tuple<Rs...>, std::tuple<Ws...>> {
    template <class R>
    using row = std::tuple<pair<R, Ws>...>;
    template <class... Ps>
    static ::testing::Types<Ps...> flat(std::tuple<Ps...>);
    using type = decltype(flat(std::tuple_cat(row<Rs>{}...)));
};
using Pairs = to_types<cb::testing::test_runtimes, cb::wl::all_workloads>::type;

struct pair_names {
    template <class P>
    static std::string GetName(int) {
        return std::string(P::workload::name) + "_" + std::string(P::runtime::traits.name);
    }
};
TYPED_TEST_SUITE(Workloads, Pairs, pair_names);

TYPED_TEST(Workloads, RunsAndVerifiesAtTestSize) {
    using R = typename TypeParam::runtime;
    using W = typename TypeParam::workload;
    auto sizes = W::sizes(cb::profile::test, R::traits);
    ASSERT_FALSE(sizes.empty());
    std::size_t ran = 0;
    for (const auto& p : sizes) {
        const std::string name = cb::bench_name<W>(R::traits.name, p);
        if (auto why = W::unsupported(R::traits, p); !why.empty()) {
            std::cout << "declared: " << name << ": " << why << "\n";
            continue;
        }
        cb::measurement m;
        cb::run_result r = cb::run_once<R, W>(p, m);
        EXPECT_EQ(r.error, "") << name;
        auto c = W::report(p, m);
        EXPECT_FALSE(c.empty());
        // Every counter reported is declared (unit, direction) for the results' metadata.
        for (auto& [k, v] : c) {
            bool declared = false;
            for (const cb::counter_meta& meta : W::counter_info) declared = declared || meta.name == k;
            EXPECT_TRUE(declared) << name << " reports '" << k << "', which " << W::name << "::counter_info does not declare";
        }
        // Memory counters are deltas of system-wide readings and may dip
        // below zero by noise; everything else is a time or a count.
        for (auto& [k, v] : c)
            EXPECT_TRUE(std::isfinite(v) && (v >= 0 || k.ends_with("_per_task"))) << k << " = " << v;
        ++ran;
    }
    if (ran == 0) GTEST_SKIP() << "every size declared unsupported for " << R::traits.name;
}

}  // namespace

// ---- the worker-count sweep ------------------------------------------------------

#include <algorithm>
#include <atomic>
#include <chrono>
#include <climits>
#include <mutex>
#include <set>
#include <thread>

#include <oneapi/tbb/task_arena.h>

namespace {

using cb::wl::worker_sweep;

TEST(WorkerSweep, KValuesForACpuCount) {
    using v = std::vector<std::size_t>;
    EXPECT_EQ(worker_sweep(1), (v{1, 2, 4}));
    EXPECT_EQ(worker_sweep(2), (v{1, 2, 4, 8}));
    EXPECT_EQ(worker_sweep(3), (v{1, 2, 3, 6, 12}));
    EXPECT_EQ(worker_sweep(6), (v{1, 2, 4, 6, 12, 24}));
    EXPECT_EQ(worker_sweep(8), (v{1, 2, 4, 8, 16, 32}));
    EXPECT_EQ(worker_sweep(12), (v{1, 2, 4, 8, 12, 24, 48}));
    EXPECT_EQ(worker_sweep(0), worker_sweep(1));
    EXPECT_EQ(cb::wl::sweep_cpus(cb::profile::test), 2u) << "the test product must not depend on the machine";
}

TEST(WorkerSweep, ProfilesRunTheirShareOfIt) {
    using v = std::vector<std::size_t>;
    EXPECT_EQ(cb::wl::workers_to_sweep(cb::profile::test), (v{1, 2, 4, 8}));
    const std::size_t cpus = cb::default_workers();
    EXPECT_EQ(cb::wl::workers_to_sweep(cb::profile::full), worker_sweep(cpus));
    // quick: one worker, every CPU, 4x oversubscribed.
    EXPECT_EQ(cb::wl::workers_to_sweep(cb::profile::quick), (cpus > 1 ? v{1, cpus, 4 * cpus} : v{1, 4}));
    // quick sweeps cpu_bound only; full sweeps both.
    const auto& t = cb::thread_loops_runtime::traits;
    auto swept = [](const auto& sizes) {
        return std::count_if(sizes.begin(), sizes.end(), [](const auto& p) { return p.workers != 0; });
    };
    EXPECT_EQ(swept(cb::wl::cpu_bound::sizes(cb::profile::quick, t)), 3 - (cpus == 1));
    EXPECT_EQ(swept(cb::wl::skynet::sizes(cb::profile::quick, t)), 0);
    EXPECT_EQ(static_cast<std::size_t>(swept(cb::wl::skynet::sizes(cb::profile::full, t))), worker_sweep(cpus).size());
}

TEST(WorkerSweep, EveryWorkerHasTasksAndSlicesAreEven) {
    for (std::size_t cpus : {1u, 2u, 3u, 4u, 6u, 8u, 12u, 16u, 24u, 64u, 96u}) {
        const std::size_t tasks = cb::wl::sweep_tasks(cpus);
        for (std::size_t k : worker_sweep(cpus)) {
            EXPECT_GE(tasks, 4 * k) << cpus << " CPUs, K = " << k;
            EXPECT_EQ(tasks % k, 0u) << cpus << " CPUs, K = " << k << ": uneven slices of " << tasks << " tasks";
        }
    }
}

TEST(WorkerSweep, SkynetRootsAreWholeTreesForEveryWorker) {
    using S = cb::wl::skynet;
    EXPECT_EQ(S::sweep_roots(100000, 2), 100u);
    EXPECT_EQ(S::sweep_roots(1000000, 2), 100u);
    EXPECT_EQ(S::sweep_roots(1000000, 8), 1000u);
    EXPECT_EQ(S::sweep_roots(100, 2), 10u) << "capped at leaves / 10: each root is still a tree";
    EXPECT_EQ(S::sweep_roots(100000, 1000), 10000u);
    for (std::uint64_t leaves : {100ull, 1000ull, 100000ull, 1000000ull})
        for (std::size_t cpus : {1u, 2u, 4u, 6u, 16u}) {
            const std::uint64_t r = S::sweep_roots(leaves, cpus);
            std::uint64_t part = leaves / r;
            EXPECT_EQ(part * r, leaves);
            while (part % S::fanout == 0) part /= S::fanout;
            EXPECT_EQ(part, 1u) << leaves << " leaves over " << r << " roots: a root is not a whole 10-way tree";
            if (leaves / S::fanout >= 16 * cpus) {
                EXPECT_GE(r, 16 * cpus) << leaves << " leaves, " << cpus << " CPUs";
            }
        }
    // ops counts the nodes that run: all of them at one root, none above the roots.
    EXPECT_EQ(S::ops({100, 1}), 111.0);
    EXPECT_EQ(S::ops({100, 10}), 110.0);
    EXPECT_EQ(S::ops({1000, 100}), 1100.0);
}

template <class W>
std::vector<std::string> sweep_labels(const cb::runtime_traits& t) {
    std::vector<std::string> out;
    for (const auto& p : W::sizes(cb::profile::test, t))
        if (p.workers) out.push_back(cb::bench_name<W>(t.name, p));
    return out;
}

TEST(WorkerSweep, LabelsFollowTheFixedFormatOnlyForSizedWorkers) {
    const auto& pool = cb::pool_runtime::traits;
    EXPECT_EQ(sweep_labels<cb::wl::cpu_bound>(pool),
              (std::vector<std::string>{"cpu_bound/pool/tasks:32/workers:1", "cpu_bound/pool/tasks:32/workers:2",
                                        "cpu_bound/pool/tasks:32/workers:4", "cpu_bound/pool/tasks:32/workers:8"}));
    EXPECT_EQ(sweep_labels<cb::wl::skynet>(pool),
              (std::vector<std::string>{"skynet/pool/leaves:100/roots:10/workers:1",
                                        "skynet/pool/leaves:100/roots:10/workers:2",
                                        "skynet/pool/leaves:100/roots:10/workers:4",
                                        "skynet/pool/leaves:100/roots:10/workers:8"}));
    // One worker a task: their tasks:N entries are the curve, no sweep.
    EXPECT_TRUE(sweep_labels<cb::wl::cpu_bound>(cb::threads_runtime::traits).empty());
    EXPECT_TRUE(sweep_labels<cb::wl::skynet>(cb::processes_runtime::traits).empty());
    EXPECT_TRUE(sweep_labels<cb::wl::cpu_bound>(cb::coroutines_runtime::traits).empty());
    // The default entries keep their names.
    EXPECT_EQ(cb::wl::cpu_bound::sizes(cb::profile::test, pool).front().label(), "tasks:1");
    EXPECT_EQ(cb::wl::skynet::sizes(cb::profile::test, pool)[1].label(), "leaves:100/roots:10");
}

// The distinct threads that ran a pool run's tasks, and the arena's concurrency as they saw it.
struct pool_threads {
    std::mutex m;
    std::set<std::thread::id> ids;
    int most_concurrency = 0;
    void record() {
        std::lock_guard lk(m);
        ids.insert(std::this_thread::get_id());
        most_concurrency = std::max(most_concurrency, tbb::this_task_arena::max_concurrency());
    }
};

TEST(PoolWorkers, OneWorkerRunsEveryTaskOnOneThread) {
    using C = cb::pool_context;
    pool_threads seen;
    cb::run_options o;
    o.workers = 1;
    // Tasks that yield and spin a while: with a second thread in the arena, it would take some.
    auto res = cb::pool_runtime::run(64, [&](C& ctx, std::size_t i) -> cb::task<std::uint64_t> {
        seen.record();
        co_await ctx.yield();
        seen.record();
        co_return cb::kernels::range(0, 50) + i;
    }, o);
    ASSERT_EQ(res.size(), 64u);
    EXPECT_EQ(seen.ids.size(), 1u) << "a pool run with workers:1 ran tasks on " << seen.ids.size() << " threads";
    EXPECT_EQ(seen.ids.count(std::this_thread::get_id()), 1u) << "an arena of 1 runs on the calling thread";
    EXPECT_EQ(seen.most_concurrency, 1);
    EXPECT_EQ(C::workers_for(64, o), 1u);
}

// Spins until k tasks arrived or 20 s passed: only k threads at once get past it.
bool all_arrive(std::atomic<std::size_t>& arrived, std::size_t k) {
    arrived.fetch_add(1);
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (arrived.load() < k) {
        if (std::chrono::steady_clock::now() > give_up) return false;
        std::this_thread::yield();
    }
    return true;
}

TEST(PoolWorkers, OversubscribedWorkersAreRealThreads) {
    using C = cb::pool_context;
    // Past the hardware threads, so oneTBB's default worker limit would cap it.
    const std::size_t k = std::max(1u, std::thread::hardware_concurrency()) + 2;
    pool_threads seen;
    std::atomic<std::size_t> arrived{0};
    cb::run_options o;
    o.workers = k;
    auto res = cb::pool_runtime::run(k, [&](C&, std::size_t) -> cb::task<std::uint64_t> {
        seen.record();
        co_return all_arrive(arrived, k) ? 1 : 0;
    }, o);
    ASSERT_EQ(res.size(), k);
    for (std::size_t i = 0; i < k; ++i) EXPECT_EQ(res[i], 1u) << "task " << i << " never saw all " << k << " running";
    EXPECT_EQ(seen.ids.size(), k);
    EXPECT_EQ(seen.most_concurrency, static_cast<int>(k));
    EXPECT_EQ(C::workers_for(k, o), k);
    EXPECT_EQ(C::workers_for(2, o), 2u) << "never more workers than tasks";
    // The default path keeps its own arena, of the default size.
    pool_threads dflt;
    (void)cb::pool_runtime::run(4, [&](C&, std::size_t) -> cb::task<std::uint64_t> {
        dflt.record();
        co_return 0;
    });
    EXPECT_EQ(dflt.most_concurrency, static_cast<int>(cb::pool_default_workers()));
}

TEST(PoolWorkers, BadWorkerCountIsRefused) {
    cb::run_options o;
    o.workers = static_cast<std::size_t>(INT_MAX) + 1;
    EXPECT_THROW((void)cb::pool_runtime::run(1, [](cb::pool_context&, std::size_t) -> cb::task<std::uint64_t> {
        co_return 0;
    }, o), std::invalid_argument);
}

// Every runtime with sized_workers, each a test of its own (a process of its
// own under ctest: process_loops forks, which a process with pool threads may not).
template <class Rs>
struct sized_only;
template <class... Rs>
struct sized_only<std::tuple<Rs...>> {
    using type = decltype(std::tuple_cat(
        std::conditional_t<Rs::traits.sized_workers, std::tuple<Rs>, std::tuple<>>{}...));
};
template <class T>
struct to_gtest;
template <class... Rs>
struct to_gtest<std::tuple<Rs...>> {
    using type = ::testing::Types<Rs...>;
};
using SizedRuntimes = to_gtest<sized_only<cb::testing::test_runtimes>::type>::type;
static_assert(std::tuple_size_v<sized_only<cb::testing::test_runtimes>::type> >= 1);

template <class R>
class WorkerSweepRuns : public ::testing::Test {};
struct runtime_names {
    template <class R>
    static std::string GetName(int) {
        return std::string(R::traits.name);
    }
};
TYPED_TEST_SUITE(WorkerSweepRuns, SizedRuntimes, runtime_names);

template <class R, class W>
void run_sweep() {
    std::size_t ran = 0;
    for (const auto& p : W::sizes(cb::profile::test, R::traits)) {
        if (!p.workers) continue;
        const std::string name = cb::bench_name<W>(R::traits.name, p);
        ASSERT_EQ(W::unsupported(R::traits, p), "") << name;
        cb::measurement m;
        cb::run_result r = cb::run_once<R, W>(p, m);
        EXPECT_EQ(r.error, "") << name;
        EXPECT_EQ(m.workers, p.workers) << name << ": the run used another worker count than its label";
        const auto c = W::report(p, m);
        ASSERT_TRUE(c.contains("speedup")) << name << ": no speedup though workers:1 ran first";
        EXPECT_GT(c.at("speedup"), 0.0) << name;
        if (p.workers == 1) {
            EXPECT_EQ(c.at("speedup"), 1.0) << name;
        }
        ++ran;
    }
    EXPECT_EQ(ran, worker_sweep(2).size()) << W::name << ": one entry per K of the test sweep";
}

TYPED_TEST(WorkerSweepRuns, CpuBoundVerifiesAtEveryK) { run_sweep<TypeParam, cb::wl::cpu_bound>(); }
TYPED_TEST(WorkerSweepRuns, SkynetVerifiesAtEveryK) { run_sweep<TypeParam, cb::wl::skynet>(); }

}  // namespace
