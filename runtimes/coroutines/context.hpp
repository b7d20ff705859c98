// The coroutine loop's context: every suspension point a workload body may
// use, each an awaitable that lives in the awaiting frame, so waiting
// allocates nothing (accept's per-fd queue excepted: one per listening fd).
#pragma once

#include <cassert>
#include <cerrno>
#include <coroutine>
#include <cstdint>
#include <memory>
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
#include "../core/uring_reactor.hpp"
#include "channel.hpp"
#include "event_loop.hpp"

namespace cb {

// What this runtime is (traits.hpp): declared once, asked everywhere.
inline constexpr runtime_traits coroutines_traits{
    .name = "coroutines", .label = "C++20 coroutines (own epoll loop, one thread)", .kind = task_kind::coroutine,
    .multi_core = false, .shared_memory = true, .stack = stack_model::stackless, .cost = cost_class::tiny,
    .io_backend = "epoll", .counts_syscalls = true};

// The awaitables every context on our event loop shares (this runtime's and
// the hybrids' in runtimes/loops/, which add their own channels and park):
// yield, sleep, fd operations, accept and spawn_all. Self is the derived
// context, so spawned bodies get the context type they were written for.
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

    // One read/write: tried at once; on EAGAIN the coroutine waits for
    // readiness and the call is retried from the loop before it is resumed.
    enum class io_kind { read, write };
    struct [[nodiscard]] io_op : io_waiter {
        Loop* loop;
        int fd;
        void* buf;
        std::size_t n;
        io_kind kind;
        ssize_t result = -1;
        int err = 0;
        std::coroutine_handle<> h{};
        io_op(Loop* l, int f, void* b, std::size_t len, io_kind k)
            : io_waiter{&on_ready}, loop(l), fd(f), buf(b), n(len), kind(k) {}
        bool attempt() noexcept {
            for (;;) {
                ++loop_syscalls.io;
                result = kind == io_kind::read ? ::read(fd, buf, n) : ::write(fd, buf, n);
                if (result >= 0) return true;
                if (errno == EINTR) continue;
                err = errno;
                return err != EAGAIN && err != EWOULDBLOCK;
            }
        }
        std::uint32_t events() const noexcept { return kind == io_kind::write ? EPOLLOUT : EPOLLIN; }
        static void on_ready(io_waiter* w) noexcept {
            auto* op = static_cast<io_op*>(w);
            if (op->attempt()) op->loop->post(op->h);
            else op->loop->reactor.arm(op->fd, op->events(), op);  // spurious readiness: wait again
        }
        bool await_ready() noexcept { return attempt(); }
        void await_suspend(std::coroutine_handle<> me) { h = me; loop->reactor.arm(fd, events(), this); }
        ssize_t await_resume() const noexcept {
            if (result < 0) errno = err;
            return result;
        }
    };
    // The completion backend's read/write: submitted to the ring in
    // await_suspend (no system call: the loop submits the iteration's batch),
    // resumed with the completion's result. A non-blocking fd that answers
    // EAGAIN waits for readiness (a one-shot poll on the ring) and resubmits.
    struct [[nodiscard]] ring_io_op : uring_op {
        Loop* loop;
        int fd;
        void* buf;
        std::size_t n;
        io_kind kind;
        ssize_t result = -1;
        int err = 0;
        std::coroutine_handle<> h{};
        ring_io_op(Loop* l, int f, void* b, std::size_t len, io_kind k)
            : uring_op{&done}, loop(l), fd(f), buf(b), n(len), kind(k) {}
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
            if (res < 0) op->err = -res;
            op->result = res;
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
                    result = res;
                    if (res < 0) err = -res;
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
        ssize_t await_resume() const noexcept {
            if (result < 0) errno = err;
            return result;
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
    struct [[nodiscard]] accept_op {
        loop_context* ctx;
        int fd;
        ssize_t result = -1;
        int err = 0;
        std::coroutine_handle<> h{};
        accept_op* next = nullptr;
#ifndef NDEBUG
        bool queued = false;
        ~accept_op() {
            if (queued) ctx->acceptors_.at(fd)->waiting.remove(this);
        }
#endif
        bool attempt() noexcept {
            for (;;) {
                ++loop_syscalls.io;
                result = ::accept4(fd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
                if (result >= 0) return true;
                if (errno == EINTR) continue;
                err = errno;
                return err != EAGAIN && err != EWOULDBLOCK;
            }
        }
        bool await_ready() noexcept {
            auto it = ctx->acceptors_.find(fd);
            if (it != ctx->acceptors_.end() && !it->second->waiting.empty()) return false;  // queue behind them
            return attempt();
        }
        void await_suspend(std::coroutine_handle<> me) {
            h = me;
            auto& q = ctx->acceptors_[fd];
            if (!q) q = std::make_unique<accept_queue>(ctx->loop_, fd);
            if (!q->watching) {
                ctx->loop_->reactor.watch_exclusive(fd, q.get());
                q->watching = true;
            }
            q->waiting.push(this);
        }
        ssize_t await_resume() const noexcept {
            if (result < 0) errno = err;
            return result;
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
    struct [[nodiscard]] ring_accept_op : uring_op {
        Loop* loop;
        int fd;
        ssize_t result = -1;
        int err = 0;
        std::coroutine_handle<> h{};
        ring_accept_op(loop_context* c, int f) : uring_op{&done}, loop(c->loop_), fd(f) {}
        static void done(uring_op* o, int res) noexcept {
            auto* op = static_cast<ring_accept_op*>(o);
            if (res == -EAGAIN || res == -EINTR) {  // a non-blocking listener: wait for it, then accept again
                op->complete = &readable;
                op->loop->reactor.poll_add(op->fd, POLLIN, op);
                return;
            }
            if (res < 0) op->err = -res;
            else Loop::reactor_type::forget_fd(res);  // a new file under this number
            op->result = res;
            op->loop->post(op->h);
        }
        static void readable(uring_op* o, int) noexcept {
            auto* op = static_cast<ring_accept_op*>(o);
            op->complete = &done;
            op->loop->reactor.accept(op->fd, op);
        }
        bool await_ready() const noexcept { return false; }
        void await_suspend(std::coroutine_handle<> me) { h = me; loop->reactor.accept(fd, this); }
        ssize_t await_resume() const noexcept {
            if (result < 0) errno = err;
            return result;
        }
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

    Loop& loop() noexcept { return *loop_; }

protected:
    Loop* loop_;

private:
    std::unordered_map<int, std::unique_ptr<accept_queue>> acceptors_;
};

// The context of the single-loop runtimes, one per backend: coroutines
// (epoll), coroutines_poll, coroutines_uring.
template <class Loop, const runtime_traits& Traits>
class basic_coro_context : public loop_context<basic_coro_context<Loop, Traits>, Loop> {
    using base = loop_context<basic_coro_context<Loop, Traits>, Loop>;
    using base::loop_;

public:
    static constexpr const runtime_traits& traits = Traits;
    template <class T>
    using channel = coro_channel<T, Loop>;

    explicit basic_coro_context(Loop& l) : base(l) {}
    // A run that returns with a task still parked never released it.
    ~basic_coro_context() { assert(parked_.empty() && "a run returned with tasks still parked"); }

    template <class T>
    typename channel<T>::send_op send(channel<T>& ch, T v) { return {&ch, loop_, std::move(v)}; }
    template <class T>
    typename channel<T>::recv_op recv(channel<T>& ch) { return {&ch, loop_}; }

    struct [[nodiscard]] park_op {
        basic_coro_context* ctx;
        std::coroutine_handle<> h{};
        park_op* next = nullptr;
#ifndef NDEBUG
        bool queued = false;
        ~park_op() {
            if (queued) ctx->parked_.remove(this);
        }
#endif
        bool await_ready() const noexcept { return false; }
        void await_suspend(std::coroutine_handle<> me) {
            h = me;
            ctx->parked_.push(this);
            if (++ctx->arrived_ == ctx->tasks) {
                if (ctx->opts && ctx->opts->on_parked) ctx->opts->on_parked(ctx->opts->user, parked_info{ctx->tasks, {}});
                while (!ctx->parked_.empty()) ctx->loop_->post(ctx->parked_.pop()->h);
            }
        }
        void await_resume() const noexcept {}
    };
    park_op park() { return {this}; }

    const run_options* opts = nullptr;
    std::size_t tasks = 0;

private:
    std::size_t arrived_ = 0;
    waiter_list<park_op> parked_;
};

using coro_context = basic_coro_context<event_loop, coroutines_traits>;

}  // namespace cb
