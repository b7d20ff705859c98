// Whether a runtime can run on this machine at all: a runtime that may not
// (one that needs a kernel facility a sandbox can refuse) offers the hook
// may_be_unavailable (context.hpp). Every other runtime always can. The
// harness declares each pair of an unavailable runtime with the reason
// (bench/product.hpp); tests skip with it.
#pragma once

#include <string>

#include "context.hpp"

namespace cb {

template <class R>
std::string unavailable_reason() {
    if constexpr (may_be_unavailable<R>) return R::unavailable();
    else return {};
}

}  // namespace cb
