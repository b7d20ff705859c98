// The runtime x workload product: which pairs a profile runs, which are
// declared unable to run (and why), and what the results say about the
// runtimes and counters. Generic over the lists, so a test can run the same
// code with a runtime of its own added (bench/tests/product_test.cpp); the
// binary uses the registry's all_runtimes and all_workloads.
#pragma once

#include <span>
#include <string>
#include <tuple>
#include <vector>

#include "runtimes/core/availability.hpp"
#include "runtimes/core/context.hpp"
#include "runtimes/core/traits.hpp"
#include "workloads/idle_memory.hpp"
#include "workloads/run.hpp"
#include "workloads/workload.hpp"

namespace cb {

struct declared_pair {
    std::string workload, runtime, params, reason;
    // workload/runtime/params, as a benchmark would be named (no params: a
    // max_tasks probe, named max_tasks/runtime).
    std::string name() const { return workload + "/" + runtime + (params.empty() ? "" : "/" + params); }
};

// The limits profile runs only the max_tasks probes.
constexpr bool measures_workloads(profile p) { return p != profile::limits; }

// One max_tasks probe: its benchmark name and the idle_memory parameters
// besides the task count. Every profile probes each runtime at its default
// stack; the limits profile also probes every stack size a runtime with
// sized_stacks sweeps (idle_memory::stack_sweep), named
// max_tasks/RUNTIME/stack:SIZE/guard:yes|no.
struct probe_variant {
    std::string name;
    std::string params;  // the name after max_tasks/RUNTIME/: "" or "stack:8k/guard:yes"
    wl::idle_memory::params proto;
};

// W is a parameter only so that the stack sweep is looked up when used.
template <class R, class W = wl::idle_memory>
std::vector<probe_variant> probe_variants(profile prof) {
    const std::string base = "max_tasks/" + std::string(R::traits.name);
    std::vector<probe_variant> out{{base, "", typename W::params{}}};
    if constexpr (sweeps_stacks<W>) {
        if (prof != profile::limits) return out;
        for (const auto& [bytes, guard] : W::stack_sweep(R::traits)) {
            typename W::params p{};
            p.stack_bytes = bytes;
            p.stack_guard = guard;
            // The label's parts after the task count: "stack:8k/guard:yes".
            const std::string label = p.label();
            const std::string params = label.find('/') == std::string::npos ? "" : label.substr(label.find('/') + 1);
            out.push_back({params.empty() ? base : base + "/" + params, params, p});
        }
    }
    return out;
}

// Every pair a profile would run, for --list and the families.
struct planned_pair {
    std::string name, runtime;
    bool deterministic;  // counted in instructions by --instructions
    int max_repetitions = 0;  // the workload's cap on repetitions (0: as asked)
};

template <class Runtimes, class Workloads>
struct product;

template <class... R, class... W>
struct product<std::tuple<R...>, std::tuple<W...>> {
    static_assert((runtime<R> && ...), "every registered runtime must satisfy the runtime concept");
    static_assert((workload<W> && ...), "every registered workload must satisfy the workload concept");

    // Calls f.template operator()<R, W>() for every pair, runtimes outermost.
    template <class F>
    static void for_each_pair(F&& f) {
        (each_workload<R>(f), ...);
    }

    // Instruction counts repeat exactly only where one thread runs every task
    // and the workload waits on nothing outside the process.
    template <class Rt, class Wl>
    static constexpr bool deterministic() {
        return deterministic_workload<Wl> && !Rt::traits.multi_core;
    }

    static std::vector<runtime_traits> traits() { return {R::traits...}; }

    static std::vector<std::string> runtime_names() { return {std::string(R::traits.name)...}; }

    // Every counter any workload declares, first declaration first.
    static std::vector<counter_meta> workload_counters() {
        std::vector<counter_meta> out;
        auto add = [&](std::span<const counter_meta> cs) {
            for (const counter_meta& c : cs) {
                bool seen = false;
                for (const counter_meta& o : out) seen = seen || o.name == c.name;
                if (!seen) out.push_back(c);
            }
        };
        (add(std::span<const counter_meta>(W::counter_info)), ...);
        return out;
    }

    // "" or "RUNTIME unavailable: why" (may_be_unavailable, core/context.hpp).
    template <class Rt>
    static std::string unavailable() {
        std::string why = unavailable_reason<Rt>();
        return why.empty() ? why : std::string(Rt::traits.name) + " unavailable: " + why;
    }

    // "" or why the pair cannot run: the runtime unavailable on this machine
    // (may_be_unavailable, core/context.hpp), else the workload's own reason.
    // A runtime that is another I/O backend of a loop measured already
    // (io_backend_variant, core/traits.hpp: coroutines_poll, coroutines_uring)
    // runs only the workloads that wait in the reactor (io_workload,
    // workloads/workload.hpp): its other entries are the same loop code as
    // the base backend's (a channel hand-off or a spawn never reaches the
    // backend), and the profiles' budgets are minutes. The workload tests
    // run every workload on every backend, outside this product.
    template <class Rt, class Wl>
    static std::string why_not(const typename Wl::params& p, profile) {
        if (std::string why = unavailable<Rt>(); !why.empty()) return why;
        if constexpr (io_backend_variant(Rt::traits) && !io_workload<Wl>)
            return "another I/O backend of the same loop: a workload that never waits in the reactor runs the same "
                   "code as the original backend's";
        return Wl::unsupported(Rt::traits, p);
    }

    // "" or why the max_tasks probes do not run for Rt: an unavailable
    // runtime cannot hold a task, and an I/O backend variant's tasks are the
    // base loop's coroutine frames (the same capacity). Declared with this
    // reason, so that every runtime has max_tasks measured or declared.
    template <class Rt>
    static std::string why_no_probe(profile) {
        if (std::string why = unavailable<Rt>(); !why.empty()) return why;
        if constexpr (io_backend_variant(Rt::traits))
            return "another I/O backend of the same loop: its tasks are the same coroutine frames as the original "
                   "backend's, so it holds as many";
        return {};
    }

    template <class Rt>
    static bool probes(profile prof) {
        return why_no_probe<Rt>(prof).empty();
    }

    static std::vector<declared_pair> declared(profile prof) {
        std::vector<declared_pair> out;
        if (measures_workloads(prof))
            for_each_pair([&]<class Rt, class Wl>() {
                for (const auto& p : Wl::sizes(prof, Rt::traits))
                    if (auto why = why_not<Rt, Wl>(p, prof); !why.empty())
                        out.push_back({std::string(Wl::name), std::string(Rt::traits.name), p.label(), why});
            });
        (
            [&] {
                if (std::string why = why_no_probe<R>(prof); !why.empty())
                    for (const probe_variant& v : probe_variants<R>(prof))
                        out.push_back({"max_tasks", std::string(R::traits.name), v.params, why});
            }(),
            ...);
        return out;
    }

    static std::vector<planned_pair> planned(profile prof) {
        std::vector<planned_pair> out;
        for_each_pair([&]<class Rt, class Wl>() {
            if (!measures_workloads(prof)) return;
            for (const auto& p : Wl::sizes(prof, Rt::traits))
                if (why_not<Rt, Wl>(p, prof).empty())
                    out.push_back({bench_name<Wl>(Rt::traits.name, p), std::string(Rt::traits.name),
                                   deterministic<Rt, Wl>(), repetitions_cap<Wl>(p)});
        });
        (
            [&] {
                if (probes<R>(prof))
                    for (const probe_variant& v : probe_variants<R>(prof))
                        out.push_back({v.name, std::string(R::traits.name), false, 1});
            }(),
            ...);
        return out;
    }

private:
    template <class Rt, class F>
    static void each_workload(F& f) {
        (f.template operator()<Rt, W>(), ...);
    }
};

}  // namespace cb
