// What the typed tests of the runtimes share: a fixture that skips a runtime
// unavailable here (core/availability.hpp: io_uring refused by a sandbox,
// say) with its reason, test names that carry the runtime's name (so that
// `ctest -N` lists every runtime), the coroutine loop's backends as one type
// list, and an environment variable set for one test.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <optional>
#include <string>

#include "runtimes/core/availability.hpp"
#include "runtimes/registry.hpp"

namespace cb::testing {

template <class R>
class runtime_test : public ::testing::Test {
protected:
    void SetUp() override {
        if (std::string why = cb::unavailable_reason<R>(); !why.empty()) GTEST_SKIP() << R::traits.name << " unavailable: " << why;
    }
};

struct runtime_names {
    template <class R>
    static std::string GetName(int) { return std::string(R::traits.name); }
};

// The coroutine loop over each of its backends: epoll, poll(2), io_uring.
using loop_backends = ::testing::Types<cb::coroutines_runtime, cb::coroutines_poll_runtime, cb::coroutines_uring_runtime>;

// Sets an environment variable, and restores it on scope exit.
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
    env_guard(const env_guard&) = delete;
    env_guard& operator=(const env_guard&) = delete;
};

}  // namespace cb::testing
