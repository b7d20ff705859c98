// Runtime traits: what a runtime is, declared once beside its code.
//
// The harness, the workloads and the charts ask these, never a runtime's
// name: how many tasks a workload runs (cost, stack), whether a cross-core
// hand-off can happen (multi_core), whether tasks can share a plain counter
// (shared_memory), whether tasks wait for each other (concurrent). The results
// JSON carries every runtime's traits (bench/families.cpp), so a new runtime
// shows up in the charts and verdicts without a Python edit.
#pragma once

#include <cstddef>
#include <iterator>
#include <string_view>

namespace cb {

// What one task is.
enum class task_kind { process, thread, pooled, fiber, coroutine, hybrid, inline_call };

// What a live, waiting task holds, which bounds how many a machine keeps:
// a whole process, an OS thread (kernel stack + its user stack), a stack
// only while suspended (oneTBB resumable tasks), a fixed user-space stack
// (fibers), or only its coroutine frame.
enum class stack_model { process, os_thread, per_suspended_task, fixed_user_stack, stackless };

// What creating a task costs, roughly by orders of magnitude on one machine:
// heavy (fork: milliseconds), medium (an OS thread: tens of microseconds),
// light (a user-space context or a pool task: hundreds of nanoseconds), tiny
// (a coroutine frame: tens of nanoseconds). Default sizes follow it.
enum class cost_class { heavy, medium, light, tiny };

struct runtime_traits {
    std::string_view name;   // in benchmark names: workload/NAME/params
    std::string_view label;  // for people: charts and the report
    task_kind kind;
    bool multi_core;     // two tasks can run at once on two CPUs
    bool shared_memory;  // tasks see each other's plain writes
    stack_model stack;
    cost_class cost;
    // Tasks interleave: one can wait for another (a hand-off, a barrier).
    // False only for a runtime that runs each task to completion in turn.
    bool concurrent = true;
    // The runtime honours run_options::stack_bytes and stack_guard (a stack
    // size and guard page per task): workloads sweep stack sizes only here.
    bool sized_stacks = false;
    // The runtime honours run_options::workers (K workers however many
    // tasks): workloads sweep worker counts only here. Runtimes with one
    // worker a task (processes, threads) take the task count instead.
    bool sized_workers = false;
    // The reactor a single coroutine loop waits in ("epoll", "poll",
    // "io_uring"): the loops that differ only in it are compared backend
    // against backend in the report. Empty for every other runtime. A loop
    // over any backend but base_io_backend is an I/O backend variant
    // (io_backend_variant below).
    std::string_view io_backend = {};
    // The runtime's loop counts its system calls in the caller's thread
    // (core/reactor.hpp, loop_syscalls): workloads/run.hpp reads the count
    // around each run and the harness reports it as syscalls_per_op. Only a
    // runtime with one loop in the caller's thread can say so: a count kept
    // in worker threads or children would miss their calls.
    bool counts_syscalls = false;
};

// The backend the coroutine loop was written for. Its runtime runs every
// workload in every profile; a loop over another backend (an I/O backend
// variant) runs the same loop code and awaitables, so outside the tests it
// runs only the workloads that wait in the reactor (bench/product.hpp), and
// the report compares each variant with the base (plots/backend_sections.py
// names the same base).
inline constexpr std::string_view base_io_backend = "epoll";

constexpr bool io_backend_variant(const runtime_traits& t) {
    return !t.io_backend.empty() && t.io_backend != base_io_backend;
}

// Names for the enums, in the results JSON (results/README.md). Each table
// lists the enumerators in declaration order; the static_asserts catch an
// enumerator added without its name.
namespace traits_names {
inline constexpr std::string_view task_kinds[] = {"process", "thread", "pooled", "fiber", "coroutine", "hybrid", "inline"};
inline constexpr std::string_view stack_models[] = {"process", "os_thread", "per_suspended_task", "fixed_user_stack",
                                                    "stackless"};
inline constexpr std::string_view cost_classes[] = {"heavy", "medium", "light", "tiny"};
static_assert(std::size(task_kinds) == static_cast<std::size_t>(task_kind::inline_call) + 1);
static_assert(std::size(stack_models) == static_cast<std::size_t>(stack_model::stackless) + 1);
static_assert(std::size(cost_classes) == static_cast<std::size_t>(cost_class::tiny) + 1);

template <class E, std::size_t N>
constexpr std::string_view lookup(const std::string_view (&names)[N], E e) {
    const auto i = static_cast<std::size_t>(e);
    return i < N ? names[i] : std::string_view("?");
}
}  // namespace traits_names

constexpr std::string_view to_string(task_kind k) { return traits_names::lookup(traits_names::task_kinds, k); }
constexpr std::string_view to_string(stack_model s) { return traits_names::lookup(traits_names::stack_models, s); }
constexpr std::string_view to_string(cost_class c) { return traits_names::lookup(traits_names::cost_classes, c); }

}  // namespace cb
