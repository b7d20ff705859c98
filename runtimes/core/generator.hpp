// generator<T>: a small C++20 generator, the pull side of a pipeline.
//
//     cb::generator<std::uint64_t> count(std::uint64_t n) {
//         for (std::uint64_t k = 1; k <= n; ++k) co_yield k;
//     }
//     for (std::uint64_t v : count(10)) sum += v;
//
// Why our own: std::generator is C++23 (<generator>, P2502); the suite is
// C++20 on Debian 12's g++ 12, whose libstdc++ has none, and no Debian
// package provides one for C++20 (cppcoro and Folly's are not packaged;
// Boost.Asio's experimental coro needs an executor). What a pipeline needs is
// small: this is std::generator's shape without its allocator or
// elements_of/recursive yields.
//
// - Lazy: the body starts at begin(), not at the call.
// - co_yield: generator<T> (T a value type) yields T&& without a copy: an
//   rvalue (`co_yield T(...)`, `co_yield std::move(x)`) is read where it lies,
//   in the suspended body's frame; an lvalue is copied once into the frame
//   (as std::generator does), so the consumer may move from what it reads.
//   generator<const T&> yields references to the body's objects, no copy at
//   all: what to use for large values the consumer only looks at.
// - The iterator is an input iterator; end() is std::default_sentinel, so
//   range-for and std::ranges algorithms both work.
// - Move-only owner: destroying the generator destroys the frame and with it
//   the body's locals, also when the consumer stopped early.
// - An exception the body throws comes out of the begin() or ++ that resumed
//   it, in the consumer; the generator is then at its end.
// - co_await inside a generator does not compile (await_transform is
//   deleted): it would suspend the generator, not the task that pulls from it.
//
// The hot path is one indirect call (resume), a store of the yielded value's
// address and a load of the value: a few nanoseconds an item. The frame is
// one heap allocation per generator from the global operator new (g++ 12
// does not elide it); it is not counted in cb::t_frames, which counts tasks.
#pragma once

#include <coroutine>
#include <cstddef>
#include <exception>
#include <iterator>
#include <memory>
#include <type_traits>
#include <utility>

namespace cb {

template <class T>
class [[nodiscard]] generator {
public:
    using value_type = std::remove_cvref_t<T>;
    // What *it gives: T&& for a value type (movable from), T itself for a reference type.
    using reference = std::conditional_t<std::is_reference_v<T>, T, T&&>;

    class promise_type {
    public:
        generator get_return_object() noexcept { return generator{handle::from_promise(*this)}; }
        std::suspend_always initial_suspend() const noexcept { return {}; }
        std::suspend_always final_suspend() const noexcept { return {}; }

        // An rvalue, or any reference a generator<U&> yields: read in place.
        std::suspend_always yield_value(reference v) noexcept {
            value_ = std::addressof(v);
            return {};
        }

        // An lvalue yielded by a generator of values: one copy, kept in the
        // frame (the awaiter lives there until the body resumes).
        struct copy_awaiter {
            value_type copy;
            promise_type* self;
            bool await_ready() const noexcept { return false; }
            void await_suspend(std::coroutine_handle<>) noexcept { self->value_ = std::addressof(copy); }
            void await_resume() const noexcept {}
        };
        copy_awaiter yield_value(const value_type& v) noexcept(std::is_nothrow_copy_constructible_v<value_type>)
            requires(std::is_rvalue_reference_v<reference> && std::is_copy_constructible_v<value_type>)
        {
            return copy_awaiter{v, this};
        }

        void return_void() const noexcept {}
        void unhandled_exception() noexcept { error_ = std::current_exception(); }

        template <class U>
        std::suspend_never await_transform(U&&) = delete;  // a generator cannot co_await

    private:
        friend class generator;
        std::add_pointer_t<reference> value_ = nullptr;
        std::exception_ptr error_;
    };

    using handle = std::coroutine_handle<promise_type>;

    class iterator {
    public:
        using iterator_concept = std::input_iterator_tag;
        using value_type = generator::value_type;
        using difference_type = std::ptrdiff_t;

        iterator() noexcept = default;

        reference operator*() const noexcept { return static_cast<reference>(*h_.promise().value_); }
        iterator& operator++() {
            advance(h_);
            return *this;
        }
        void operator++(int) { ++*this; }
        friend bool operator==(const iterator& it, std::default_sentinel_t) noexcept { return !it.h_ || it.h_.done(); }

    private:
        friend class generator;
        explicit iterator(handle h) noexcept : h_(h) {}
        handle h_{};
    };

    generator() noexcept = default;
    generator(generator&& o) noexcept : h_(std::exchange(o.h_, {})), started_(std::exchange(o.started_, false)) {}
    generator& operator=(generator&& o) noexcept {
        if (this != &o) {
            reset();
            h_ = std::exchange(o.h_, {});
            started_ = std::exchange(o.started_, false);
        }
        return *this;
    }
    generator(const generator&) = delete;
    generator& operator=(const generator&) = delete;
    ~generator() { reset(); }

    // Starts the body (once: a generator is a single pass) and runs it to
    // its first co_yield. Throws what the body threw before that.
    [[nodiscard]] iterator begin() {
        if (h_ && !started_) {
            started_ = true;
            advance(h_);
        }
        return iterator{h_};
    }
    [[nodiscard]] std::default_sentinel_t end() const noexcept { return {}; }

private:
    explicit generator(handle h) noexcept : h_(h) {}

    static void advance(handle h) {
        h.resume();
        if (h.done()) [[unlikely]] {
            if (auto e = std::exchange(h.promise().error_, nullptr)) std::rethrow_exception(e);
        }
    }
    void reset() noexcept {
        if (h_) std::exchange(h_, {}).destroy();
    }

    handle h_{};
    bool started_ = false;
};

}  // namespace cb
