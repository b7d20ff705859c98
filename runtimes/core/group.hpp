// Bookkeeping shared by the runtimes for a group of n tasks: one result slot a
// task, and the rule for turning slots into results or the first error.
#pragma once

#include <cstdint>
#include <exception>
#include <stdexcept>
#include <vector>

#include "task.hpp"

namespace cb {

struct result_slot {
    std::uint64_t value = 0;
    std::exception_ptr error;
};

// Runs one body to completion where every awaitable is already complete
// (blocking runtimes): the eager task must be done when the call returns.
template <class Body, class Ctx>
void run_blocking(Body& body, Ctx& ctx, std::size_t i, result_slot& slot) noexcept {
    try {
        task<std::uint64_t> t = body(ctx, i);
        if (!t.done()) throw std::logic_error("a blocking runtime's task suspended: an awaitable was not ready");
        slot.value = t.get();
    } catch (...) {
        slot.error = std::current_exception();
    }
}

inline std::vector<std::uint64_t> collect(std::vector<result_slot>& slots) {
    std::vector<std::uint64_t> out;
    out.reserve(slots.size());
    for (auto& s : slots) {
        if (s.error) std::rethrow_exception(s.error);
        out.push_back(s.value);
    }
    return out;
}

inline std::uint64_t sum(const std::vector<std::uint64_t>& v) {
    std::uint64_t s = 0;
    for (auto x : v) s += x;
    return s;
}

}  // namespace cb
