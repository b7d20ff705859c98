// cb::generator: the sequence it yields, laziness, early exit, exceptions,
// ownership, and what it copies.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <numeric>
#include <ranges>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "runtimes/core/generator.hpp"

namespace {

static_assert(std::ranges::input_range<cb::generator<int>>);
static_assert(std::input_iterator<cb::generator<std::unique_ptr<int>>::iterator>);
static_assert(std::same_as<std::iter_reference_t<cb::generator<int>::iterator>, int&&>);
static_assert(std::same_as<std::iter_reference_t<cb::generator<const std::string&>::iterator>, const std::string&>);
static_assert(!std::is_copy_constructible_v<cb::generator<int>>);
static_assert(std::is_nothrow_move_constructible_v<cb::generator<int>>);

cb::generator<std::uint64_t> count_up(std::uint64_t n) {
    for (std::uint64_t k = 0; k < n; ++k) co_yield k;
}

cb::generator<std::uint64_t> fibonacci() {
    std::uint64_t a = 0, b = 1;
    for (;;) {
        co_yield a;
        a = std::exchange(b, a + b);
    }
}

TEST(Generator, YieldsTheExactSequence) {
    std::vector<std::uint64_t> got;
    for (std::uint64_t v : count_up(1000)) got.push_back(v);
    std::vector<std::uint64_t> want(1000);
    std::iota(want.begin(), want.end(), std::uint64_t{0});
    EXPECT_EQ(got, want);
}

TEST(Generator, FibonacciPrefixFromAnEndlessBody) {
    std::vector<std::uint64_t> got;
    for (std::uint64_t v : fibonacci()) {
        if (got.size() == 15) break;
        got.push_back(v);
    }
    const std::vector<std::uint64_t> want{0, 1, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 233, 377};
    EXPECT_EQ(got, want);
}

TEST(Generator, WorksWithRangesAlgorithms) {
    auto g = count_up(10);
    const auto n = std::ranges::count_if(g, [](std::uint64_t v) { return v % 3 == 0; });
    EXPECT_EQ(n, 4);  // 0, 3, 6, 9
}

cb::generator<int> empty_body(int& ran) {
    ++ran;
    co_return;
}

TEST(Generator, EmptyBodyAndDefaultConstructedAreEmpty) {
    int ran = 0;
    auto g = empty_body(ran);
    EXPECT_EQ(ran, 0) << "the body must not start before begin()";
    EXPECT_TRUE(g.begin() == g.end());
    EXPECT_EQ(ran, 1);
    cb::generator<int> none;
    EXPECT_TRUE(none.begin() == none.end());
    int items = 0;
    for (int v : cb::generator<int>{}) items += v + 1;
    EXPECT_EQ(items, 0);
}

cb::generator<int> logged(std::vector<std::string>& log) {
    log.push_back("start");
    for (int i = 0; i < 3; ++i) {
        log.push_back("yield " + std::to_string(i));
        co_yield i;
    }
    log.push_back("end");
}

TEST(Generator, StartsLazilyAndRunsOneStepAPull) {
    std::vector<std::string> log;
    auto g = logged(log);
    EXPECT_TRUE(log.empty());
    auto it = g.begin();
    EXPECT_EQ(log, (std::vector<std::string>{"start", "yield 0"}));
    EXPECT_EQ(*it, 0);
    ++it;
    EXPECT_EQ(log.back(), "yield 1");
    EXPECT_EQ(*it, 1);
    ++it;
    ++it;
    EXPECT_TRUE(it == g.end());
    EXPECT_EQ(log.back(), "end");
}

// Counts how many of these were destroyed: a local in a generator's frame
// must be destroyed when the frame is, however the consumer stopped.
struct destruction_counter {
    int* destroyed;
    ~destruction_counter() { ++*destroyed; }
};

cb::generator<int> with_local(int* destroyed) {
    destruction_counter local{destroyed};
    for (int i = 0;; ++i) co_yield i;
}

TEST(Generator, EarlyBreakDestroysTheFrame) {
    int destroyed = 0;
    {
        auto g = with_local(&destroyed);
        int seen = 0;
        for (int v : g) {
            EXPECT_EQ(v, seen);
            if (++seen == 3) break;
        }
        EXPECT_EQ(destroyed, 0) << "the frame lives as long as its generator";
    }
    EXPECT_EQ(destroyed, 1);
}

TEST(Generator, NeverStartedGeneratorDestroysItsFrameToo) {
    int destroyed = 0;
    { auto g = with_local(&destroyed); }
    EXPECT_EQ(destroyed, 0) << "the local was never constructed: the body never started";
    {
        auto g = with_local(&destroyed);
        (void)g.begin();
    }
    EXPECT_EQ(destroyed, 1);
}

cb::generator<int> throws_after(int n, int* destroyed) {
    destruction_counter local{destroyed};
    for (int i = 0; i < n; ++i) co_yield i;
    throw std::runtime_error("producer failed after " + std::to_string(n));
}

TEST(Generator, ExceptionReachesTheConsumer) {
    int destroyed = 0;
    std::vector<int> got;
    try {
        for (int v : throws_after(2, &destroyed)) got.push_back(v);
        FAIL() << "the body's exception did not reach the consumer";
    } catch (const std::runtime_error& e) {
        EXPECT_STREQ(e.what(), "producer failed after 2");
    }
    EXPECT_EQ(got, (std::vector<int>{0, 1}));
    EXPECT_EQ(destroyed, 1);
}

TEST(Generator, ExceptionBeforeTheFirstYieldComesFromBegin) {
    int destroyed = 0;
    auto g = throws_after(0, &destroyed);
    EXPECT_THROW((void)g.begin(), std::runtime_error);
    EXPECT_EQ(destroyed, 1) << "the body's locals unwound when it threw";
    EXPECT_TRUE(g.begin() == g.end()) << "after the throw the generator is at its end";
}

TEST(Generator, ExceptionIsThrownOnceAndTheGeneratorEnds) {
    int destroyed = 0;
    auto g = throws_after(1, &destroyed);
    auto it = g.begin();
    EXPECT_EQ(*it, 0);
    EXPECT_THROW(++it, std::runtime_error);
    EXPECT_TRUE(it == g.end());
}

TEST(Generator, MoveTransfersTheFrame) {
    int destroyed = 0;
    auto a = with_local(&destroyed);
    auto it = a.begin();
    EXPECT_EQ(*it, 0);
    cb::generator<int> b = std::move(a);
    EXPECT_TRUE(a.begin() == a.end()) << "a moved-from generator is empty";  // NOLINT(bugprone-use-after-move)
    auto jt = b.begin();  // already started: continues where it was, not from the start
    EXPECT_EQ(*jt, 0);
    ++jt;
    EXPECT_EQ(*jt, 1);
    EXPECT_EQ(destroyed, 0);

    // Move assignment destroys the frame it replaces.
    int destroyed_c = 0;
    auto c = with_local(&destroyed_c);
    (void)c.begin();
    c = std::move(b);
    EXPECT_EQ(destroyed_c, 1);
    EXPECT_EQ(destroyed, 0);
    auto kt = c.begin();
    ++kt;
    EXPECT_EQ(*kt, 2);
    c = cb::generator<int>{};
    EXPECT_EQ(destroyed, 1);
}

cb::generator<std::unique_ptr<int>> boxes(int n) {
    for (int i = 0; i < n; ++i) {
        auto p = std::make_unique<int>(i * 10);
        co_yield std::move(p);
    }
    co_yield std::make_unique<int>(-1);  // a temporary, read where it lies
}

TEST(Generator, MoveOnlyValues) {
    std::vector<std::unique_ptr<int>> got;
    for (auto p : boxes(3)) got.push_back(std::move(p));
    ASSERT_EQ(got.size(), 4u);
    for (int i = 0; i < 3; ++i) {
        ASSERT_TRUE(got[i]);
        EXPECT_EQ(*got[i], i * 10);
    }
    ASSERT_TRUE(got[3]);
    EXPECT_EQ(*got[3], -1);
}

// Counts copies, to check what co_yield copies and what it does not.
struct copy_counter {
    int* copies;
    int value;
    copy_counter(int* c, int v) : copies(c), value(v) {}
    copy_counter(const copy_counter& o) : copies(o.copies), value(o.value) { ++*copies; }
    copy_counter(copy_counter&& o) noexcept = default;
    copy_counter& operator=(const copy_counter&) = delete;
    copy_counter& operator=(copy_counter&&) = delete;
    ~copy_counter() = default;
};

cb::generator<const copy_counter&> by_reference(int* copies, int n) {
    copy_counter c{copies, 0};
    for (int i = 0; i < n; ++i) {
        c.value = i;
        co_yield c;  // the consumer reads the body's own object
    }
}

cb::generator<copy_counter> rvalues(int* copies, int n) {
    for (int i = 0; i < n; ++i) co_yield copy_counter{copies, i};
}

cb::generator<copy_counter> lvalues(int* copies, int n) {
    copy_counter c{copies, 0};
    for (int i = 0; i < n; ++i) {
        c.value = i;
        co_yield c;  // copied once into the frame, like std::generator
    }
}

TEST(Generator, YieldingByReferenceCopiesNothing) {
    int copies = 0, sum = 0;
    for (const copy_counter& c : by_reference(&copies, 100)) sum += c.value;
    EXPECT_EQ(sum, 4950);
    EXPECT_EQ(copies, 0);
}

TEST(Generator, YieldingAnRvalueCopiesNothing) {
    int copies = 0, sum = 0;
    for (auto&& c : rvalues(&copies, 100)) sum += c.value;
    EXPECT_EQ(sum, 4950);
    EXPECT_EQ(copies, 0);
}

TEST(Generator, YieldingAnLvalueCopiesItOnce) {
    int copies = 0, sum = 0;
    for (auto&& c : lvalues(&copies, 100)) sum += c.value;
    EXPECT_EQ(sum, 4950);
    EXPECT_EQ(copies, 100);
}

}  // namespace
