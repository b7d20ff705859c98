// Runs one workload under one runtime: state built outside the clock, the
// run timed as wall-clock, the results verified. Used by the benchmark binary
// and by the workload tests alike, so what is tested is what is measured.
#pragma once

#include <chrono>
#include <concepts>
#include <cstdint>
#include <string>
#include <vector>

#include <time.h>
#include <valgrind/callgrind.h>

#include "workloads/workload.hpp"
#include "runtimes/core/context.hpp"
#include "runtimes/core/reactor.hpp"

namespace cb {

// A runtime that keeps an I/O thread of its own, which runs no task (the
// pool), says how much CPU that thread has used: run_once reads it and this
// process's CPU clock around each run, outside the clock ("io_thread_cpu_ns"
// and "run_cpu_ns" in the sums; the harness reports io_thread_cpu_frac, the
// thread's share of the process's CPU over the runs).
template <class R>
concept reports_io_thread_cpu = requires {
    { R::io_thread_cpu_ns() } -> std::convertible_to<std::uint64_t>;
};

// Every thread of this process (not its children), in ns.
inline std::uint64_t process_cpu_ns() {
    timespec ts{};
    ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<std::uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<std::uint64_t>(ts.tv_nsec);
}

template <class W, class S>
run_options options_for(const typename W::params& p, S& s) {
    if constexpr (options_from_state<W, S>) return W::options(p, s);
    else if constexpr (options_from_params<W>) return W::options(p);
    else return {};
}

struct run_result {
    double seconds = 0;
    std::string error;  // empty: verified
};

// One timed run of W under R with params p; per-run numbers go into m. With
// `instrument`, callgrind counts instructions of the run alone (state, verify
// and the process around it are outside); outside valgrind the requests are
// a few no-op instructions.
template <class R, class W>
    requires runtime<R> && workload_for<W, typename R::context>
run_result run_once(const typename W::params& p, measurement& m, bool instrument = false) {
    using C = typename R::context;
    using S = typename W::template state<C>;
    S s(p);
    run_options o = options_for<W>(p, s);
    auto body = [&](C& ctx, std::size_t i) { return W::body(ctx, s, i, p); };
    // A runtime whose loop counts its system calls in this thread
    // (traits.counts_syscalls) has them read around the run: "loop_syscalls"
    // in the sums, reported as syscalls_per_op by the harness.
    const std::uint64_t sys0 = loop_syscalls.total();
    std::uint64_t io0 = 0, cpu0 = 0;
    if constexpr (reports_io_thread_cpu<R>) io0 = R::io_thread_cpu_ns(), cpu0 = process_cpu_ns();
    const auto t0 = std::chrono::steady_clock::now();
    if (instrument) CALLGRIND_START_INSTRUMENTATION;
    std::vector<std::uint64_t> res = R::run(W::tasks(p), body, o);
    if (instrument) CALLGRIND_STOP_INSTRUMENTATION;
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const std::uint64_t sys1 = loop_syscalls.total();
    std::uint64_t io1 = 0, cpu1 = 0;
    if constexpr (reports_io_thread_cpu<R>) io1 = R::io_thread_cpu_ns(), cpu1 = process_cpu_ns();
    run_result r{secs, W::verify(s, p, res)};
    if constexpr (counts_workers<C>) m.workers = C::workers_for(W::tasks(p), o);
    if (r.error.empty()) {
        if constexpr (R::traits.counts_syscalls) m.sums["loop_syscalls"] += static_cast<double>(sys1 - sys0);
        if constexpr (reports_io_thread_cpu<R>) {
            m.sums["io_thread_cpu_ns"] += static_cast<double>(io1 - io0);
            m.sums["run_cpu_ns"] += static_cast<double>(cpu1 - cpu0);
        }
        m.seconds += secs;
        ++m.iterations;
        if constexpr (collects<W, S>) W::collect(s, p, res, m);
    }
    return r;
}

template <class W>
std::string bench_name(std::string_view runtime, const typename W::params& p) {
    // The runtime's name from its traits: names are data (workload/runtime/params).
    std::string n = std::string(W::name) + "/" + std::string(runtime);
    std::string l = p.label();
    return l.empty() ? n : n + "/" + l;
}

}  // namespace cb
