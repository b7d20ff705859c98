// coroutines_uring: the coroutines runtime's loop over io_uring
// (runtimes/coroutines/uring_reactor.hpp): reads, writes and accepts are
// submitted to the ring and complete there; one io_uring_enter a loop
// iteration submits the batch and reaps completions. Socket reads (fds given
// to configure_fd) use multishot recv into a provided-buffer ring, and
// accepts multishot accept, where the kernel has them (uring_reactor.hpp says
// how, and the fd-reuse rule). The same loop and awaitables as coroutines
// (runtimes/coroutines/), another backend.
//
// Where io_uring cannot run (built without liburing, ENOSYS or EPERM from a
// seccomp filter, kernel.io_uring_disabled, a missing opcode, or
// COBENCH_URING_DISABLE=1 in the environment), unavailable() says why: the
// harness declares every pair of this runtime with that reason instead of
// running it, the tests skip with it, and run() throws it.
#pragma once

#include <stdexcept>
#include <string>

#include "runtimes/coroutines/coroutines.hpp"

namespace cb {

// Another I/O backend of the coroutines loop (io_backend_variant,
// core/traits.hpp): outside the tests only the workloads that wait in the
// reactor run on it (bench/product.hpp).
inline constexpr runtime_traits coroutines_uring_traits =
    single_loop_traits("coroutines_uring", "C++20 coroutines (own io_uring loop, one thread)", "io_uring");

struct coroutines_uring_runtime : basic_coroutines_runtime<basic_event_loop<uring_reactor>, coroutines_uring_traits> {
    static std::string unavailable() { return uring_reactor::unavailable(); }

    template <class Body>
    static std::vector<std::uint64_t> run(std::size_t n, Body body, const run_options& opts = {}) {
        if (std::string why = unavailable(); !why.empty()) throw std::runtime_error("coroutines_uring: " + why);
        return basic_coroutines_runtime::run(n, std::move(body), opts);
    }
};

static_assert(runtime<coroutines_uring_runtime>);

}  // namespace cb
