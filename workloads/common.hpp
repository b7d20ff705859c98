// Small helpers shared by workloads. Nothing here knows a runtime.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "bench/workload.hpp"
#include "runtimes/core/task.hpp"

namespace cb::wl {

inline unsigned cpu_count() { return std::max(1u, std::thread::hardware_concurrency()); }

// True for runtimes that run every task on one OS thread.
inline bool single_threaded(std::string_view runtime) { return runtime == "fibers" || runtime == "coroutines"; }

// Picks a value by profile: test (tiny, for ctest), quick, full; ci uses quick.
template <class T>
T by_profile(profile p, T test, T quick, T full) {
    switch (p) {
        case profile::test: return test;
        case profile::full: return full;
        default: return quick;
    }
}

inline std::string expect_each(const std::vector<std::uint64_t>& res, std::uint64_t want, std::string_view what) {
    for (std::size_t i = 0; i < res.size(); ++i)
        if (res[i] != want)
            return std::string(what) + ": task " + std::to_string(i) + " returned " + std::to_string(res[i]) +
                   ", expected " + std::to_string(want);
    return {};
}

}  // namespace cb::wl
