// Small helpers shared by workloads. Nothing here knows a runtime.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <algorithm>
#include <thread>
#include <vector>

#include "workloads/workload.hpp"
#include "runtimes/core/task.hpp"
#include "runtimes/core/traits.hpp"

namespace cb::wl {

inline unsigned cpu_count() { return std::max(1u, std::thread::hardware_concurrency()); }

// Sizes follow a runtime's traits, never its name. By cost: what creating a
// task costs (a fork, an OS thread, a user-space context or pool task, a
// frame). By stack: what a live, waiting task holds, which bounds how many
// can wait at once.
template <class T>
T by_cost(const runtime_traits& t, T heavy, T medium, T light, T tiny) {
    switch (t.cost) {
        case cost_class::heavy: return heavy;
        case cost_class::medium: return medium;
        case cost_class::light: return light;
        case cost_class::tiny: return tiny;
    }
    return medium;
}
template <class T>
T by_stack(const runtime_traits& t, T process, T os_thread, T per_suspended_task, T fixed_user_stack, T stackless) {
    switch (t.stack) {
        case stack_model::process: return process;
        case stack_model::os_thread: return os_thread;
        case stack_model::per_suspended_task: return per_suspended_task;
        case stack_model::fixed_user_stack: return fixed_user_stack;
        case stack_model::stackless: return stackless;
    }
    return os_thread;
}

// For workloads whose tasks wait for each other: under a runtime that runs
// each task to completion in turn, the first wait would never return.
inline std::string needs_concurrency(const runtime_traits& t, std::string_view what) {
    if (t.concurrent) return {};
    return std::string("tasks run to completion one after another: ") + std::string(what) + " would wait forever";
}

// The counter of a workload that measures time per operation in ns: the
// switch workloads' switch_ns (ping_pong, pipe_pong, yield_ring: one-way,
// a round trip counting as two operations) and spawn's spawn_ns. A workload
// W derives from ns_per_op<W, name> for its counter_info and report.
template <std::size_t N>
struct counter_name {
    char text[N];
    constexpr counter_name(const char (&s)[N]) {
        for (std::size_t i = 0; i < N; ++i) text[i] = s[i];
    }
    constexpr std::string_view view() const { return {text, N - 1}; }
};
template <class W, counter_name Name>
struct ns_per_op {
    static constexpr counter_meta counter_info[] = {{Name.view(), "ns", better::lower}};
    template <class P>
    static counters report(const P& p, const measurement& m) {
        return {{std::string(Name.view()), m.per_iteration() * 1e9 / W::ops(p)}};
    }
};

// The state of a workload whose tasks share nothing: built from the params
// (outside the clock, like any state), holding nothing. A workload says
// `template <class C> using state = no_state<C, params>;`.
template <class C, class P>
struct no_state {
    explicit no_state(const P&) {}
};

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

// An AddressSanitizer build (bench/test.sh --sanitize): its -O0 frames with
// redzones are several times larger, so small task stacks overflow there
// that hold in the measured build. Workloads declare such sizes unsupported.
#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool address_sanitized = true;
#else
inline constexpr bool address_sanitized = false;
#endif
inline constexpr std::size_t sanitized_min_stack = 64 * 1024;

// Speed-up against a reference run earlier in the same process (a family
// runs its benchmarks one after another): the reference's seconds are kept
// under its key, which names what must be equal (runtime, sizes), and any
// run under that key then has speedup = reference seconds / its own (1 for
// the reference itself); none before the reference ran.
template <class Key>
struct speedup_memo {
    std::map<Key, double> seconds;
    std::optional<double> record(const Key& key, bool is_reference, double run_seconds) {
        if (is_reference) seconds[key] = run_seconds;
        const auto it = seconds.find(key);
        if (it == seconds.end() || run_seconds <= 0) return std::nullopt;
        return it->second / run_seconds;
    }
};

}  // namespace cb::wl
