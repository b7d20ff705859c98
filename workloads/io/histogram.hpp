// A small log-linear latency histogram in the manner of HdrHistogram: values
// (nanoseconds, any std::uint64_t) below 64 are counted exactly; above, each
// power-of-two range [2^k, 2^(k+1)) is split linearly into 64 sub-buckets of
// width 2^(k-6). A bucket is at most 1/64 of its lower bound wide, and a
// percentile is reported as its bucket's midpoint (clamped to the exact min
// and max), so it is within 1/128 (0.78%) of the true order statistic:
// relative_error below. Fixed size (3,776 counters, 30 KiB), no allocation
// after construction, O(1) record, O(buckets) percentile.
//
// Why in-tree: Debian 12 packages no HdrHistogram for C or C++ (apt-cache
// search hdrhistogram: only libhdrhistogram-java and a Go port), and the
// open-loop generator (bench/programs/generator/) needs to record millions of
// latencies without keeping them. Tested against a sorted-array oracle in
// workloads/tests/histogram_gtest.cpp.
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>
#include <limits>

namespace cb::wl {

class log_histogram {
public:
    static constexpr unsigned sub_bits = 6;
    static constexpr std::uint64_t sub_count = 1ull << sub_bits;  // 64 sub-buckets per power of two
    // Buckets: 64 exact values, then 64 for each k in [6, 63].
    static constexpr std::size_t bucket_count = sub_count + (64 - sub_bits) * sub_count;
    // The most a reported percentile differs from the true one, relative to it.
    static constexpr double relative_error = 1.0 / (2.0 * static_cast<double>(sub_count));

    void record(std::uint64_t v) noexcept { record(v, 1); }
    void record(std::uint64_t v, std::uint64_t times) noexcept {
        if (times == 0) return;
        counts_[index(v)] += times;
        count_ += times;
        min_ = std::min(min_, v);
        max_ = std::max(max_, v);
    }
    // Exact: the same buckets, so merging adds counts; the merged
    // percentiles are those of recording every value in one histogram.
    void merge(const log_histogram& o) noexcept {
        if (o.count_ == 0) return;
        for (std::size_t i = 0; i < bucket_count; ++i) counts_[i] += o.counts_[i];
        count_ += o.count_;
        min_ = std::min(min_, o.min_);
        max_ = std::max(max_, o.max_);
    }
    void reset() noexcept { *this = log_histogram{}; }
    // What a report needs to carry the histogram whole (the generator's
    // --report-out): bucket i's count; from_buckets() is record() in bulk.
    [[nodiscard]] std::uint64_t bucket(std::size_t i) const noexcept { return counts_[i]; }

    [[nodiscard]] std::uint64_t count() const noexcept { return count_; }
    [[nodiscard]] std::uint64_t max() const noexcept { return count_ ? max_ : 0; }
    [[nodiscard]] std::uint64_t min() const noexcept { return count_ ? min_ : 0; }

    // The nearest-rank q-quantile (q in [0, 1]: the ceil(q*n)-th smallest
    // value, the smallest for q = 0), within relative_error; exact at q = 1
    // and wherever a bucket holds one value. 0 when empty.
    [[nodiscard]] std::uint64_t percentile(double q) const noexcept {
        if (count_ == 0) return 0;
        q = std::clamp(q, 0.0, 1.0);
        // ceil without floating error pushing an exact product up a rank.
        const double want = q * static_cast<double>(count_);
        std::uint64_t rank = static_cast<std::uint64_t>(want);
        if (static_cast<double>(rank) < want) ++rank;
        rank = std::clamp<std::uint64_t>(rank, 1, count_);
        if (rank == count_) return max_;
        std::uint64_t seen = 0;
        for (std::size_t i = 0; i < bucket_count; ++i) {
            seen += counts_[i];
            if (seen >= rank) return std::clamp(midpoint(i), min_, max_);
        }
        return max_;
    }

    // The bucket of v and the bucket's range [lower(i), lower(i) + width(i)).
    [[nodiscard]] static constexpr std::size_t index(std::uint64_t v) noexcept {
        if (v < sub_count) return static_cast<std::size_t>(v);
        const unsigned k = 63u - static_cast<unsigned>(std::countl_zero(v));  // 2^k <= v, k >= 6
        const std::uint64_t sub = (v >> (k - sub_bits)) - sub_count;           // 0..63
        return static_cast<std::size_t>(sub_count + (k - sub_bits) * sub_count + sub);
    }
    [[nodiscard]] static constexpr std::uint64_t lower(std::size_t i) noexcept {
        if (i < sub_count) return i;
        const std::uint64_t k = (i - sub_count) / sub_count + sub_bits, sub = (i - sub_count) % sub_count;
        return (sub_count + sub) << (k - sub_bits);
    }
    [[nodiscard]] static constexpr std::uint64_t width(std::size_t i) noexcept {
        return i < sub_count ? 1 : 1ull << ((i - sub_count) / sub_count);
    }

private:
    static constexpr std::uint64_t midpoint(std::size_t i) noexcept { return lower(i) + width(i) / 2; }

    std::array<std::uint64_t, bucket_count> counts_{};
    std::uint64_t count_ = 0;
    std::uint64_t min_ = std::numeric_limits<std::uint64_t>::max();
    std::uint64_t max_ = 0;
};

}  // namespace cb::wl
