// max_tasks: the most tasks a runtime holds alive and parked at once. Groups
// of idle_memory grow geometrically until something says no. The reason
// becomes the entry's label, starting with what stopped it:
//   wall:    the machine said no: a failed spawn (EAGAIN from fork or
//            pthread_create, ENOMEM from mmap), the message naming the
//            limits (kernel.pid_max, kernel.threads-max, RLIMIT_NPROC,
//            vm.max_map_count, RLIMIT_AS)
//   budget:  the next group would need more than the memory budget
//   cap:     the profile's cap (quick and full stop there on purpose)
//   time:    the next group would take too long
//   error:   anything else
// prefixed "none held: " when not even the first group fitted.
//
// The memory budget (default: half of MemAvailable after the probe's first,
// small group, when what an earlier probe left resident has been given back;
// --memory-budget sets it) is enforced before every step: the next group's
// memory is predicted from the bytes per task of the group before (PSS of
// the tasks plus the kernel memory they hold; a small calibration group comes
// first), and a group that would cross the budget is not started. When
// doubling would cross it, one last group is sized to fit under it, so the
// number held lands near the budget rather
// than up to half below. A group that used more than predicted and crossed
// the budget ends the probe at once and says so.
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <new>

#include <sys/resource.h>

#include "workloads/common.hpp"
#include "workloads/run.hpp"
#include "runtimes/core/fd.hpp"
#include "workloads/idle_memory.hpp"

namespace cb {

struct probe_limits {
    std::size_t first, cap, factor;  // cap 0: none (the limits profile)
    double seconds;                  // no group predicted to take longer than this is started
};

// By what a parked task holds (its stack model): a process, an OS thread, a
// oneTBB stack per suspended task, a fiber stack, a coroutine frame.
inline probe_limits probe_limits_for(const runtime_traits& rt, profile p) {
    if (p == profile::test) return {4, 16, 4, 5};
    if (p == profile::limits)
        return wl::by_stack<probe_limits>(rt, {250, 0, 4, 120}, {1000, 0, 2, 120}, {1000, 0, 2, 120},
                                          {10000, 0, 2, 120}, {100000, 0, 2, 120});
    const bool full = p == profile::full;
    return wl::by_stack<probe_limits>(rt, full ? probe_limits{125, 4000, 2, 60} : probe_limits{16, 256, 4, 20},
                                      full ? probe_limits{1000, 64000, 2, 60} : probe_limits{250, 4000, 4, 20},
                                      full ? probe_limits{1000, 32000, 2, 60} : probe_limits{125, 2000, 4, 20},
                                      full ? probe_limits{1000, 1000000, 2, 60} : probe_limits{1000, 100000, 10, 20},
                                      full ? probe_limits{1000, 4000000, 2, 60} : probe_limits{1000, 1000000, 10, 20});
}

// The memory budget in bytes and where it came from: COBENCH_MEMORY_BUDGET
// (bytes; set by --memory-budget, checked there) or half of MemAvailable now.
struct memory_budget {
    double bytes = 0;
    std::string source;
    static memory_budget current() {
        if (const char* v = std::getenv("COBENCH_MEMORY_BUDGET"); v && *v) {
            char* end = nullptr;
            const double b = std::strtod(v, &end);
            if (end && *end == '\0' && b > 0) return {b, "--memory-budget"};
        }
        return {mem_available() / 2, "half of MemAvailable"};
    }
};

struct probe_outcome {
    std::size_t held = 0;
    std::string reason;
    double bytes_per_task = 0;  // at the last group held
    double budget = 0;
};

// For runtimes whose every task takes a pid (a process or an OS thread): how
// many more the kernel allows now, the least of kernel.pid_max,
// kernel.threads-max and RLIMIT_NPROC less the threads that exist
// (/proc/loadavg's fourth field counts them). 0: unknown.
inline std::size_t pid_headroom() {
    auto read_long = [](const char* path) -> long long {
        std::ifstream f(path);
        long long v = 0;
        return f >> v ? v : 0;
    };
    long long limit = std::min(read_long("/proc/sys/kernel/pid_max"), read_long("/proc/sys/kernel/threads-max"));
    rlimit rl{};
    if (::getrlimit(RLIMIT_NPROC, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
        limit = std::min(limit, static_cast<long long>(rl.rlim_cur));
    std::ifstream f("/proc/loadavg");
    std::string skip, running;
    if (!(f >> skip >> skip >> skip >> running) || running.find('/') == std::string::npos || limit <= 0) return 0;
    const long long in_use = std::atoll(running.c_str() + running.find('/') + 1);
    return limit > in_use ? static_cast<std::size_t>(limit - in_use) : 0;
}

inline std::string mib(double bytes) { return std::to_string(static_cast<long long>(std::llround(bytes / 1048576))) + " MiB"; }

// `proto` carries any parameters besides the task count (a stack size).
template <class R>
probe_outcome probe_max_tasks(profile prof, wl::idle_memory::params proto = {}) {
    using W = wl::idle_memory;
    const probe_limits lim = probe_limits_for(R::traits, prof);
    memory_budget budget = memory_budget::current();
    std::string budget_text = mib(budget.bytes) + " (" + budget.source + ")";
    probe_outcome out;
    out.budget = budget.bytes;
    double per_task = 0, last_seconds = 0;
    bool last_step = false;
    // A small first group measures the bytes per task, so that even the
    // first full-size group is checked against the budget before it starts.
    const std::size_t calibration = std::max<std::size_t>(4, lim.first / 100);
    for (std::size_t n = lim.first > 64 ? calibration : lim.first;; n = n == calibration && n < lim.first ? lim.first : n * lim.factor) {
        if (lim.cap && n > lim.cap) {
            if (out.held < lim.cap) {
                n = lim.cap;  // growing by `factor` overshot: the cap itself is the last group
            } else {
                out.reason = "cap: the profile's cap of " + std::to_string(lim.cap);
                break;
            }
        }
        // Past the kernel's limit on pids a group can only fail: one just
        // past it finds the wall (EAGAIN) without spawning twice as many.
        if (R::traits.stack == stack_model::process || R::traits.stack == stack_model::os_thread) {
            if (const std::size_t room = pid_headroom(); room > 0 && n > room + 64 && room + 64 > out.held) n = room + 64;
        }
        if (per_task > 0 && per_task * static_cast<double>(n) > budget.bytes) {
            // The largest group that fits with 5% to spare, if it is worth a step.
            const auto fit = static_cast<std::size_t>(budget.bytes * 0.95 / per_task);
            if (!last_step && fit > out.held + out.held / 4) {
                n = fit;
                last_step = true;
            } else {
                out.reason = "budget: " + std::to_string(n) + " tasks would need " +
                             mib(per_task * static_cast<double>(n)) + " at " +
                             std::to_string(static_cast<long long>(per_task)) + " B/task, over the memory budget of " +
                             budget_text;
                break;
            }
        }
        // Predicted from a full-size group only: the calibration group's time
        // is mostly fixed costs (memory sampling, trimming), not per task.
        if (last_seconds > 0 && out.held >= lim.first) {
            const double predicted = last_seconds * static_cast<double>(n) / static_cast<double>(out.held);
            if (predicted > lim.seconds) {
                out.reason = "time: a group of " + std::to_string(n) + " would take about " +
                             std::to_string(static_cast<long long>(predicted)) + " s (limit " +
                             std::to_string(static_cast<long long>(lim.seconds)) + " s a group)";
                break;
            }
        }
        measurement m;
        W::params p = proto;
        p.tasks = n;
        const auto t0 = std::chrono::steady_clock::now();
        try {
            run_result r = run_once<R, W>(p, m);
            if (!r.error.empty()) {
                out.reason = "error: " + r.error;
                break;
            }
        } catch (const spawn_error& e) {
            out.reason = std::string("wall: ") + e.what();
            // The tasks alive when the spawn failed were held at once: the
            // wall itself, not the last group that fitted.
            if (e.started > out.held) {
                out.reason += "; " + std::to_string(e.started) + " tasks were alive at once when it failed";
                out.held = e.started;
            }
            break;
        } catch (const std::bad_alloc&) {
            out.reason = "wall: ENOMEM: allocation failed at " + std::to_string(n) + " tasks";
            break;
        } catch (const std::exception& e) {
            out.reason = std::string("error: ") + e.what();
            break;
        }
        last_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        const auto c = W::report(p, m);
        double measured = 0;
        if (auto it = c.find("pss_per_task"); it != c.end() && it->second > 0) measured = it->second;
        if (auto it = c.find("kernel_per_task"); it != c.end() && it->second > 0) measured += it->second;
        if (measured * static_cast<double>(n) > budget.bytes) {
            // Held, but over the budget: the answer is the group before.
            out.reason = "budget: a group of " + std::to_string(n) + " used " + mib(measured * static_cast<double>(n)) +
                         ", more than predicted and over the memory budget of " + budget_text;
            break;
        }
        if (measured > 0) per_task = measured;
        if (per_task <= 0 && !lim.cap) {
            // Without a cap only the budget bounds the growth, and it cannot
            // be checked without a measure of what a task holds.
            out.held = n;
            out.reason = "error: the memory a task holds could not be measured (smaps_rollup, meminfo), so the "
                         "memory budget could not be enforced; stopped at " + std::to_string(n) + " tasks";
            break;
        }
        if (out.held == 0 && budget.source != "--memory-budget") {
            // Read again after the first group, whose setup gave back what an
            // earlier probe left resident (fiber stacks, freed heap): the
            // budget is half of what is available to this probe.
            budget = memory_budget::current();
            budget_text = mib(budget.bytes) + " (" + budget.source + ")";
            out.budget = budget.bytes;
        }
        out.held = n;
        out.bytes_per_task = per_task;
        if (last_step) {
            out.reason = "budget: " + std::to_string(n) + " tasks fit in the memory budget of " + budget_text +
                         " at " + std::to_string(static_cast<long long>(per_task)) + " B/task; the next doubling would not";
            break;
        }
        if (last_seconds > lim.seconds) {
            out.reason = "time: a group of " + std::to_string(n) + " took " +
                         std::to_string(static_cast<long long>(last_seconds)) + " s (limit " +
                         std::to_string(static_cast<long long>(lim.seconds)) + " s a group)";
            break;
        }
    }
    // Not even the first group could be held: say so, rather than let a 0
    // read as a measurement.
    if (out.held == 0) out.reason = "none held: " + out.reason;
    return out;
}

}  // namespace cb
