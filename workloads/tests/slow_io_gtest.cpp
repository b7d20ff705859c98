// slow_io (workloads/slow_io.hpp): its grid and labels, its counters, that
// verify() catches a wrong count, and, under every runtime, that the
// upstream wait really happens (p50 >= L) and that throughput stays within
// Little's law (N requests in flight, each held at least L: at most N / L).
#include <gtest/gtest.h>

#include <cmath>
#include <set>
#include <string>

#include <unistd.h>

#include "runtimes/tests/test_registry.hpp"
#include "workloads/all.hpp"
#include "workloads/run.hpp"
#include "workloads/tests/typed_runtimes.hpp"

namespace {

namespace wl = cb::wl;
using W = wl::slow_io;

TEST(SlowIo, LabelsNameTheLatencyReadably) {
    EXPECT_EQ(W::latency_label(0), "0us");
    EXPECT_EQ(W::latency_label(100), "100us");
    EXPECT_EQ(W::latency_label(1000), "1ms");
    EXPECT_EQ(W::latency_label(10'000), "10ms");
    EXPECT_EQ(W::latency_label(100'000), "100ms");
    EXPECT_EQ(W::latency_label(1500), "1500us");
    EXPECT_EQ(W::latency_label(2'000'000), "2s");
    EXPECT_EQ((W::params{1000, 10, 5}).label(), "upstream:1ms/conns:10");
}

TEST(SlowIo, FullProfileIsTheWholeGridAndHeavyRuntimesStopAt1000) {
    std::set<std::string> want;
    for (const char* l : {"0us", "100us", "1ms", "100ms"})
        for (int n : {1, 10, 100, 1000, 10000}) want.insert(std::string("upstream:") + l + "/conns:" + std::to_string(n));
    cb::for_each_runtime([&](auto r) {
        using R = decltype(r);
        std::set<std::string> got;
        for (const auto& p : W::sizes(cb::profile::full, R::traits)) {
            got.insert(p.label());
            const std::string why = W::unsupported(R::traits, p);
            if (R::traits.cost == cb::cost_class::heavy && p.conns > W::heavy_max_conns) {
                EXPECT_NE(why, "") << R::traits.name << " " << p.label() << " must be declared";
            }
        }
        EXPECT_EQ(got, want) << R::traits.name;
    });
    // The quick profile is a subset of the grid.
    for (const auto& p : W::sizes(cb::profile::quick, cb::coroutines_runtime::traits))
        EXPECT_TRUE(want.count(p.label())) << p.label();
}

TEST(SlowIo, RoundsGiveEveryCellAPercentile) {
    for (auto pr : {cb::profile::quick, cb::profile::full})
        for (const auto& p : W::sizes(pr, cb::threads_runtime::traits)) {
            EXPECT_GE(p.requests, W::min_rounds) << p.label();
            if (p.conns <= 10) {
                EXPECT_GE(p.requests, 10u) << p.label();
            }
            if (p.upstream_us == 0) {
                EXPECT_GE(p.conns * p.requests, 10000u) << p.label();
            }
        }
    // Full: about 0.4 s of waiting a connection, but 10 round trips for few connections.
    EXPECT_EQ(W::rounds(100'000, 1, 10'000, 400'000), 10u);
    EXPECT_EQ(W::rounds(100'000, 100, 10'000, 400'000), 5u);
    EXPECT_EQ(W::rounds(100'000, 10'000, 10'000, 400'000), W::min_rounds);
    EXPECT_EQ(W::rounds(1000, 1, 10'000, 400'000), 400u);
    EXPECT_EQ(W::rounds(0, 1, 10'000, 400'000), 10'000u);
    EXPECT_EQ(W::rounds(0, 1000, 10'000, 400'000), 10u);
}

TEST(SlowIo, ReportComputesIdealAndUpstream) {
    cb::measurement m;
    m.iterations = 2;
    m.sums = {{"requests", 4000}, {"client_s", 2}, {"p50_us", 2000}, {"p99_us", 4000},
              {"client_cpu_s", 1}, {"server_cpu_ns", 8e6}};
    auto c = W::report({10'000, 100, 20}, m);
    EXPECT_DOUBLE_EQ(c["req_per_s"], 2000);
    EXPECT_DOUBLE_EQ(c["p50_us"], 1000);
    EXPECT_DOUBLE_EQ(c["p99_us"], 2000);
    EXPECT_DOUBLE_EQ(c["client_cpu_frac"], 0.5);
    EXPECT_DOUBLE_EQ(c["server_cpu_ns_per_req"], 2000);
    EXPECT_DOUBLE_EQ(c["ideal_req_per_s"], 10'000);  // 100 in flight, 10 ms each
    EXPECT_DOUBLE_EQ(c["upstream_us"], 10'000);
    EXPECT_DOUBLE_EQ(W::report({0, 100, 20}, m)["ideal_req_per_s"], 0);
}

TEST(SlowIo, VerifyChecksServedCounts) {
    W::params p{1000, 2, 5};
    W::state<cb::coro_context> s(p);
    auto res = cb::testing::run_tasks<cb::coroutines_runtime, W>(s, p);
    EXPECT_EQ(W::verify(s, p, res), "");
    res[1] = 4;
    EXPECT_NE(W::verify(s, p, res), "");
    res.pop_back();
    EXPECT_NE(W::verify(s, p, res), "");
}

// ---- under every runtime ---------------------------------------------------

template <class R>
class SlowIoUnder : public cb::testing::alarmed<R> {};
using Runtimes = decltype(cb::testing::types_of(cb::testing::test_runtimes{}));
TYPED_TEST_SUITE(SlowIoUnder, Runtimes, cb::testing::runtime_names);

// The harness's own run (what the benchmark measures) at test sizes: every
// request answered and checked, the counters declared and what they say.
TYPED_TEST(SlowIoUnder, RunsAndVerifiesAtTestSize) {
    using R = TypeParam;
    std::size_t ran = 0;
    for (const auto& p : W::sizes(cb::profile::test, R::traits)) {
        if (auto why = W::unsupported(R::traits, p); !why.empty()) {
            std::cout << "declared: " << cb::bench_name<W>(R::traits.name, p) << ": " << why << "\n";
            continue;
        }
        cb::measurement m;
        const cb::run_result r = cb::run_once<R, W>(p, m);
        ASSERT_EQ(r.error, "") << p.label();
        EXPECT_DOUBLE_EQ(m.sums["requests"], W::ops(p));
        auto c = W::report(p, m);
        for (const cb::counter_meta& meta : W::counter_info)
            EXPECT_TRUE(c.count(std::string(meta.name))) << meta.name << " declared but not reported";
        EXPECT_EQ(c.size(), std::size(W::counter_info));
        for (auto& [k, v] : c) EXPECT_TRUE(std::isfinite(v) && v >= 0) << k << " = " << v;
        EXPECT_GT(c["req_per_s"], 0);
        EXPECT_GE(c["p99_us"], c["p50_us"]);
        EXPECT_DOUBLE_EQ(c["upstream_us"], static_cast<double>(p.upstream_us));
        if (p.upstream_us) {
            EXPECT_GE(c["p50_us"], static_cast<double>(p.upstream_us) * 0.99) << p.label();
        }
        ++ran;
    }
    if (ran == 0) GTEST_SKIP() << "every size declared unsupported for " << R::traits.name;
}

// L = 20 ms, N = 10: each round trip waits the upstream (p50 >= 20 ms), and
// ten requests in flight that each take at least 20 ms cannot exceed
// 10 / 20 ms = 500 req/s (Little's law). Not a speed test: both bounds hold
// however slow the machine; only a wait that did not happen breaks them.
TYPED_TEST(SlowIoUnder, UpstreamWaitHappensAndLittlesLawBounds) {
    using R = TypeParam;
    const W::params p{20'000, 10, 10};
    if (auto why = W::unsupported(R::traits, p); !why.empty()) GTEST_SKIP() << "declared: " << why;
    cb::measurement m;
    const cb::run_result r = cb::run_once<R, W>(p, m);
    ASSERT_EQ(r.error, "");
    auto c = W::report(p, m);
    // 1%: room for a percentile read from a histogram bucket.
    EXPECT_GE(c["p50_us"], 20'000 * 0.99);
    EXPECT_GE(c["p99_us"], c["p50_us"]);
    EXPECT_DOUBLE_EQ(c["ideal_req_per_s"], 500);
    EXPECT_LE(c["req_per_s"], c["ideal_req_per_s"] * 1.01);
    EXPECT_GT(c["req_per_s"], 0);
    // Each connection waited 10 x 20 ms one after another.
    EXPECT_GE(r.seconds, 0.2 * 0.99);
}

}  // namespace
