// The runtimes the tests run: the registry's, plus test-only ones. Adding a
// test runtime is its folder and one line here.
#pragma once

#include <tuple>

#include "runtimes/registry.hpp"
#include "runtimes/tests/inline_runtime/inline_runtime.hpp"

namespace cb::testing {

using test_runtimes = decltype(std::tuple_cat(all_runtimes{}, std::tuple<inline_runtime>{}));

}  // namespace cb::testing
