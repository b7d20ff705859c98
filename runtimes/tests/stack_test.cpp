// Stack size as a dimension (traits.sized_stacks): fibers and threads run
// with the stack a run asks for (run_options::stack_bytes, stack_guard), a
// fiber that overflows a guarded stack is caught and reported, and a size no
// runtime can honour is a clear error.
#include <gtest/gtest.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstdint>
#include <fstream>
#include <stdexcept>
#include <string>
#include <thread>

#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>

#include "runtimes/fibers/fibers.hpp"
#include "runtimes/threads/threads.hpp"

namespace {

using cb::task;
using guard = cb::run_options::guard;
constexpr std::size_t KiB = 1024;

// AddressSanitizer's -O0 frames with redzones do not fit in 8 KiB: the runs
// that need the stack to hold real work take 64 KiB in such a build (what
// is checked, the size asked being the size used, is the same).
#if defined(__SANITIZE_ADDRESS__)
constexpr bool sanitized = true;
#else
constexpr bool sanitized = false;
#endif
constexpr std::size_t small_stack = sanitized ? 64 * KiB : 8 * KiB;

cb::run_options stacks(std::size_t bytes, guard g) {
    cb::run_options o;
    o.stack_bytes = bytes;
    o.stack_guard = g;
    return o;
}

// An address in the caller's frame, on whatever stack runs it (the fiber's or
// the thread's): a coroutine's own locals live in its heap frame instead.
[[gnu::noinline]] std::uintptr_t stack_address() {
    volatile char here = 0;
    return reinterpret_cast<std::uintptr_t>(&here);
}

// Fibers i and i + 1 of a fresh slab get neighbouring stacks, so the same
// frame at the same depth lies exactly one stack (plus its guard) apart.
std::uintptr_t neighbour_distance(const cb::run_options& o, std::size_t* stack_size) {
    std::vector<std::uintptr_t> at(2);
    auto res = cb::fibers_runtime::run(
        2,
        [&](cb::fiber_context& ctx, std::size_t i) -> task<std::uint64_t> {
            at[i] = stack_address();
            *stack_size = cb::fiber_context::stack_usage().first;
            co_await ctx.yield();
            co_return 1;
        },
        o);
    EXPECT_EQ(res.size(), 2u);
    return at[1] > at[0] ? at[1] - at[0] : at[0] - at[1];
}

// 8 KiB fibers that yield, park on the barrier and are measured there (what
// idle_memory does). Each test runs in a fresh process under ctest, so the
// first calls through lazily bound symbols happen here too: they must not
// overflow (fibers.cpp binds them on a 64 KiB stack first).
TEST(FiberStacks, SmallStacksRunAndFinish) {
    const std::size_t n = 500;
    cb::run_options o = stacks(small_stack, guard::without);
    struct seen_t {
        std::size_t size = 0, touched = 0;
    } seen;
    o.parks = true;
    o.user = &seen;
    o.on_parked = [](void* u, const cb::parked_info&) {
        auto [size, touched] = cb::fiber_context::stack_usage();
        *static_cast<seen_t*>(u) = {size, touched};
    };
    auto res = cb::fibers_runtime::run(
        n,
        [](cb::fiber_context& ctx, std::size_t i) -> task<std::uint64_t> {
            co_await ctx.yield();
            co_await ctx.park();
            co_await ctx.yield();
            co_return i + 1;
        },
        o);
    ASSERT_EQ(res.size(), n);
    for (std::size_t i = 0; i < n; ++i) EXPECT_EQ(res[i], i + 1);
    EXPECT_EQ(seen.size, small_stack);
    // Every parked fiber holds at least a page of its stack, and no more than all of it.
    EXPECT_GE(seen.touched, n * 4 * KiB);
    EXPECT_LE(seen.touched, n * small_stack);
}

TEST(FiberStacks, TheRunUsesTheAskedSize) {
    std::size_t size = 0;
    EXPECT_EQ(neighbour_distance(stacks(8 * KiB, guard::without), &size), 8 * KiB);
    EXPECT_EQ(size, 8 * KiB);
    // A guard page lies between neighbours; the usable stack is still 8 KiB.
    EXPECT_EQ(neighbour_distance(stacks(8 * KiB, guard::with), &size), 12 * KiB);
    EXPECT_EQ(size, 8 * KiB);
    EXPECT_EQ(neighbour_distance(stacks(256 * KiB, guard::with), &size), 260 * KiB);
    EXPECT_EQ(size, 256 * KiB);
    // Rounded up to whole pages.
    EXPECT_EQ(neighbour_distance(stacks(10000, guard::without), &size), 12 * KiB);
    EXPECT_EQ(size, 12 * KiB);
}

TEST(FiberStacks, TheDefaultIsUnchanged) {
    std::size_t size = 0;
    cb::fibers_runtime::run(
        1,
        [&](cb::fiber_context&, std::size_t) -> task<std::uint64_t> {
            size = cb::fiber_context::stack_usage().first;
            co_return 1;
        });
    EXPECT_EQ(size, cb::default_fiber_stack);
    // After a run with other stacks, the thread's own slab is back.
    cb::fibers_runtime::run(1, [](cb::fiber_context&, std::size_t) -> task<std::uint64_t> { co_return 1; },
                            stacks(8 * KiB, guard::with));
    EXPECT_EQ(cb::fiber_context::stack_usage().first, cb::default_fiber_stack);
}

TEST(FiberStacks, TooSmallIsAClearError) {
    try {
        cb::fibers_runtime::run(1, [](cb::fiber_context&, std::size_t) -> task<std::uint64_t> { co_return 1; },
                                stacks(1000, guard::with));
        FAIL() << "a 1000-byte fiber stack was accepted";
    } catch (const std::invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find("1000 bytes is below the minimum"), std::string::npos) << e.what();
    }
}

volatile std::uint64_t g_depth = 1'000'000;

// Deep enough to run through any stack: frames of ~600 bytes, each smaller
// than the guard page, so the first write below the stack lands in it.
[[gnu::noinline]] std::uint64_t recurse(std::uint64_t depth) {
    volatile char pad[512];
    pad[0] = static_cast<char>(depth);
    pad[511] = pad[0];
    if (depth == 0) return static_cast<std::uint64_t>(pad[511]);
    return recurse(depth - 1) + static_cast<std::uint64_t>(pad[0]);
}

void overflow_a_guarded_fiber() {
    cb::fibers_runtime::run(
        1,
        [](cb::fiber_context&, std::size_t) -> task<std::uint64_t> { co_return recurse(g_depth); },
        stacks(8 * KiB, guard::with));
}

// Only the guarded overflow runs: an unguarded one would write over the
// neighbouring stack or whatever lies below, which is the point of the guard.
TEST(FiberStacksDeathTest, AnOverflowIntoTheGuardPageIsReported) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    EXPECT_EXIT(overflow_a_guarded_fiber(), ::testing::KilledBySignal(SIGSEGV),
                "cobench: fiber stack overflow: a 8192-byte fiber stack ran into its guard page at 0x[0-9a-f]+");
}

// Another fault (not in a guard page) is not ours: it goes on to the
// previous handler, with no overflow message: the default action (death by
// SIGSEGV), or in an AddressSanitizer build ASan's own report and exit 1.
TEST(FiberStacksDeathTest, OtherFaultsAreForwarded) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    auto fault = [] {
        cb::install_stack_guard_handler();
        *static_cast<volatile int*>(nullptr) = 1;
    };
    if constexpr (sanitized)
        EXPECT_EXIT(fault(), ::testing::ExitedWithCode(1), "AddressSanitizer: SEGV");
    else
        EXPECT_EXIT(fault(), ::testing::KilledBySignal(SIGSEGV), "^$");
}

std::size_t mappings_now() {
    std::ifstream f("/proc/self/maps");
    std::size_t n = 0;
    for (std::string line; std::getline(f, line);) ++n;
    return n;
}

// With the process near vm.max_map_count, guarded fibers fail to spawn with
// an error that names the sysctl, instead of a bare ENOMEM. The mappings are
// used up with one region whose pages alternate protections (no memory), in
// a child process so nothing else in the test binary meets the wall.
[[noreturn]] void spawn_guarded_fibers_at_the_map_count_wall() {
    std::size_t max = 0;
    std::ifstream("/proc/sys/vm/max_map_count") >> max;
    const std::size_t spare = 1000, now = mappings_now();
    if (max < now + 2 * spare) std::_Exit(3);
    const std::size_t pages = max - now - spare, page = 4096;  // one mapping a page
    void* region = ::mmap(nullptr, pages * page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (region == MAP_FAILED) std::_Exit(4);
    for (std::size_t i = 0; i < pages; i += 2)
        if (::mprotect(static_cast<char*>(region) + i * page, page, PROT_NONE) != 0) break;
    try {
        cb::fibers_runtime::run(
            2 * spare, [](cb::fiber_context&, std::size_t) -> task<std::uint64_t> { co_return 1; },
            stacks(8 * KiB, guard::with));
    } catch (const cb::spawn_error& e) {
        std::fprintf(stderr, "%s\n", e.what());
        std::_Exit(std::string(e.what()).find("vm.max_map_count") != std::string::npos ? 0 : 5);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "not a spawn_error: %s\n", e.what());
        std::_Exit(7);
    }
    std::_Exit(6);
}

TEST(FiberStacksDeathTest, TheMapCountWallIsNamed) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    EXPECT_EXIT(spawn_guarded_fibers_at_the_map_count_wall(), ::testing::ExitedWithCode(0), "vm.max_map_count [0-9]+");
}

// ---- threads ----------------------------------------------------------------

// The permissions ("rw-p", "---p") of the mapping holding addr, "" if none.
std::string protection_at(std::uintptr_t addr) {
    std::ifstream f("/proc/self/maps");
    std::uintptr_t lo = 0, hi = 0;
    char dash = 0;
    std::string perms, rest;
    while (f >> std::hex >> lo >> dash >> hi >> perms) {
        if (addr >= lo && addr < hi) return perms;
        std::getline(f, rest);
    }
    return "";
}

struct thread_stack {
    std::size_t size = 0, glibc_guard = 0;
    std::uintptr_t lo = 0;
    std::string below;  // the protection of the page just below the stack
};

thread_stack this_thread_stack() {
    pthread_attr_t a;
    thread_stack s;
    if (::pthread_getattr_np(::pthread_self(), &a) != 0) return s;
    void* lo = nullptr;
    ::pthread_attr_getstack(&a, &lo, &s.size);
    ::pthread_attr_getguardsize(&a, &s.glibc_guard);
    ::pthread_attr_destroy(&a);
    s.lo = reinterpret_cast<std::uintptr_t>(lo);
    s.below = protection_at(s.lo - 1);
    return s;
}

std::vector<thread_stack> thread_stacks(std::size_t n, const cb::run_options& o) {
    std::vector<thread_stack> seen(n);
    auto res = cb::threads_runtime::run(
        n,
        [&](cb::thread_context& ctx, std::size_t i) -> task<std::uint64_t> {
            seen[i] = this_thread_stack();
            co_await ctx.yield();
            co_return 1;
        },
        o);
    EXPECT_EQ(res.size(), n);
    return seen;
}

TEST(ThreadStacks, TheThreadHasTheAskedSize) {
    // Bigger first: glibc's stack cache would hand these to the smaller
    // threads if it made their stacks (a stack up to 4x the size asked).
    // Without guards, below each stack lies another (the mappings are made
    // one under the other), but the lowest, under which lies anything.
    const auto unguarded = thread_stacks(8, stacks(256 * KiB, guard::without));
    std::uintptr_t lowest = UINTPTR_MAX;
    for (const thread_stack& s : unguarded) lowest = std::min(lowest, s.lo);
    for (const thread_stack& s : unguarded) {
        EXPECT_EQ(s.size, 256 * KiB);
        if (s.lo != lowest) {
            EXPECT_NE(s.below, "---p") << "a guard page below a stack asked for without one";
        }
    }
    for (const thread_stack& s : thread_stacks(8, stacks(64 * KiB, guard::with))) {
        EXPECT_EQ(s.size, 64 * KiB);
        EXPECT_EQ(s.below, "---p") << "no guard page below the stack";
    }
}

TEST(ThreadStacks, NestedTasksGetTheRunsStacks) {
    std::vector<thread_stack> seen(4);
    cb::threads_runtime::run(
        1,
        [&](cb::thread_context& ctx, std::size_t) -> task<std::uint64_t> {
            co_return co_await ctx.spawn_all(4, [&](cb::thread_context&, std::size_t i) -> task<std::uint64_t> {
                seen[i] = this_thread_stack();
                co_return 1;
            });
        },
        stacks(128 * KiB, guard::with));
    for (const thread_stack& s : seen) EXPECT_EQ(s.size, 128 * KiB);
}

TEST(ThreadStacks, TheDefaultIsUnchanged) {
    thread_stack plain;
    std::thread([&] { plain = this_thread_stack(); }).join();
    for (const thread_stack& s : thread_stacks(4, {})) {
        EXPECT_EQ(s.size, plain.size);
        EXPECT_EQ(s.glibc_guard, plain.glibc_guard);
        EXPECT_EQ(s.below, "---p");
    }
}

// A guard alone, at the default size: glibc's stacks with guardsize 0.
TEST(ThreadStacks, WithoutAGuardAtTheDefaultSize) {
    for (const thread_stack& s : thread_stacks(4, stacks(0, guard::without))) EXPECT_EQ(s.glibc_guard, 0u);
}

TEST(ThreadStacks, BelowPthreadStackMinIsAClearError) {
    try {
        thread_stacks(2, stacks(8 * KiB, guard::with));
        FAIL() << "an 8 KiB thread stack was accepted";
    } catch (const std::invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find("below PTHREAD_STACK_MIN"), std::string::npos) << e.what();
    }
}

}  // namespace
