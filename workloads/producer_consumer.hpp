// producer_consumer: P producers and Q consumers share one bounded channel of
// capacity 64; M messages in total. Throughput of the runtime's channel under
// contention and back-pressure (a full channel suspends producers, an empty
// one consumers).
//
// Producer j sends the values k + 1 for every k < M with k % P == j (0 is
// reserved for the end-of-stream sentinel). The producer that finishes last
// (a shared counter says which) sends Q sentinels, one per consumer: every
// real message was already in the channel by then, and channels are FIFO, so
// no consumer stops before the stream is drained. Consumers add what they
// received to shared totals, checked by verify().
//
// Processes' channel is a pipe whose buffer the kernel rounds up to at least a
// page (512 messages of 8 bytes), so their producers block later than the 64
// the other runtimes enforce.
#pragma once

#include "common.hpp"
#include "shared_memory.hpp"

namespace cb::wl {

struct producer_consumer {
    static constexpr std::string_view name = "producer_consumer";
    static constexpr std::size_t capacity = 64;
    struct params {
        std::size_t producers, consumers;
        std::uint64_t messages;  // in total, all producers together
        std::string label() const {
            return "producers:" + std::to_string(producers) + "/consumers:" + std::to_string(consumers);
        }
    };
    static std::vector<params> sizes(profile p, const runtime_traits& rt) {
        using pq = std::pair<std::size_t, std::size_t>;
        auto shapes = by_profile<std::vector<pq>>(p, {{1, 1}, {2, 3}}, {{1, 1}, {1, 4}, {4, 1}, {4, 4}},
                                                  {{1, 1}, {1, 4}, {4, 1}, {4, 4}, {16, 16}, {64, 64}});
        // A hand-off costs tens of ns in one thread, microseconds through a
        // futex or a pipe: fewer messages keep the blocking runtimes' runs short.
        std::uint64_t m;
        if (!rt.multi_core) m = by_profile<std::uint64_t>(p, 2000, 4000000, 20000000);
        else if (rt.cost == cost_class::heavy) m = by_profile<std::uint64_t>(p, 500, 50000, 400000);
        else m = by_profile<std::uint64_t>(p, 1000, 200000, 1000000);
        std::vector<params> out;
        for (auto [np, nc] : shapes) out.push_back({np, nc, m});
        return out;
    }
    static std::string unsupported(const runtime_traits& rt, const params&) { return needs_concurrency(rt, "a consumer waiting on an empty channel"); }
    static std::size_t tasks(const params& p) { return p.producers + p.consumers; }
    static double ops(const params& p) { return static_cast<double>(p.messages); }

    template <class C>
    struct state {
        explicit state(const params&) : ch(capacity), shared(3) {}
        typename C::template channel<std::uint64_t> ch;
        // [0] producers finished, [1] messages received, [2] sum of received values
        shared_array<shared_counter> shared;
    };

    // Producers return how many messages they sent, consumers how many they received.
    template <class C>
    static task<std::uint64_t> body(C& ctx, state<C>& s, std::size_t i, const params& p) {
        std::uint64_t n = 0;
        if (i < p.producers) {
            for (std::uint64_t k = i; k < p.messages; k += p.producers, ++n) co_await ctx.send(s.ch, k + 1);
            if (s.shared[0].fetch_add(1, std::memory_order_acq_rel) + 1 == p.producers)
                for (std::size_t c = 0; c < p.consumers; ++c) co_await ctx.send(s.ch, std::uint64_t{0});
        } else {
            std::uint64_t sum = 0;
            for (;;) {
                const std::uint64_t v = co_await ctx.recv(s.ch);
                if (v == 0) break;
                sum += v;
                ++n;
            }
            s.shared[1].fetch_add(n, std::memory_order_relaxed);
            s.shared[2].fetch_add(sum, std::memory_order_relaxed);
        }
        co_return n;
    }
    template <class C>
    static std::string verify(const state<C>& s, const params& p, const std::vector<std::uint64_t>& res) {
        if (res.size() != tasks(p)) return "wrong number of results";
        std::uint64_t sent = 0, got = 0;
        for (std::size_t i = 0; i < res.size(); ++i) (i < p.producers ? sent : got) += res[i];
        const std::uint64_t m = p.messages, want_sum = m * (m + 1) / 2;
        const std::uint64_t count = s.shared[1].load(), sum = s.shared[2].load();
        if (sent != m) return "producers sent " + std::to_string(sent) + " messages, expected " + std::to_string(m);
        if (got != m || count != m)
            return "consumers received " + std::to_string(got) + " messages (shared count " + std::to_string(count) +
                   "), expected " + std::to_string(m);
        if (sum != want_sum) return "received values sum to " + std::to_string(sum) + ", sent " + std::to_string(want_sum);
        return {};
    }
    static constexpr counter_meta counter_info[] = {{"msgs_per_s", "msgs/s", better::higher}};
    static counters report(const params& p, const measurement& m) {
        const double t = m.per_iteration();
        return {{"msgs_per_s", t > 0 ? ops(p) / t : 0}};
    }
};

}  // namespace cb::wl
