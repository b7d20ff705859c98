// log_histogram (workloads/io/histogram.hpp) against a sorted-array oracle:
// every percentile within the stated relative error, max/min/count exact,
// merge equal to recording everything in one.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "workloads/io/histogram.hpp"

namespace {

using cb::wl::log_histogram;

// The nearest-rank quantile of the data: the ceil(q*n)-th smallest (the
// smallest for q = 0).
std::uint64_t oracle(const std::vector<std::uint64_t>& sorted, double q) {
    const double want = q * static_cast<double>(sorted.size());
    std::uint64_t rank = static_cast<std::uint64_t>(want);
    if (static_cast<double>(rank) < want) ++rank;
    rank = std::clamp<std::uint64_t>(rank, 1, sorted.size());
    return sorted[rank - 1];
}

const double quantiles[] = {0, 0.001, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.995, 0.999, 0.9999, 1};

void check(std::vector<std::uint64_t> v, const char* what) {
    log_histogram h;
    for (auto x : v) h.record(x);
    std::sort(v.begin(), v.end());
    ASSERT_EQ(h.count(), v.size()) << what;
    EXPECT_EQ(h.max(), v.back()) << what;
    EXPECT_EQ(h.min(), v.front()) << what;
    for (double q : quantiles) {
        const std::uint64_t want = oracle(v, q), got = h.percentile(q);
        const double err = std::abs(static_cast<double>(got) - static_cast<double>(want));
        EXPECT_LE(err, static_cast<double>(want) * log_histogram::relative_error)
            << what << ": q=" << q << " histogram " << got << " oracle " << want;
    }
    EXPECT_EQ(h.percentile(1), v.back()) << what;
}

TEST(Histogram, BucketsTileTheRangeWithBoundedWidth) {
    // Every bucket starts where the previous one ends, and is at most 1/64 of
    // its lower bound wide; index() maps both ends of a bucket to it.
    for (std::size_t i = 1; i < log_histogram::bucket_count; ++i) {
        ASSERT_EQ(log_histogram::lower(i), log_histogram::lower(i - 1) + log_histogram::width(i - 1)) << i;
        ASSERT_EQ(log_histogram::index(log_histogram::lower(i)), i);
        ASSERT_EQ(log_histogram::index(log_histogram::lower(i) + log_histogram::width(i) - 1), i);
        if (i >= log_histogram::sub_count) {
            ASSERT_LE(log_histogram::width(i) * log_histogram::sub_count, log_histogram::lower(i)) << i;
        }
    }
    EXPECT_EQ(log_histogram::index(std::numeric_limits<std::uint64_t>::max()), log_histogram::bucket_count - 1);
}

TEST(Histogram, UniformRandom) {
    std::mt19937_64 g(1);
    std::uniform_int_distribution<std::uint64_t> d(0, 10'000'000);
    std::vector<std::uint64_t> v(200'000);
    for (auto& x : v) x = d(g);
    check(v, "uniform");
}

TEST(Histogram, HeavyTailed) {
    std::mt19937_64 g(2);
    std::lognormal_distribution<double> ln(10, 2);  // median ~22 us, tail to seconds
    std::vector<std::uint64_t> v(200'000);
    for (auto& x : v) x = static_cast<std::uint64_t>(ln(g));
    check(v, "lognormal");
    // Pareto-like: a few enormous values among many small ones.
    std::uniform_real_distribution<double> u(1e-9, 1);
    for (auto& x : v) x = static_cast<std::uint64_t>(1000.0 / std::pow(u(g), 1.2));
    check(v, "pareto");
}

TEST(Histogram, Edges) {
    check({0}, "one zero");
    check({std::numeric_limits<std::uint64_t>::max()}, "one max");
    check({0, std::numeric_limits<std::uint64_t>::max()}, "both ends");
    check(std::vector<std::uint64_t>(1000, 12345), "constant");
    std::vector<std::uint64_t> small;
    for (std::uint64_t x = 0; x < 200; ++x) small.push_back(x);
    check(small, "0..199");
    std::vector<std::uint64_t> powers;
    for (unsigned k = 0; k < 64; ++k) {
        powers.push_back(1ull << k);
        powers.push_back((1ull << k) - 1);
    }
    check(powers, "powers of two and one less");
    // One outlier: p99.9 of 1000 values is the 999th, max the outlier.
    std::vector<std::uint64_t> spike(999, 50'000);
    spike.push_back(100'000'000);
    check(spike, "one stall");
    log_histogram h;
    for (auto x : spike) h.record(x);
    EXPECT_EQ(h.max(), 100'000'000u);
    EXPECT_LT(h.percentile(0.999), 60'000u);
}

TEST(Histogram, EmptyAndMerge) {
    log_histogram e;
    EXPECT_EQ(e.count(), 0u);
    EXPECT_EQ(e.max(), 0u);
    EXPECT_EQ(e.percentile(0.5), 0u);
    std::mt19937_64 g(3);
    std::lognormal_distribution<double> ln(12, 1.5);
    log_histogram a, b, all;
    std::vector<std::uint64_t> v;
    for (int i = 0; i < 50'000; ++i) {
        const auto x = static_cast<std::uint64_t>(ln(g));
        (i % 3 ? a : b).record(x);
        all.record(x);
        v.push_back(x);
    }
    a.merge(b);
    a.merge(e);
    EXPECT_EQ(a.count(), all.count());
    EXPECT_EQ(a.max(), all.max());
    EXPECT_EQ(a.min(), all.min());
    for (double q : quantiles) EXPECT_EQ(a.percentile(q), all.percentile(q)) << q;
    // Merging adds buckets: every one equals recording all in one.
    for (std::size_t i = 0; i < log_histogram::bucket_count; ++i) ASSERT_EQ(a.bucket(i), all.bucket(i)) << i;
    a.record(7, 0);  // zero times: nothing
    EXPECT_EQ(a.count(), all.count());
    a.reset();
    EXPECT_EQ(a.count(), 0u);
}

}  // namespace
