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
// and optionally the hooks below the concept (options, collect, iterations,
// max_repetitions, deterministic, exercises_io, stack_sweep), each a named
// concept that the harness asks for by name.
//
// Adding a workload: a header here and its line in all.hpp.
#pragma once

#include <concepts>
#include <cstdint>
#include <map>
#include <ranges>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

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

// ---- Optional hooks ---------------------------------------------------------
// A workload without a hook gets the default said beside it.

// W::options(p, state) or W::options(p): the run_options of a run (CPUs to
// pin, a park hook, a worker count, a stack size). Without: the defaults (no
// pinning, the runtime's own workers and stacks). workloads/run.hpp.
template <class W, class S>
concept options_from_state = requires(const typename W::params& p, S& s) {
    { W::options(p, s) } -> std::convertible_to<run_options>;
};
template <class W>
concept options_from_params = requires(const typename W::params& p) {
    { W::options(p) } -> std::convertible_to<run_options>;
};

// W::collect(state, p, results, m): after each verified run, keeps that
// run's own numbers in m.sums or m.samples, where report() finds them.
// Without: report() has only the timed seconds and iterations.
template <class W, class S>
concept collects = requires(S& s, const typename W::params& p, const std::vector<std::uint64_t>& res, measurement& m) {
    W::collect(s, p, res, m);
};

// W::iterations(p): a benchmark is this many timed runs, where one run is
// long or costly enough on its own. Without: the harness's minimum time
// (one run in the test profile). bench/families.cpp.
template <class W>
concept fixed_iterations = requires(const typename W::params& p) {
    { W::iterations(p) } -> std::convertible_to<std::int64_t>;
};

// W::max_repetitions(p): at most this many repetitions of a benchmark,
// whatever --repetitions asks (a large grid of long runs). Without: as asked.
template <class W>
concept caps_repetitions = requires(const typename W::params& p) {
    { W::max_repetitions(p) } -> std::convertible_to<int>;
};
// The cap, or 0 for none.
template <class W>
int repetitions_cap(const typename W::params& p) {
    if constexpr (caps_repetitions<W>) return W::max_repetitions(p);
    else return 0;
}

// W::deterministic = true: nothing in a run waits on the OS, so under a
// runtime whose one thread runs every task its instruction count repeats
// exactly and --instructions counts it (bench/product.hpp). Without: never
// counted. A workload says so by deriving from deterministic_runs.
template <class W>
concept deterministic_workload = requires { requires W::deterministic; };

struct deterministic_runs {
    static constexpr bool deterministic = true;
};

// W::exercises_io = true: the tasks wait in the runtime's reactor (fds, not
// only channels), so an I/O backend variant (traits.hpp) runs it too; the
// variants' other pairs are the base loop's code again and are declared
// (bench/product.hpp). Without: not run on the variants.
template <class W>
concept io_workload = requires { requires W::exercises_io; };

// W::stack_sweep(traits): the (stack bytes, guard) pairs the limits profile
// also probes max_tasks at, for a runtime with sized_stacks
// (bench/product.hpp, probe_variants). Without: the default stacks only.
template <class W>
concept sweeps_stacks = requires(const runtime_traits& t) {
    { W::stack_sweep(t) } -> std::ranges::range;
};

}  // namespace cb
