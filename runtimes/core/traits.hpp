// Runtime traits: what a runtime is, declared once beside its code.
//
// The harness, the workloads and the charts ask these, never a runtime's
// name: how many tasks a workload runs (cost, stack), whether a cross-core
// hand-off can happen (multi_core), whether tasks can share a plain counter
// (shared_memory), whether tasks wait for each other (concurrent). The results
// JSON carries every runtime's traits (bench/families.cpp), so a new runtime
// shows up in the charts and verdicts without a Python edit.
#pragma once

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
    // against backend in the report. Empty for every other runtime.
    std::string_view io_backend = {};
};

constexpr std::string_view to_string(task_kind k) {
    switch (k) {
        case task_kind::process: return "process";
        case task_kind::thread: return "thread";
        case task_kind::pooled: return "pooled";
        case task_kind::fiber: return "fiber";
        case task_kind::coroutine: return "coroutine";
        case task_kind::hybrid: return "hybrid";
        case task_kind::inline_call: return "inline";
    }
    return "?";
}

constexpr std::string_view to_string(stack_model s) {
    switch (s) {
        case stack_model::process: return "process";
        case stack_model::os_thread: return "os_thread";
        case stack_model::per_suspended_task: return "per_suspended_task";
        case stack_model::fixed_user_stack: return "fixed_user_stack";
        case stack_model::stackless: return "stackless";
    }
    return "?";
}

constexpr std::string_view to_string(cost_class c) {
    switch (c) {
        case cost_class::heavy: return "heavy";
        case cost_class::medium: return "medium";
        case cost_class::light: return "light";
        case cost_class::tiny: return "tiny";
    }
    return "?";
}

}  // namespace cb
