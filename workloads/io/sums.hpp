// Reading a measurement's per-workload sums back in report(): a missing sum
// is 0, a mean is over the runs, a ratio of nothing is 0.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>

#include "workloads/workload.hpp"

namespace cb::wl {

struct sums_of {
    const measurement& m;
    double operator()(std::string_view key) const {
        const auto it = m.sums.find(std::string(key));
        return it == m.sums.end() ? 0.0 : it->second;
    }
    double runs() const { return static_cast<double>(std::max<std::uint64_t>(1, m.iterations)); }
    double mean(std::string_view key) const { return (*this)(key) / runs(); }
};

inline double ratio(double a, double b) { return b > 0 ? a / b : 0.0; }

}  // namespace cb::wl
