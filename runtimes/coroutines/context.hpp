// The coroutine loop's context: every suspension point a workload body may
// use, each an awaitable that lives in the awaiting frame, so waiting
// allocates nothing (accept's per-fd queue excepted: one per listening fd).
#pragma once

#include <cassert>
#include <cerrno>
#include <coroutine>
#include <cstdint>
#include <memory>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../core/context.hpp"
#include "../core/fd.hpp"
#include "../core/task.hpp"
#include "uring_reactor.hpp"
#include "../core/worker_group.hpp"
#include "channel.hpp"
#include "event_loop.hpp"

namespace cb {

// What a single coroutine loop is (traits.hpp), whatever reactor it waits
// in: the loops over epoll, poll and io_uring differ in their names and
// their backend alone.
constexpr runtime_traits single_loop_traits(std::string_view name, std::string_view label, std::string_view backend) {
    return {.name = name, .label = label, .kind = task_kind::coroutine, .multi_core = false, .shared_memory = true,
            .stack = stack_model::stackless, .cost = cost_class::tiny, .io_backend = backend, .counts_syscalls = true};
}

// What a hybrid is: K workers (processes or threads) each running one of
// these loops over epoll; they differ in whether tasks share memory.
constexpr runtime_traits worker_loops_traits(std::string_view name, std::string_view label, bool shared_memory) {
    return {.name = name, .label = label, .kind = task_kind::hybrid, .multi_core = true, .shared_memory = shared_memory,
            .stack = stack_model::stackless, .cost = cost_class::tiny, .sized_workers = true};
}

// What this runtime is: declared once, asked everywhere.
inline constexpr runtime_traits coroutines_traits =
    single_loop_traits("coroutines", "C++20 coroutines (own epoll loop, one thread)", "epoll");

// What a system call made by an awaitable left: its result, or -1 with the
// errno it failed with (kept here, since other calls run before the task
// resumes, and set again for the task in await_resume).
struct io_result {
    ssize_t result = -1;
    int err = 0;
    // One non-blocking call, retried on EINTR and counted as the loop's I/O
    // call: true when it is over (a result, or an error other than EAGAIN),
    // false when the fd is not ready.
    template <class Sys>
    bool attempt(Sys sys) noexcept {
        for (;;) {
            ++loop_syscalls.io;
            result = sys();
            if (result >= 0) return true;
            if (errno == EINTR) continue;
            err = errno;
            return err != EAGAIN && err != EWOULDBLOCK;
        }
    }
    // A completion's result: bytes, a new fd, or -errno.
    void complete_with(int res) noexcept {
        result = res;
        if (res < 0) err = -res;
    }
    ssize_t await_resume() const noexcept {
        if (result < 0) errno = err;
        return result;
    }
};

// One read or write on an fd: what it asks, its result, and the task that
// waits for it (the awaitables below add their backend's way of waiting).
enum class io_kind { read, write };
struct io_request : io_result {
    int fd;
    void* buf;
    std::size_t n;
    io_kind kind;
    std::coroutine_handle<> h{};
    io_request(int f, void* b, std::size_t len, io_kind k) : fd(f), buf(b), n(len), kind(k) {}
};

// The awaitables every context on our event loop shares (this runtime's and
// the hybrids', runtimes/thread_loops and runtimes/process_loops): yield,
// sleep, fd operations, accept, spawn_all, send/recv on Self's channel, and
// park. Self is the derived context, so spawned bodies get the context type
// they were written for; it says how park ends (below).
//
// Loop is the event loop of one backend (event_loop.hpp). A readiness backend
// (epoll, poll) gets the awaitables below that try the system call first and
// wait for readiness on EAGAIN; a completion backend (io_uring) gets ring_io_op
// and ring_accept_op, which hand the whole operation to the ring. The fds of
// a completion backend are blocking (configure_fd): the ring waits for them
// itself, where a non-blocking fd would answer EAGAIN and cost a poll
// round trip (still handled, below).
template <class Reactor>
inline constexpr bool completion_backend = requires { Reactor::completion_based; };

template <class Self, class Loop = event_loop>
class loop_context {
    static constexpr bool completion = completion_backend<typename Loop::reactor_type>;

public:
    explicit loop_context(Loop& l) : loop_(&l) {}
    loop_context(const loop_context&) = delete;
    loop_context& operator=(const loop_context&) = delete;
    static void configure_fd(int fd) {
        set_nonblocking(fd, !completion);
        // A new file under this number for the epoll loop's register-once
        // table too (core/fd.hpp, fd_reuse), also where the number was freed
        // by a raw close().
        if constexpr (!completion) fd_reuse::renew(fd);
        // A new file under this number: a socket's reads may use the ring's
        // multishot recv (uring_reactor::recv), and no older stream applies.
        if constexpr (completion) Loop::reactor_type::register_socket(fd);
    }

    struct [[nodiscard]] yield_op {
        Loop* loop;
        bool await_ready() const noexcept { return false; }
        void await_suspend(std::coroutine_handle<> h) const { loop->post(h); }
        void await_resume() const noexcept {}
    };
    yield_op yield() { return {loop_}; }

    struct [[nodiscard]] sleep_op : timer_waiter {
        Loop* loop;
        steady::time_point when;
        std::coroutine_handle<> h{};
        sleep_op(Loop* l, steady::time_point w) : timer_waiter{&fired}, loop(l), when(w) {}
        static void fired(timer_waiter* t) noexcept {
            auto* s = static_cast<sleep_op*>(t);
            s->loop->post(s->h);
        }
        bool await_ready() const noexcept { return false; }
        void await_suspend(std::coroutine_handle<> me) { h = me; loop->timers.add(when, this); }
        void await_resume() const noexcept {}
    };
    sleep_op sleep_for(std::chrono::nanoseconds d) { return {loop_, steady::now() + d}; }

    // The readiness backend's read/write: tried at once; on EAGAIN the
    // coroutine waits for readiness and the call is retried from the loop
    // before it is resumed.
    struct [[nodiscard]] io_op : io_waiter, io_request {
        Loop* loop;
        io_op(Loop* l, int f, void* b, std::size_t len, io_kind k) : io_waiter{&on_ready}, io_request(f, b, len, k), loop(l) {}
        bool attempt() noexcept {
            return io_result::attempt([this] { return kind == io_kind::read ? ::read(fd, buf, n) : ::write(fd, buf, n); });
        }
        std::uint32_t events() const noexcept { return kind == io_kind::write ? EPOLLOUT : EPOLLIN; }
        static void on_ready(io_waiter* w) noexcept {
            auto* op = static_cast<io_op*>(w);
            if (op->fd_closed) {  // closed under the wait: its number may name another file now
                op->result = -1;
                op->err = EBADF;
                op->loop->post(op->h);
            } else if (op->attempt()) op->loop->post(op->h);
            else op->loop->reactor.arm(op->fd, op->events(), op);  // spurious readiness: wait again
        }
        bool await_ready() noexcept { return attempt(); }
        void await_suspend(std::coroutine_handle<> me) { h = me; loop->reactor.arm(fd, events(), this); }
    };
    // The completion backend's read/write: submitted to the ring in
    // await_suspend (no system call: the loop submits the iteration's batch),
    // resumed with the completion's result. A non-blocking fd that answers
    // EAGAIN waits for readiness (a one-shot poll on the ring) and resubmits.
    struct [[nodiscard]] ring_io_op : uring_op, io_request {
        Loop* loop;
        ring_io_op(Loop* l, int f, void* b, std::size_t len, io_kind k) : uring_op{&done}, io_request(f, b, len, k), loop(l) {}
        void submit() {
            if (kind == io_kind::read) loop->reactor.read(fd, buf, n, this);
            else loop->reactor.write(fd, buf, n, this);
        }
        static void done(uring_op* o, int res) noexcept {
            auto* op = static_cast<ring_io_op*>(o);
            if (res == -EAGAIN || res == -EINTR) {
                op->complete = &readable;
                op->loop->reactor.poll_add(op->fd, op->kind == io_kind::write ? POLLOUT : POLLIN, op);
                return;
            }
            op->complete_with(res);
            op->loop->post(op->h);
        }
        static void readable(uring_op* o, int) noexcept {
            auto* op = static_cast<ring_io_op*>(o);
            op->complete = &done;
            op->submit();
        }
        bool await_ready() const noexcept { return false; }
        // A socket read goes through the fd's multishot stream: data already
        // received is copied here and the task goes on without suspending.
        bool await_suspend(std::coroutine_handle<> me) {
            h = me;
            if (kind == io_kind::read) {
                int res = 0;
                switch (loop->reactor.recv(fd, buf, n, this, &res)) {
                case uring_reactor::recv_path::done:
                    complete_with(res);
                    return false;
                case uring_reactor::recv_path::waiting:
                    return true;
                case uring_reactor::recv_path::single_shot:
                    break;
                }
            }
            submit();
            return true;
        }
    };
    using read_write_op = std::conditional_t<completion, ring_io_op, io_op>;
    read_write_op read(int fd, void* b, std::size_t n) { return {loop_, fd, b, n, io_kind::read}; }
    read_write_op write(int fd, const void* b, std::size_t n) { return {loop_, fd, const_cast<void*>(b), n, io_kind::write}; }

    // accept: many tasks of one loop may wait on one listening socket (a
    // server's acceptors), so waiters queue per fd behind one level-triggered,
    // exclusive registration (reactor.watch_exclusive): with several loops or
    // processes watching a shared listener, a connection wakes one of them.
    // Each waiter gets its own connection, in arrival order. After
    // shutdown(fd, SHUT_RD) every waiter is resumed with -1 and errno EINVAL.
    struct accept_queue;
    struct [[nodiscard]] accept_op : waiter_node<accept_op>, io_result {
        loop_context* ctx;
        int fd;
        accept_op(loop_context* c, int f) : ctx(c), fd(f) {}
        bool attempt() noexcept {
            return io_result::attempt([this] { return ::accept4(fd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK); });
        }
        bool await_ready() noexcept {
            auto it = ctx->acceptors_.find(fd);
            if (it != ctx->acceptors_.end() && !it->second->waiting.empty()) return false;  // queue behind them
            return attempt();
        }
        void await_suspend(std::coroutine_handle<> me) {
            this->h = me;
            auto& q = ctx->acceptors_[fd];
            if (!q) q = std::make_unique<accept_queue>(ctx->loop_, fd);
            if (!q->watching) {
                ctx->loop_->reactor.watch_exclusive(fd, q.get());
                q->watching = true;
            }
            q->waiting.push(this);
        }
    };
    struct accept_queue : io_waiter {
        Loop* loop;
        int fd;
        bool watching = false;
        waiter_list<accept_op> waiting;
        accept_queue(Loop* l, int f) : io_waiter{&on_ready}, loop(l), fd(f) {}
        static void on_ready(io_waiter* w) noexcept {
            auto* q = static_cast<accept_queue*>(w);
            while (!q->waiting.empty() && q->waiting.head->attempt()) q->loop->post(q->waiting.pop()->h);
            if (q->waiting.empty()) {  // nobody waits: stop watching, or readiness would repeat
                q->loop->reactor.unwatch(q->fd);
                q->watching = false;
            }
        }
    };
    // The completion backend's accept: the reactor's one multishot accept per
    // listener, waiters queued in order, accepted fds queued for the next
    // accept (uring_reactor::accept; one IORING_OP_ACCEPT per waiter where
    // multishot is unavailable). After shutdown(fd, SHUT_RD) the waiting
    // accepts complete with EINVAL, as above.
    struct [[nodiscard]] ring_accept_op : uring_op, io_result {
        Loop* loop;
        int fd;
        std::coroutine_handle<> h{};
        ring_accept_op(loop_context* c, int f) : uring_op{&done}, loop(c->loop_), fd(f) {}
        static void done(uring_op* o, int res) noexcept {
            auto* op = static_cast<ring_accept_op*>(o);
            if (res == -EAGAIN || res == -EINTR) {  // a non-blocking listener: wait for it, then accept again
                op->complete = &readable;
                op->loop->reactor.poll_add(op->fd, POLLIN, op);
                return;
            }
            if (res >= 0) Loop::reactor_type::forget_fd(res);  // a new file under this number
            op->complete_with(res);
            op->loop->post(op->h);
        }
        static void readable(uring_op* o, int) noexcept {
            auto* op = static_cast<ring_accept_op*>(o);
            op->complete = &done;
            op->loop->reactor.accept(op->fd, op);
        }
        bool await_ready() const noexcept { return false; }
        void await_suspend(std::coroutine_handle<> me) { h = me; loop->reactor.accept(fd, this); }
    };
    using accept_awaitable = std::conditional_t<completion, ring_accept_op, accept_op>;
    accept_awaitable accept(int fd) { return {this, fd}; }

    // Spawns n child tasks f(ctx, i) on this loop and resumes the caller when
    // all have finished, with the sum of their results.
    template <class F>
    struct [[nodiscard]] spawn_all_op {
        Self* ctx;
        std::size_t n;
        F f;
        std::vector<task<std::uint64_t>> kids{};
        std::size_t remaining = 0;
        std::coroutine_handle<> parent{};
        static void kid_done(void* self) noexcept {
            auto* op = static_cast<spawn_all_op*>(self);
            if (--op->remaining == 0 && op->parent) op->ctx->loop().post(op->parent);
        }
        bool await_ready() {
            // Sized once and assigned: push_back's growth path was no longer
            // inlined here (+7% instructions a skynet node).
            kids.resize(n);
            for (std::size_t i = 0; i < n; ++i) {
                kids[i] = f(*ctx, i);
                if (!kids[i].done()) {
                    ++remaining;
                    kids[i].on_done(&kid_done, this);
                }
            }
            return remaining == 0;
        }
        void await_suspend(std::coroutine_handle<> me) noexcept { parent = me; }
        std::uint64_t await_resume() {
            std::uint64_t s = 0;
            for (auto& k : kids) s += k.get();
            return s;
        }
    };
    template <class F>
    spawn_all_op<F> spawn_all(std::size_t n, F f) { return {static_cast<Self*>(this), n, std::move(f)}; }

    // The hand-offs, on Self's channel type (Self::channel<T>): its awaiters
    // are made from the channel and this loop.
    template <class Ch>
    typename Ch::send_op send(Ch& ch, typename Ch::value_type v) { return {&ch, loop_, std::move(v)}; }
    template <class Ch>
    typename Ch::recv_op recv(Ch& ch) { return {&ch, loop_}; }

    // park(): every task of this loop waits until the last of them arrives
    // (Self::local_tasks() of them); that arrival calls
    // Self::last_local_arrival(), which returns once the whole run may go on
    // (a lone loop runs the park hook; a hybrid's worker waits at its group's
    // barrier, its thread or process blocked: all of its tasks are parked),
    // and then the loop's tasks are resumed in arrival order.
    struct [[nodiscard]] park_op : waiter_node<park_op> {
        Self* ctx;
        explicit park_op(Self* c) : ctx(c) {}
        bool await_ready() const noexcept { return false; }
        void await_suspend(std::coroutine_handle<> me) {
            this->h = me;
            loop_context& here = *ctx;
            here.parked_.push(this);
            if (++here.arrived_ < ctx->local_tasks()) return;
            ctx->last_local_arrival();
            while (!here.parked_.empty()) here.loop_->post(here.parked_.pop()->h);
        }
        void await_resume() const noexcept {}
    };
    park_op park() { return park_op{static_cast<Self*>(this)}; }

    Loop& loop() noexcept { return *loop_; }

protected:
    // A run that returns with a task still parked never released it.
    ~loop_context() { assert(parked_.empty() && "a run returned with tasks still parked"); }
    Loop* loop_;

private:
    std::unordered_map<int, std::unique_ptr<accept_queue>> acceptors_;
    std::size_t arrived_ = 0;
    waiter_list<park_op> parked_;
};

// The context of the single-loop runtimes, one per backend: coroutines
// (epoll), coroutines_poll, coroutines_uring. The loop holds every task of
// the run, so its last arrival at park runs the hook itself.
template <class Loop, const runtime_traits& Traits>
class basic_coro_context : public loop_context<basic_coro_context<Loop, Traits>, Loop> {
    using base = loop_context<basic_coro_context<Loop, Traits>, Loop>;
    friend base;

public:
    static constexpr const runtime_traits& traits = Traits;
    template <class T>
    using channel = coro_channel<T, Loop>;

    explicit basic_coro_context(Loop& l) : base(l) {}

    const run_options* opts = nullptr;
    std::size_t tasks = 0;

private:
    std::size_t local_tasks() const noexcept { return tasks; }
    void last_local_arrival() const {
        if (opts && opts->on_parked) opts->on_parked(opts->user, parked_info{tasks, {}});
    }
};

// The context of one worker's loop in the hybrids (thread_loops,
// process_loops): its slice of the run's tasks. Self gives the channel and
// the group-wide half of park (last_local_arrival: the barrier across
// workers).
template <class Self>
class worker_loop_context : public loop_context<Self> {
public:
    worker_loop_context(event_loop& l, slice s) : loop_context<Self>(l), slice_(s) {}

    // The calling task's worker, and how many workers a run of n tasks uses.
    std::size_t worker() const noexcept { return slice_.worker; }
    static std::size_t workers_for(std::size_t n, const run_options& o) { return cb::workers_for(n, o); }
    std::size_t local_tasks() const noexcept { return slice_.size(); }

private:
    slice slice_;
};

using coro_context = basic_coro_context<event_loop, coroutines_traits>;

}  // namespace cb
