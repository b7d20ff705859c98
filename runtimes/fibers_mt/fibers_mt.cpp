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

std::vector<void*> mt_stack_pool::take(std::size_t n) {
    std::vector<void*> out;
    out.reserve(n);
    std::lock_guard lk(m_);
    try {
        while (out.size() < n) out.push_back(slab_.get());
    } catch (const std::exception& e) {
        for (void* p : out) slab_.put(p);
        throw spawn_error("fibers_mt: could not allocate " + std::to_string(n) + " fiber stacks: " + e.what());
    }
    return out;
}

void mt_stack_pool::put(void* p) noexcept {
    std::lock_guard lk(m_);
    slab_.put(p);
}

std::pair<std::size_t, std::size_t> mt_stack_pool::usage() {
    std::lock_guard lk(m_);
    return {slab_.stack_size(), slab_.resident_in_use()};
}

void mt_stack_pool::trim() noexcept {
    std::lock_guard lk(m_);
    slab_.trim();
}

// ---- scheduling -------------------------------------------------------------

namespace {

// Takes w out of the idle list, if there; caller holds s.m. A worker someone
// is about to wake, or that has work of its own, is not stuck either.
void unidle(mt_shared& s, mt_worker& w) noexcept {
    if (w.asleep) {
        s.idle.erase(std::find(s.idle.begin(), s.idle.end(), &w));
        w.asleep = false;
    }
    if (w.stuck) {
        w.stuck = false;
        --s.stuck;
    }
}

}  // namespace

mt_algorithm::mt_algorithm(mt_shared& s, std::size_t index) : s_(s), self_(s.slots[index]) {
    t_fibers_mt = {this, index};
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
    ctx->detach();  // from this thread: whichever thread picks it attaches it
    mt_worker* sleeper = nullptr;
    {
        std::lock_guard lk(s_.m);
        ctx->ready_link(s_.queue);
        s_.queued.fetch_add(1, std::memory_order_relaxed);
        // The latest sleeper: its caches are the warmest.
        if (!s_.idle.empty()) {
            sleeper = s_.idle.back();
            unidle(s_, *sleeper);
        }
    }
    // Outside the lock: the reactor belongs to the run, so it outlives the
    // sleeper's thread even if that thread has moved on.
    if (sleeper) sleeper->reactor.wake();
}

fctx* mt_algorithm::pick_next() noexcept {
    fctx* ctx = nullptr;
    ++picks_;
    // Shared work first, as in shared_work, but every 32nd pick the pinned
    // contexts go first: this thread's dispatcher moves its sleeping fibers
    // and remote wake-ups to ready, and would never run while the shared
    // queue stays busy.
    if ((picks_ & 31) == 0 && !local_.empty()) {
        ctx = &local_.front();
        local_.pop_front();
        return ctx;
    }
    if (s_.queued.load(std::memory_order_relaxed) > 0) {
        std::lock_guard lk(s_.m);
        if (!s_.queue.empty()) {
            ctx = &s_.queue.front();
            s_.queue.pop_front();
            s_.queued.fetch_sub(1, std::memory_order_relaxed);
        }
    }
    if (ctx) {
        fctx::active()->attach(ctx);
    } else if (!local_.empty()) {
        ctx = &local_.front();
        local_.pop_front();
    }
    // A thread kept busy never reaches suspend_until, where its reactor is
    // polled: look at fds now and then. Only when returning a fiber: the poll
    // consumes the wake-up eventfd, and the dispatcher takes in remote
    // wake-ups before it next sleeps only if it runs its loop again.
    if (ctx && (picks_ & 63) == 0 && self_.reactor.armed() > 0) self_.reactor.poll(std::chrono::nanoseconds{0});
    return ctx;
}

bool mt_algorithm::has_ready_fibers() const noexcept {
    return !local_.empty() || s_.queued.load(std::memory_order_relaxed) > 0;
}

void mt_algorithm::suspend_until(std::chrono::steady_clock::time_point const& tp) noexcept {
    const bool forever = tp == std::chrono::steady_clock::time_point::max();
    {
        std::lock_guard lk(s_.m);
        if (!s_.queue.empty()) return;  // queued since pick_next looked
        self_.asleep = true;
        s_.idle.push_back(&self_);
        // Nothing ready anywhere, no thread with a deadline, an fd armed or
        // a remote wake-up pending, and every wake-up clears `stuck` before
        // its waker could get stuck itself: every fiber waits on another. The
        // fibers runtime aborts in this state; so does this one
        // (suspend_until is noexcept).
        if (forever && self_.reactor.armed() == 0 && !self_.notified) {
            self_.stuck = true;
            if (++s_.stuck == s_.workers) {
                std::fputs("fibers_mt: deadlock: every fiber waits and nothing can wake one\n", stderr);
                std::abort();
            }
        }
    }
    std::chrono::nanoseconds timeout{-1};
    if (!forever) {
        timeout = std::chrono::duration_cast<std::chrono::nanoseconds>(tp - std::chrono::steady_clock::now());
        if (timeout.count() < 0) timeout = std::chrono::nanoseconds{0};
    }
    self_.reactor.poll(timeout);
    std::lock_guard lk(s_.m);
    unidle(s_, self_);
    // The dispatcher takes in Boost's remote ready queue next, before it can
    // sleep again: whatever was posted before this point is no longer pending.
    self_.notified = false;
}

void mt_algorithm::notify() noexcept {
    // A fiber was scheduled to this thread from another (Boost's remote
    // ready queue, taken in by the dispatcher only after this wake-up, which
    // may come just before it sleeps): this thread has work, it is not stuck.
    {
        std::lock_guard lk(s_.m);
        unidle(s_, self_);
        self_.notified = true;
    }
    self_.reactor.wake();
}

// ---- fd waits ---------------------------------------------------------------

namespace {
struct mt_fiber_io : io_waiter {
    fctx* waiting;
    // Called by the reactor of the thread the fiber suspended on, from that
    // thread: a local schedule, which puts the fiber in the shared queue.
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
