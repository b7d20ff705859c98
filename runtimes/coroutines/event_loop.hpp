// The coroutine loop's scheduler: a ready queue (a ring buffer of coroutine
// handles) in front of a reactor and a timer heap. One thread. The reactor is
// a template parameter (the backend): epoll readiness (event_loop, the
// coroutines runtime and the hybrids), poll(2) readiness (coroutines_poll) or
// io_uring completions (coroutines_uring). The loop itself is one piece of
// code for all three: it asks the reactor only armed(), poll(timeout) and
// wake(); the awaitables (context.hpp) pick their I/O path from the backend.
// epoll lives in core/ (fibers and the pool wait in it too); poll and io_uring
// serve this loop alone and live beside it (poll_reactor.hpp,
// uring_reactor.hpp).
//
// The queue is also the trampoline that keeps the C stack flat where g++
// does not emit the symmetric-transfer tail call (-O0, ASan): every switch
// between tasks returns to run() and resumes the next handle from there.
#pragma once

#include <atomic>
#include <cassert>
#include <coroutine>
#include <mutex>
#include <cstddef>
#include <vector>

#include "../core/inject.hpp"
#include "../core/reactor.hpp"
#include "poll_reactor.hpp"
#include "uring_reactor.hpp"

namespace cb {

// single: one loop alone in its thread (the coroutines runtimes, and each
// worker of process_loops). sharded: one of several loops in one process
// (thread_loops), which other threads may post to (post_remote).
enum class loop_mode { single, sharded };

template <class Reactor>
class basic_event_loop {
public:
    using reactor_type = Reactor;
    using mode = loop_mode;
    explicit basic_event_loop(mode m = mode::single) : reactor(make_reactor(m)), ready_(64) {}
    basic_event_loop(const basic_event_loop&) = delete;
    basic_event_loop& operator=(const basic_event_loop&) = delete;

    // Inlined into every awaitable: it is the hand-off the suite measures
    // (out of line it cost the coroutine yield 7% more instructions).
    [[gnu::always_inline]] void post(std::coroutine_handle<> h) {
        assert(h && !h.done() && "posting a finished coroutine: it would be resumed after its end");
        burn_injected_work();
        if (count_ == ready_.size()) grow();
        ready_[(head_ + count_) & (ready_.size() - 1)] = h;
        ++count_;
    }
    // Runs until `live` drops to zero. Throws if nothing can ever wake a task
    // again (a deadlock in the workload), instead of sleeping forever.
    void run(const std::size_t& live);
    // The same for a sharded loop: between batches it takes what other
    // threads posted, and with nothing to do it sleeps in the reactor until
    // one does (so no deadlock check: a task here may wait on another loop).
    void run_sharded(const std::size_t& live);
    // Thread-safe: makes h ready on this loop from another thread.
    void post_remote(std::coroutine_handle<> h);

    Reactor reactor;
    timer_heap timers;

private:
    // One thread arms and polls (other threads only wake or post_remote): the
    // epoll reactor registers each fd once (core/reactor.hpp, register_once).
    static Reactor make_reactor(mode m) {
        const auto s = m == mode::single ? Reactor::start::lazily : Reactor::start::now;
        if constexpr (requires { typename Reactor::arming; }) return Reactor(s, Reactor::arming::register_once);
        else return Reactor(s);
    }
    template <bool Sharded>
    void run_loop(const std::size_t& live);
    void take_remote();
    void grow();
    std::vector<std::coroutine_handle<>> ready_;
    std::size_t head_ = 0, count_ = 0;
    // Posts from other threads (sharded loops only); `remote_` is checked once
    // a batch without taking the lock.
    std::mutex inbox_m_;
    std::vector<std::coroutine_handle<>> inbox_;
    std::atomic<bool> remote_{false};
    std::atomic<bool> sleeping_{false};  // in (or about to enter) a blocking poll
};

// The loop's code is compiled once per backend in event_loop.cpp.
extern template class basic_event_loop<epoll_reactor>;
extern template class basic_event_loop<poll_reactor>;
extern template class basic_event_loop<uring_reactor>;

// The epoll loop: the coroutines runtime's and the hybrids'.
using event_loop = basic_event_loop<epoll_reactor>;

template <class Node>
struct waiter_list;

// What every awaiter that queues on a waiter_list carries: the coroutine to
// resume and the link. Node is the awaiter (the list's element type).
//
// An awaiter destroyed while still queued (its coroutine destroyed without
// being resumed: a run that ended in an error or a deadlock) leaves a dangling
// pointer in the list. The suite never uses a channel or barrier again after
// a failed run (a workload's state is rebuilt for every run), so release
// builds leave it there: unlinking costs every hand-off a flag store and a
// destructor test (+8% instructions on the coroutine ping-pong, the number
// this suite exists to measure). Debug builds
// (the sanitizer CI run) remember the list a node is queued on and unlink it
// on destruction, so the invariant checks (a channel or context destroyed
// with waiters) hold on every path there.
template <class Node>
struct waiter_node {
    std::coroutine_handle<> h{};
    Node* next = nullptr;
#ifndef NDEBUG
    waiter_list<Node>* queued_on = nullptr;
    ~waiter_node() {
        if (queued_on) queued_on->remove(static_cast<Node*>(this));
    }
#endif
};

// A FIFO of suspended awaiters (waiter_node), linked through the awaiters
// themselves: queueing allocates nothing.
template <class Node>
struct waiter_list {
    Node* head = nullptr;
    Node* tail = nullptr;
    bool empty() const noexcept { return head == nullptr; }
    void push(Node* n) noexcept {
        n->next = nullptr;
#ifndef NDEBUG
        n->queued_on = this;
#endif
        if (tail) tail->next = n; else head = n;
        tail = n;
    }
    Node* pop() noexcept {
        Node* n = head;
        head = n->next;
        if (!head) tail = nullptr;
#ifndef NDEBUG
        n->queued_on = nullptr;
#endif
        return n;
    }
#ifndef NDEBUG
    // O(length), only on the abnormal path above.
    void remove(Node* n) noexcept {
        Node* prev = nullptr;
        for (Node* c = head; c; prev = c, c = c->next) {
            if (c != n) continue;
            (prev ? prev->next : head) = c->next;
            if (tail == c) tail = prev;
            c->queued_on = nullptr;
            return;
        }
    }
#endif
};

}  // namespace cb
