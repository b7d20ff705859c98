// Every workload under every runtime at test sizes, verified. A pair that
// cannot run must say why (its declared reason); it is skipped, not hidden.
#include <gtest/gtest.h>

#include "bench/harness.hpp"
#include "runtimes/registry.hpp"
#include "workloads/all.hpp"

namespace {

template <class Pair>
class Workloads : public ::testing::Test {};

template <class R, class W>
struct pair {
    using runtime = R;
    using workload = W;
};

// One list of every runtime x workload pair.
template <class T>
struct to_types;
template <class... Ws>
struct to_types<std::tuple<Ws...>> {
    using type = ::testing::Types<pair<cb::processes_runtime, Ws>..., pair<cb::threads_runtime, Ws>...,
                                  pair<cb::pool_runtime, Ws>..., pair<cb::fibers_runtime, Ws>...,
                                  pair<cb::coroutines_runtime, Ws>...>;
};
using Pairs = to_types<cb::wl::all_workloads>::type;

struct pair_names {
    template <class P>
    static std::string GetName(int) {
        return std::string(P::workload::name) + "_" + std::string(P::runtime::name);
    }
};
TYPED_TEST_SUITE(Workloads, Pairs, pair_names);

TYPED_TEST(Workloads, RunsAndVerifiesAtTestSize) {
    using R = typename TypeParam::runtime;
    using W = typename TypeParam::workload;
    auto sizes = W::sizes(cb::profile::test, R::name);
    ASSERT_FALSE(sizes.empty());
    std::size_t ran = 0;
    for (const auto& p : sizes) {
        if (auto why = W::unsupported(R::name, p); !why.empty()) {
            std::cout << "declared: " << cb::bench_name<W>(R::name, p) << ": " << why << "\n";
            continue;
        }
        cb::measurement m;
        cb::run_result r = cb::run_once<R, W>(p, m);
        EXPECT_EQ(r.error, "") << cb::bench_name<W>(R::name, p);
        auto c = W::report(p, m);
        EXPECT_FALSE(c.empty());
        // Memory counters are deltas of system-wide readings and may dip
        // below zero by noise; everything else is a time or a count.
        for (auto& [k, v] : c)
            EXPECT_TRUE(std::isfinite(v) && (v >= 0 || k.ends_with("_per_task"))) << k << " = " << v;
        ++ran;
    }
    if (ran == 0) GTEST_SKIP() << "every size declared unsupported for " << R::name;
}

}  // namespace
