// idle_memory: N tasks alive and parked at once; memory per task, sampled
// while all are parked (outside any timed region), as the delta over the run
// divided by N:
//   rss_per_task, pss_per_task   this process (or, for processes, RSS and PSS
//                                summed over the children: PSS splits shared
//                                pages fairly, RSS counts them in every child)
//   kernel_per_task              kernel stacks + page tables (meminfo delta)
//   frame_per_task               coroutine frame bytes (single-threaded
//                                runtimes, where every frame is counted on
//                                the measuring thread)
//   stack_per_task, stack_touched_per_task   fibers: reserved and resident stack
// Freed heap and unused fiber stacks are handed back to the OS before the
// baseline, so a delta is what the run holds, not what an earlier run left.
//
// Runtimes whose traits say sized_stacks also run with other stacks (a stack
// size and whether a guard page lies below each stack): those entries add
// `/stack:<size>/guard:<yes|no>` to the label ("tasks:1000/stack:8k/guard:yes";
// sizes spelled 8k, 64k, 256k, 8m). Entries without it are the runtime's
// default stacks.
#pragma once

#include <malloc.h>

#include <string>
#include <utility>
#include <vector>

#include "workloads/memory.hpp"
#include "common.hpp"

namespace cb::wl {

struct idle_memory {
    static constexpr std::string_view name = "idle_memory";
    struct params {
        std::size_t tasks;
        std::size_t stack_bytes = 0;  // 0: the runtime's default stack
        run_options::guard stack_guard = run_options::guard::runtime_default;
        std::string label() const {
            std::string l = "tasks:" + std::to_string(tasks);
            if (stack_bytes != 0 || stack_guard != run_options::guard::runtime_default)
                l += "/stack:" + size_label(stack_bytes) + "/guard:" + guard_label(stack_guard);
            return l;
        }
    };
    // 8192 -> "8k", 8 MiB -> "8m"; 0 -> "default".
    static std::string size_label(std::size_t bytes) {
        if (bytes == 0) return "default";
        if (bytes % (1024 * 1024) == 0) return std::to_string(bytes / (1024 * 1024)) + "m";
        if (bytes % 1024 == 0) return std::to_string(bytes / 1024) + "k";
        return std::to_string(bytes);
    }
    static std::string guard_label(run_options::guard g) {
        switch (g) {
            case run_options::guard::with: return "yes";
            case run_options::guard::without: return "no";
            case run_options::guard::runtime_default: return "default";
        }
        return "?";
    }
    // The (stack bytes, guard) pairs swept for a runtime, beyond its default
    // stacks; empty unless its traits say sized_stacks. A stack the user owns
    // (a fiber's) goes as low as 8 KiB, with and without a guard page; an OS
    // thread's from 64 KiB up to glibc's 8 MiB default.
    static std::vector<std::pair<std::size_t, run_options::guard>> stack_sweep(const runtime_traits& rt) {
        if (!rt.sized_stacks) return {};
        using g = run_options::guard;
        constexpr std::size_t k = 1024;
        const std::vector<std::pair<std::size_t, g>> user = {{8 * k, g::without}, {8 * k, g::with}, {64 * k, g::with}, {256 * k, g::with}};
        const std::vector<std::pair<std::size_t, g>> os = {{64 * k, g::with}, {256 * k, g::with}, {8 * k * k, g::with}, {64 * k, g::without}};
        return by_stack<std::vector<std::pair<std::size_t, g>>>(rt, os, os, user, user, user);
    }
    // What a parked task holds decides how many are parked: a process, an
    // OS thread or a oneTBB stack (one mapping each), a fiber stack, a frame.
    static std::vector<params> sizes(profile p, const runtime_traits& rt) {
        using v = std::vector<std::size_t>;
        const v stacks = by_profile<v>(p, {16}, {100, 1000}, {1, 100, 1000, 10000});
        const v ns = by_stack<v>(rt, by_profile<v>(p, {4}, {10, 100}, {1, 10, 100, 1000}), stacks, stacks,
                                 by_profile<v>(p, {100}, {1000, 10000}, {1, 1000, 10000, 100000}),
                                 by_profile<v>(p, {100}, {1000, 100000}, {1, 1000, 10000, 100000, 1000000}));
        std::vector<params> out;
        for (auto n : ns) out.push_back({n});
        // The stack sweep: one size in quick (a second or so in all), the
        // default entries' range but their largest in full. Guarded user
        // stacks stop at 10,000: each is two mappings, and vm.max_map_count
        // (65530) ends them near 32,000 (the limits profile finds that wall).
        for (auto [bytes, guard] : stack_sweep(rt)) {
            const bool guarded_user = guard == run_options::guard::with && rt.stack != stack_model::os_thread &&
                                      rt.stack != stack_model::process;
            const v sweep = by_stack<v>(rt, by_profile<v>(p, {4}, {10}, {10, 100}), by_profile<v>(p, {16}, {100}, {100, 1000, 10000}),
                                        by_profile<v>(p, {16}, {100}, {100, 1000}),
                                        by_profile<v>(p, {100}, {1000}, guarded_user ? v{1000, 10000} : v{1000, 10000, 100000}),
                                        by_profile<v>(p, {100}, {1000}, {1000, 100000}));
            for (auto n : sweep) out.push_back({n, bytes, guard});
        }
        return out;
    }
    static std::string unsupported(const runtime_traits& rt, const params& p) {
        if ((p.stack_bytes != 0 || p.stack_guard != run_options::guard::runtime_default) && !rt.sized_stacks)
            return "the runtime does not size its tasks' stacks (traits.sized_stacks)";
        if (address_sanitized && p.stack_bytes != 0 && p.stack_bytes < sanitized_min_stack)
            return "a stack below 64 KiB cannot hold the frames of an AddressSanitizer build (-O0, redzones)";
        return needs_concurrency(rt, "parking until every task has arrived");
    }
    static std::size_t tasks(const params& p) { return p.tasks; }
    static double ops(const params& p) { return static_cast<double>(p.tasks); }
    static int iterations(const params&) { return 1; }

    // The binary keeps freed memory for the next run (M_TRIM_THRESHOLD 1 GiB,
    // bench/main.cpp). malloc_trim() gives back the main arena's top, but a
    // worker thread's arena only shrinks in free() past that threshold, so
    // frames freed by the previous run of a runtime whose tasks live on
    // worker threads (thread_loops) stayed resident and hid in the next run's
    // baseline (25.8 B per idle coroutine against 143 B in the first run).
    // While an idle_memory state lives, frees trim at once.
    struct trim_eagerly {
        trim_eagerly() { ::mallopt(M_TRIM_THRESHOLD, 128 * 1024); }
        ~trim_eagerly() { ::mallopt(M_TRIM_THRESHOLD, restore_threshold); }
        trim_eagerly(const trim_eagerly&) = delete;
        trim_eagerly& operator=(const trim_eagerly&) = delete;
        static constexpr int restore_threshold = 1 << 30;  // bench/main.cpp's policy
    };

    template <class C>
    struct state {
        trim_eagerly trim;
        explicit state(const params&) {
            if constexpr (releases_free_memory<C>) C::release_free_memory();
            release_free_memory();
            before = sample_self();
            frames_before = t_frames.live_bytes;
        }
        mem_sample before, delta;
        std::int64_t frames_before = 0;
        double frames = -1, stack_size = -1, stack_touched = -1;
        bool sampled = false;
    };

    template <class C>
    static run_options options(const params& p, state<C>& s) {
        run_options o;
        o.stack_bytes = p.stack_bytes;
        o.stack_guard = p.stack_guard;
        o.parks = true;
        o.user = &s;
        o.on_parked = [](void* u, const parked_info& info) {
            auto& s = *static_cast<state<C>*>(u);
            if (!info.children.empty()) {
                // Children's totals are their own: no baseline to subtract
                // but the kernel memory, which is system-wide.
                mem_sample now = sample_processes(info.children);
                s.delta = {now.rss, now.pss, now.kernel - s.before.kernel};
            } else {
                s.delta = sample_self() - s.before;
            }
            if (!C::traits.multi_core) s.frames = static_cast<double>(t_frames.live_bytes - s.frames_before);
            if constexpr (reports_stack_usage<C>) {
                auto [size, touched] = C::stack_usage();
                s.stack_size = static_cast<double>(size);
                s.stack_touched = static_cast<double>(touched);
            }
            s.sampled = true;
        };
        return o;
    }

    template <class C>
    static task<std::uint64_t> body(C& ctx, state<C>&, std::size_t, const params&) {
        co_await ctx.park();
        co_return 1;
    }
    template <class C>
    static std::string verify(const state<C>& s, const params& p, const std::vector<std::uint64_t>& res) {
        if (!s.sampled) return "memory was never sampled: the tasks did not all park";
        if (res.size() != p.tasks) return "wrong number of results";
        return expect_each(res, 1, "parked");
    }
    template <class C>
    static void collect(const state<C>& s, const params&, const std::vector<std::uint64_t>&, measurement& m) {
        m.sums["rss"] += s.delta.rss;
        m.sums["pss"] += s.delta.pss;
        m.sums["kernel"] += s.delta.kernel;
        if (s.frames >= 0) m.sums["frames"] += s.frames;
        if (s.stack_size >= 0) {
            m.sums["stack"] += s.stack_size;
            m.sums["stack_touched"] += s.stack_touched;
        }
    }
    static constexpr counter_meta counter_info[] = {
        {"rss_per_task", "bytes/task", better::lower},          {"pss_per_task", "bytes/task", better::lower},
        {"kernel_per_task", "bytes/task", better::lower},       {"frame_per_task", "bytes/task", better::lower},
        {"stack_per_task", "bytes/task", better::lower},        {"stack_touched_per_task", "bytes/task", better::lower}};
    static counters report(const params& p, const measurement& m) {
        const double per = static_cast<double>(m.iterations) * static_cast<double>(p.tasks);
        counters c;
        auto put = [&](const char* key, const char* name, double scale) {
            if (auto it = m.sums.find(key); it != m.sums.end()) c[name] = it->second / scale;
        };
        put("rss", "rss_per_task", per);
        put("pss", "pss_per_task", per);
        put("kernel", "kernel_per_task", per);
        put("frames", "frame_per_task", per);
        put("stack", "stack_per_task", static_cast<double>(m.iterations));
        put("stack_touched", "stack_touched_per_task", per);
        return c;
    }
};

}  // namespace cb::wl
