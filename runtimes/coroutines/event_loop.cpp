#include "event_loop.hpp"

namespace cb {

template <class Reactor>
void basic_event_loop<Reactor>::grow() {
    std::vector<std::coroutine_handle<>> bigger(ready_.size() * 2);
    for (std::size_t i = 0; i < count_; ++i) bigger[i] = ready_[(head_ + i) & (ready_.size() - 1)];
    ready_.swap(bigger);
    head_ = 0;
}

template <class Reactor>
void basic_event_loop<Reactor>::post_remote(std::coroutine_handle<> h) {
    {
        std::lock_guard lk(inbox_m_);
        inbox_.push_back(h);
        remote_.store(true, std::memory_order_seq_cst);
    }
    // Either this sees the loop asleep, or the loop sees remote_ before it
    // sleeps (both sides seq_cst): a busy loop costs the poster no write.
    if (sleeping_.load(std::memory_order_seq_cst)) reactor.wake();
}

template <class Reactor>
void basic_event_loop<Reactor>::take_remote() {
    std::vector<std::coroutine_handle<>> got;
    {
        std::lock_guard lk(inbox_m_);
        got.swap(inbox_);
        remote_.store(false, std::memory_order_relaxed);
    }
    for (auto h : got) post(h);
}

template <class Reactor>
void basic_event_loop<Reactor>::run(const std::size_t& live) { run_loop<false>(live); }
template <class Reactor>
void basic_event_loop<Reactor>::run_sharded(const std::size_t& live) { run_loop<true>(live); }

template <class Reactor>
template <bool Sharded>
void basic_event_loop<Reactor>::run_loop(const std::size_t& live) {
    while (live > 0) {
        if constexpr (Sharded) {
            if (remote_.load(std::memory_order_acquire)) take_remote();
        }
        // One batch: what is ready now. Handles posted meanwhile wait for the
        // next batch, so timers and I/O get a look-in between batches.
        for (std::size_t batch = count_; batch > 0 && live > 0; --batch) {
            std::coroutine_handle<> h = ready_[head_];
            head_ = (head_ + 1) & (ready_.size() - 1);
            --count_;
            h.resume();
        }
        if (live == 0) break;
        const bool work = count_ > 0;
        if (!timers.empty() && (!work || timers.next() <= steady::now())) {
            timers.fire_due(steady::now());
            if (count_ > 0) continue;
        }
        // Polling costs a system call, so a loop that has neither fds armed
        // nor anything else to wait for does not poll between batches.
        if (reactor.armed() > 0 || (Sharded && !work)) {
            if constexpr (Sharded) {
                if (!work) {  // about to sleep: remote posts must wake it (eventfd)
                    sleeping_.store(true, std::memory_order_seq_cst);
                    if (remote_.load(std::memory_order_seq_cst)) {
                        sleeping_.store(false, std::memory_order_relaxed);
                        continue;
                    }
                }
            }
            reactor.poll(poll_timeout(work, timers));
            if constexpr (Sharded) sleeping_.store(false, std::memory_order_relaxed);
        } else if (!work) {
            if (timers.empty())
                throw std::runtime_error("coroutines: deadlock: " + std::to_string(live) +
                                         " tasks suspended with nothing that can wake them");
            reactor.poll(poll_timeout(false, timers));
        }
        if (!timers.empty()) timers.fire_due(steady::now());
    }
}

template class basic_event_loop<epoll_reactor>;
template class basic_event_loop<poll_reactor>;
template class basic_event_loop<uring_reactor>;

}  // namespace cb
