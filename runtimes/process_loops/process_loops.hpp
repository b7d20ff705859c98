// process_loops: K worker processes (default: one a CPU), each running the
// suite's coroutine event loop over a contiguous slice of the tasks: the
// "several processes, each running coroutines" of nginx workers, gunicorn +
// uvicorn workers or Node's cluster. Built on the worker group
// (core/worker_group.hpp) and the coroutine loop (runtimes/coroutines/).
//
// Hand-offs: a channel is a pipe created before the fork, so a message can go
// from any task to any other, on this worker or another, and every hand-off
// is a real cross-process one through the kernel, even between two tasks of
// one worker. The alternative, a shared-memory ring with a local fast path,
// would measure a design no multi-process server uses for its requests and
// could not block a waiting worker without a futex of its own; the pipe is
// what the processes runtime uses too, so the two compare like with like.
// Tasks never share plain memory (traits: shared_memory false): workloads
// that need it are declared, as for processes.
#pragma once

#include <cstdint>
#include <type_traits>
#include <vector>

#include <climits>

#include "../core/context.hpp"
#include "../core/fd.hpp"
#include "../core/worker_group.hpp"
#include "../coroutines/context.hpp"
#include "../coroutines/run_tasks.hpp"

namespace cb {

inline constexpr runtime_traits process_loops_traits =
    worker_loops_traits("process_loops", "processes × coroutine loops (K workers)", /*shared_memory=*/false);

// A pipe of fixed-size messages awaited on the worker's loop. Writes and
// reads of sizeof(T) <= PIPE_BUF bytes are atomic and the pipe only ever
// holds whole messages, so any number of processes may send and receive.
// Tasks of one worker waiting on one end queue here behind a single
// readiness wait (the reactor takes one waiter an fd and direction), in
// arrival order. The
// queues are per process: each worker has its own copy after the fork.
template <class T>
class loop_pipe_channel {
    static_assert(std::is_trivially_copyable_v<T> && sizeof(T) <= PIPE_BUF);

public:
    explicit loop_pipe_channel(std::size_t capacity) : p_(make_pipe(true)) { size_pipe_for(p_, capacity, sizeof(T)); }
    loop_pipe_channel(const loop_pipe_channel&) = delete;
    loop_pipe_channel& operator=(const loop_pipe_channel&) = delete;

    using value_type = T;

    struct op_base : channel_op<loop_pipe_channel, event_loop, T, op_base> {
        using channel_op<loop_pipe_channel, event_loop, T, op_base>::channel_op;
        int err = 0;
        void check() const {
            if (err) throw_errno("process_loops channel", err);
        }
    };
    struct [[nodiscard]] recv_op : op_base {
        using op_base::op_base;
        bool await_ready() { return this->ch->readers_.waiting.empty() && this->ch->try_io(*this, true); }
        void await_suspend(std::coroutine_handle<> me) { this->h = me; this->ch->wait(this->ch->readers_, *this); }
        T await_resume() const {
            this->check();
            return this->value;
        }
    };
    struct [[nodiscard]] send_op : op_base {
        using op_base::op_base;
        bool await_ready() { return this->ch->writers_.waiting.empty() && this->ch->try_io(*this, false); }
        void await_suspend(std::coroutine_handle<> me) { this->h = me; this->ch->wait(this->ch->writers_, *this); }
        void await_resume() const { this->check(); }
    };

private:
    // One end's waiters: resumed in order while the pipe has room or data.
    struct end : io_waiter {
        loop_pipe_channel* ch;
        bool reading;
        event_loop* loop = nullptr;
        bool armed = false;
        waiter_list<op_base> waiting;
        end(loop_pipe_channel* c, bool r) : io_waiter{&on_ready}, ch(c), reading(r) {}
        int fd() const { return reading ? ch->p_.read_end.get() : ch->p_.write_end.get(); }
        static void on_ready(io_waiter* w) noexcept {
            auto* e = static_cast<end*>(w);
            e->armed = false;
            while (!e->waiting.empty() && e->ch->try_io(*e->waiting.head, e->reading)) e->loop->post(e->waiting.pop()->h);
            if (!e->waiting.empty()) {
                try {
                    e->loop->reactor.arm(e->fd(), e->reading ? EPOLLIN : EPOLLOUT, e);
                    e->armed = true;
                } catch (const std::system_error& x) {  // cannot wait: fail the waiters rather than strand them
                    while (!e->waiting.empty()) {
                        op_base* op = e->waiting.pop();
                        op->err = x.code().value();
                        e->loop->post(op->h);
                    }
                }
            }
        }
    };

    // true: done (moved a message, or failed with op.err set); false: EAGAIN.
    bool try_io(op_base& op, bool reading) noexcept {
        for (;;) {
            const ssize_t r = reading ? ::read(p_.read_end.get(), &op.value, sizeof(T))
                                      : ::write(p_.write_end.get(), &op.value, sizeof(T));
            if (r == static_cast<ssize_t>(sizeof(T))) return true;
            if (r < 0 && errno == EINTR) continue;
            if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return false;
            op.err = r < 0 ? errno : EPIPE;  // a short message or EOF: every process holds both ends, so a bug
            return true;
        }
    }
    void wait(end& e, op_base& op) {
        e.loop = op.loop;
        if (!e.armed) {
            e.loop->reactor.arm(e.fd(), e.reading ? EPOLLIN : EPOLLOUT, &e);
            e.armed = true;
        }
        e.waiting.push(&op);
    }

    fd_pair p_;
    end readers_{this, true}, writers_{this, false};
};

class process_loops_context : public worker_loop_context<process_loops_context> {
public:
    static constexpr const runtime_traits& traits = process_loops_traits;
    template <class T>
    using channel = loop_pipe_channel<T>;

    process_loops_context(event_loop& l, slice s, park_fds park) : worker_loop_context(l, s), park_(park) {}

private:
    friend loop_context<process_loops_context>;
    // The group-wide barrier: once all of this worker's tasks have parked, the
    // worker sends one arrival byte to the parent and blocks until released
    // (nothing else can run here meanwhile: every task of the worker waits).
    void last_local_arrival() const {
        char c = 0;
        if (!write_full(park_.arrive, &c, 1)) throw_errno("process_loops: park: arrive");
        if (!read_full(park_.release, &c, 1)) throw_errno("process_loops: park: release", errno ? errno : EPIPE);
    }
    park_fds park_;
};

struct process_loops_runtime {
    static constexpr const runtime_traits& traits = process_loops_traits;
    using context = process_loops_context;

    template <class Body>
    static std::vector<std::uint64_t> run(std::size_t n, Body body, const run_options& opts = {}) {
        struct env {
            Body* body;
            park_fds park;
        } e{&body, {}};
        const std::size_t w = workers_for(n, opts);
        // One park arrival a worker: each gathers its own tasks first.
        process_group g{n, w, w, &opts, &e.park};
        return run_process_workers(g, [](void* arg, slice s, std::uint64_t* out) {
            auto* e = static_cast<env*>(arg);
            event_loop loop;
            process_loops_context ctx(loop, s, e->park);
            run_tasks_on_loop(loop, ctx, *e->body, s, out);
        }, &e);
    }
};

static_assert(runtime<process_loops_runtime>);

}  // namespace cb
