#include "fibers_mt.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace cb {

using fctx = boost::fibers::context;  // cb::context is the concept

// ---- stacks -----------------------------------------------------------------

mt_stack_pool& mt_stack_pool::get() {
    static mt_stack_pool pool;
    return pool;
}

void mt_stack_pool::take(std::size_t n, std::vector<void*>& out) {
    const std::size_t from = out.size();
    out.reserve(from + n);
    std::lock_guard lk(m_);
    try {
        while (out.size() < from + n) out.push_back(slab_.get());
    } catch (const std::exception& e) {
        while (out.size() > from) {
            slab_.put(out.back());
            out.pop_back();
        }
        throw spawn_error("fibers_mt: could not allocate " + std::to_string(n) + " fiber stacks: " + e.what());
    }
}

void mt_stack_pool::put(void* p) noexcept {
    std::lock_guard lk(m_);
    slab_.put(p);
}

void mt_stack_pool::put_tail(std::vector<void*>& out, std::size_t from) noexcept {
    std::lock_guard lk(m_);
    for (std::size_t i = from; i < out.size(); ++i) slab_.put(out[i]);
    out.resize(from);
}

std::pair<std::size_t, std::size_t> mt_stack_pool::usage() {
    std::lock_guard lk(m_);
    return {slab_.stack_size(), slab_.resident_in_use()};
}

void mt_stack_pool::trim() noexcept {
    std::lock_guard lk(m_);
    slab_.trim();
}

std::vector<void*> mt_stack_cache::take(std::size_t n) {
    if (free_.size() < n) {
        // One lock for this group and the next few (skynet: ten stacks a
        // group); at most `most` stay cached.
        const std::size_t want = std::min(n - free_.size() + batch, most + 1 - free_.size());
        mt_stack_pool::get().take(std::max(want, n - free_.size()), free_);
    }
    std::vector<void*> out(free_.end() - static_cast<std::ptrdiff_t>(n), free_.end());
    free_.resize(free_.size() - n);
    return out;
}

void mt_put_stack(void* p) noexcept {
    if (mt_stack_cache* c = t_fibers_mt.stacks)
        c->put(p);
    else
        mt_stack_pool::get().put(p);
}

mt_taken_stacks::mt_taken_stacks(std::size_t n) {
    if (mt_stack_cache* c = t_fibers_mt.stacks) {
        v = c->take(n);
    } else {
        mt_stack_pool::get().take(n, v);
    }
}

// ---- ready queues -----------------------------------------------------------

mt_ring_storage::ring* mt_ring_storage::for_push(std::int64_t first, std::int64_t last) {
    ring* r = cur_.load(std::memory_order_relaxed);
    if (static_cast<std::size_t>(last - first) < r->capacity()) return r;
    auto bigger = std::make_unique<ring>(2 * r->capacity());
    for (std::int64_t i = first; i != last; ++i) bigger->at(i).store(r->at(i).load(std::memory_order_relaxed), std::memory_order_relaxed);
    old_.emplace_back(r);
    r = bigger.release();
    cur_.store(r, std::memory_order_release);
    return r;
}

void mt_ready_ring::push(fctx* c) {
    const std::int64_t b = bottom_.load(std::memory_order_relaxed);
    const std::int64_t t = top_.load(std::memory_order_acquire);
    ring_.for_push(t, b)->at(b).store(c, std::memory_order_relaxed);
    bottom_.store(b + 1, std::memory_order_release);  // publishes the slot (and a new ring)
}

fctx* mt_ready_ring::take_oldest() noexcept {
    for (;;) {
        std::int64_t t = top_.load(std::memory_order_acquire);
        // Top before bottom, as in Chase-Lev's steal: with the owner's pop,
        // which moves bottom before it reads top, one of the two sees the
        // other when a single fiber is left, and the CAS settles who gets it.
        std::atomic_thread_fence(std::memory_order_seq_cst);
        const std::int64_t b = bottom_.load(std::memory_order_acquire);
        if (t >= b) return nullptr;
        fctx* c = ring_.reader_ring()->at(t).load(std::memory_order_relaxed);
        if (top_.compare_exchange_strong(t, t + 1, std::memory_order_seq_cst, std::memory_order_relaxed)) return c;
        // Lost to another taker: the next one, if any.
    }
}

fctx* mt_work_deque::pop() noexcept {
    const std::int64_t b = bottom_.load(std::memory_order_relaxed) - 1;
    mt_ring_storage::ring* r = ring_.owner_ring();
    bottom_.store(b, std::memory_order_relaxed);
    // Claims slot b before looking at top (see take_oldest).
    std::atomic_thread_fence(std::memory_order_seq_cst);
    std::int64_t t = top_.load(std::memory_order_relaxed);
    if (t > b) {  // empty
        bottom_.store(b + 1, std::memory_order_relaxed);
        return nullptr;
    }
    fctx* c = r->at(b).load(std::memory_order_relaxed);
    if (t == b) {  // the last one: race the takers for it
        if (!top_.compare_exchange_strong(t, t + 1, std::memory_order_seq_cst, std::memory_order_relaxed)) c = nullptr;
        bottom_.store(b + 1, std::memory_order_relaxed);
    }
    return c;
}

// ---- scheduling -------------------------------------------------------------

namespace {

// Takes w out of the idle list, if there; caller holds s.m. A worker someone
// is about to wake, or that has work of its own, is not stuck either.
void unidle(mt_shared& s, mt_worker& w) noexcept {
    if (w.asleep.load(std::memory_order_relaxed)) {
        s.idle.erase(std::find(s.idle.begin(), s.idle.end(), &w));
        w.asleep.store(false, std::memory_order_seq_cst);
        s.sleeping.fetch_sub(1, std::memory_order_seq_cst);
    }
    if (w.stuck) {
        w.stuck = false;
        --s.stuck;
    }
}

}  // namespace

void mt_shared::wake_one() noexcept {
    mt_worker* sleeper = nullptr;
    {
        std::lock_guard lk(m);
        // The latest sleeper: its caches are the warmest.
        if (!idle.empty()) {
            sleeper = idle.back();
            unidle(*this, *sleeper);
        }
    }
    // Outside the lock: the reactor belongs to the run, so it outlives the
    // sleeper's thread even if that thread has moved on.
    if (sleeper) sleeper->reactor.wake();
}

bool mt_shared::any_ready() const noexcept {
    for (std::size_t i = 0; i < workers; ++i)
        if (!slots[i].work.empty() || !slots[i].yielded.empty()) return true;
    return false;
}

mt_algorithm::mt_algorithm(mt_shared& s, std::size_t index)
    : s_(s), self_(s.slots[index]), index_(index), seed_(static_cast<std::uint32_t>(index) * 2654435761u + 1) {
    t_fibers_mt = {this, index, &self_.stacks};
}

mt_algorithm::~mt_algorithm() {
    if (t_fibers_mt.algo == this) t_fibers_mt = {};
}

void mt_algorithm::awakened(fctx* ctx) noexcept {
    // This thread's main fiber and its dispatcher never move.
    if (ctx->is_context(boost::fibers::type::pinned_context)) {
        ctx->ready_link(local_);
        return;
    }
    ctx->detach();  // from this thread: whichever thread takes it attaches it
    if (t_fibers_mt.yielding == ctx) {
        t_fibers_mt.yielding = nullptr;
        self_.yielded.push(ctx);
    } else {
        self_.work.push(ctx);
    }
    // Paired with the seq_cst increment of `sleeping` in suspend_until, which
    // then looks at every queue: either this sees the sleeper, or the sleeper
    // sees this fiber. While nobody sleeps, queueing costs this one load.
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (s_.sleeping.load(std::memory_order_relaxed) > 0) s_.wake_one();
}

fctx* mt_algorithm::steal() noexcept {
    const std::size_t w = s_.workers;
    if (w < 2) return nullptr;
    // xorshift: a different first victim each time, so thieves spread out.
    seed_ ^= seed_ << 13;
    seed_ ^= seed_ >> 17;
    seed_ ^= seed_ << 5;
    const std::size_t first = seed_ % w;
    for (std::size_t k = 0; k < w; ++k) {
        const std::size_t v = (first + k) % w;
        if (v == index_) continue;
        if (fctx* c = s_.slots[v].work.take_oldest()) return c;
        if (fctx* c = s_.slots[v].yielded.take_oldest()) return c;
    }
    return nullptr;
}

fctx* mt_algorithm::fair_pick() noexcept {
    if (!local_.empty()) {
        fctx* ctx = &local_.front();
        local_.pop_front();
        return ctx;
    }
    if (fctx* c = self_.yielded.take_oldest()) return c;
    return self_.work.take_oldest();
}

fctx* mt_algorithm::pick_next() noexcept {
    fctx* ctx = nullptr;
    // Every 32nd pick, what has waited longest: the pinned contexts (this
    // thread's dispatcher moves its sleeping fibers and remote wake-ups to
    // ready, and would never run while the deque stays busy), then the
    // yielded fibers, then the deque's oldest.
    if ((++picks_ & 31) == 0) ctx = fair_pick();
    if (!ctx) ctx = self_.work.pop();
    // Then the yielded fibers: a yield switches straight to the next one, as
    // in a one-thread round-robin queue, not through the dispatcher.
    if (!ctx) ctx = self_.yielded.take_oldest();
    if (!ctx && !local_.empty()) {
        // Nothing ready here: the dispatcher (or main fiber), which takes in
        // remote wake-ups and due sleepers; it steals when it gets here again.
        ctx = &local_.front();
        local_.pop_front();
        return ctx;
    }
    if (!ctx) ctx = steal();
    if (ctx && !ctx->is_context(boost::fibers::type::pinned_context)) fctx::active()->attach(ctx);
    // A thread kept busy never reaches suspend_until, where its reactor is
    // polled: look at fds now and then. Only when returning a fiber: the poll
    // consumes the wake-up eventfd, and the dispatcher takes in remote
    // wake-ups before it next sleeps only if it runs its loop again.
    if (ctx && (picks_ & 63) == 0 && self_.reactor.armed() > 0) self_.reactor.poll(std::chrono::nanoseconds{0});
    return ctx;
}

bool mt_algorithm::has_ready_fibers() const noexcept {
    return !local_.empty() || !self_.work.empty() || !self_.yielded.empty();
}

void mt_algorithm::suspend_until(std::chrono::steady_clock::time_point const& tp) noexcept {
    const bool forever = tp == std::chrono::steady_clock::time_point::max();
    {
        std::lock_guard lk(s_.m);
        s_.idle.push_back(&self_);
        self_.asleep.store(true, std::memory_order_seq_cst);
        s_.sleeping.fetch_add(1, std::memory_order_seq_cst);
    }
    // Announced: from here on a thread that queues a fiber, or posts a remote
    // wake-up to this one, wakes it. Look once more for what came before.
    const bool work = self_.notified.load(std::memory_order_seq_cst) || s_.any_ready();
    {
        std::lock_guard lk(s_.m);
        if (work) {
            unidle(s_, self_);
        } else if (forever && self_.asleep.load(std::memory_order_relaxed) && self_.reactor.armed() == 0) {
            // Nothing ready anywhere, no deadline, no fd armed, no remote
            // wake-up pending, and every wake-up clears `stuck` (under this
            // lock) before its waker could get stuck itself: when every
            // worker is stuck, every fiber waits on another. The fibers
            // runtime aborts in this state; so does this one (suspend_until
            // is noexcept).
            self_.stuck = true;
            if (++s_.stuck == s_.workers) {
                std::fputs("fibers_mt: deadlock: every fiber waits and nothing can wake one\n", stderr);
                std::abort();
            }
        }
    }
    if (!work) {
        std::chrono::nanoseconds timeout{-1};
        if (!forever) {
            timeout = std::chrono::duration_cast<std::chrono::nanoseconds>(tp - std::chrono::steady_clock::now());
            if (timeout.count() < 0) timeout = std::chrono::nanoseconds{0};
        }
        self_.reactor.poll(timeout);
        std::lock_guard lk(s_.m);
        unidle(s_, self_);
    }
    // The dispatcher takes in Boost's remote ready queue next, before it can
    // sleep again: whatever was posted before this point is no longer pending.
    self_.notified.store(false, std::memory_order_seq_cst);
}

void mt_algorithm::notify() noexcept {
    // A fiber was scheduled to this thread from another (Boost's remote
    // ready queue, taken in by the dispatcher only after this wake-up, which
    // may come just before it sleeps). A thread that is not asleep will see
    // `notified` before it sleeps: no system call then.
    self_.notified.store(true, std::memory_order_seq_cst);
    if (!self_.asleep.load(std::memory_order_seq_cst)) return;
    {
        std::lock_guard lk(s_.m);
        unidle(s_, self_);  // it has work: not stuck
    }
    self_.reactor.wake();
}

// ---- fd waits ---------------------------------------------------------------

namespace {
struct mt_fiber_io : io_waiter {
    fctx* waiting;
    // Called by the reactor of the thread the fiber suspended on, from that
    // thread: a local schedule, which puts the fiber in this thread's queue.
    static void on_ready(io_waiter* w) noexcept { fctx::active()->schedule(static_cast<mt_fiber_io*>(w)->waiting); }
};
}  // namespace

void fibers_mt_context::wait_fd(int fd, std::uint32_t events) {
    mt_fiber_io w;
    w.ready = &mt_fiber_io::on_ready;
    w.waiting = fctx::active();
    t_fibers_mt.algo->reactor().arm(fd, events, &w);
    w.waiting->suspend();
}

}  // namespace cb
