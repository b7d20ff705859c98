// The coroutine loop's channel: a bounded FIFO whose waiting senders and
// receivers are the awaiters themselves (no allocation per wait). A value
// sent to a waiting receiver goes straight into its awaiter.
#pragma once

#include <cassert>
#include <coroutine>
#include <cstddef>
#include <utility>
#include <vector>

#include "event_loop.hpp"

namespace cb {

template <class T, class Loop = event_loop>
class coro_channel {
public:
    explicit coro_channel(std::size_t capacity) : buf_(capacity == 0 ? 1 : capacity) {}
    // A channel destroyed with a task still waiting on it would leave that
    // task suspended forever: the hand-offs of the run did not balance.
    ~coro_channel() { assert(receivers_.empty() && senders_.empty() && "channel destroyed with waiters"); }
    coro_channel(const coro_channel&) = delete;
    coro_channel& operator=(const coro_channel&) = delete;

    using value_type = T;

    struct [[nodiscard]] recv_op : waiter_node<recv_op> {
        coro_channel* ch;
        Loop* loop;
        T value{};
        recv_op(coro_channel* c, Loop* l) : ch(c), loop(l) {}
        bool await_ready() noexcept { return ch->try_recv(*this); }
        void await_suspend(std::coroutine_handle<> me) noexcept { this->h = me; ch->receivers_.push(this); }
        T await_resume() noexcept { return std::move(value); }
    };
    struct [[nodiscard]] send_op : waiter_node<send_op> {
        coro_channel* ch;
        Loop* loop;
        T value;
        send_op(coro_channel* c, Loop* l, T v) : ch(c), loop(l), value(std::move(v)) {}
        bool await_ready() noexcept { return ch->try_send(*this); }
        void await_suspend(std::coroutine_handle<> me) noexcept { this->h = me; ch->senders_.push(this); }
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
    // The empty check stays small and inline: in a ping-pong the value goes
    // straight into the waiting receiver, so a receive mostly finds nothing
    // buffered, and the taking path (which may post a sender) is kept out of
    // line so that the check needs no stack frame.
    bool try_recv(recv_op& op) { return count_ != 0 && take(op); }
    [[gnu::noinline]] bool take(recv_op& op) {
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

}  // namespace cb
