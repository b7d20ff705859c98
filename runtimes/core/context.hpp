// The context concept: every suspension point a workload body may use.
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
#include <vector>

#include <sys/types.h>

#include "task.hpp"
#include "traits.hpp"

namespace cb {

struct parked_info {
    std::size_t tasks = 0;
    std::vector<pid_t> children;  // processes only: the pids whose memory counts
};

struct run_options {
    // Pin task i (multi-threaded runtimes) or the runtime's only thread
    // (fibers, coroutines) to cpus[i % size]. Empty: no pinning.
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

// The kernel's limits on tasks, for spawn errors: "kernel.pid_max 32768,
// kernel.threads-max 192730, RLIMIT_NPROC 96365, vm.max_map_count 65530".
std::string task_limits();

// Pins the calling thread; used by runtimes for run_options::cpus.
void pin_this_thread(int cpu);

// A thread's CPU mask, saved to be put back later.
class cpu_mask {
public:
    static cpu_mask of_this_thread();
    void apply_to_this_thread() const;

private:
    alignas(8) unsigned char bytes_[128] = {};
    bool valid_ = false;
};

// Restores the calling thread's CPU mask when it leaves scope.
class affinity_guard {
public:
    affinity_guard() : saved_(cpu_mask::of_this_thread()) {}
    ~affinity_guard() { saved_.apply_to_this_thread(); }
    affinity_guard(const affinity_guard&) = delete;
    affinity_guard& operator=(const affinity_guard&) = delete;

private:
    cpu_mask saved_;
};

}  // namespace cb
