// coroutines_poll: the coroutines runtime's loop over poll(2) instead of
// epoll (runtimes/coroutines/poll_reactor.hpp). The same loop and awaitables
// (runtimes/coroutines/), another backend: every wait hands the kernel the
// whole array of armed fds, so its cost grows with the fds watched, idle or
// not (the idle_conns workload measures that curve).
#pragma once

#include "runtimes/coroutines/coroutines.hpp"

namespace cb {

// Another I/O backend of the coroutines loop (io_backend_variant,
// core/traits.hpp): outside the tests only the workloads that wait in the
// reactor run on it (bench/product.hpp).
inline constexpr runtime_traits coroutines_poll_traits =
    single_loop_traits("coroutines_poll", "C++20 coroutines (own poll() loop, one thread)", "poll");

struct coroutines_poll_runtime : basic_coroutines_runtime<basic_event_loop<poll_reactor>, coroutines_poll_traits> {};

static_assert(runtime<coroutines_poll_runtime>);

}  // namespace cb
