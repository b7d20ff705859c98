// fibers: Boost.Fiber on one thread, with a scheduling algorithm that sleeps
// in epoll_wait instead of on a condition variable, so a fiber waiting on an
// fd is parked and woken by readiness, never spinning on EAGAIN.
//
// Stacks come from a slab: large MAP_NORESERVE mappings cut into fixed-size
// stacks and recycled without returning pages to the OS. By default 64 KiB
// and no guard pages: one guard a stack costs two mappings a stack, and
// 100,000 fibers would exceed vm.max_map_count (65530 by default). Only the
// touched pages are resident, and stack_resident_bytes() reports them
// (mincore).
//
// A run may ask for another size and for guard pages (run_options::
// stack_bytes, stack_guard; traits.sized_stacks): it then gets a slab of its
// own for the run, unmapped when the run ends, so its mappings and pages
// neither linger nor hide in a later run's baseline. A guarded slab keeps a
// PROT_NONE page below each stack, and an overflow into it is reported and
// ends the process by SIGSEGV (stack_guard.hpp); at vm.max_map_count the
// spawn fails with a spawn_error that names the sysctl.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include <boost/context/stack_context.hpp>
#include <boost/fiber/all.hpp>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../core/context.hpp"
#include "../core/fd.hpp"
#include "../core/group.hpp"
#include "../core/parking.hpp"
#include "../core/reactor.hpp"
#include "stack_guard.hpp"

namespace cb {

class stack_slab {
public:
    // stack_size is rounded up to whole pages. With `guarded`, a PROT_NONE
    // page lies below every stack (protected when the stack is first handed
    // out, so a slab costs mappings only for the stacks it has used).
    explicit stack_slab(std::size_t stack_size, std::size_t per_chunk = 1024, bool guarded = false);
    ~stack_slab();
    stack_slab(const stack_slab&) = delete;
    stack_slab& operator=(const stack_slab&) = delete;
    // The lowest address of a stack of stack_size() bytes (above its guard
    // page, if any). Throws (spawn_error naming vm.max_map_count when a
    // guard page cannot be mapped).
    [[nodiscard]] void* get();
    void put(void* p) noexcept { free_.push_back(p); }
    std::size_t stack_size() const noexcept { return size_; }
    bool guarded() const noexcept { return guard_ != 0; }
    std::size_t in_use() const noexcept { return total_ - free_.size() - fresh_.size(); }
    // Resident bytes of every stack the slab has handed out so far.
    std::size_t resident_bytes() const;
    // Resident bytes of the stacks in use now (handed out and not returned).
    std::size_t resident_in_use() const;
    // Gives the pages of unused stacks back to the OS (MADV_DONTNEED), so a
    // memory measurement starts from stacks that hold no pages.
    void trim() noexcept;

private:
    void add_chunk();
    std::size_t size_, guard_, stride_, per_chunk_, total_ = 0;
    std::vector<void*> free_;   // handed out before and given back (guarded already)
    std::vector<void*> fresh_;  // never handed out, lowest address last
    std::vector<void*> chunks_;
};

struct slab_stack_allocator {
    stack_slab* slab;
    boost::context::stack_context allocate() {
        boost::context::stack_context sc;
        sc.size = slab->stack_size();
        sc.sp = static_cast<char*>(slab->get()) + sc.size;
        return sc;
    }
    void deallocate(boost::context::stack_context& sc) noexcept {
        slab->put(static_cast<char*>(sc.sp) - sc.size);
    }
};

// Round-robin ready queue; when no fiber is ready it waits in epoll until an
// fd becomes ready, the next sleeping fiber is due, or notify() is called.
class epoll_algorithm : public boost::fibers::algo::algorithm {
public:
    epoll_algorithm();
    ~epoll_algorithm() override;
    void awakened(boost::fibers::context* ctx) noexcept override { ctx->ready_link(rq_); }
    boost::fibers::context* pick_next() noexcept override;
    bool has_ready_fibers() const noexcept override { return !rq_.empty(); }
    void suspend_until(std::chrono::steady_clock::time_point const& tp) noexcept override;
    void notify() noexcept override { reactor_.wake(); }

    epoll_reactor& reactor() noexcept { return reactor_; }

private:
    boost::fibers::scheduler::ready_queue_type rq_;
    // One thread's scheduler arms and polls it (notify() only wakes):
    // each fd registered once (core/reactor.hpp).
    epoll_reactor reactor_{reactor_start::now, reactor_arming::register_once};
};

// The calling thread's fiber machinery, set up on first use: the scheduling
// algorithm and the stack slab. The default slab's stack size is fixed per
// thread by the first call; a run with other stacks sets `run_slab` to a slab
// of its own while it lasts (fiber_stacks_scope).
struct fiber_thread {
    epoll_reactor* reactor = nullptr;
    std::unique_ptr<stack_slab> slab;
    stack_slab* run_slab = nullptr;
    // The slab new fibers take their stacks from.
    stack_slab& stacks() noexcept { return run_slab ? *run_slab : *slab; }
};
fiber_thread& this_fiber_thread(std::size_t stack_size = 0);
inline constexpr std::size_t default_fiber_stack = 64 * 1024;
// The smallest stack a run may ask for: one page (a fiber's own context
// record and the first frames live at its top).
inline constexpr std::size_t min_fiber_stack = 4096;

// For the length of one run: the stacks run_options asks for. The thread's
// own slab when they are the default (the default path is exactly what it
// was); otherwise a slab of the run's own, and with guard pages an alternate
// signal stack so an overflow can be reported. Throws std::invalid_argument
// for a stack below min_fiber_stack.
class fiber_stacks_scope {
public:
    explicit fiber_stacks_scope(const run_options& opts);
    ~fiber_stacks_scope();
    fiber_stacks_scope(const fiber_stacks_scope&) = delete;
    fiber_stacks_scope& operator=(const fiber_stacks_scope&) = delete;

private:
    fiber_thread& ft_;
    stack_slab* saved_;
    std::unique_ptr<signal_stack_scope> altstack_;
    std::unique_ptr<stack_slab> own_;
};

template <class T>
class fiber_channel {
public:
    // Boost's buffered_channel wants a power of two of at least 2 and holds
    // one element less than that (a ring with one slot kept empty): ask for
    // capacity + 1 so that `capacity` sends never block.
    explicit fiber_channel(std::size_t capacity) : ch_(round_up(capacity + 1)) {}
    void send(T v) {
        if (ch_.push(std::move(v)) != boost::fibers::channel_op_status::success) throw std::runtime_error("fiber channel closed");
    }
    T recv() {
        T v{};
        if (ch_.pop(v) != boost::fibers::channel_op_status::success) throw std::runtime_error("fiber channel closed");
        return v;
    }

private:
    static std::size_t round_up(std::size_t c) {
        std::size_t p = 2;
        while (p < c) p *= 2;
        return p;
    }
    boost::fibers::buffered_channel<T> ch_;
};

// What this runtime is (traits.hpp): declared once, asked everywhere.
inline constexpr runtime_traits fibers_traits{
    .name = "fibers", .label = "Boost.Fiber (one thread, epoll scheduler)", .kind = task_kind::fiber,
    .multi_core = false, .shared_memory = true, .stack = stack_model::fixed_user_stack, .cost = cost_class::light, .sized_stacks = true};

// What a fiber context does the same on one thread or many: fds are
// non-blocking (a fiber waiting for one parks in its thread's reactor),
// channels are Boost's, yield and sleep are the fiber's own.
struct fiber_waits {
    template <class T>
    using channel = fiber_channel<T>;
    static void configure_fd(int fd) { set_nonblocking(fd, true); }
    ready<void> yield() { boost::this_fiber::yield(); return {}; }
    ready<void> sleep_for(std::chrono::nanoseconds d) { boost::this_fiber::sleep_for(d); return {}; }
};

class fiber_context : public parking_context<fiber_context, boost::fibers::mutex, boost::fibers::condition_variable>,
                      public fiber_waits {
public:
    static constexpr const runtime_traits& traits = fibers_traits;

    template <class F>
    ready<std::uint64_t> spawn_all(std::size_t n, F f) {
        return {sum(run_each(n, f, *this, [n](auto each) { spawn_fibers(n, each); }))};
    }

    // {stack size, resident bytes of the stacks in use}: what a fiber costs
    // in stack, for memory-per-task reports. Inside a run, the run's stacks
    // (its size, without the guard page, which holds no memory).
    static std::pair<std::size_t, std::size_t> stack_usage() {
        const stack_slab& s = this_fiber_thread().stacks();
        return {s.stack_size(), s.resident_in_use()};
    }
    static void release_free_memory() { this_fiber_thread().stacks().trim(); }

    // Parks the calling fiber until fd reports `events`.
    static void wait_fd(int fd, std::uint32_t events);

    template <class Fn>
    static void spawn_fibers(std::size_t n, Fn&& fn) {
        fiber_thread& ft = this_fiber_thread();
        std::vector<boost::fibers::fiber> fs;
        fs.reserve(n);
        // New fibers are only queued (launch::post) and do not run before this
        // fiber joins, so on a failure none has started: they see `aborted`
        // and return at once instead of waiting on siblings never born.
        bool aborted = false;
        try {
            for (std::size_t i = 0; i < n; ++i)
                fs.emplace_back(std::allocator_arg, slab_stack_allocator{&ft.stacks()}, [&fn, &aborted, i] {
                    if (!aborted) fn(i);
                });
        } catch (const std::exception& e) {
            aborted = true;
            for (auto& f : fs) f.join();
            throw spawn_error("fibers: could not create fiber " + std::to_string(fs.size() + 1) + ": " + e.what(),
                              fs.size());
        }
        for (auto& f : fs) f.join();
    }

};

struct fibers_runtime : runtime_of<fiber_context> {
    template <class Body>
    static std::vector<std::uint64_t> run(std::size_t n, Body body, const run_options& opts = {}) {
        affinity_guard keep_mask;
        if (!opts.cpus.empty()) pin_this_thread(opts.cpus[0]);
        fiber_stacks_scope stacks(opts);
        return run_top_level<fiber_context>(n, body, opts, [n](auto each) { fiber_context::spawn_fibers(n, each); });
    }
};

static_assert(runtime<fibers_runtime>);

}  // namespace cb
