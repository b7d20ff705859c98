// Whether a runtime can run on this machine at all: a runtime that may not
// (one that needs a kernel facility a sandbox can refuse) declares
// `static std::string unavailable()`, "" when it can run. Every other runtime
// always can. The harness declares each pair of an unavailable runtime with
// the reason (bench/product.hpp); tests skip with it.
#pragma once

#include <string>

namespace cb {

template <class R>
std::string unavailable_reason() {
    if constexpr (requires { { R::unavailable() } -> std::convertible_to<std::string>; }) return R::unavailable();
    else return {};
}

}  // namespace cb
