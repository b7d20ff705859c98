// GoogleTest typed suites over runtimes, for the I/O workload tests: a
// suite whose tests fail on a hang (an alarm) rather than stall ctest, named
// by each runtime's traits so that `ctest -N` lists every runtime.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <tuple>
#include <vector>

#include <unistd.h>

namespace cb::testing {

// A hang (a request never answered, an acceptor never ended) fails the test.
template <class R>
class alarmed : public ::testing::Test {
protected:
    void SetUp() override { ::alarm(120); }
    void TearDown() override { ::alarm(0); }
};

struct runtime_names {
    template <class R>
    static std::string GetName(int) { return std::string(R::traits.name); }
};

// ::testing::Types of the runtimes of a std::tuple (a registry).
template <class... R>
::testing::Types<R...> types_of(std::tuple<R...>);

// W's tasks under runtime R with the state given, outside the harness: the
// task results, for verify().
template <class R, class W>
std::vector<std::uint64_t> run_tasks(typename W::template state<typename R::context>& s, const typename W::params& p) {
    using C = typename R::context;
    return R::run(W::tasks(p), [&](C& ctx, std::size_t i) { return W::body(ctx, s, i, p); }, W::options(p));
}

}  // namespace cb::testing
