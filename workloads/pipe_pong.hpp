// pipe_pong: ping_pong through a pair of pipes instead of the runtime's own
// hand-off, so every runtime waits the same way the kernel's scheduler
// benchmark does (`perf bench sched pipe`, recorded beside it as
// kernel_sched_pipe when perf is installed): processes and threads block in
// read(2), the pool suspends the task until its I/O thread sees the fd
// readable, fibers and coroutines wait in epoll. One-way cost = round trip / 2.
#pragma once

#include "common.hpp"
#include "ping_pong.hpp"
#include "runtimes/core/fd.hpp"

namespace cb::wl {

struct pipe_pong : ns_per_op<pipe_pong, "switch_ns"> {
    static constexpr std::string_view name = "pipe_pong";
    static constexpr bool exercises_io = true;  // every I/O backend runs it in every profile (bench/product.hpp)
    using params = ping_pong::params;
    static std::vector<params> sizes(profile p, const runtime_traits& rt) {
        std::uint64_t r = by_profile<std::uint64_t>(p, 100, 5000, 20000);
        if (rt.multi_core) r /= 2;
        return {{r, true}, {r, false}};
    }
    static std::string unsupported(const runtime_traits& rt, const params& p) { return ping_pong::unsupported(rt, p); }
    static std::size_t tasks(const params&) { return 2; }
    static double ops(const params& p) { return 2.0 * static_cast<double>(p.rounds); }
    static run_options options(const params& p) { return ping_pong::options(p); }

    template <class C>
    struct state {
        explicit state(const params&) : to_b(make_pipe()), to_a(make_pipe()) {
            for (int fd : {to_b.read_end.get(), to_b.write_end.get(), to_a.read_end.get(), to_a.write_end.get()})
                C::configure_fd(fd);
        }
        fd_pair to_b, to_a;
    };

    // One byte each way: a one-byte pipe write or read is never partial.
    template <class C>
    static task<std::uint64_t> body(C& ctx, state<C>& s, std::size_t i, const params& p) {
        std::uint64_t in_order = 0;
        for (std::uint64_t m = 1; m <= p.rounds; ++m) {
            const char out = static_cast<char>(m & 0x7f);
            char in = 0;
            if (i == 0) {
                if (co_await ctx.write(s.to_b.write_end.get(), &out, 1) != 1) co_return in_order;
                if (co_await ctx.read(s.to_a.read_end.get(), &in, 1) != 1) co_return in_order;
            } else {
                if (co_await ctx.read(s.to_b.read_end.get(), &in, 1) != 1) co_return in_order;
                if (co_await ctx.write(s.to_a.write_end.get(), &in, 1) != 1) co_return in_order;
            }
            in_order += in == out;
        }
        co_return in_order;
    }
    template <class C>
    static std::string verify(const state<C>&, const params& p, const std::vector<std::uint64_t>& res) {
        return expect_each(res, p.rounds, "bytes in order");
    }
};

}  // namespace cb::wl
