// processes: one forked child a task. Hand-offs are pipes, results come back
// to the parent over a pipe, children leave with _exit. fork() is refused in a
// process that runs other threads: the child would inherit locks held by
// threads that do not exist in it.
#pragma once

#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include <sched.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../core/blocking_fd.hpp"
#include "../core/context.hpp"
#include "../core/fd.hpp"
#include "../core/group.hpp"
#include "../core/worker_group.hpp"

namespace cb {

// A pipe carrying fixed-size messages between processes. Created before the
// fork so that every task inherits both ends. Writes of at most PIPE_BUF bytes
// are atomic, so several senders and receivers may share one.
template <class T>
class pipe_channel {
    static_assert(std::is_trivially_copyable_v<T> && sizeof(T) <= 512);

public:
    // The pipe's buffer is set to hold about `capacity` messages (the kernel
    // rounds it up to a page, so the real bound is a page's worth at least).
    explicit pipe_channel(std::size_t capacity);
    void send(const T& v) {
        if (!write_full(p_.write_end.get(), &v, sizeof v)) throw_errno("pipe_channel write");
    }
    T recv() {
        T v;
        if (!read_full(p_.read_end.get(), &v, sizeof v)) throw_errno("pipe_channel read", errno ? errno : EPIPE);
        return v;
    }

private:
    fd_pair p_;
};

// What this runtime is (traits.hpp): declared once, asked everywhere.
inline constexpr runtime_traits processes_traits{
    .name = "processes", .label = "processes (fork, one a task)", .kind = task_kind::process,
    .multi_core = true, .shared_memory = false, .stack = stack_model::process, .cost = cost_class::heavy};

class process_context : public blocking_fd_ops {
public:
    static constexpr const runtime_traits& traits = processes_traits;
    template <class T>
    using channel = pipe_channel<T>;

    ready<void> yield() { ::sched_yield(); return {}; }
    ready<void> sleep_for(std::chrono::nanoseconds d) { std::this_thread::sleep_for(d); return {}; }
    template <class T>
    ready<void> send(channel<T>& ch, T v) { ch.send(v); return {}; }
    template <class T>
    ready<T> recv(channel<T>& ch) { return {ch.recv()}; }
    ready<void> park();

    template <class F>
    ready<std::uint64_t> spawn_all(std::size_t n, F f) {
        return {sum(run_group(n, run_options{}, f))};  // nested groups neither pin nor park
    }

    // Runs body(*this, i) in n children: a worker group of one process a task
    // (core/worker_group.hpp). The typed body goes behind a function pointer,
    // so the forking and reaping are compiled once, not once per body.
    template <class Body>
    std::vector<std::uint64_t> run_group(std::size_t n, const run_options& opts, Body& body) {
        struct env { Body* b; process_context* ctx; };
        env e{&body, this};
        process_group g{n, n, n, &opts, &park_};
        return run_process_workers(g, [](void* a, slice s, std::uint64_t* out) {
            auto* e = static_cast<env*>(a);
            for (std::size_t i = s.first; i < s.last; ++i) {
                result_slot r;
                run_blocking(*e->b, *e->ctx, i, r);
                if (r.error) std::rethrow_exception(r.error);
                out[i - s.first] = r.value;
            }
        }, &e);
    }

private:
    park_fds park_;  // the group's park barrier, set by run_process_workers
};

struct processes_runtime : runtime_of<process_context> {
    template <class Body>
    static std::vector<std::uint64_t> run(std::size_t n, Body body, const run_options& opts = {}) {
        process_context ctx;
        return ctx.run_group(n, opts, body);
    }
};

template <class T>
pipe_channel<T>::pipe_channel(std::size_t capacity) : p_(make_pipe(false)) {
    size_pipe_for(p_, capacity, sizeof(T));
}

static_assert(runtime<processes_runtime>);

}  // namespace cb
