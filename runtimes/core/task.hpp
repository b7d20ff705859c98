// task<T>: the one coroutine type every workload body returns.
//
// Eager (initial_suspend = suspend_never): under a blocking runtime every
// awaitable is already complete, so a body runs to its end inside the call that
// created it, as straight-line code. Under the coroutine loop it runs until its
// first real suspension and the loop resumes it later. Either way the frame is
// one heap allocation per task, counted by the promise's operator new so that
// memory per task can report frame bytes honestly.
//
// Symmetric transfer happens only at final_suspend, to the task that awaits
// this one (depth bounded by how deeply tasks nest). Sibling switches go through
// a runtime's ready queue, which acts as a trampoline, so no unbounded chain of
// resumptions builds up on the C stack even where g++ does not emit the tail
// call (-O0, -Og, AddressSanitizer).
#pragma once

#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <new>
#include <utility>

namespace cb {

// Per-thread frame accounting; the coroutine loop is single-threaded, so its
// thread's numbers are the loop's numbers.
struct frame_stats {
    std::int64_t live_bytes = 0;
    std::int64_t live_frames = 0;
    std::uint64_t allocations = 0;
};
inline thread_local frame_stats t_frames;

template <class T = void>
class task;

namespace detail {

struct promise_base {
    std::coroutine_handle<> continuation{};
    // Called at completion when nobody co_awaits the task (top-level and
    // spawned tasks): lets a runtime count finished tasks without polling.
    void (*on_done)(void*) noexcept = nullptr;
    void* on_done_arg = nullptr;
    std::exception_ptr error;

    static void* operator new(std::size_t n) {
        void* p = ::operator new(n);
        t_frames.live_bytes += static_cast<std::int64_t>(n);
        ++t_frames.live_frames;
        ++t_frames.allocations;
        return p;
    }
    static void operator delete(void* p, std::size_t n) noexcept {
        t_frames.live_bytes -= static_cast<std::int64_t>(n);
        --t_frames.live_frames;
        ::operator delete(p, n);
    }

    std::suspend_never initial_suspend() const noexcept { return {}; }

    struct final_awaiter {
        bool await_ready() const noexcept { return false; }
        template <class P>
        std::coroutine_handle<> await_suspend(std::coroutine_handle<P> h) const noexcept {
            promise_base& p = h.promise();
            if (p.continuation) return p.continuation;
            if (p.on_done) p.on_done(p.on_done_arg);
            return std::noop_coroutine();
        }
        void await_resume() const noexcept {}
    };
    final_awaiter final_suspend() const noexcept { return {}; }
    void unhandled_exception() noexcept { error = std::current_exception(); }
};

template <class T>
struct promise : promise_base {
    T value{};
    task<T> get_return_object() noexcept;
    void return_value(T v) noexcept(std::is_nothrow_move_assignable_v<T>) { value = std::move(v); }
    T take() {
        if (error) std::rethrow_exception(error);
        return std::move(value);
    }
};

template <>
struct promise<void> : promise_base {
    task<void> get_return_object() noexcept;
    void return_void() const noexcept {}
    void take() const {
        if (error) std::rethrow_exception(error);
    }
};

}  // namespace detail

template <class T>
class [[nodiscard]] task {
public:
    using promise_type = detail::promise<T>;
    using handle = std::coroutine_handle<promise_type>;

    task() noexcept = default;
    explicit task(handle h) noexcept : h_(h) {}
    task(task&& o) noexcept : h_(std::exchange(o.h_, {})) {}
    task& operator=(task&& o) noexcept {
        if (this != &o) {
            reset();
            h_ = std::exchange(o.h_, {});
        }
        return *this;
    }
    task(const task&) = delete;
    task& operator=(const task&) = delete;
    ~task() { reset(); }

    bool valid() const noexcept { return static_cast<bool>(h_); }
    bool done() const noexcept { return h_ && h_.done(); }
    // Result of a finished task; rethrows what the body threw.
    T get() { return h_.promise().take(); }
    void on_done(void (*fn)(void*) noexcept, void* arg) noexcept {
        h_.promise().on_done = fn;
        h_.promise().on_done_arg = arg;
    }
    handle raw() const noexcept { return h_; }

    // Awaiting a task: ready at once when it already finished (always, under a
    // blocking runtime); otherwise this coroutine becomes its continuation.
    auto operator co_await() noexcept {
        struct awaiter {
            handle h;
            bool await_ready() const noexcept { return h.done(); }
            void await_suspend(std::coroutine_handle<> me) const noexcept { h.promise().continuation = me; }
            T await_resume() const { return h.promise().take(); }
        };
        return awaiter{h_};
    }

private:
    void reset() noexcept {
        if (h_) h_.destroy();
        h_ = {};
    }
    handle h_{};
};

namespace detail {
template <class T>
task<T> promise<T>::get_return_object() noexcept {
    return task<T>{std::coroutine_handle<promise<T>>::from_promise(*this)};
}
inline task<void> promise<void>::get_return_object() noexcept {
    return task<void>{std::coroutine_handle<promise<void>>::from_promise(*this)};
}
}  // namespace detail

// An awaitable that is already complete: what a blocking runtime's context
// returns after doing the blocking call.
template <class T>
struct [[nodiscard]] ready {
    T value;
    constexpr bool await_ready() const noexcept { return true; }
    constexpr void await_suspend(std::coroutine_handle<>) const noexcept {}
    constexpr T await_resume() noexcept { return std::move(value); }
};
template <>
struct [[nodiscard]] ready<void> {
    constexpr bool await_ready() const noexcept { return true; }
    constexpr void await_suspend(std::coroutine_handle<>) const noexcept {}
    constexpr void await_resume() const noexcept {}
};

}  // namespace cb
