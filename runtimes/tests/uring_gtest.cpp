// The reactor backends of the coroutine loop (issue #14), at the runtime
// level: epoll (coroutines), poll(2) (coroutines_poll) and io_uring
// (coroutines_uring). Behaviour only: every backend delivers every byte with
// many fds armed; io_uring's EAGAIN fallback works, its submissions are
// batched, its reasons for being unavailable are clear. Each io_uring test
// skips with the reason where io_uring is unavailable. The harness-level
// tests (syscall counter, echo at 1000 connections, idle_conns, declared
// pairs) are in bench/tests/io_backends_gtest.cpp.
#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <optional>

#include <fcntl.h>
#include <unistd.h>

#include "runtimes/core/availability.hpp"
#include "runtimes/registry.hpp"

namespace {

using cb::task;

template <class R>
class Backend : public ::testing::Test {
protected:
    void SetUp() override {
        if (std::string why = cb::unavailable_reason<R>(); !why.empty()) GTEST_SKIP() << R::traits.name << " unavailable: " << why;
    }
};
struct names {
    template <class R>
    static std::string GetName(int) { return std::string(R::traits.name); }
};
using Loops = ::testing::Types<cb::coroutines_runtime, cb::coroutines_poll_runtime, cb::coroutines_uring_runtime>;
TYPED_TEST_SUITE(Backend, Loops, names);

// Restores an environment variable on scope exit.
struct env_guard {
    std::string name;
    std::optional<std::string> old;
    env_guard(const char* n, const char* v) : name(n) {
        if (const char* o = std::getenv(n)) old = o;
        ::setenv(n, v, 1);
    }
    ~env_guard() {
        if (old) ::setenv(name.c_str(), old->c_str(), 1);
        else ::unsetenv(name.c_str());
    }
};

// 300 readers, each on its own pipe, written in reverse order by one writer
// after every reader has armed its wait: each gets its own bytes. Exercises
// the poll backend's array (removal from the middle) and the ring's queue.
TYPED_TEST(Backend, ManyFdsEachGetTheirOwnBytes) {
    using R = TypeParam;
    using C = typename R::context;
    constexpr std::size_t n = 300;
    std::vector<cb::fd_pair> pipes;
    for (std::size_t k = 0; k < n; ++k) {
        pipes.push_back(cb::make_pipe());
        C::configure_fd(pipes.back().read_end.get());
        C::configure_fd(pipes.back().write_end.get());
    }
    auto res = R::run(n + 1, [&](C& ctx, std::size_t i) -> task<std::uint64_t> {
        if (i == n) {
            co_await ctx.sleep_for(std::chrono::milliseconds(5));
            for (std::size_t k = n; k-- > 0;) {
                const std::uint16_t v = static_cast<std::uint16_t>(k * 7 + 1);
                if (co_await ctx.write(pipes[k].write_end.get(), &v, sizeof v) != sizeof v) co_return 0;
            }
            co_return 1;
        }
        std::uint16_t v = 0;
        std::size_t got = 0;
        while (got < sizeof v) {
            const ssize_t r = co_await ctx.read(pipes[i].read_end.get(), reinterpret_cast<char*>(&v) + got, sizeof v - got);
            if (r <= 0) co_return 0;
            got += static_cast<std::size_t>(r);
        }
        co_return v == i * 7 + 1 ? 1 : 0;
    });
    for (std::size_t k = 0; k <= n; ++k) EXPECT_EQ(res[k], 1u) << "task " << k;
}

// A non-blocking fd (not configured for the ring) answers EAGAIN in the
// ring: the operation waits for readiness and completes with the data.
TEST(Uring, NonBlockingFdFallsBackToAPollAndCompletes) {
    using R = cb::coroutines_uring_runtime;
    if (std::string why = R::unavailable(); !why.empty()) GTEST_SKIP() << why;
    cb::fd_pair p = cb::make_pipe(true);
    const std::uint64_t before = cb::loop_syscalls.io;
    auto res = R::run(2, [&](R::context& ctx, std::size_t i) -> task<std::uint64_t> {
        if (i == 1) {
            co_await ctx.sleep_for(std::chrono::milliseconds(5));
            const char msg[] = "late";
            co_return static_cast<std::uint64_t>(co_await ctx.write(p.write_end.get(), msg, 4));
        }
        char buf[8] = {};
        const ssize_t r = co_await ctx.read(p.read_end.get(), buf, sizeof buf);
        co_return r == 4 && std::memcmp(buf, "late", 4) == 0 ? 1 : 0;
    });
    EXPECT_EQ(res[0], 1u);
    EXPECT_EQ(res[1], 4u);
    EXPECT_EQ(cb::loop_syscalls.io, before) << "the ring made the reads and writes: no read/write system call";
}

// Submissions are batched: 32 pipe ping-pongs side by side enter the kernel
// far fewer times than they make operations.
TEST(Uring, SubmissionsAreBatchedPerIteration) {
    using R = cb::coroutines_uring_runtime;
    if (std::string why = R::unavailable(); !why.empty()) GTEST_SKIP() << why;
    constexpr std::size_t pairs = 32, rounds = 50;
    std::vector<cb::fd_pair> ab, ba;
    for (std::size_t k = 0; k < pairs; ++k) {
        ab.push_back(cb::make_pipe());
        ba.push_back(cb::make_pipe());
    }
    const std::uint64_t w0 = cb::loop_syscalls.waits;
    auto res = R::run(2 * pairs, [&](R::context& ctx, std::size_t i) -> task<std::uint64_t> {
        const std::size_t k = i / 2;
        char c = 'x';
        for (std::size_t r = 0; r < rounds; ++r) {
            if (i % 2 == 0) {
                if (co_await ctx.write(ab[k].write_end.get(), &c, 1) != 1) co_return 0;
                if (co_await ctx.read(ba[k].read_end.get(), &c, 1) != 1) co_return 0;
            } else {
                if (co_await ctx.read(ab[k].read_end.get(), &c, 1) != 1) co_return 0;
                if (co_await ctx.write(ba[k].write_end.get(), &c, 1) != 1) co_return 0;
            }
        }
        co_return 1;
    });
    for (auto v : res) ASSERT_EQ(v, 1u);
    const double ops = 4.0 * pairs * rounds;
    const double enters = static_cast<double>(cb::loop_syscalls.waits - w0);
    EXPECT_GT(enters, 0.0);
    EXPECT_LT(enters * 4, ops) << enters << " io_uring_enter calls for " << ops << " operations";
}

TEST(Uring, EnvironmentZeroDoesNotDisable) {
    env_guard g("COBENCH_URING_DISABLE", "0");
    EXPECT_EQ(cb::uring_reactor::unavailable().find("COBENCH_URING_DISABLE"), std::string::npos);
}

// ENOMEM at ring setup (kernels before 5.12 charge rings to the locked-memory
// limit) is a clear error that names the limit and its value.
TEST(Uring, SetupErrorNamesTheMemlockLimit) {
    const std::string m = cb::uring_setup_error(ENOMEM);
    EXPECT_NE(m.find("RLIMIT_MEMLOCK"), std::string::npos) << m;
    EXPECT_NE(m.find("ulimit -l"), std::string::npos) << m;
    EXPECT_EQ(cb::uring_setup_error(EINVAL).find("RLIMIT_MEMLOCK"), std::string::npos);
}

}  // namespace
