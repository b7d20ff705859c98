// fibers_mt: Boost.Fiber on W threads that share one ready queue (work
// sharing), W = workers_for(n, options) (core/worker_group.hpp).
//
// Why a scheduling algorithm of our own: Boost's shared_work sleeps on a
// condition variable that only its own thread's notify() ends, so a fiber put
// in the shared queue does not wake an idle thread (it waits for that thread's
// timeout, or spins with suspend = false); work_stealing keeps a static set of
// schedulers, set up once per process. mt_algorithm is shared_work plus:
//  - an idle thread sleeps in its own epoll_reactor (fd waits and sleeping
//    fibers' deadlines, no spinning), and whoever queues a fiber while a
//    thread sleeps wakes one sleeper through its reactor's eventfd;
//  - a fiber waiting on an fd arms the reactor of the thread it runs on. Only
//    that thread can fire it, and only after the fiber has suspended, so the
//    wake-up is a plain local schedule(); the fiber then goes back to the
//    shared queue and may resume on another thread.
// Each thread's main fiber waits for every task of the run, not only its own:
// a thread must not leave while a fiber attached to it could still be woken.
//
// Stacks: one slab for the process behind a mutex (stack_slab of fibers/,
// 64 KiB, no guard pages, MAP_NORESERVE). A fiber may end, and its stack be
// given back, on any thread (it migrates through the shared queue; Boost
// frees a context where its last reference drops), so per-thread slabs would
// need a hand-back path; one lock per stack costs ~20 ns uncontended. A group
// takes all its stacks up front, under one lock: if that fails nothing has
// started, and creating a fiber on a taken stack cannot fail (Boost places the
// context record on the stack itself), so no started fiber can wait forever on
// a sibling that was never born.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include <boost/fiber/all.hpp>

#include "../core/context.hpp"
#include "../core/fd.hpp"
#include "../core/group.hpp"
#include "../core/parking.hpp"
#include "../core/reactor.hpp"
#include "../core/worker_group.hpp"
#include "../fibers/fibers.hpp"  // stack_slab, fiber_channel (Boost's buffered_channel is thread-safe)

namespace cb {

// ---- stacks -----------------------------------------------------------------

// The process-wide slab, locked. Lives for the process, like the fibers
// runtime's per-thread slab: stacks are recycled across runs.
class mt_stack_pool {
public:
    static mt_stack_pool& get();
    // n stacks at once, or none (spawn_error).
    std::vector<void*> take(std::size_t n);
    void put(void* p) noexcept;
    std::pair<std::size_t, std::size_t> usage();  // {stack size, resident bytes of stacks in use}
    void trim() noexcept;
    std::size_t stack_size() const noexcept { return slab_.stack_size(); }  // fixed at construction

private:
    std::mutex m_;
    stack_slab slab_{default_fiber_stack};
};

// Hands Boost one stack taken beforehand; gives it back to the pool.
struct mt_given_stack {
    void* base;
    boost::context::stack_context allocate() const noexcept {
        boost::context::stack_context sc;
        sc.size = mt_stack_pool::get().stack_size();
        sc.sp = static_cast<char*>(base) + sc.size;
        return sc;
    }
    void deallocate(boost::context::stack_context& sc) const noexcept {
        mt_stack_pool::get().put(static_cast<char*>(sc.sp) - sc.size);
    }
};

// Stacks taken for a group; whatever no fiber took goes back on the way out.
struct mt_taken_stacks {
    explicit mt_taken_stacks(std::size_t n) : v(mt_stack_pool::get().take(n)) {}
    ~mt_taken_stacks() {
        for (void* p : v)
            if (p) mt_stack_pool::get().put(p);
    }
    mt_taken_stacks(const mt_taken_stacks&) = delete;
    mt_taken_stacks& operator=(const mt_taken_stacks&) = delete;
    mt_given_stack give(std::size_t i) noexcept { return {std::exchange(v[i], nullptr)}; }
    std::vector<void*> v;
};

// ---- scheduling -------------------------------------------------------------

// One worker thread's waiting place. Owned by the run, not the thread, so a
// waker may still touch it after the sleeper has gone on (and even exited).
struct mt_worker {
    epoll_reactor reactor;  // opened now: wake() from other threads must not race a lazy open
    bool asleep = false;    // in the idle list; guarded by mt_shared::m
    bool stuck = false;     // asleep with no deadline, no fd armed, no wake-up posted; guarded by mt_shared::m
    bool notified = false;  // a remote wake-up posted and not yet taken in; guarded by mt_shared::m
};

// What one run's threads share.
struct mt_shared {
    explicit mt_shared(std::size_t w) : workers(w), slots(new mt_worker[w]) {}
    std::mutex m;
    boost::fibers::scheduler::ready_queue_type queue;  // ready fibers, detached from any thread
    std::atomic<std::size_t> queued{0};                // queue's size, readable without m
    std::vector<mt_worker*> idle;                      // asleep in their reactor, latest last
    std::size_t stuck = 0;                             // workers stuck: all of them is a deadlock
    const std::size_t workers;
    std::unique_ptr<mt_worker[]> slots;
};

class mt_algorithm final : public boost::fibers::algo::algorithm {
public:
    mt_algorithm(mt_shared& s, std::size_t index);
    ~mt_algorithm() override;
    void awakened(boost::fibers::context* ctx) noexcept override;
    boost::fibers::context* pick_next() noexcept override;
    bool has_ready_fibers() const noexcept override;
    void suspend_until(std::chrono::steady_clock::time_point const& tp) noexcept override;
    void notify() noexcept override;

    epoll_reactor& reactor() noexcept { return self_.reactor; }

private:
    mt_shared& s_;
    mt_worker& self_;
    boost::fibers::scheduler::ready_queue_type local_;  // pinned contexts: this thread's main and dispatcher
    unsigned picks_ = 0;
};

// The calling thread's place in the run it works for (none outside a run).
struct mt_thread {
    mt_algorithm* algo = nullptr;
    std::size_t index = 0;
};
inline thread_local mt_thread t_fibers_mt;

// ---- context and runtime ----------------------------------------------------

// park(): core/parking.hpp's hooked_barrier but for one thing: the release
// notifies after unlocking. Notifying under the lock, as hooked_barrier does,
// is harmless on one thread; here the other thread resumes woken fibers while
// notify_all() still holds the mutex, each of them queues on it, and they get
// it one at a time, many hand-offs being wake-ups across threads. Releasing
// 100,000 parked fibers on the 2-core VM: 0.17-0.26 s this way, 0.3-1.5 s
// (once 22 s, under heavy load) with hooked_barrier.
class mt_park_barrier {
public:
    void arrive_and_wait(std::size_t tasks, const run_options* opts) {
        std::unique_lock lk(m_);
        if (++arrived_ < tasks) {
            cv_.wait(lk, [&] { return released_; });
            return;
        }
        // Every other task waits on cv_ (each linked itself there before
        // letting go of m_): the hook sees them all parked.
        if (opts && opts->on_parked) opts->on_parked(opts->user, parked_info{tasks, {}});
        released_ = true;
        lk.unlock();
        cv_.notify_all();
    }

private:
    boost::fibers::mutex m_;
    boost::fibers::condition_variable cv_;
    std::size_t arrived_ = 0;
    bool released_ = false;
};

inline constexpr runtime_traits fibers_mt_traits{
    .name = "fibers_mt", .label = "Boost.Fiber on K threads (work sharing)", .kind = task_kind::fiber,
    .multi_core = true, .shared_memory = true, .stack = stack_model::fixed_user_stack, .cost = cost_class::light, .sized_workers = true};

class fibers_mt_context
    : public parking_context<fibers_mt_context, boost::fibers::mutex, boost::fibers::condition_variable>,
      public fiber_waits {
public:
    static constexpr const runtime_traits& traits = fibers_mt_traits;

    ready<void> park() {  // hides parking_context::park (see mt_park_barrier)
        park_.arrive_and_wait(tasks, opts);
        return {};
    }

    // Children go to the shared queue: any thread may run them.
    template <class F>
    ready<std::uint64_t> spawn_all(std::size_t n, F f) {
        std::vector<result_slot> slots(n);
        std::vector<boost::fibers::fiber> fs(n);
        mt_taken_stacks stacks(n);
        for (std::size_t i = 0; i < n; ++i)
            fs[i] = boost::fibers::fiber(std::allocator_arg, stacks.give(i), [&, i] { run_blocking(f, *this, i, slots[i]); });
        for (auto& fb : fs) fb.join();
        return {sum(collect(slots))};
    }

    // The thread the calling task runs on now, in [0, W). Under work sharing
    // a task may resume on another thread after any wait.
    std::size_t worker() const noexcept { return t_fibers_mt.index; }
    static std::size_t workers_for(std::size_t n, const run_options& o) { return cb::workers_for(n, o); }

    // {stack size, resident bytes of the stacks in use}, for memory per task.
    static std::pair<std::size_t, std::size_t> stack_usage() { return mt_stack_pool::get().usage(); }
    static void release_free_memory() { mt_stack_pool::get().trim(); }

    // Parks the calling fiber until fd reports `events` (this thread's reactor).
    static void wait_fd(int fd, std::uint32_t events);

private:
    mt_park_barrier park_;
};

struct fibers_mt_runtime : runtime_of<fibers_mt_context> {
    template <class Body>
    static std::vector<std::uint64_t> run(std::size_t n, Body body, const run_options& opts = {}) {
        const std::size_t w = context::workers_for(n, opts);
        context ctx;
        ctx.opts = &opts;
        ctx.tasks = n;
        std::vector<result_slot> slots(n);
        // Made here, filled by the threads: nothing on the threads allocates
        // before every task exists (see the stacks note above).
        std::vector<boost::fibers::fiber> fs(n);
        mt_taken_stacks stacks(n);
        mt_shared shared(w);
        all_done done(n);
        // Pins worker w to cpus[w % size]; a thread that cannot be created
        // makes none of them run (spawn_error).
        run_thread_workers(w, n, opts.cpus, [&](slice s) {
            boost::fibers::use_scheduling_algorithm<mt_algorithm>(shared, s.worker);
            for (std::size_t i = s.first; i < s.last; ++i)
                fs[i] = boost::fibers::fiber(std::allocator_arg, stacks.give(i), [&, i] {
                    run_blocking(body, ctx, i, slots[i]);
                    done.arrive();
                });
            done.wait();
            // Dropped here, on a fiber thread: a context's last reference
            // frees its stack by switching to it once more.
            for (std::size_t i = s.first; i < s.last; ++i) {
                fs[i].join();
                fs[i] = boost::fibers::fiber{};
            }
        });
        return collect(slots);
    }

private:
    // Every top-level task has returned. The main fiber of each thread waits
    // here (a fiber wait: the thread goes on running fibers meanwhile).
    struct all_done {
        explicit all_done(std::size_t n) : left(n), done(n == 0) {}
        std::atomic<std::size_t> left;
        boost::fibers::mutex m;
        boost::fibers::condition_variable cv;
        bool done;
        void arrive() {
            if (left.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
            std::lock_guard lk(m);
            done = true;
            cv.notify_all();
        }
        void wait() {
            std::unique_lock lk(m);
            cv.wait(lk, [&] { return done; });
        }
    };
};

static_assert(runtime<fibers_mt_runtime>);

}  // namespace cb
