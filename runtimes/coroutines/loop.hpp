// coroutines: the suite's own single-threaded C++20 event loop.
//
// A ready queue (ring buffer of coroutine handles), a timer heap and epoll
// readiness, in the shape of the single-threaded loops of libunifex and Asio.
// Every operation is an awaitable that lives in the awaiting coroutine's
// frame, so waiting allocates nothing; the only allocation a task makes is its
// frame (counted by task.hpp). The loop resumes ready coroutines one at a time
// from the queue, which also serves as the trampoline that keeps the C stack
// flat at -O0 and under sanitizers.
#pragma once

#include <cerrno>
#include <coroutine>
#include <cstdint>
#include <stdexcept>
#include <vector>

#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../core/context.hpp"
#include "../core/fd.hpp"
#include "../core/group.hpp"
#include "../core/inject.hpp"
#include "../core/reactor.hpp"
#include "../core/task.hpp"

namespace cb {

class event_loop {
public:
    event_loop() : reactor(epoll_reactor::start::lazily), ready_(64) {}
    event_loop(const event_loop&) = delete;
    event_loop& operator=(const event_loop&) = delete;

    void post(std::coroutine_handle<> h) {
        burn_injected_work();
        if (count_ == ready_.size()) grow();
        ready_[(head_ + count_) & (ready_.size() - 1)] = h;
        ++count_;
    }
    // Runs until `live` drops to zero. Throws if nothing can ever wake a task
    // again (a deadlock in the workload), instead of sleeping forever.
    void run(const std::size_t& live);

    epoll_reactor reactor;
    timer_heap timers;

private:
    void grow();
    std::vector<std::coroutine_handle<>> ready_;
    std::size_t head_ = 0, count_ = 0;
};

// A FIFO of suspended awaiters, linked through the awaiters themselves.
template <class Node>
struct waiter_list {
    Node* head = nullptr;
    Node* tail = nullptr;
    bool empty() const noexcept { return head == nullptr; }
    void push(Node* n) noexcept {
        n->next = nullptr;
        if (tail) tail->next = n; else head = n;
        tail = n;
    }
    Node* pop() noexcept {
        Node* n = head;
        head = n->next;
        if (!head) tail = nullptr;
        return n;
    }
};

template <class T>
class coro_channel {
public:
    explicit coro_channel(std::size_t capacity) : buf_(capacity == 0 ? 1 : capacity) {}

    struct recv_op {
        coro_channel* ch;
        event_loop* loop;
        T value{};
        std::coroutine_handle<> h{};
        recv_op* next = nullptr;
        bool await_ready() noexcept { return ch->try_recv(*this); }
        void await_suspend(std::coroutine_handle<> me) noexcept { h = me; ch->receivers_.push(this); }
        T await_resume() noexcept { return std::move(value); }
    };
    struct send_op {
        coro_channel* ch;
        event_loop* loop;
        T value;
        std::coroutine_handle<> h{};
        send_op* next = nullptr;
        bool await_ready() noexcept { return ch->try_send(*this); }
        void await_suspend(std::coroutine_handle<> me) noexcept { h = me; ch->senders_.push(this); }
        void await_resume() const noexcept {}
    };

private:
    // A waiting receiver takes the value directly and is made ready; no copy
    // through the buffer, no allocation.
    bool try_send(send_op& op) {
        if (!receivers_.empty()) {
            recv_op* r = receivers_.pop();
            r->value = std::move(op.value);
            op.loop->post(r->h);
            return true;
        }
        if (count_ < buf_.size()) {
            buf_[(head_ + count_) % buf_.size()] = std::move(op.value);
            ++count_;
            return true;
        }
        return false;
    }
    bool try_recv(recv_op& op) {
        if (count_ == 0) return false;
        op.value = std::move(buf_[head_]);
        head_ = (head_ + 1) % buf_.size();
        --count_;
        if (!senders_.empty()) {
            send_op* s = senders_.pop();
            buf_[(head_ + count_) % buf_.size()] = std::move(s->value);
            ++count_;
            op.loop->post(s->h);
        }
        return true;
    }

    std::vector<T> buf_;
    std::size_t head_ = 0, count_ = 0;
    waiter_list<recv_op> receivers_;
    waiter_list<send_op> senders_;
};

class coro_context {
public:
    static constexpr std::string_view name = "coroutines";
    template <class T>
    using channel = coro_channel<T>;

    explicit coro_context(event_loop& l) : loop_(&l) {}
    static void configure_fd(int fd) { set_nonblocking(fd, true); }

    struct yield_op {
        event_loop* loop;
        bool await_ready() const noexcept { return false; }
        void await_suspend(std::coroutine_handle<> h) const { loop->post(h); }
        void await_resume() const noexcept {}
    };
    yield_op yield() { return {loop_}; }

    struct sleep_op : timer_waiter {
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

    // One read/write/accept: tried at once; on EAGAIN the coroutine waits for
    // readiness and the call is retried from the loop before it is resumed.
    enum class io_kind { read, write, accept };
    struct io_op : io_waiter {
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
                switch (kind) {
                    case io_kind::read: result = ::read(fd, buf, n); break;
                    case io_kind::write: result = ::write(fd, buf, n); break;
                    case io_kind::accept: result = ::accept4(fd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK); break;
                }
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
    io_op accept(int fd) { return {loop_, fd, nullptr, 0, io_kind::accept}; }

    template <class T>
    typename coro_channel<T>::send_op send(coro_channel<T>& ch, T v) { return {&ch, loop_, std::move(v)}; }
    template <class T>
    typename coro_channel<T>::recv_op recv(coro_channel<T>& ch) { return {&ch, loop_}; }

    struct park_op {
        coro_context* ctx;
        std::coroutine_handle<> h{};
        park_op* next = nullptr;
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

    // Spawns n child tasks f(ctx, i) on this loop and resumes the caller when
    // all have finished, with the sum of their results.
    template <class F>
    struct spawn_all_op {
        coro_context* ctx;
        std::size_t n;
        F f;
        std::vector<task<std::uint64_t>> kids{};
        std::size_t remaining = 0;
        std::coroutine_handle<> parent{};
        static void kid_done(void* self) noexcept {
            auto* op = static_cast<spawn_all_op*>(self);
            if (--op->remaining == 0 && op->parent) op->ctx->loop_->post(op->parent);
        }
        bool await_ready() {
            kids.reserve(n);
            for (std::size_t i = 0; i < n; ++i) {
                kids.push_back(f(*ctx, i));
                if (!kids.back().done()) {
                    ++remaining;
                    kids.back().on_done(&kid_done, this);
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
    spawn_all_op<F> spawn_all(std::size_t n, F f) { return {this, n, std::move(f)}; }

    event_loop& loop() noexcept { return *loop_; }
    const run_options* opts = nullptr;
    std::size_t tasks = 0;

private:
    event_loop* loop_;
    std::size_t arrived_ = 0;
    waiter_list<park_op> parked_;
};

struct coroutines_runtime {
    static constexpr std::string_view name = "coroutines";
    using context = coro_context;

    template <class Body>
    static std::vector<std::uint64_t> run(std::size_t n, Body body, const run_options& opts = {}) {
        affinity_guard keep_mask;
        if (!opts.cpus.empty()) pin_this_thread(opts.cpus[0]);
        event_loop loop;
        coro_context ctx(loop);
        ctx.opts = &opts;
        ctx.tasks = n;
        std::vector<task<std::uint64_t>> tasks;
        tasks.reserve(n);
        std::size_t live = 0;
        for (std::size_t i = 0; i < n; ++i) {
            tasks.push_back(body(ctx, i));
            if (!tasks.back().done()) {
                ++live;
                tasks.back().on_done([](void* p) noexcept { --*static_cast<std::size_t*>(p); }, &live);
            }
        }
        loop.run(live);
        std::vector<std::uint64_t> out;
        out.reserve(n);
        for (auto& t : tasks) out.push_back(t.get());
        return out;
    }
};

}  // namespace cb
