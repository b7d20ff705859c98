// threads: one std::thread a task. Waits are futex-backed (atomic wait,
// condition variables) and fd operations are plain blocking system calls.
//
// A run that asks for a stack size or guard (run_options::stack_bytes,
// stack_guard; traits.sized_stacks) gets one pthread a task on a stack of
// exactly that size, mapped here (pthread_attr_setstack), with a PROT_NONE
// guard page below it unless guard::without; a guard alone, at the default
// size, is pthread_attr_setguardsize. A run that asks for neither takes the
// default path (std::thread: glibc's 8 MiB reserve with its guard page).
#pragma once

#include <atomic>
#include <cstring>
#include <exception>
#include <utility>
#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include <pthread.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../core/blocking_channel.hpp"
#include "../core/blocking_fd.hpp"
#include "../core/context.hpp"
#include "../core/fd.hpp"
#include "../core/group.hpp"
#include "../core/task_limits.hpp"
#include "../core/worker_group.hpp"

namespace cb {

// What this runtime is (traits.hpp): declared once, asked everywhere.
inline constexpr runtime_traits threads_traits{
    .name = "threads", .label = "std::thread (one a task)", .kind = task_kind::thread,
    .multi_core = true, .shared_memory = true, .stack = stack_model::os_thread, .cost = cost_class::medium, .sized_stacks = true};

// Whether a run asks for stacks other than the default.
inline bool sized_stacks_asked(const run_options* o) noexcept {
    return o && (o->stack_bytes != 0 || o->stack_guard != run_options::guard::runtime_default);
}

// The attributes of a thread with the stack a run asks for. A size is
// checked here (std::invalid_argument below PTHREAD_STACK_MIN) and given per
// thread with set_stack; a guard alone (default size) goes to glibc.
class thread_stack_attr {
public:
    explicit thread_stack_attr(const run_options& o) {
        if (o.stack_bytes != 0) {
            const long min = ::sysconf(_SC_THREAD_STACK_MIN);
            if (min > 0 && o.stack_bytes < static_cast<std::size_t>(min))
                throw std::invalid_argument("threads: a stack of " + std::to_string(o.stack_bytes) +
                                            " bytes is below PTHREAD_STACK_MIN (" + std::to_string(min) + " bytes)");
        }
        if (int e = ::pthread_attr_init(&attr_); e != 0) throw std::system_error(e, std::generic_category(), "pthread_attr_init");
        if (o.stack_bytes == 0 && o.stack_guard != run_options::guard::runtime_default) {
            const std::size_t g = o.stack_guard == run_options::guard::with ? static_cast<std::size_t>(::sysconf(_SC_PAGESIZE)) : 0;
            if (int e = ::pthread_attr_setguardsize(&attr_, g); e != 0) {
                ::pthread_attr_destroy(&attr_);
                throw std::system_error(e, std::generic_category(), "pthread_attr_setguardsize");
            }
        }
    }
    ~thread_stack_attr() { ::pthread_attr_destroy(&attr_); }
    thread_stack_attr(const thread_stack_attr&) = delete;
    thread_stack_attr& operator=(const thread_stack_attr&) = delete;
    // The next thread created with these attributes runs on [lo, lo + bytes).
    void set_stack(void* lo, std::size_t bytes) {
        if (int e = ::pthread_attr_setstack(&attr_, lo, bytes); e != 0)
            throw std::invalid_argument("threads: pthread_attr_setstack(" + std::to_string(bytes) + " bytes): " + std::strerror(e));
    }
    const pthread_attr_t* get() const noexcept { return &attr_; }

private:
    pthread_attr_t attr_;
};

// One thread's stack, mapped here rather than by glibc: glibc's cache of
// freed thread stacks hands a later thread any cached stack up to four times
// the size it asked for, so "64 KiB" could run on 256 KiB. With a guard, a
// PROT_NONE page lies below the stack (as glibc's own). Unmapped by the
// destructor, which runs only after the thread is joined.
class thread_stack_mapping {
public:
    thread_stack_mapping(std::size_t bytes, std::size_t guard) : bytes_(bytes + guard), guard_(guard) {
        base_ = ::mmap(nullptr, bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
        if (base_ == MAP_FAILED) {
            base_ = nullptr;
            throw std::system_error(errno, std::generic_category(), "mmap of a thread stack");
        }
        if (guard_ && ::mprotect(base_, guard_, PROT_NONE) != 0) {
            const int e = errno;
            ::munmap(base_, bytes_);
            base_ = nullptr;
            throw std::system_error(e, std::generic_category(), "mprotect of a thread stack's guard page");
        }
    }
    thread_stack_mapping(thread_stack_mapping&& o) noexcept
        : base_(std::exchange(o.base_, nullptr)), bytes_(o.bytes_), guard_(o.guard_) {}
    thread_stack_mapping& operator=(thread_stack_mapping&&) = delete;
    thread_stack_mapping(const thread_stack_mapping&) = delete;
    ~thread_stack_mapping() {
        if (base_) ::munmap(base_, bytes_);
    }
    void* lo() const noexcept { return static_cast<char*>(base_) + guard_; }

private:
    void* base_;
    std::size_t bytes_, guard_;
};

// A pthread running fn(arg), joined by its owner's destructor: the RAII of
// std::thread (which cannot take a stack size) for pthread_create.
class joining_pthread {
public:
    joining_pthread(const pthread_attr_t* attr, void* (*fn)(void*), void* arg) {
        if (int e = ::pthread_create(&t_, attr, fn, arg); e != 0) throw std::system_error(e, std::generic_category(), "pthread_create");
        live_ = true;
    }
    joining_pthread(joining_pthread&& o) noexcept : t_(o.t_), live_(std::exchange(o.live_, false)) {}
    joining_pthread& operator=(joining_pthread&&) = delete;
    joining_pthread(const joining_pthread&) = delete;
    ~joining_pthread() {
        if (live_) ::pthread_join(t_, nullptr);
    }

private:
    pthread_t t_{};
    bool live_ = false;
};

// run_thread_workers (core/worker_group.hpp) for one thread a task with the
// stack a run asks for: the same start gate, pinning and spawn_error.
template <class Fn>
void run_sized_threads(std::size_t n, const run_options& o, const std::vector<int>& cpus, Fn&& fn) {
    enum : int { wait = 0, go = 1, abort = 2 };
    using F = std::remove_reference_t<Fn>;
    thread_stack_attr attr(o);
    const std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
    const std::size_t size = (o.stack_bytes + page - 1) & ~(page - 1);
    const std::size_t guard = o.stack_guard == run_options::guard::without ? 0 : page;  // glibc's default: a page
    std::atomic<int> gate{wait};
    struct start {
        std::atomic<int>* gate;
        const std::vector<int>* cpus;
        F* fn;
        std::size_t n, w;
        std::exception_ptr pin_error;
    };
    std::vector<start> starts(n);
    for (std::size_t w = 0; w < n; ++w) starts[w] = {&gate, &cpus, &fn, n, w, nullptr};
    auto entry = [](void* p) -> void* {
        auto& s = *static_cast<start*>(p);
        s.gate->wait(wait, std::memory_order_acquire);
        if (s.gate->load(std::memory_order_acquire) == abort) return nullptr;
        try {
            if (!s.cpus->empty()) pin_this_thread((*s.cpus)[s.w % s.cpus->size()]);
        } catch (...) {
            s.pin_error = std::current_exception();  // as std::thread would have terminated, but reported
            return nullptr;
        }
        (*s.fn)(slice_of(s.n, s.n, s.w));
        return nullptr;
    };
    std::vector<thread_stack_mapping> own_stacks;  // outlives the threads below
    if (size) own_stacks.reserve(n);
    {
        std::vector<joining_pthread> ts;
        ts.reserve(n);
        try {
            for (std::size_t w = 0; w < n; ++w) {
                if (size) {
                    own_stacks.emplace_back(size, guard);
                    attr.set_stack(own_stacks.back().lo(), size);
                }
                ts.emplace_back(attr.get(), +entry, &starts[w]);
            }
        } catch (const std::system_error& e) {
            gate.store(abort, std::memory_order_release);
            gate.notify_all();
            throw spawn_error("threads: could not create thread " + std::to_string(ts.size() + 1) + " of " +
                              std::to_string(n) + " with a " +
                              (o.stack_bytes ? std::to_string(o.stack_bytes) + "-byte" : std::string("default")) +
                              " stack: " + e.what() + " (" + task_limits() + ")",
                              ts.size());
        }
        gate.store(go, std::memory_order_release);
        gate.notify_all();
    }  // every thread joined here
    for (auto& s : starts)
        if (s.pin_error) std::rethrow_exception(s.pin_error);
}

// One thread a task: the default path, or threads with the asked stacks.
template <class Fn>
void run_thread_per_task(std::size_t n, const run_options* o, const std::vector<int>& cpus, Fn&& fn) {
    if (sized_stacks_asked(o)) run_sized_threads(n, *o, cpus, fn);
    else run_thread_workers(n, n, cpus, fn);
}

class thread_context : public blocking_fd_ops {
public:
    static constexpr const runtime_traits& traits = threads_traits;
    template <class T>
    using channel = blocking_channel<T, std::mutex, std::condition_variable>;

    ready<void> yield() { std::this_thread::yield(); return {}; }
    ready<void> sleep_for(std::chrono::nanoseconds d) { std::this_thread::sleep_for(d); return {}; }
    template <class T>
    ready<void> send(channel<T>& ch, T v) { ch.send(std::move(v)); return {}; }
    template <class T>
    ready<T> recv(channel<T>& ch) { return {ch.recv()}; }
    ready<void> park();

    // Spawns n child tasks f(ctx, i), one thread each, and returns the sum of
    // their results once all have finished.
    template <class F>
    ready<std::uint64_t> spawn_all(std::size_t n, F f);

    const run_options* opts = nullptr;
    std::size_t tasks = 0;

private:
    std::atomic<std::size_t> arrived_{0};
    std::atomic<bool> released_{false};
};


inline ready<void> thread_context::park() {
    std::size_t me = arrived_.fetch_add(1, std::memory_order_acq_rel) + 1;
    if (me == tasks) {
        if (opts && opts->on_parked) opts->on_parked(opts->user, parked_info{tasks, {}});
        released_.store(true, std::memory_order_release);
        released_.notify_all();
    } else {
        released_.wait(false, std::memory_order_acquire);
    }
    return {};
}

template <class F>
ready<std::uint64_t> thread_context::spawn_all(std::size_t n, F f) {
    return {sum(run_each(n, f, *this, [&](auto each) {
        run_thread_per_task(n, opts, {}, [&](slice s) { each(s.first); });
    }))};
}

struct threads_runtime : runtime_of<thread_context> {
    template <class Body>
    static std::vector<std::uint64_t> run(std::size_t n, Body body, const run_options& opts = {}) {
        // A worker group of one thread a task (core/worker_group.hpp), or
        // pthreads with the stacks the run asks for.
        return run_top_level<thread_context>(n, body, opts, [&](auto each) {
            run_thread_per_task(n, &opts, opts.cpus, [&](slice s) { each(s.first); });
        });
    }
};

static_assert(runtime<threads_runtime>);

}  // namespace cb
