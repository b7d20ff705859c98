// coroutines_poll: the coroutines runtime's loop over poll(2) instead of
// epoll (runtimes/coroutines/poll_reactor.hpp). The same loop and awaitables
// (runtimes/coroutines/), another backend: every wait hands the kernel the
// whole array of armed fds, so its cost grows with the fds watched, idle or
// not (the idle_conns workload measures that curve).
#pragma once

#include "runtimes/coroutines/coroutines.hpp"

namespace cb {

inline constexpr runtime_traits coroutines_poll_traits{"coroutines_poll", "C++20 coroutines (own poll() loop, one thread)", task_kind::coroutine, false, true, stack_model::stackless, cost_class::tiny, true, false, false, "poll"};

struct coroutines_poll_runtime : basic_coroutines_runtime<basic_event_loop<poll_reactor>, coroutines_poll_traits> {
    // Another I/O backend of the coroutines loop: outside the full profile
    // only the workloads that do I/O run on it (bench/product.hpp).
    static constexpr bool io_backend_variant = true;
};

static_assert(runtime<coroutines_poll_runtime>);

}  // namespace cb
