// The context concept: every suspension point a workload body may use.
//
// A workload is written once against this concept and runs under every
// runtime. Each runtime builds the operations from its own primitive: a
// blocking system call (processes, threads), a oneTBB suspend point (pool), a
// parked fiber (fibers) or a suspended coroutine on the event loop.
#pragma once

#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <sys/types.h>

#include "task.hpp"

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
};

template <class C>
concept context = requires(C& c, int fd, void* buf, const void* cbuf, std::size_t n,
                           std::chrono::nanoseconds d,
                           typename C::template channel<std::uint64_t>& ch, std::uint64_t v) {
    { C::name } -> std::convertible_to<std::string_view>;
    C::configure_fd(fd);
    c.yield();
    c.sleep_for(d);
    c.read(fd, buf, n);
    c.write(fd, cbuf, n);
    c.accept(fd);
    c.send(ch, v);
    c.recv(ch);
    c.park();
};

// The kernel's limits on tasks, for spawn errors: "kernel.pid_max 32768,
// kernel.threads-max 192730, RLIMIT_NPROC 96365".
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
