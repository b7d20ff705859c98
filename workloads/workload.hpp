// What the harness needs from a workload, and what it gives back.
//
// A workload is a struct with (checked by the `workload` concept below):
//   name                       "ping_pong"
//   params                     a value type; params.label() gives "key:value/..."
//   sizes(profile, traits)     the params a profile runs for a runtime, chosen
//                              from its traits (cost, stack, multi_core), never its name
//   unsupported(traits, p)     "" or the reason the pair cannot run (declared)
//   counter_info               the counters report() may give: unit, better direction
//   tasks(p)                   how many top-level tasks
//   ops(p)                     operations per run (the unit of *_per_op counters)
//   state<C>                   built from p before each run, outside the clock
//   body(ctx, state, i)        one task, a coroutine written against the context
//   verify(state, p, results)  "" or what is wrong with the results
//   report(p, measurement)     the workload's own counters
// and optionally options(p, state) for pinning and park hooks, collect(...) to
// keep per-run numbers, iterations(p) to fix the iteration count.
#pragma once

#include <cstdint>
#include <utility>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <concepts>
#include <span>
#include <string_view>

#include "runtimes/core/context.hpp"
#include "runtimes/core/traits.hpp"

namespace cb {

// limits: no workload pairs, only the max_tasks probes, grown until the
// machine's own wall or the memory budget (bench/probe.hpp).
enum class profile { test, quick, full, ci, limits };

inline std::string_view profile_name(profile p) {
    switch (p) {
        case profile::test: return "test";
        case profile::quick: return "quick";
        case profile::full: return "full";
        case profile::ci: return "ci";
        case profile::limits: return "limits";
    }
    return "?";
}

// Totals over the timed runs of one benchmark.
struct measurement {
    double seconds = 0;          // timed wall-clock, all iterations
    std::uint64_t iterations = 0;
    std::map<std::string, double> sums;   // per-workload accumulators
    std::vector<double> samples;          // per-workload samples (latencies, ...)
    std::size_t workers = 0;              // runtimes with several workers: how many the runs used
    double per_iteration() const { return iterations ? seconds / static_cast<double>(iterations) : 0; }
};

using counters = std::map<std::string, double>;

// What a counter means, for the results' metadata (context.counters): the
// charts and the regression gate read units and directions from there.
enum class better { lower, higher, none };
struct counter_meta {
    std::string_view name, unit;
    better direction;
    // The smallest step of the total behind the counter (in the counter's
    // unit times operations), and whether the counter is that total divided
    // by the entry's "ops": its resolution in one entry is quantum / ops. 0:
    // no stated resolution.
    double quantum = 0;
    bool per_op = false;
};

constexpr std::string_view to_string(better b) {
    return b == better::lower ? "lower" : b == better::higher ? "higher" : "none";
}

// The interface every workload offers the harness. Checked where workloads
// are registered (all.hpp), so a workload that drifts from it fails to
// compile there rather than deep inside a template.
template <class W>
concept workload = requires(profile pr, const runtime_traits& t, const typename W::params& p, const measurement& m) {
    { W::name } -> std::convertible_to<std::string_view>;
    { p.label() } -> std::convertible_to<std::string>;
    { W::sizes(pr, t) } -> std::same_as<std::vector<typename W::params>>;
    { W::unsupported(t, p) } -> std::convertible_to<std::string>;
    { W::tasks(p) } -> std::convertible_to<std::size_t>;
    { W::ops(p) } -> std::convertible_to<double>;
    { W::report(p, m) } -> std::convertible_to<counters>;
    { std::span<const counter_meta>(W::counter_info) };
};

// A workload whose body and state fit the context C of one runtime.
template <class W, class C>
concept workload_for = workload<W> && context<C> &&
    std::constructible_from<typename W::template state<C>, const typename W::params&> &&
    requires(C& c, typename W::template state<C>& s, const typename W::params& p, std::size_t i,
             const std::vector<std::uint64_t>& res) {
        { W::body(c, s, i, p) } -> std::same_as<task<std::uint64_t>>;
        { W::verify(std::as_const(s), p, res) } -> std::convertible_to<std::string>;
    };

}  // namespace cb
