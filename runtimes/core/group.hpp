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

// n tasks body(ctx, i) of a blocking runtime, each run to its end by
// run_blocking where `start` puts it: start(each) calls each(i) once for
// every i in [0, n), in place, on a thread or on a fiber, and returns when
// all have. The results in order, or the first error.
template <class Body, class Ctx, class Start>
std::vector<std::uint64_t> run_each(std::size_t n, Body& body, Ctx& ctx, Start&& start) {
    std::vector<result_slot> slots(n);
    start([&](std::size_t i) { run_blocking(body, ctx, i, slots[i]); });
    return collect(slots);
}

// The n top-level tasks of a run, on a context Ctx made for it that knows
// the run's options and size (its park barrier and nested spawns read them).
template <class Ctx, class Body, class Options, class Start>
std::vector<std::uint64_t> run_top_level(std::size_t n, Body& body, const Options& opts, Start&& start) {
    Ctx ctx;
    ctx.opts = &opts;
    ctx.tasks = n;
    return run_each(n, body, ctx, start);
}

inline std::uint64_t sum(const std::vector<std::uint64_t>& v) {
    std::uint64_t s = 0;
    for (auto x : v) s += x;
    return s;
}

}  // namespace cb
