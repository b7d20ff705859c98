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
