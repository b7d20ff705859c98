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
#pragma once

#include <malloc.h>

#include "workloads/memory.hpp"
#include "common.hpp"

namespace cb::wl {

struct idle_memory {
    static constexpr std::string_view name = "idle_memory";
    struct params {
        std::size_t tasks;
        std::string label() const { return "tasks:" + std::to_string(tasks); }
    };
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
        return out;
    }
    static std::string unsupported(const runtime_traits& rt, const params&) { return needs_concurrency(rt, "parking until every task has arrived"); }
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
            if constexpr (requires { C::release_free_memory(); }) C::release_free_memory();
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
    static run_options options(const params&, state<C>& s) {
        run_options o;
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
            if constexpr (requires { C::stack_usage(); }) {
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
