// A bounded FIFO for runtimes whose tasks block: a mutex and two condition
// variables around a ring buffer. Threads instantiate it with std:: types; the
// pool with a condition variable that suspends the oneTBB task instead of the
// worker thread.
#pragma once

#include <cassert>
#include <cstddef>
#include <mutex>
#include <stdexcept>
#include <vector>

namespace cb {

template <class T, class Mutex, class CondVar>
class blocking_channel {
public:
    explicit blocking_channel(std::size_t capacity) : buf_(capacity == 0 ? 1 : capacity) {}

    // Destroyed with a task still waiting in it, the run's hand-offs did not
    // balance: that task would wait forever.
    ~blocking_channel() { assert(waiting_ == 0 && "channel destroyed with tasks waiting in it"); }
    blocking_channel(const blocking_channel&) = delete;
    blocking_channel& operator=(const blocking_channel&) = delete;

    void send(T v) {
        std::unique_lock lk(m_);
        count_waiting(+1);
        not_full_.wait(lk, [&] { return count_ < buf_.size(); });
        count_waiting(-1);
        buf_[(head_ + count_) % buf_.size()] = std::move(v);
        ++count_;
        not_empty_.notify_one();
    }
    T recv() {
        std::unique_lock lk(m_);
        count_waiting(+1);
        not_empty_.wait(lk, [&] { return count_ > 0; });
        count_waiting(-1);
        T v = std::move(buf_[head_]);
        head_ = (head_ + 1) % buf_.size();
        --count_;
        not_full_.notify_one();
        return v;
    }
    std::size_t capacity() const noexcept { return buf_.size(); }

private:
    Mutex m_;
    CondVar not_empty_, not_full_;
    std::vector<T> buf_;
    std::size_t head_ = 0, count_ = 0;
    // Tasks inside send/recv, for the debug-build check above; release builds
    // measure the channel without it.
    std::ptrdiff_t waiting_ = 0;
    void count_waiting([[maybe_unused]] int d) noexcept {
#ifndef NDEBUG
        waiting_ += d;
#endif
    }
};

}  // namespace cb
