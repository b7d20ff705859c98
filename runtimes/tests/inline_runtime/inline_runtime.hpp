// inline: a test-only runtime that runs each task to completion, one after
// another, on the calling thread. It exists to prove that adding a runtime is
// this folder plus one line in a registry (runtimes/tests/test_registry.hpp):
// the conformance suite and every workload run under it through the same code
// as the real runtimes, and workloads whose tasks wait for each other are
// declared unable to run, from its traits (concurrent = false).
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <stdexcept>
#include <string_view>
#include <thread>
#include <vector>

#include <sys/socket.h>
#include <unistd.h>

#include "runtimes/core/blocking_fd.hpp"
#include "runtimes/core/context.hpp"
#include "runtimes/core/fd.hpp"
#include "runtimes/core/group.hpp"
#include "runtimes/core/task.hpp"
#include "runtimes/core/traits.hpp"

namespace cb::testing {

inline constexpr runtime_traits inline_traits{
    .name = "inline", .label = "inline calls (test only)", .kind = task_kind::inline_call,
    .multi_core = false, .shared_memory = true, .stack = stack_model::stackless, .cost = cost_class::tiny, .concurrent = false};

// Nothing ever waits: a receive from an empty channel or a send to a full one
// could only be satisfied by a task that has not started yet.
template <class T>
class inline_channel {
public:
    explicit inline_channel(std::size_t capacity) : capacity_(capacity == 0 ? 1 : capacity) {}
    void send(T v) {
        if (q_.size() >= capacity_) throw std::logic_error("inline: send to a full channel would wait forever");
        q_.push_back(std::move(v));
    }
    T recv() {
        if (q_.empty()) throw std::logic_error("inline: receive from an empty channel would wait forever");
        T v = std::move(q_.front());
        q_.pop_front();
        return v;
    }

private:
    std::size_t capacity_;
    std::deque<T> q_;
};

class inline_context : public blocking_fd_ops {
public:
    static constexpr const runtime_traits& traits = inline_traits;
    template <class T>
    using channel = inline_channel<T>;

    ready<void> yield() { return {}; }
    ready<void> sleep_for(std::chrono::nanoseconds d) {
        std::this_thread::sleep_for(d);
        return {};
    }
    template <class T>
    ready<void> send(channel<T>& ch, T v) {
        ch.send(std::move(v));
        return {};
    }
    template <class T>
    ready<T> recv(channel<T>& ch) {
        return {ch.recv()};
    }
    // A barrier needs every task alive at once; only a group of one can park.
    ready<void> park() {
        if (tasks != 1) throw std::logic_error("inline: park() with more than one task would wait forever");
        if (opts && opts->on_parked) opts->on_parked(opts->user, parked_info{1, {}});
        return {};
    }
    template <class F>
    ready<std::uint64_t> spawn_all(std::size_t n, F f) {
        return {sum(run_each(n, f, *this, in_turn(n)))};
    }
    // Runs each task to its end in turn, in the caller.
    static auto in_turn(std::size_t n) {
        return [n](auto each) {
            for (std::size_t i = 0; i < n; ++i) each(i);
        };
    }

    const run_options* opts = nullptr;
    std::size_t tasks = 0;
};

struct inline_runtime : runtime_of<inline_context> {
    template <class Body>
    static std::vector<std::uint64_t> run(std::size_t n, Body body, const run_options& opts = {}) {
        return run_top_level<inline_context>(n, body, opts, inline_context::in_turn(n));
    }
};

static_assert(runtime<inline_runtime>);

}  // namespace cb::testing
