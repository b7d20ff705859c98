// The coroutine loop's context: every suspension point a workload body may
// use, each an awaitable that lives in the awaiting frame, so waiting
// allocates nothing (accept's per-fd queue excepted: one per listening fd).
#pragma once

#include <cassert>
#include <cerrno>
#include <coroutine>
#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../core/context.hpp"
#include "../core/fd.hpp"
#include "../core/task.hpp"
#include "channel.hpp"
#include "event_loop.hpp"

namespace cb {

// What this runtime is (traits.hpp): declared once, asked everywhere.
inline constexpr runtime_traits coroutines_traits{"coroutines", "C++20 coroutines (own epoll loop, one thread)", task_kind::coroutine, false, true, stack_model::stackless, cost_class::tiny};

// The awaitables every context on our event loop shares (this runtime's and
// the hybrids' in runtimes/loops/, which add their own channels and park):
// yield, sleep, fd operations, accept and spawn_all. Self is the derived
// context, so spawned bodies get the context type they were written for.
template <class Self>
class loop_context {
public:
    explicit loop_context(event_loop& l) : loop_(&l) {}
    loop_context(const loop_context&) = delete;
    loop_context& operator=(const loop_context&) = delete;
    static void configure_fd(int fd) { set_nonblocking(fd, true); }

    struct [[nodiscard]] yield_op {
        event_loop* loop;
        bool await_ready() const noexcept { return false; }
        void await_suspend(std::coroutine_handle<> h) const { loop->post(h); }
        void await_resume() const noexcept {}
    };
    yield_op yield() { return {loop_}; }

    struct [[nodiscard]] sleep_op : timer_waiter {
        event_loop* loop;
        steady::time_point when;
        std::coroutine_handle<> h{};
        sleep_op(event_loop* l, steady::time_point w) : timer_waiter{&fired}, loop(l), when(w) {}
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
        event_loop* loop;
        int fd;
        void* buf;
        std::size_t n;
        io_kind kind;
        ssize_t result = -1;
        int err = 0;
        std::coroutine_handle<> h{};
        io_op(event_loop* l, int f, void* b, std::size_t len, io_kind k)
            : io_waiter{&on_ready}, loop(l), fd(f), buf(b), n(len), kind(k) {}
        bool attempt() noexcept {
            for (;;) {
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
    io_op read(int fd, void* b, std::size_t n) { return {loop_, fd, b, n, io_kind::read}; }
    io_op write(int fd, const void* b, std::size_t n) { return {loop_, fd, const_cast<void*>(b), n, io_kind::write}; }

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
        event_loop* loop;
        int fd;
        bool watching = false;
        waiter_list<accept_op> waiting;
        accept_queue(event_loop* l, int f) : io_waiter{&on_ready}, loop(l), fd(f) {}
        static void on_ready(io_waiter* w) noexcept {
            auto* q = static_cast<accept_queue*>(w);
            while (!q->waiting.empty() && q->waiting.head->attempt()) q->loop->post(q->waiting.pop()->h);
            if (q->waiting.empty()) {  // nobody waits: stop watching, or readiness would repeat
                q->loop->reactor.unwatch(q->fd);
                q->watching = false;
            }
        }
    };
    accept_op accept(int fd) { return {this, fd}; }

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

    event_loop& loop() noexcept { return *loop_; }

protected:
    event_loop* loop_;

private:
    std::unordered_map<int, std::unique_ptr<accept_queue>> acceptors_;
};

class coro_context : public loop_context<coro_context> {
public:
    static constexpr const runtime_traits& traits = coroutines_traits;
    template <class T>
    using channel = coro_channel<T>;

    explicit coro_context(event_loop& l) : loop_context(l) {}
    // A run that returns with a task still parked never released it.
    ~coro_context() { assert(parked_.empty() && "a run returned with tasks still parked"); }

    template <class T>
    typename coro_channel<T>::send_op send(coro_channel<T>& ch, T v) { return {&ch, loop_, std::move(v)}; }
    template <class T>
    typename coro_channel<T>::recv_op recv(coro_channel<T>& ch) { return {&ch, loop_}; }

    struct [[nodiscard]] park_op {
        coro_context* ctx;
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

}  // namespace cb
