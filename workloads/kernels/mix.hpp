// The CPU-bound kernel: a fixed amount of integer mixing per unit of work,
// deterministic and free of memory traffic, so its cost is pure CPU. The sum
// over units does not depend on how units are split between tasks, which is
// what lets verify() check any split against one reference.
#pragma once

#include <cstdint>

#include "runtimes/core/inject.hpp"

namespace cb::kernels {

inline constexpr int rounds_per_unit = 256;


inline std::uint64_t splitmix(std::uint64_t x) {
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

inline std::uint64_t unit(std::uint64_t u) {
    std::uint64_t x = u;
    for (int r = 0; r < rounds_per_unit; ++r) x = splitmix(x);
    for (int k = 0; k < injected_work; ++k) x = splitmix(x) ^ x;  // ~1/256 of a unit each
    return x;
}

inline std::uint64_t range(std::uint64_t first, std::uint64_t last) {
    std::uint64_t s = 0;
    for (std::uint64_t u = first; u < last; ++u) s += unit(u);
    return s;
}

}  // namespace cb::kernels
