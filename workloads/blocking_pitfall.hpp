// blocking_pitfall: the most common real bug with coroutines (and with any
// runtime that multiplexes many tasks on few threads): one task makes a
// blocking call, and every task that shares its thread stops with it.
//
// K latency-sensitive timer tasks, each due every 1 ms, share the runtime
// with one task that makes a 20 ms blocking call every `every_ms`:
//   block:read  a blocking read(2) on a timerfd armed for 20 ms: the thread
//               sleeps in the kernel until the fd becomes readable, exactly
//               what a read on a slow socket, pipe or disk does (a timerfd
//               rather than a pipe with a writer thread: the state is made
//               before the process runtimes fork, where no thread may run,
//               and the timerfd needs no second party);
//   block:hog   20 ms of computation that never yields: the thread spins
//               on the CPU until 20 ms have passed by the wall clock.
// offload:no makes the call inline in the task, the bug; offload:yes is the
// fix asyncio's loop.run_in_executor applies: the call goes to a one-thread
// executor made inside the task (io/offload.hpp) and the task awaits its
// completion through the context, so the task's thread keeps serving the
// other tasks. offload_cost_us is what that hand-over costs each call: the
// time from submitting it to the task resuming, minus the call's own run.
//
// served_during_call_frac: of the ticks due while a call ran, the fraction
// that ran before it ended: 0 where the call held the timers' only thread,
// near 1 where they kept threads (and CPUs) of their own. Lateness mixes the
// pitfall with the machine's own hiccups; this fraction does not (no hiccup
// runs a tick on a thread that is inside a call), so it is the pitfall's
// clean signature.
//
// Runtimes where each task is its own thread or process are not hurt by an
// inline call (it blocks only the task that makes it): they run anyway, as
// the comparison. Hybrids (K workers, tasks sliced over them) lose only the
// timers that share the blocker's worker; a pool loses one of its threads.
//
// Lateness: every tick j of timer k is due at t0 + phase_k + j ms (phases
// spread over the period so that timers do not all fire at one instant); its
// lateness is when the timer ran minus when the tick was due. A timer that
// wakes past several due ticks records each of them, late by its own amount,
// without sleeping: the ticks a stall swallowed count as late, not as missing
// (the coordinated-omission rule, applied to timers). So a 20 ms stall makes
// about 20 late ticks per timer, from 20 ms down to 1 ms: the share of late
// ticks is about the share of the run spent blocked (a third in the quick
// profile, a fifth in the full), far above 1%, so p99 sits near the stall.
//
// Synchronisation: every task parks once (a barrier) before it takes its own
// t0, so the timers and the blocker start together, after the process
// runtimes' forks. Lateness samples go into a shared mapping (shared_array),
// one slot a tick, written by exactly one task each.
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <sys/timerfd.h>

#include "common.hpp"
#include "io/offload.hpp"
#include "io/sums.hpp"
#include "runtimes/core/fd.hpp"
#include "shared_memory.hpp"

namespace cb::wl {

// A lateness or a cost: microseconds, lower is better.
constexpr counter_meta delay_us(std::string_view name) { return {name, "us", better::lower}; }

struct blocking_pitfall {
    static constexpr std::string_view name = "blocking_pitfall";
    static constexpr bool exercises_io = true;  // every I/O backend runs it (bench/product.hpp)
    using clock = std::chrono::steady_clock;
    static constexpr std::chrono::nanoseconds period = std::chrono::milliseconds(1);
    static constexpr std::chrono::nanoseconds call_length = std::chrono::milliseconds(20);

    enum class blocking { read, hog };
    static constexpr std::string_view to_string(blocking b) { return b == blocking::read ? "read" : "hog"; }

    struct params {
        blocking block = blocking::read;
        bool offload = false;
        std::size_t timers = 10;   // K
        std::uint64_t run_ms = 100;  // how long the timers tick
        std::uint64_t every_ms = 50;  // a call starts every every_ms, the first at every_ms / 2
        std::string label() const {
            return "block:" + std::string(to_string(block)) + "/offload:" + (offload ? "yes" : "no") +
                   "/timers:" + std::to_string(timers);
        }
    };

    // Quick: 4 entries a runtime of about 0.13 s each (two calls in 120 ms).
    // Full: K = 10 and 100, 400 ms runs with four calls, 5 repetitions (the
    // report's pitfall sentences are verdicts: they need n >= 5).
    static std::vector<params> sizes(profile p, const runtime_traits&) {
        using v = std::vector<std::size_t>;
        const v ks = by_profile<v>(p, {4}, {10}, {10, 100});
        const std::uint64_t run = by_profile<std::uint64_t>(p, 80, 120, 400);
        const std::uint64_t every = by_profile<std::uint64_t>(p, 80, 60, 100);
        std::vector<params> out;
        for (auto k : ks)
            for (auto b : {blocking::read, blocking::hog})
                for (bool off : {false, true}) out.push_back({b, off, k, run, every});
        return out;
    }
    static std::string unsupported(const runtime_traits& rt, const params&) {
        return needs_concurrency(rt, "timers and the blocking task that start together at a barrier");
    }
    static std::size_t tasks(const params& p) { return p.timers + 1; }
    // Each run is one timed pass; the full profile's repetitions give spread.
    static std::uint64_t iterations(const params&) { return 1; }
    static run_options options(const params&) {
        run_options o;
        o.parks = true;
        return o;
    }
    static std::size_t ticks(const params& p) { return static_cast<std::size_t>(p.run_ms * 1'000'000 / period.count()); }
    // One op is one timer tick.
    static double ops(const params& p) { return static_cast<double>(p.timers * ticks(p)); }
    static std::chrono::nanoseconds call_at(const params& p, std::size_t c) {
        return std::chrono::milliseconds(p.every_ms / 2 + c * p.every_ms);
    }
    // Calls that end within the run.
    static std::size_t calls(const params& p) {
        std::size_t n = 0;
        while (call_at(p, n) + call_length <= std::chrono::milliseconds(p.run_ms)) ++n;
        return n;
    }

    // Times on steady_clock (CLOCK_MONOTONIC, one clock for every process)
    // as ns since its epoch, so that the ticks of timers in other processes
    // can be set against the calls' windows.
    static std::int64_t ns(clock::time_point t) {
        return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
    }

    template <class C>
    struct state {
        explicit state(const params& p)
            : late(p.timers * ticks(p)), start(p.timers), waited(std::max<std::size_t>(1, calls(p))),
              from(std::max<std::size_t>(1, calls(p))), to(std::max<std::size_t>(1, calls(p))) {}
        shared_array<std::int64_t> late;    // ns, tick j (from 1) of timer k at k * ticks + j - 1
        shared_array<std::int64_t> start;   // timer k's t0 (ns()): tick j was due at start + phase + j periods
        shared_array<std::int64_t> waited;  // ns, call c: from asking for the call to going on after it
        shared_array<std::int64_t> from;    // call c ran from..to (ns()), on whichever thread ran it
        shared_array<std::int64_t> to;
        std::int64_t due(const params& p, std::size_t k, std::size_t j) const {
            return start[k] + (period * static_cast<std::int64_t>(k) / static_cast<std::int64_t>(p.timers)).count() +
                   period.count() * static_cast<std::int64_t>(j);
        }
    };

    // The blocking call. Made in the task that uses it; the executor that may
    // run it is declared after it, so it is joined before this is destroyed.
    struct blocking_call {
        blocking kind;
        unique_fd timer;
        int err = 0;  // the last failure (errno), 0 if none
        explicit blocking_call(blocking k) : kind(k) {
            if (kind == blocking::read) {
                // Blocking (no TFD_NONBLOCK): read(2) sleeps until the timer fires.
                timer.reset(::timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC));
                if (!timer) throw_errno("blocking_pitfall: timerfd_create");
            }
        }
        void operator()() noexcept {
            if (kind == blocking::read) {
                itimerspec its{};
                its.it_value.tv_sec = static_cast<time_t>(call_length.count() / 1'000'000'000);
                its.it_value.tv_nsec = static_cast<long>(call_length.count() % 1'000'000'000);
                if (::timerfd_settime(timer.get(), 0, &its, nullptr) != 0) {
                    err = errno;
                    return;
                }
                std::uint64_t expirations = 0;
                ssize_t r;
                while ((r = ::read(timer.get(), &expirations, sizeof expirations)) < 0 && errno == EINTR) {
                }
                if (r != static_cast<ssize_t>(sizeof expirations)) err = r < 0 ? errno : EIO;
            } else {
                hog(call_length);
            }
        }
        // Spins on the CPU for `d` by the wall clock: a computation that
        // holds its thread for 20 ms. By the wall clock rather than the
        // thread's CPU clock so that the stall is the same 20 ms as the
        // read's whatever else the machine runs (under contention a CPU-clock
        // burn stretches to several times that, which measures the machine's
        // load, not the runtime); on an idle CPU the two are the same. The
        // arithmetic keeps the loop doing work between clock reads.
        static void hog(std::chrono::nanoseconds d) noexcept {
            const auto until = clock::now() + d;
            volatile std::uint64_t sink = 0;
            std::uint64_t x = 0x9e3779b97f4a7c15ull;
            do {
                for (int k = 0; k < 256; ++k) x ^= (x << 13), x ^= (x >> 7), x ^= (x << 17);
                sink = x;
            } while (clock::now() < until);
            (void)sink;
        }
    };

    // One coroutine for both roles (g++ 12 warns falsely about the frame of
    // a nested coroutine once it is inlined, so no helper coroutines).
    // Task 0 blocks: calls(p) calls, inline or offloaded, and returns the
    // calls made (a failed call throws: the run reports it). Tasks 1..K are
    // the timers: each ticks every period and returns the ticks recorded.
    template <class C>
    static task<std::uint64_t> body(C& ctx, state<C>& s, std::size_t i, const params& p) {
        co_await ctx.park();
        const auto t0 = clock::now();
        if (i == 0) {
            blocking_call call(p.block);
            std::optional<offload_executor> ex;  // after `call`: joined before it is destroyed
            if (p.offload) {
                ex.emplace(1);
                C::configure_fd(ex->done_fd());
            }
            const std::size_t n = calls(p);
            for (std::size_t c = 0; c < n; ++c) {
                const auto at = t0 + call_at(p, c);
                if (const auto now = clock::now(); now < at) co_await ctx.sleep_for(at - now);
                if (ex) {
                    const auto sent = ex->submit(call);
                    std::uint64_t one = 0;
                    ssize_t r;
                    do {
                        r = co_await ctx.read(ex->done_fd(), &one, sizeof one);
                    } while (r < 0 && errno == EINTR);
                    const int err = errno;
                    const offload_timing t = ex->complete(sent, r);
                    if (!t.ok) throw_errno("blocking_pitfall: awaiting the executor", r < 0 ? err : EIO);
                    s.waited[c] = t.waited().count();
                    s.from[c] = ns(t.started);
                    s.to[c] = ns(t.finished);
                } else {
                    const auto c0 = clock::now();
                    call();
                    const auto c1 = clock::now();
                    s.waited[c] = (c1 - c0).count();
                    s.from[c] = ns(c0);
                    s.to[c] = ns(c1);
                }
                if (call.err) throw_errno("blocking_pitfall: the blocking call", call.err);
            }
            co_return n;
        }
        const std::size_t k = i - 1;
        s.start[k] = ns(t0);
        const auto phase = period * static_cast<std::int64_t>(k) / static_cast<std::int64_t>(p.timers);
        const std::size_t n = ticks(p);
        std::int64_t* out = &s.late[k * n];
        for (std::size_t j = 1; j <= n; ++j) {
            const auto due = t0 + phase + period * static_cast<std::int64_t>(j);
            auto now = clock::now();
            if (now < due) {
                co_await ctx.sleep_for(due - now);
                now = clock::now();
            }
            out[j - 1] = std::chrono::duration_cast<std::chrono::nanoseconds>(now - due).count();
        }
        co_return n;
    }

    template <class C>
    static std::string verify(const state<C>& s, const params& p, const std::vector<std::uint64_t>& res) {
        if (res.size() != tasks(p)) return "wrong number of results";
        if (res[0] != calls(p))
            return "the blocking task made " + std::to_string(res[0]) + " calls, expected " + std::to_string(calls(p));
        if (auto why = expect_each({res.begin() + 1, res.end()}, ticks(p), "timer ticks"); !why.empty()) return why;
        for (std::size_t t = 0; t < p.timers * ticks(p); ++t)
            if (s.late[t] < 0)
                return "timer " + std::to_string(t / ticks(p)) + " ran tick " + std::to_string(t % ticks(p) + 1) + " " +
                       std::to_string(-s.late[t]) + " ns before it was due";
        for (std::size_t c = 0; c < calls(p); ++c) {
            const std::int64_t ran = s.to[c] - s.from[c];
            if (ran < call_length.count())
                return "blocking call " + std::to_string(c) + " took " + std::to_string(ran) + " ns, less than " +
                       std::to_string(call_length.count());
            if (s.waited[c] < ran) return "blocking call " + std::to_string(c) + ": awaited less than it ran";
        }
        return {};
    }

    // Of the ticks due while a call ran, how many ran before it ended: none
    // where the call holds the only thread the timers have (the thread runs
    // either the call or a timer), all of them where the timers keep a
    // thread of their own and get the CPU. A measure of the pitfall that,
    // unlike lateness, machine noise cannot fake: no hiccup runs a tick on a
    // thread that is inside a call.
    template <class C>
    static std::pair<std::size_t, std::size_t> served_during_calls(const state<C>& s, const params& p) {
        std::size_t due = 0, served = 0;
        for (std::size_t k = 0; k < p.timers; ++k)
            for (std::size_t j = 1; j <= ticks(p); ++j) {
                const std::int64_t at = s.due(p, k, j), ran = at + s.late[k * ticks(p) + j - 1];
                for (std::size_t c = 0; c < calls(p); ++c)
                    if (s.from[c] < at && at < s.to[c]) {
                        ++due;
                        served += ran < s.to[c];
                    }
            }
        return {due, served};
    }

    template <class C>
    static void collect(const state<C>& s, const params& p, const std::vector<std::uint64_t>&, measurement& m) {
        for (std::size_t t = 0; t < p.timers * ticks(p); ++t) m.samples.push_back(static_cast<double>(s.late[t]));
        const std::size_t n = calls(p);
        m.sums["calls"] += static_cast<double>(n);
        for (std::size_t c = 0; c < n; ++c) {
            const double ran = static_cast<double>(s.to[c] - s.from[c]);
            const double cost = static_cast<double>(s.waited[c]) - ran;
            m.sums["call_ns"] += ran;
            m.sums["offload_cost_ns"] += cost;
            m.sums["offload_cost_max_ns"] = std::max(m.sums["offload_cost_max_ns"], cost);
        }
        const auto [due, served] = served_during_calls(s, p);
        m.sums["due_during_calls"] += static_cast<double>(due);
        m.sums["served_during_calls"] += static_cast<double>(served);
    }

    // The nearest-rank q-quantile of sorted values (q in (0, 1]).
    static double quantile(const std::vector<double>& sorted, double q) {
        if (sorted.empty()) return 0;
        const auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(sorted.size())));
        return sorted[std::clamp<std::size_t>(rank, 1, sorted.size()) - 1];
    }

    static constexpr counter_meta counter_info[] = {
        delay_us("timer_late_p50_us"), delay_us("timer_late_p99_us"), delay_us("timer_late_max_us"),
        {"timers", "tasks", better::none}, {"blocking_calls", "calls", better::none}, {"call_us", "us", better::none},
        {"served_during_call_frac", "fraction", better::higher}, delay_us("offload_cost_us"),
        delay_us("offload_cost_max_us")};
    static counters report(const params& p, const measurement& m) {
        const sums_of sum{m};
        std::vector<double> late = m.samples;
        std::sort(late.begin(), late.end());
        const double n = sum("calls");
        counters c{{"timer_late_p50_us", quantile(late, 0.50) / 1e3},
                   {"timer_late_p99_us", quantile(late, 0.99) / 1e3},
                   {"timer_late_max_us", late.empty() ? 0.0 : late.back() / 1e3},
                   {"timers", static_cast<double>(p.timers)},
                   {"blocking_calls", sum.mean("calls")},
                   {"call_us", n > 0 ? sum("call_ns") / n / 1e3 : 0.0}};
        if (const double due = sum("due_during_calls"); due > 0)
            c["served_during_call_frac"] = sum("served_during_calls") / due;
        // Inline calls cost nothing to hand over: no counter rather than a 0
        // that reads like a measurement.
        if (p.offload) {
            c["offload_cost_us"] = n > 0 ? sum("offload_cost_ns") / n / 1e3 : 0.0;
            c["offload_cost_max_us"] = sum("offload_cost_max_ns") / 1e3;
        }
        return c;
    }
};

}  // namespace cb::wl
