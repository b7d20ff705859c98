// max_tasks: the most tasks a runtime holds alive and parked at once. Groups
// of idle_memory grow geometrically until something says no: a failed spawn
// (EAGAIN from fork or pthread_create, ENOMEM), the suite's cap for the
// profile, or a memory budget (half the memory available at the start, judged
// from the bytes per task of the last group). The reason becomes the label.
#pragma once

#include <chrono>
#include <new>

#include "workloads/common.hpp"
#include "workloads/run.hpp"
#include "runtimes/core/fd.hpp"
#include "workloads/idle_memory.hpp"

namespace cb {

struct probe_limits {
    std::size_t first, cap, factor;
    double seconds;  // stop growing once a single group took this long
};

// By what a parked task holds (its stack model): a process, an OS thread, a
// oneTBB stack per suspended task, a fiber stack, a coroutine frame.
inline probe_limits probe_limits_for(const runtime_traits& rt, profile p) {
    if (p == profile::test) return {4, 16, 4, 5};
    const bool full = p == profile::full;
    return wl::by_stack<probe_limits>(rt, full ? probe_limits{125, 4000, 2, 60} : probe_limits{16, 256, 4, 20},
                                      full ? probe_limits{1000, 64000, 2, 60} : probe_limits{250, 4000, 4, 20},
                                      full ? probe_limits{1000, 32000, 2, 60} : probe_limits{125, 2000, 4, 20},
                                      full ? probe_limits{1000, 1000000, 2, 60} : probe_limits{1000, 100000, 10, 20},
                                      full ? probe_limits{1000, 4000000, 2, 60} : probe_limits{1000, 1000000, 10, 20});
}

struct probe_outcome {
    std::size_t held = 0;
    std::string reason;
};

template <class R>
probe_outcome probe_max_tasks(profile prof) {
    using W = wl::idle_memory;
    const probe_limits lim = probe_limits_for(R::traits, prof);
    const double budget = mem_available() / 2;
    probe_outcome out;
    double per_task = 0;
    for (std::size_t n = lim.first;; n *= lim.factor) {
        if (n > lim.cap) {
            if (out.held < lim.cap) {
                n = lim.cap;  // growing by `factor` overshot: the cap itself is the last group
            } else {
                out.reason = "limit: the profile's cap of " + std::to_string(lim.cap);
                break;
            }
        }
        if (per_task > 0 && per_task * static_cast<double>(n) > budget) {
            out.reason = "limit: memory budget (" + std::to_string(static_cast<long long>(budget / 1048576)) +
                         " MiB, half of MemAvailable) at " + std::to_string(static_cast<long long>(per_task)) + " B/task";
            break;
        }
        measurement m;
        const auto t0 = std::chrono::steady_clock::now();
        try {
            run_result r = run_once<R, W>(W::params{n}, m);
            if (!r.error.empty()) {
                out.reason = "error: " + r.error;
                break;
            }
        } catch (const spawn_error& e) {
            out.reason = e.what();
            break;
        } catch (const std::bad_alloc&) {
            out.reason = "ENOMEM: allocation failed at " + std::to_string(n) + " tasks";
            break;
        } catch (const std::exception& e) {
            out.reason = std::string("error: ") + e.what();
            break;
        }
        out.held = n;
        const auto c = W::report(W::params{n}, m);
        if (auto it = c.find("pss_per_task"); it != c.end() && it->second > 0) per_task = it->second;
        if (auto it = c.find("kernel_per_task"); it != c.end() && it->second > 0) per_task += it->second;
        if (std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() > lim.seconds) {
            out.reason = "limit: a group of " + std::to_string(n) + " took longer than " +
                         std::to_string(static_cast<int>(lim.seconds)) + " s";
            break;
        }
    }
    // Not even the first group could be held: say so, rather than let a 0
    // read as a measurement.
    if (out.held == 0) out.reason = "none held: " + out.reason;
    return out;
}

}  // namespace cb
