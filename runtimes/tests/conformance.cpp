// Conformance: the same small task bodies under every runtime. Each test
// checks behaviour (results, ordering, overlap, no spinning, clean failure),
// never speed.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <dirent.h>
#include <pwd.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "runtimes/tests/backend_fixture.hpp"
#include "runtimes/tests/test_registry.hpp"

namespace {

using namespace std::chrono_literals;
using cb::task;

// A runtime unavailable on this machine skips every test with its reason;
// test names carry the runtime's name (backend_fixture.hpp).
template <class R>
using Conformance = cb::testing::runtime_test<R>;
// Every runtime of the test registry, test-only ones included.
template <class List>
struct as_types;
template <class... R>
struct as_types<std::tuple<R...>> {
    using type = ::testing::Types<R...>;
};
using Runtimes = as_types<cb::testing::test_runtimes>::type;
TYPED_TEST_SUITE(Conformance, Runtimes, cb::testing::runtime_names);

// Sizes and expectations follow the traits, never the name. Tasks that are
// whole processes are expensive on a 2-core VM: they get smaller groups.
template <class R>
constexpr bool heavy = R::traits.cost == cb::cost_class::heavy;
template <class R>
constexpr std::size_t group_size = heavy<R> ? 16 : 64;

// Tests of tasks waiting for each other cannot run where tasks do not
// interleave; such a runtime declares it (traits.concurrent).
#define SKIP_UNLESS_CONCURRENT(R)                                                               \
    do {                                                                                        \
        if (!R::traits.concurrent)                                                              \
            GTEST_SKIP() << R::traits.name << " runs tasks one after another: nothing can wait for a sibling"; \
    } while (0)

std::size_t open_fds() {
    std::size_t n = 0;
    if (DIR* d = ::opendir("/proc/self/fd")) {
        while (::readdir(d)) ++n;
        ::closedir(d);
    }
    return n;
}

double cpu_seconds() {
    double s = 0;
    for (int who : {RUSAGE_SELF, RUSAGE_CHILDREN}) {
        rusage ru{};
        ::getrusage(who, &ru);
        s += ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
    }
    return s;
}

TYPED_TEST(Conformance, TasksCompleteAndResultsAddUp) {
    using R = TypeParam;
    const std::size_t n = group_size<R>;
    auto res = R::run(n, [](typename R::context& ctx, std::size_t i) -> task<std::uint64_t> {
        co_await ctx.yield();
        co_await ctx.yield();
        co_return i * i + 1;
    });
    ASSERT_EQ(res.size(), n);
    for (std::size_t i = 0; i < n; ++i) EXPECT_EQ(res[i], i * i + 1) << "task " << i;
}

TYPED_TEST(Conformance, PingPongArrivesCompleteAndInOrder) {
    using R = TypeParam;
    SKIP_UNLESS_CONCURRENT(R);
    using C = typename R::context;
    const std::uint64_t k = 2000;
    typename C::template channel<std::uint64_t> to_b(1), to_a(1);
    auto res = R::run(2, [&](C& ctx, std::size_t i) -> task<std::uint64_t> {
        std::uint64_t in_order = 0;
        for (std::uint64_t m = 1; m <= k; ++m) {
            if (i == 0) {
                co_await ctx.send(to_b, m);
                std::uint64_t back = co_await ctx.recv(to_a);
                in_order += back == m + 1000000;
            } else {
                std::uint64_t got = co_await ctx.recv(to_b);
                in_order += got == m;
                co_await ctx.send(to_a, got + 1000000);
            }
        }
        co_return in_order;
    });
    EXPECT_EQ(res[0], k);
    EXPECT_EQ(res[1], k);
}

TYPED_TEST(Conformance, SleepingTasksOverlapTheirWaits) {
    using R = TypeParam;
    SKIP_UNLESS_CONCURRENT(R);
    const std::size_t n = heavy<R> ? 8 : 32;
    const auto wait = 100ms;
    auto t0 = std::chrono::steady_clock::now();
    auto res = R::run(n, [&](typename R::context& ctx, std::size_t) -> task<std::uint64_t> {
        auto a = std::chrono::steady_clock::now();
        co_await ctx.sleep_for(wait);
        co_return static_cast<std::uint64_t>((std::chrono::steady_clock::now() - a) / 1us);
    });
    auto wall = std::chrono::steady_clock::now() - t0;
    for (auto slept_us : res) EXPECT_GE(slept_us, 100'000u) << "a sleep ended early";
    // Sequential would take n * 100 ms; overlapping takes about 100 ms. Half
    // the sequential sum leaves a wide margin for a loaded 2-core machine.
    EXPECT_LT(wall, n * wait / 2);
}

// Readers parked on empty pipes for ~300 ms must not burn CPU.
TYPED_TEST(Conformance, TasksParkedOnFdsDoNotSpin) {
    using R = TypeParam;
    using C = typename R::context;
    SKIP_UNLESS_CONCURRENT(R);
    const std::size_t readers = heavy<R> ? 4 : 16;
    std::vector<cb::fd_pair> pipes;
    for (std::size_t i = 0; i < readers; ++i) {
        pipes.push_back(cb::make_pipe());
        C::configure_fd(pipes.back().read_end.get());
        C::configure_fd(pipes.back().write_end.get());
    }
    double cpu0 = cpu_seconds();
    auto t0 = std::chrono::steady_clock::now();
    auto res = R::run(readers + 1, [&](C& ctx, std::size_t i) -> task<std::uint64_t> {
        char c = 'x';
        if (i == readers) {  // the writer
            co_await ctx.sleep_for(300ms);
            for (auto& p : pipes) co_await ctx.write(p.write_end.get(), &c, 1);
            co_return 0;
        }
        ssize_t r = co_await ctx.read(pipes[i].read_end.get(), &c, 1);
        co_return r == 1 && c == 'x' ? 1 : 0;
    });
    double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    double cpu = cpu_seconds() - cpu0;
    EXPECT_EQ(cb::sum(res), readers);
    EXPECT_GE(wall, 0.29);
    EXPECT_LT(cpu, 0.5 * wall) << "cpu " << cpu << " s over " << wall << " s wall: something spins";
}

TYPED_TEST(Conformance, ParkHookSeesEveryTaskParked) {
    using R = TypeParam;
    SKIP_UNLESS_CONCURRENT(R);
    const std::size_t n = group_size<R>;
    struct seen { std::size_t tasks = 0, children = 0, calls = 0; } s;
    cb::run_options o;
    o.parks = true;
    o.user = &s;
    o.on_parked = [](void* u, const cb::parked_info& info) {
        auto* s = static_cast<seen*>(u);
        s->tasks = info.tasks;
        s->children = info.children.size();
        ++s->calls;
    };
    auto res = R::run(n, [](typename R::context& ctx, std::size_t i) -> task<std::uint64_t> {
        co_await ctx.park();
        co_return i;
    }, o);
    EXPECT_EQ(cb::sum(res), n * (n - 1) / 2);
    // The hook runs once, where the run was started (for processes: in the
    // parent; the children's own copies of `s` do not count), and a runtime
    // whose tasks are processes names them, so their memory can be read.
    EXPECT_EQ(s.calls, 1u);
    if (R::traits.stack == cb::stack_model::process) {
        EXPECT_EQ(s.children, n);
    }
    EXPECT_EQ(s.tasks, n);
}

template <class C>
task<std::uint64_t> tree(C& ctx, std::uint64_t base, std::uint64_t size, std::uint64_t fanout) {
    if (size == 1) co_return base;
    const std::uint64_t part = size / fanout;
    co_return co_await ctx.spawn_all(fanout, [=](C& c, std::size_t i) { return tree(c, base + i * part, part, fanout); });
}

TYPED_TEST(Conformance, NestedSpawnTreeAddsUp) {
    using R = TypeParam;
    using C = typename R::context;
    const std::uint64_t leaves = heavy<R> ? 16 : 1000, fanout = heavy<R> ? 4 : 10;
    auto res = R::run(1, [&](C& ctx, std::size_t) { return tree(ctx, 0, leaves, fanout); });
    EXPECT_EQ(res[0], leaves * (leaves - 1) / 2);
}

TYPED_TEST(Conformance, LeavesNoChildrenAndNoFds) {
    using R = TypeParam;
    using C = typename R::context;
    // Warm up once: lazily created runtime machinery (a pool's I/O thread and
    // its epoll fd, a fiber scheduler) lives for the whole process by design.
    auto body = [](C& ctx, std::size_t i) -> task<std::uint64_t> {
        co_await ctx.sleep_for(1ms);
        co_return i;
    };
    R::run(4, body);
    std::size_t before = open_fds();
    for (int round = 0; round < 3; ++round) {
        typename C::template channel<std::uint64_t> ch(4);
        R::run(4, [&](C& ctx, std::size_t i) -> task<std::uint64_t> {
            if (i % 2 == 0) co_await ctx.send(ch, std::uint64_t{i});
            else co_return co_await ctx.recv(ch);
            co_return 0;
        });
    }
    { auto p = cb::make_pipe(); }
    EXPECT_EQ(open_fds(), before);
    errno = 0;
    EXPECT_EQ(::waitpid(-1, nullptr, WNOHANG), -1);
    EXPECT_EQ(errno, ECHILD) << "a child process was left behind";
}

TYPED_TEST(Conformance, FailingTaskSurfacesAsError) {
    using R = TypeParam;
    using C = typename R::context;
    EXPECT_THROW(R::run(4, [](C& ctx, std::size_t i) -> task<std::uint64_t> {
        co_await ctx.yield();
        if (i == 2) throw std::runtime_error("boom");
        co_return i;
    }), std::exception);
    errno = 0;
    EXPECT_EQ(::waitpid(-1, nullptr, WNOHANG), -1);
}

// A failed fork / pthread_create is a clear error, not a crash or hang. The
// limit is lowered in a child process (dropping root first: root ignores
// RLIMIT_NPROC), which reports back by exit status.
TYPED_TEST(Conformance, SpawnFailureUnderLowProcessLimitIsAClearError) {
    using R = TypeParam;
    if constexpr (R::traits.stack != cb::stack_model::process && R::traits.stack != cb::stack_model::os_thread) {
        GTEST_SKIP() << R::traits.name << " creates no OS process or thread per task";
    } else {
        std::fflush(nullptr);
        pid_t pid = ::fork();
        ASSERT_GE(pid, 0);
        if (pid == 0) {
            ::alarm(30);  // a hang ends as SIGALRM, which the parent reports
            if (::geteuid() == 0) {
                passwd* nobody = ::getpwnam("nobody");
                if (!nobody || ::setgid(nobody->pw_gid) != 0 || ::setuid(nobody->pw_uid) != 0) ::_exit(3);
            }
            rlimit rl{8, 8};
            if (::setrlimit(RLIMIT_NPROC, &rl) != 0) ::_exit(4);
            try {
                R::run(64, [](typename R::context& ctx, std::size_t) -> task<std::uint64_t> {
                    co_await ctx.sleep_for(50ms);
                    co_return 1;
                });
                ::_exit(5);  // the limit did not bite
            } catch (const cb::spawn_error& e) {
                std::fprintf(stderr, "expected error: %s\n", e.what());
                errno = 0;
                bool reaped = ::waitpid(-1, nullptr, WNOHANG) == -1 && errno == ECHILD;
                std::fflush(nullptr);
                ::_exit(reaped ? 0 : 6);
            } catch (...) {
                ::_exit(7);
            }
        }
        int st = 0;
        ASSERT_EQ(::waitpid(pid, &st, 0), pid);
        ASSERT_TRUE(WIFEXITED(st)) << "child died by signal " << WTERMSIG(st);
        EXPECT_EQ(WEXITSTATUS(st), 0) << "3/4: could not set up; 5: no failure; 6: children left; 7: wrong error";
    }
}

}  // namespace
