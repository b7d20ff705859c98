// Properties of the coroutine loop that the conformance suite does not see:
// long chains stay flat on the C stack, frames are counted and returned, and a
// deadlock is reported instead of sleeping forever.
#include <gtest/gtest.h>

#include <sys/socket.h>
#include <unistd.h>

#include "runtimes/core/fd.hpp"
#include "runtimes/coroutines/coroutines.hpp"
#include "runtimes/fibers/fibers.hpp"

namespace {

using cb::coro_context;
using cb::coroutines_runtime;
using cb::task;

task<std::uint64_t> one_yield(coro_context& ctx, std::uint64_t v) {
    co_await ctx.yield();
    co_return v;
}
task<std::uint64_t> at_once(std::uint64_t v) { co_return v; }

// A million resumptions in one task; at -O0 or under ASan a loop that resumed
// by nested calls instead of from its queue would overflow the stack here.
TEST(CoroutineLoop, MillionYieldsInOneTaskKeepTheStackFlat) {
    auto res = coroutines_runtime::run(1, [](coro_context& ctx, std::size_t) -> task<std::uint64_t> {
        std::uint64_t n = 0;
        for (int i = 0; i < 1'000'000; ++i) {
            co_await ctx.yield();
            ++n;
        }
        co_return n;
    });
    EXPECT_EQ(res[0], 1'000'000u);
}

// 200,000 sub-tasks awaited one after another, each suspending once (its
// completion transfers to the parent) or completing at once.
TEST(CoroutineLoop, LongChainsOfAwaitedTasksKeepTheStackFlat) {
    auto res = coroutines_runtime::run(1, [](coro_context& ctx, std::size_t) -> task<std::uint64_t> {
        std::uint64_t s = 0;
        for (std::uint64_t i = 0; i < 200'000; ++i) {
            s += co_await one_yield(ctx, 1);
            s += co_await at_once(1);
        }
        co_return s;
    });
    EXPECT_EQ(res[0], 400'000u);
}

TEST(CoroutineLoop, FramesAreCountedAndAllReturned) {
    const auto before = cb::t_frames;
    std::int64_t live_while_parked = 0;
    cb::run_options o;
    o.parks = true;
    o.user = &live_while_parked;
    o.on_parked = [](void* u, const cb::parked_info&) { *static_cast<std::int64_t*>(u) = cb::t_frames.live_frames; };
    coroutines_runtime::run(1000, [](coro_context& ctx, std::size_t) -> task<std::uint64_t> {
        co_await ctx.park();
        co_return 0;
    }, o);
    EXPECT_EQ(live_while_parked - before.live_frames, 1000);
    EXPECT_EQ(cb::t_frames.live_frames, before.live_frames);
    EXPECT_EQ(cb::t_frames.live_bytes, before.live_bytes);
    EXPECT_GE(cb::t_frames.allocations - before.allocations, 1000u);
}

TEST(CoroutineLoop, DeadlockIsReportedNotSlept) {
    coro_context::channel<std::uint64_t> never(1);
    EXPECT_THROW(coroutines_runtime::run(2, [&](coro_context& ctx, std::size_t) -> task<std::uint64_t> {
        co_return co_await ctx.recv(never);
    }), std::runtime_error);
}

TEST(CoroutineLoop, ChannelHandsOffInFifoOrderWithWaitingSenders) {
    coro_context::channel<std::uint64_t> ch(2);
    auto res = coroutines_runtime::run(2, [&](coro_context& ctx, std::size_t i) -> task<std::uint64_t> {
        std::uint64_t ok = 0;
        for (std::uint64_t m = 0; m < 1000; ++m) {
            if (i == 0) co_await ctx.send(ch, m);
            else ok += (co_await ctx.recv(ch)) == m;
        }
        co_return ok;
    });
    EXPECT_EQ(res[1], 1000u);
}

TEST(FiberStacks, SlabReportsTouchedPagesOnly) {
    cb::stack_slab slab(64 * 1024, 16);
    void* a = slab.get();
    EXPECT_EQ(slab.resident_bytes(), 0u);
    static_cast<char*>(a)[64 * 1024 - 1] = 1;  // stacks grow down: the top page
    EXPECT_EQ(slab.resident_bytes(), 4096u);
    EXPECT_EQ(slab.in_use(), 1u);
    slab.put(a);
    EXPECT_EQ(slab.in_use(), 0u);
}

}  // namespace

namespace {

cb::task<std::uint64_t> wait_forever(cb::fiber_context& ctx, cb::fiber_context::channel<std::uint64_t>& ch) {
    co_return co_await ctx.recv(ch);
}

// A fiber deadlock must end the process with a message, not hang it.
TEST(FiberScheduler, DeadlockEndsLoudlyInsteadOfHanging) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    EXPECT_DEATH(
        {
            cb::fiber_context::channel<std::uint64_t> never(1);
            cb::fibers_runtime::run(2, [&](cb::fiber_context& ctx, std::size_t) { return wait_forever(ctx, never); });
        },
        "deadlock");
}

}  // namespace

namespace {

// The epoll loop registers an fd once (core/reactor.hpp): a task whose fd
// another task closes while it waits is resumed with EBADF, not left asleep
// (the kernel drops a closed fd from the epoll set without a word), and a
// wait on the number, reused at once by a new socket, waits on the new one.
TEST(CoroutineLoop, ReadOnAnFdClosedUnderItFailsWithEbadfAndTheNumberIsReusable) {
    int fds[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
    cb::unique_fd a{fds[0]}, b{fds[1]};
    coro_context::configure_fd(a.get());
    cb::unique_fd x, y;
    int err = 0;
    ssize_t got = 0;
    auto res = coroutines_runtime::run(2, [&](coro_context& ctx, std::size_t i) -> task<std::uint64_t> {
        char c = 0;
        if (i == 0) {
            got = co_await ctx.read(a.get(), &c, 1);  // waits; task 1 closes a under it
            err = errno;
            co_return ::write(y.get(), "z", 1) == 1 ? 1 : 0;
        }
        co_await ctx.yield();  // task 0 is waiting now
        const int num = a.get();
        a.reset();
        int again[2];
        if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, again) != 0) co_return 0;
        x.reset(again[0]);
        y.reset(again[1]);
        if (x.get() != num) co_return 0;  // the lowest free number came back
        coro_context::configure_fd(x.get());
        const ssize_t n = co_await ctx.read(x.get(), &c, 1);  // waits until task 0 writes
        co_return n == 1 && c == 'z' ? 2 : 0;
    });
    EXPECT_EQ(got, -1);
    EXPECT_EQ(err, EBADF);
    EXPECT_EQ(res[0], 1u);
    EXPECT_EQ(res[1], 2u) << "a read on the reused number serves the new socket";
}

}  // namespace
