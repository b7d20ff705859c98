// The context concept (every suspension point a workload body may use), the
// runtime concept, and the optional hooks a runtime may offer beyond them.
//
// A workload is written once against this concept and runs under every
// runtime. Each runtime builds the operations from its own primitive: a
// blocking system call (processes, threads), a oneTBB suspend point (pool), a
// parked fiber (fibers) or a suspended coroutine on the event loop.
#pragma once

#include <chrono>
#include <concepts>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <sys/types.h>

#include "cpu_affinity.hpp"
#include "task.hpp"
#include "traits.hpp"

namespace cb {

struct parked_info {
    std::size_t tasks = 0;
    std::vector<pid_t> children;  // processes only: the pids whose memory counts
};

struct run_options {
    // Pin task i (multi-threaded runtimes) or the runtime's only thread
    // (fibers, coroutines) to cpus[i % size]. Empty: no pinning. The means
    // are in cpu_affinity.hpp.
    std::vector<int> cpus;
    // Every task calls ctx.park() once; when all have arrived and before any
    // is released, on_parked runs (outside the tasks' own code paths). Without
    // a hook park() is a plain barrier.
    bool parks = false;
    void (*on_parked)(void* user, const parked_info&) = nullptr;
    void* user = nullptr;
    // Runtimes with several workers (each a process or thread running many
    // tasks): how many. 0: the runtime's default (default_workers()).
    std::size_t workers = 0;
    // Runtimes with sized_stacks (traits): the stack of every task, in bytes
    // (0: the runtime's default), and whether a guard page below it turns an
    // overflow into a fault rather than a write into the neighbour.
    std::size_t stack_bytes = 0;
    enum class guard { runtime_default, with, without } stack_guard = guard::runtime_default;
};

// An awaitable whose co_await gives a T (void: nothing).
template <class A, class T>
concept awaitable_of = requires(A a, std::coroutine_handle<> h) {
    { a.await_ready() } -> std::convertible_to<bool>;
    a.await_suspend(h);
    { a.await_resume() } -> std::convertible_to<T>;
};

// The task body shape the concepts check with: f(ctx, i) -> task<uint64_t>.
template <class C>
struct body_archetype {
    task<std::uint64_t> operator()(C&, std::size_t) const;
};

// Everything a workload body may do, and so everything a runtime's context
// must offer. Each operation returns an awaitable ([[nodiscard]]: a call
// without co_await is a compile error under -Werror, because under the
// coroutine loop it would silently do nothing).
template <class C>
concept context = requires(C& c, int fd, void* buf, const void* cbuf, std::size_t n, std::chrono::nanoseconds d,
                           typename C::template channel<std::uint64_t>& ch, std::uint64_t v,
                           body_archetype<C> body) {
    typename C::template channel<std::uint64_t>;
    requires std::constructible_from<typename C::template channel<std::uint64_t>, std::size_t>;
    C::configure_fd(fd);
    { c.yield() } -> awaitable_of<void>;
    { c.sleep_for(d) } -> awaitable_of<void>;
    { c.read(fd, buf, n) } -> awaitable_of<ssize_t>;
    { c.write(fd, cbuf, n) } -> awaitable_of<ssize_t>;
    { c.accept(fd) } -> awaitable_of<ssize_t>;
    { c.send(ch, v) } -> awaitable_of<void>;
    { c.recv(ch) } -> awaitable_of<std::uint64_t>;
    { c.park() } -> awaitable_of<void>;
    { c.spawn_all(n, body) } -> awaitable_of<std::uint64_t>;
};

// A runtime: its traits, its context, and run(n, body, options), which runs
// body(ctx, i) for i in [0, n) and returns the n results or throws.
template <class R>
concept runtime = requires(std::size_t n, body_archetype<typename R::context> body, const run_options& o) {
    { R::traits } -> std::convertible_to<runtime_traits>;
    requires context<typename R::context>;
    { R::run(n, body, o) } -> std::same_as<std::vector<std::uint64_t>>;
};

// The runtime type of a context that carries the runtime's traits: a
// runtime derives from it and adds run().
template <class Context>
struct runtime_of {
    static constexpr const runtime_traits& traits = Context::traits;
    using context = Context;
};

// ---- Optional hooks ---------------------------------------------------------
// What a runtime or its context may offer beyond the concepts above. Each
// hook is a named concept, and the harness and the workloads ask for it by
// that name; a runtime without a hook gets the default said beside it. What
// a runtime is, rather than what it offers, is a trait (traits.hpp): its
// backend (io_backend, io_backend_variant) and whether its loop counts its
// system calls (counts_syscalls) among them.

// R::unavailable(): "" or why the runtime cannot run on this machine (a
// kernel facility a sandbox can refuse, a library the build lacked).
// Without it a runtime always can. The harness declares every pair of an
// unavailable runtime with the reason (bench/product.hpp); the tests skip
// with it (unavailable_reason, availability.hpp).
template <class R>
concept may_be_unavailable = requires {
    { R::unavailable() } -> std::convertible_to<std::string>;
};

// C::workers_for(n, options): how many workers a run of n tasks starts, on a
// runtime whose workers (processes or threads) each run many tasks. The
// harness reports it as the counter "workers" (workloads/run.hpp).
template <class C>
concept counts_workers = requires(std::size_t n, const run_options& o) {
    { C::workers_for(n, o) } -> std::convertible_to<std::size_t>;
};

// A context with several workers that also says which one runs the calling
// task (c.worker(), in [0, workers_for(n, options))): a workload can give
// each worker something of its own, a listener for one.
template <class C>
concept worker_context = counts_workers<C> && requires(const C& c) {
    { c.worker() } -> std::convertible_to<std::size_t>;
};

// C::stack_usage(): the stack bytes (reserved, touched) the runtime holds
// for the tasks alive now, where it allocates the stacks itself (fibers).
// idle_memory samples it while every task is parked.
template <class C>
concept reports_stack_usage = requires {
    { C::stack_usage() } -> std::convertible_to<std::pair<std::size_t, std::size_t>>;
};

// C::release_free_memory(): hands back to the OS what the runtime keeps for
// reuse (free fiber stacks), so that a memory baseline taken next counts
// only what a run holds (idle_memory).
template <class C>
concept releases_free_memory = requires { C::release_free_memory(); };

}  // namespace cb
