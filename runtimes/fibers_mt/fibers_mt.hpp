// fibers_mt: Boost.Fiber on W threads, one ready queue per thread, idle
// threads steal (work stealing), W = workers_for(n, options)
// (core/worker_group.hpp).
//
// Why a scheduling algorithm of our own: Boost's work_stealing keeps a static
// set of schedulers, set up once per process, and sleeps on a condition
// variable (or spins); shared_work's one locked queue is what this runtime
// used first, and a profile of skynet on 2 threads showed that queue's mutex
// (futex waits and wake-ups), Boost's spinlocks around cross-thread joins
// (every fiber migrated, so most joins crossed threads) and cache misses on
// contexts made by the other thread, and no speed-up. mt_algorithm is
// work_stealing's shape plus:
//  - each thread has two lock-free queues: a work-stealing deque of the
//    fibers made or woken on it, run last in first out (depth first), and a
//    FIFO ring of the fibers that yielded. An idle thread steals the oldest
//    fiber (in skynet, the largest subtree). Every 32nd pick takes the
//    oldest of this thread's own instead, so no ready fiber waits forever
//    behind a pair that keeps waking each other;
//  - an idle thread sleeps in its own epoll_reactor (fd waits and sleeping
//    fibers' deadlines, no spinning); whoever queues a fiber while some
//    thread sleeps wakes one sleeper through its reactor's eventfd, and no
//    thread is woken while none sleeps (a fence and an atomic count: one
//    load on the hot path);
//  - a fiber waiting on an fd arms the reactor of the thread it runs on. Only
//    that thread can fire it, and only after the fiber has suspended, so the
//    wake-up is a plain local schedule(); the fiber then goes to that
//    thread's queue and may be stolen.
// Each thread's main fiber waits for every task of the run, not only its own:
// a thread must not leave while a fiber attached to it could still be woken.
//
// What it costs beyond the fibers: per worker, an epoll fd, an eventfd and
// two rings of 8-byte slots, 256 to start, doubled when full, the old ones
// kept to the end of the run: 16 to 32 bytes for each fiber that was ready
// at once (a run starting 100,000 tasks on 2 workers: ~2 MiB until it ends).
//
// Stacks: one slab for the process behind a mutex (stack_slab of fibers/,
// 64 KiB, no guard pages, MAP_NORESERVE), and in front of it a cache per
// worker thread of the run, which the thread takes from and gives back to
// without a lock (a fiber that ends on another thread gives its stack to that
// thread's cache); a cache refills and overflows in batches, one lock each,
// and goes back to the slab when the run ends. A group takes all its stacks
// up front: if that fails nothing has started, and creating a fiber on a taken
// stack cannot fail (Boost places the context record on the stack itself), so
// no started fiber can wait forever on a sibling that was never born.
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
    // n stacks appended to `out` at once, or none (spawn_error).
    void take(std::size_t n, std::vector<void*>& out);
    void put(void* p) noexcept;
    // Gives back out[from, end) and shrinks out to `from`.
    void put_tail(std::vector<void*>& out, std::size_t from) noexcept;
    std::pair<std::size_t, std::size_t> usage();  // {stack size, resident bytes of stacks in use}
    void trim() noexcept;
    std::size_t stack_size() const noexcept { return slab_.stack_size(); }  // fixed at construction

private:
    std::mutex m_;
    stack_slab slab_{default_fiber_stack};
};

// A worker thread's stacks, owned by the run, used by that thread alone. It
// holds at most `most` stacks, so what a run's caches keep from the slab (and
// count as in use in mt_stack_pool::usage) is bounded; empty when a run
// starts, so a run whose tasks spawn nothing (idle_memory) has none cached.
class mt_stack_cache {
public:
    static constexpr std::size_t most = 256, batch = 64;
    mt_stack_cache() { free_.reserve(most + 1); }  // put() never allocates
    ~mt_stack_cache() { mt_stack_pool::get().put_tail(free_, 0); }
    mt_stack_cache(const mt_stack_cache&) = delete;
    mt_stack_cache& operator=(const mt_stack_cache&) = delete;
    // n stacks at once, or none (spawn_error); a refill takes a batch more.
    std::vector<void*> take(std::size_t n);
    void put(void* p) noexcept {
        free_.push_back(p);
        if (free_.size() > most) mt_stack_pool::get().put_tail(free_, most - batch);
    }

private:
    std::vector<void*> free_;  // latest given back last: its pages are the warmest
};

// Gives a stack back: to the calling thread's cache on a worker thread of a
// run, else to the slab.
void mt_put_stack(void* p) noexcept;

// Hands Boost one stack taken beforehand; gives it back where it ends.
struct mt_given_stack {
    void* base;
    boost::context::stack_context allocate() const noexcept {
        boost::context::stack_context sc;
        sc.size = mt_stack_pool::get().stack_size();
        sc.sp = static_cast<char*>(base) + sc.size;
        return sc;
    }
    void deallocate(boost::context::stack_context& sc) const noexcept { mt_put_stack(static_cast<char*>(sc.sp) - sc.size); }
};

// Stacks taken for a group (from the calling thread's cache, or the slab
// outside a worker thread); whatever no fiber took goes back on the way out.
struct mt_taken_stacks {
    explicit mt_taken_stacks(std::size_t n);
    ~mt_taken_stacks() {
        for (void* p : v)
            if (p) mt_put_stack(p);
    }
    mt_taken_stacks(const mt_taken_stacks&) = delete;
    mt_taken_stacks& operator=(const mt_taken_stacks&) = delete;
    mt_given_stack give(std::size_t i) noexcept { return {std::exchange(v[i], nullptr)}; }
    std::vector<void*> v;
};

// ---- scheduling -------------------------------------------------------------

// The storage of a growing ring of fibers: slot i of a ring of 2^k lives at
// i mod 2^k. Growing copies the live slots [first, last) into a ring twice
// the size at the same indices; the old rings stay until the run ends, since
// a thief may still read one (it holds the same fibers at the same indices),
// which costs at most the final ring's size again. A reader loads the ring
// after the index that published its slot (acquire), so it gets a ring
// holding that slot.
class mt_ring_storage {
public:
    struct ring {
        explicit ring(std::size_t n) : mask(n - 1), slot(new std::atomic<boost::fibers::context*>[n]) {}
        std::atomic<boost::fibers::context*>& at(std::int64_t i) noexcept { return slot[static_cast<std::size_t>(i) & mask]; }
        std::size_t capacity() const noexcept { return mask + 1; }
        const std::size_t mask;
        const std::unique_ptr<std::atomic<boost::fibers::context*>[]> slot;
    };
    mt_ring_storage() : cur_(new ring(256)) {}
    ~mt_ring_storage() { delete cur_.load(std::memory_order_relaxed); }
    mt_ring_storage(const mt_ring_storage&) = delete;
    mt_ring_storage& operator=(const mt_ring_storage&) = delete;
    ring* owner_ring() const noexcept { return cur_.load(std::memory_order_relaxed); }
    ring* reader_ring() const noexcept { return cur_.load(std::memory_order_acquire); }
    // Owner only: the ring to write slot `last` to, grown if [first, last]
    // would not fit. Allocates (std::bad_alloc ends the process, as in
    // Boost's own queues: the callers are noexcept).
    ring* for_push(std::int64_t first, std::int64_t last);

private:
    std::atomic<ring*> cur_;
    std::vector<std::unique_ptr<ring>> old_;  // owner only
};

// A ring of ready fibers that one thread (its owner) pushes to at the
// bottom, and that any thread takes the oldest from at the top with a
// compare-and-swap: a take that read a slot since reused fails it, because
// the reuse needed the top to move first. No lock: a thread preempted in the
// middle of a push or a take blocks nobody, which matters when workers
// outnumber cores. As it is, first in first out: a worker's yielded fibers,
// so a yield goes behind every fiber that was waiting, as on one thread
// (lost_updates' interleavings and idle_conns' "yield behind every task's
// first step" rely on it).
class mt_ready_ring {
public:
    void push(boost::fibers::context* c);            // owner
    boost::fibers::context* take_oldest() noexcept;  // anyone; nullptr when empty
    bool empty() const noexcept {
        return bottom_.load(std::memory_order_seq_cst) <= top_.load(std::memory_order_seq_cst);
    }

protected:
    alignas(64) std::atomic<std::int64_t> top_{0};     // the oldest: takers
    alignas(64) std::atomic<std::int64_t> bottom_{0};  // one past the newest: the owner
    mt_ring_storage ring_;
};

// A worker's fibers made or woken on it: the ring plus the owner's pop of
// the newest, which makes it Chase and Lev's deque ("Dynamic circular
// work-stealing deque", SPAA 2005; the C11 orderings of Le et al., PPoPP
// 2013). The owner runs last in first out: a spawn tree runs depth first, so
// a parent's children end, and give their stacks back, before the next
// subtree starts, and a woken fiber runs while what it touched is warm.
// Thieves, and the owner's fair picks, take the oldest.
class mt_work_deque : public mt_ready_ring {
public:
    boost::fibers::context* pop() noexcept;  // owner; nullptr when empty
};

// One worker thread's queues and waiting place. Owned by the run, not the
// thread, so a thief or a waker may still touch it after the thread has gone
// on (and even exited).
struct alignas(64) mt_worker {
    mt_work_deque work;     // made or woken here
    mt_ready_ring yielded;  // yielded here
    epoll_reactor reactor;  // opened now: wake() from other threads must not race a lazy open
    mt_stack_cache stacks;  // this worker's thread only
    // In the idle list. Written under mt_shared::m; read without it by
    // notify(), paired with `notified` (each side stores its flag, then
    // loads the other's, both seq_cst: one of them sees the other).
    std::atomic<bool> asleep{false};
    // A remote wake-up posted (Boost's remote ready queue) and not yet taken in.
    std::atomic<bool> notified{false};
    bool stuck = false;  // asleep with no deadline, no fd armed, no wake-up posted; guarded by mt_shared::m
};

// What one run's threads share.
struct mt_shared {
    explicit mt_shared(std::size_t w) : workers(w), slots(new mt_worker[w]) { idle.reserve(w); }
    const std::size_t workers;
    std::unique_ptr<mt_worker[]> slots;
    // Workers in the idle list: a thread that queues a fiber reads this (one
    // load) to know whether it must wake one.
    std::atomic<std::size_t> sleeping{0};
    std::mutex m;                  // the idle list: taken only on the way to sleep and to wake a sleeper
    std::vector<mt_worker*> idle;  // asleep in their reactor, latest last (reserved: no allocation under m)
    std::size_t stuck = 0;         // workers stuck: all of them is a deadlock
    // Wakes one sleeper, if any: called after queueing a fiber.
    void wake_one() noexcept;
    // Some worker holds a ready fiber.
    bool any_ready() const noexcept;
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
    boost::fibers::context* steal() noexcept;
    boost::fibers::context* fair_pick() noexcept;
    mt_shared& s_;
    mt_worker& self_;
    const std::size_t index_;
    boost::fibers::scheduler::ready_queue_type local_;  // pinned contexts: this thread's main and dispatcher
    unsigned picks_ = 0;
    std::uint32_t seed_;  // where a steal starts looking
};

// The calling thread's place in the run it works for (none outside a run).
struct mt_thread {
    mt_algorithm* algo = nullptr;
    std::size_t index = 0;
    mt_stack_cache* stacks = nullptr;
    // The fiber inside fibers_mt_context::yield(): awakened() puts it with
    // the yielded ones. Set just before the switch, taken in right after it
    // on the same thread (Boost schedules the yielder from the next context).
    boost::fibers::context* yielding = nullptr;
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
    .name = "fibers_mt", .label = "Boost.Fiber on K threads (work stealing)", .kind = task_kind::fiber,
    .multi_core = true, .shared_memory = true, .stack = stack_model::fixed_user_stack, .cost = cost_class::light, .sized_workers = true};

class fibers_mt_context
    : public parking_context<fibers_mt_context, boost::fibers::mutex, boost::fibers::condition_variable>,
      public fiber_waits {
public:
    static constexpr const runtime_traits& traits = fibers_mt_traits;

    ready<void> yield() {  // hides fiber_waits::yield: behind the fibers waiting (mt_ready_ring)
        t_fibers_mt.yielding = boost::fibers::context::active();
        boost::this_fiber::yield();
        return {};
    }

    ready<void> park() {  // hides parking_context::park (see mt_park_barrier)
        park_.arrive_and_wait(tasks, opts);
        return {};
    }

    // Children go to this thread's deque: an idle thread may steal them.
    // Made in order, so the last runs first and the first, which the
    // parent joins first, ends last: the other joins then find their
    // child done and do not switch.
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

    // The thread the calling task runs on now, in [0, W). A task may resume
    // on another thread after any wait (an idle thread steals it).
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
            // Last first: the deque runs the latest made first, so the
            // slice starts in task order (thieves take its last tasks).
            for (std::size_t i = s.last; i-- > s.first;)
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
