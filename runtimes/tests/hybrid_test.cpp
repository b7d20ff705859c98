// The runtimes with several workers (process_loops, thread_loops): tasks are
// spread over the workers as the worker count says, a worker that dies fails
// the run with no process left behind, many tasks can wait in accept on one
// listener and a shutdown ends them all.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <set>
#include <thread>

#include "runtimes/registry.hpp"

namespace {

using namespace std::chrono_literals;
using cb::task;

bool no_children_left() {
    errno = 0;
    return ::waitpid(-1, nullptr, WNOHANG) == -1 && errno == ECHILD;
}

template <class R>
class Hybrid : public ::testing::Test {};
struct names {
    template <class R>
    static std::string GetName(int) { return std::string(R::traits.name); }
};
using Hybrids = ::testing::Types<cb::process_loops_runtime, cb::thread_loops_runtime>;
TYPED_TEST_SUITE(Hybrid, Hybrids, names);

TYPED_TEST(Hybrid, TasksRunOnTheWorkerTheirSliceSays) {
    using R = TypeParam;
    using C = typename R::context;
    for (std::size_t k : {1u, 2u, 3u}) {
        cb::run_options o;
        o.workers = k;
        const std::size_t n = 10;
        ASSERT_EQ(C::workers_for(n, o), k);
        auto res = R::run(n, [](C& ctx, std::size_t) -> task<std::uint64_t> {
            co_await ctx.yield();
            co_return ctx.worker();
        }, o);
        for (std::size_t i = 0; i < n; ++i) {
            const auto w = res[i];
            const cb::slice s = cb::slice_of(n, k, w);
            EXPECT_TRUE(i >= s.first && i < s.last) << "task " << i << " ran on worker " << w << " of " << k;
        }
    }
    cb::run_options many;
    many.workers = 64;
    EXPECT_EQ(C::workers_for(3, many), 3u) << "never more workers than tasks";
    EXPECT_EQ(C::workers_for(0, many), 1u);
}

TYPED_TEST(Hybrid, WorkerCountFromTheEnvironmentIsCheckedAndUsed) {
    ::setenv("COBENCH_WORKERS", "3", 1);
    EXPECT_EQ(cb::default_workers(), 3u);
    for (const char* bad : {"0", "-1", "two", "3x", "99999"}) {
        ::setenv("COBENCH_WORKERS", bad, 1);
        EXPECT_THROW(cb::default_workers(), std::invalid_argument) << bad;
    }
    ::unsetenv("COBENCH_WORKERS");
    EXPECT_GE(cb::default_workers(), 1u);
}

// Many acceptors of one loop on one listener, each gets its own connection;
// the surplus ones end with EINVAL once the listener is shut down.
TYPED_TEST(Hybrid, AcceptorsShareAListenerAndEndOnShutdown) {
    using R = TypeParam;
    using C = typename R::context;
    cb::unique_fd l{::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)};
    ASSERT_TRUE(l);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::bind(l.get(), reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    ASSERT_EQ(::listen(l.get(), 64), 0);
    socklen_t len = sizeof a;
    ASSERT_EQ(::getsockname(l.get(), reinterpret_cast<sockaddr*>(&a), &len), 0);
    C::configure_fd(l.get());
    // 6 clients connect before the run; 16 acceptors on 2 workers wait; the
    // last task shuts the listener down once the 6 were accepted.
    std::vector<cb::unique_fd> clients;
    for (int i = 0; i < 6; ++i) {
        clients.emplace_back(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
        ASSERT_EQ(::connect(clients.back().get(), reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    }
    cb::run_options o;
    o.workers = 2;
    const int lfd = l.get();
    typename C::template channel<std::uint64_t> accepted(64);
    auto res = R::run(17, [&](C& ctx, std::size_t i) -> task<std::uint64_t> {
        if (i == 16) {  // the closer: waits for 6 acceptances, then shuts the listener down
            for (int k = 0; k < 6; ++k) (void)co_await ctx.recv(accepted);
            ::shutdown(lfd, SHUT_RD);
            co_return 0;
        }
        const ssize_t fd = co_await ctx.accept(lfd);
        if (fd < 0) co_return errno == EINVAL ? 100 : 1000;  // ended by the shutdown
        ::close(static_cast<int>(fd));
        co_await ctx.send(accepted, std::uint64_t{1});
        co_return 1;
    }, o);
    std::uint64_t got = 0, ended = 0;
    for (std::size_t i = 0; i < 16; ++i) {
        if (res[i] == 1) ++got;
        else if (res[i] == 100) ++ended;
        else ADD_FAILURE() << "task " << i << " returned " << res[i];
    }
    EXPECT_EQ(got, 6u);
    EXPECT_EQ(ended, 10u);
}

// A worker killed mid-run, while its sibling waits for a message it will
// never send: the run fails naming the signal, and no process is left.
TEST(ProcessLoops, AKilledWorkerFailsTheRunAndLeavesNoProcess) {
    using R = cb::process_loops_runtime;
    using C = R::context;
    C::channel<std::uint64_t> never(1);
    cb::run_options o;
    o.workers = 2;
    const auto t0 = std::chrono::steady_clock::now();
    try {
        R::run(2, [&](C& ctx, std::size_t i) -> task<std::uint64_t> {
            if (i == 1) ::raise(SIGKILL);
            co_return co_await ctx.recv(never);
        }, o);
        ADD_FAILURE() << "the run succeeded";
    } catch (const std::exception& e) {
        EXPECT_NE(std::string(e.what()).find("signal 9"), std::string::npos) << e.what();
    }
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 10s);
    EXPECT_TRUE(no_children_left());
}

}  // namespace
