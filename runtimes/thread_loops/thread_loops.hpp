// thread_loops: K threads in one process (default: one a CPU), each running
// its own coroutine event loop over a contiguous slice of the tasks (a shard
// per core, as Seastar does). Beside process_loops it separates "processes or
// threads" from "one core or many": the same loop, the same slicing, but
// tasks share memory and hand-offs between shards stay in user space.
//
// Hand-offs: a channel is a mutex-guarded ring whose waiting senders and
// receivers are their awaiters; a waiter on this loop is made ready directly,
// one on another loop through that loop's inbox (event_loop::post_remote,
// which writes its eventfd only when that loop sleeps in epoll).
#pragma once

#include <atomic>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <vector>

#include "../core/context.hpp"
#include "../core/worker_group.hpp"
#include "../coroutines/context.hpp"
#include "../coroutines/run_tasks.hpp"

namespace cb {

inline constexpr runtime_traits thread_loops_traits =
    worker_loops_traits("thread_loops", "threads × coroutine loops (K workers)", /*shared_memory=*/true);

template <class T>
class shard_channel : public channel_buffer<T> {
public:
    using channel_buffer<T>::channel_buffer;
    ~shard_channel() { assert(receivers_.empty() && senders_.empty() && "channel destroyed with waiters"); }

    // Both operations decide under the lock whether to suspend
    // (await_suspend returns false: go on at once), so a value sent from
    // another thread between a failed try and the wait is never missed.
    struct op_base : channel_op<shard_channel, event_loop, T, op_base> {
        using channel_op<shard_channel, event_loop, T, op_base>::channel_op;
#ifndef NDEBUG
        ~op_base() {  // unlinked under the lock: other loops' threads use the queues
            if (!this->queued_on) return;
            std::lock_guard lk(this->ch->m_);
            this->queued_on->remove(this);
        }
#endif
        bool await_ready() const noexcept { return false; }
    };
    struct [[nodiscard]] recv_op : op_base {
        using op_base::op_base;
        bool await_suspend(std::coroutine_handle<> me) { this->h = me; return this->ch->recv_or_wait(*this); }
        T await_resume() noexcept { return std::move(this->value); }
    };
    struct [[nodiscard]] send_op : op_base {
        using op_base::op_base;
        bool await_suspend(std::coroutine_handle<> me) { this->h = me; return this->ch->send_or_wait(*this); }
        void await_resume() const noexcept {}
    };

private:
    static void wake(op_base* w, event_loop* here) {
        if (w->loop == here) here->post(w->h);
        else w->loop->post_remote(w->h);
    }
    // true: suspended (queued); false: done.
    bool send_or_wait(op_base& op) {
        std::unique_lock lk(m_);
        if (!receivers_.empty()) {
            op_base* r = receivers_.pop();
            r->value = std::move(op.value);
            lk.unlock();
            wake(r, op.loop);
            return false;
        }
        if (!this->full()) {
            this->push_value(std::move(op.value));
            return false;
        }
        senders_.push(&op);
        return true;
    }
    bool recv_or_wait(op_base& op) {
        std::unique_lock lk(m_);
        if (!this->buffered()) {
            receivers_.push(&op);
            return true;
        }
        op.value = this->pop_value();
        op_base* s = nullptr;
        if (!senders_.empty()) {
            s = senders_.pop();
            this->push_value(std::move(s->value));
        }
        lk.unlock();
        if (s) wake(s, op.loop);
        return false;
    }

    std::mutex m_;
    waiter_list<op_base> receivers_, senders_;
};

// park(): each loop gathers its own tasks, then the loop's thread arrives at
// the group barrier; the last arrival runs the hook and releases the others.
// A loop blocks its thread there: all of its tasks are parked.
struct shard_barrier {
    std::size_t loops, tasks;
    const run_options* opts;
    std::atomic<std::size_t> arrived{0};
    std::atomic<bool> released{false};
    void arrive_and_wait() {
        if (arrived.fetch_add(1, std::memory_order_acq_rel) + 1 == loops) {
            if (opts && opts->on_parked) opts->on_parked(opts->user, parked_info{tasks, {}});
            released.store(true, std::memory_order_release);
            released.notify_all();
        } else {
            released.wait(false, std::memory_order_acquire);
        }
    }
};

class thread_loops_context : public worker_loop_context<thread_loops_context> {
public:
    static constexpr const runtime_traits& traits = thread_loops_traits;
    template <class T>
    using channel = shard_channel<T>;

    thread_loops_context(event_loop& l, slice s, shard_barrier& b) : worker_loop_context(l, s), barrier_(&b) {}

private:
    friend loop_context<thread_loops_context>;
    void last_local_arrival() { barrier_->arrive_and_wait(); }
    shard_barrier* barrier_;
};

struct thread_loops_runtime {
    static constexpr const runtime_traits& traits = thread_loops_traits;
    using context = thread_loops_context;

    template <class Body>
    static std::vector<std::uint64_t> run(std::size_t n, Body body, const run_options& opts = {}) {
        const std::size_t w = workers_for(n, opts);
        // Every loop outlives every thread: a task on one loop may post to
        // another until the last thread is joined.
        std::vector<std::unique_ptr<event_loop>> loops;
        for (std::size_t i = 0; i < w; ++i) loops.push_back(std::make_unique<event_loop>(event_loop::mode::sharded));
        shard_barrier barrier{w, n, &opts};
        std::vector<std::uint64_t> out(n);
        std::vector<std::exception_ptr> errors(w);
        run_thread_workers(w, n, opts.cpus, [&](slice s) {
            try {
                thread_loops_context ctx(*loops[s.worker], s, barrier);
                run_tasks_on_loop(*loops[s.worker], ctx, body, s, out.data() + s.first, event_loop::mode::sharded);
            } catch (...) {
                errors[s.worker] = std::current_exception();
            }
        });
        for (auto& e : errors)
            if (e) std::rethrow_exception(e);
        return out;
    }
};

static_assert(runtime<thread_loops_runtime>);

}  // namespace cb
