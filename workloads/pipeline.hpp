// pipeline: a consumer sums N items that a producer makes, handed over one at
// a time. The producer/consumer pair of the popular writing on coroutines,
// measured two ways, per item (ns_per_item):
//
//   via:generator  one task pulls from a cb::generator (co_yield,
//                  runtimes/core/generator.hpp): the producer is a coroutine
//                  resumed in place by the consumer, no scheduler, no queue.
//                  The cheapest hand-off there is; it runs the same under
//                  every runtime, which is the point: the runtime only
//                  spawns the one task.
//   via:channel    a producer task and a consumer task with the runtime's own
//                  channel of capacity 1 between them: a hand-off per item,
//                  through whatever the runtime waits with (a pipe, a futex,
//                  a fiber or coroutine switch).
//
// Both make the values 1..N and the consumer returns their sum, checked
// exactly by verify(). A channel of capacity 1 is as tight as each runtime
// makes it: pipe-based channels (the forked runtimes) get a pipe, whose
// buffer the kernel rounds up to a page, so their producer can run up to 512
// items ahead. A batched channel (capacity 64) with one producer and one
// consumer is producer_consumer's producers:1/consumers:1, so it is not
// repeated here.
//
// A benchmark is a fixed number of runs (params.runs, iterations()), not the
// harness's minimum time: 16 benchmarks of at least 0.25 s each would add 4 s
// to the quick profile, where 3 runs of tens of milliseconds add about 1.5.
#pragma once

#include <optional>

#include "common.hpp"
#include "runtimes/core/generator.hpp"

namespace cb::wl {

struct pipeline : deterministic_runs {
    static constexpr std::string_view name = "pipeline";
    static constexpr std::size_t capacity = 1;

    enum class via { generator, channel };
    struct params {
        via how;
        std::uint64_t items;
        std::uint64_t runs;  // timed iterations of one benchmark
        std::string label() const {
            return std::string("via:") + (how == via::generator ? "generator" : "channel") +
                   "/items:" + std::to_string(items);
        }
    };
    static std::vector<params> sizes(profile p, const runtime_traits& rt) {
        const std::uint64_t runs = by_profile<std::uint64_t>(p, 1, 3, 3);
        // A generator's hand-off costs nanoseconds whatever the runtime: items
        // enough that spawning the one task (a fork: about a millisecond) is
        // a few percent of a run.
        const std::uint64_t pulled = by_profile<std::uint64_t>(p, 1000, 5000000, 10000000);
        // A channel's hand-off where one thread runs every task: a user-space
        // switch, tens of ns (a coroutine) to a few hundred (a fiber). Where
        // tasks run on several CPUs, producer and consumer sit on two of them
        // as often as not and each item wakes a waiter through the kernel:
        // microseconds (a pipe whose page the producer fills ahead, a pool
        // task resumed) to about 25 µs for a thread on a VM.
        // (by_cost: heavy, medium, light, tiny; one-thread runtimes today are
        // light (fibers) or tiny (coroutines).)
        std::uint64_t handed;
        if (!rt.multi_core)
            handed = by_cost<std::uint64_t>(rt, by_profile<std::uint64_t>(p, 1000, 20000, 60000),
                                            by_profile<std::uint64_t>(p, 1000, 20000, 60000),
                                            by_profile<std::uint64_t>(p, 1000, 100000, 300000),
                                            by_profile<std::uint64_t>(p, 1000, 1000000, 3000000));
        else
            handed = by_cost<std::uint64_t>(rt, by_profile<std::uint64_t>(p, 200, 10000, 30000),
                                            by_profile<std::uint64_t>(p, 200, 2000, 4000),
                                            by_profile<std::uint64_t>(p, 200, 10000, 30000),
                                            by_profile<std::uint64_t>(p, 200, 4000, 12000));
        return {{via::generator, pulled, runs}, {via::channel, handed, runs}};
    }
    static std::string unsupported(const runtime_traits& rt, const params& p) {
        if (p.how == via::generator) return {};
        return needs_concurrency(rt, "a consumer waiting on an empty channel");
    }
    static std::size_t tasks(const params& p) { return p.how == via::generator ? 1 : 2; }
    static double ops(const params& p) { return static_cast<double>(p.items); }
    static std::uint64_t iterations(const params& p) { return p.runs; }

    template <class C>
    struct state {
        explicit state(const params& p) {
            if (p.how == via::channel) ch.emplace(capacity);
        }
        std::optional<typename C::template channel<std::uint64_t>> ch;
    };

    // The producer as a generator: 1..n, one co_yield an item.
    static generator<std::uint64_t> produce(std::uint64_t n) {
        for (std::uint64_t k = 1; k <= n; ++k) co_yield k;
    }

    // via:generator: the one task returns the sum it pulled. via:channel:
    // task 0 produces and returns how many items it sent, task 1 consumes
    // and returns the sum.
    template <class C>
    static task<std::uint64_t> body(C& ctx, state<C>& s, std::size_t i, const params& p) {
        std::uint64_t sum = 0;
        if (p.how == via::generator) {
            for (const std::uint64_t v : produce(p.items)) sum += v;
            co_return sum;
        }
        if (i == 0) {
            for (std::uint64_t k = 1; k <= p.items; ++k) co_await ctx.send(*s.ch, k);
            co_return p.items;
        }
        for (std::uint64_t k = 0; k < p.items; ++k) sum += co_await ctx.recv(*s.ch);
        co_return sum;
    }
    template <class C>
    static std::string verify(const state<C>&, const params& p, const std::vector<std::uint64_t>& res) {
        if (res.size() != tasks(p))
            return std::to_string(res.size()) + " results, expected " + std::to_string(tasks(p));
        const std::uint64_t want = p.items * (p.items + 1) / 2, got = res.back();
        if (p.how == via::channel && res[0] != p.items)
            return "producer sent " + std::to_string(res[0]) + " items, expected " + std::to_string(p.items);
        if (got != want)
            return "consumer summed " + std::to_string(got) + ", expected " + std::to_string(want) + " (1.." +
                   std::to_string(p.items) + ")";
        return {};
    }
    static constexpr counter_meta counter_info[] = {{"ns_per_item", "ns", better::lower}};
    static counters report(const params& p, const measurement& m) {
        return {{"ns_per_item", m.per_iteration() * 1e9 / ops(p)}};
    }
};

}  // namespace cb::wl
