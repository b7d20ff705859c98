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

// What the loop's in-memory channels share (coro_channel here, thread_loops'
// shard_channel): the value type, no copies, and a bounded FIFO of the
// values sent that no receiver took yet (at least one slot).
template <class T>
class channel_buffer {
public:
    using value_type = T;
    explicit channel_buffer(std::size_t capacity) : buf_(capacity == 0 ? 1 : capacity) {}
    channel_buffer(const channel_buffer&) = delete;
    channel_buffer& operator=(const channel_buffer&) = delete;

protected:
    bool buffered() const noexcept { return count_ != 0; }
    bool full() const noexcept { return count_ == buf_.size(); }
    void push_value(T&& v) {
        buf_[(head_ + count_) % buf_.size()] = std::move(v);
        ++count_;
    }
    // Returned, not stored through a reference: a T& could alias head_ or
    // count_, and the compiler would reload them after the store.
    T pop_value() {
        T v = std::move(buf_[head_]);
        head_ = (head_ + 1) % buf_.size();
        --count_;
        return v;
    }

private:
    std::vector<T> buf_;
    std::size_t head_ = 0, count_ = 0;
};

// A channel's awaiter: its channel, the loop of the awaiting task, the value
// in transit, and its link in the channel's queue of waiters (Node: the
// awaiter type the queue holds).
template <class Ch, class Loop, class T, class Node>
struct channel_op : waiter_node<Node> {
    Ch* ch;
    Loop* loop;
    T value;
    channel_op(Ch* c, Loop* l, T v = T{}) : ch(c), loop(l), value(std::move(v)) {}
};

template <class T, class Loop = event_loop>
class coro_channel : public channel_buffer<T> {
public:
    using channel_buffer<T>::channel_buffer;
    // A channel destroyed with a task still waiting on it would leave that
    // task suspended forever: the hand-offs of the run did not balance.
    ~coro_channel() { assert(receivers_.empty() && senders_.empty() && "channel destroyed with waiters"); }

    struct [[nodiscard]] recv_op : channel_op<coro_channel, Loop, T, recv_op> {
        using channel_op<coro_channel, Loop, T, recv_op>::channel_op;
        bool await_ready() noexcept { return this->ch->try_recv(*this); }
        void await_suspend(std::coroutine_handle<> me) noexcept { this->h = me; this->ch->receivers_.push(this); }
        T await_resume() noexcept { return std::move(this->value); }
    };
    struct [[nodiscard]] send_op : channel_op<coro_channel, Loop, T, send_op> {
        using channel_op<coro_channel, Loop, T, send_op>::channel_op;
        bool await_ready() noexcept { return this->ch->try_send(*this); }
        void await_suspend(std::coroutine_handle<> me) noexcept { this->h = me; this->ch->senders_.push(this); }
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
        if (!this->full()) {
            this->push_value(std::move(op.value));
            return true;
        }
        return false;
    }
    // The empty check stays small and inline: in a ping-pong the value goes
    // straight into the waiting receiver, so a receive mostly finds nothing
    // buffered, and the taking path (which may post a sender) is kept out of
    // line so that the check needs no stack frame.
    bool try_recv(recv_op& op) { return this->buffered() && take(op); }
    [[gnu::noinline]] bool take(recv_op& op) {
        op.value = this->pop_value();
        if (!senders_.empty()) {
            send_op* s = senders_.pop();
            this->push_value(std::move(s->value));
            op.loop->post(s->h);
        }
        return true;
    }

    waiter_list<recv_op> receivers_;
    waiter_list<send_op> senders_;
};

}  // namespace cb
