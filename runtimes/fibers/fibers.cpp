#include "fibers.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include <sys/mman.h>

namespace cb {

stack_slab::stack_slab(std::size_t stack_size, std::size_t per_chunk)
    : size_((stack_size + 4095) & ~std::size_t{4095}), per_chunk_(per_chunk) {}

stack_slab::~stack_slab() {
    for (void* c : chunks_) ::munmap(c, size_ * per_chunk_);
}

void* stack_slab::get() {
    if (free_.empty()) {
        void* c = ::mmap(nullptr, size_ * per_chunk_, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
        if (c == MAP_FAILED) throw_errno("fibers: mmap of a stack chunk");
        chunks_.push_back(c);
        free_.reserve(free_.size() + per_chunk_);
        // Handed out from the low end first, so a small group touches few chunks' pages.
        for (std::size_t i = per_chunk_; i-- > 0;) free_.push_back(static_cast<char*>(c) + i * size_);
        total_ += per_chunk_;
    }
    void* p = free_.back();
    free_.pop_back();
    return p;
}

std::size_t stack_slab::resident_bytes() const {
    const std::size_t pages = size_ * per_chunk_ / 4096;
    std::vector<unsigned char> vec(pages);
    std::size_t resident = 0;
    for (void* c : chunks_) {
        if (::mincore(c, size_ * per_chunk_, vec.data()) != 0) throw_errno("mincore");
        for (unsigned char v : vec) resident += (v & 1) ? 4096 : 0;
    }
    return resident;
}

std::size_t stack_slab::resident_in_use() const {
    const std::size_t chunk_bytes = size_ * per_chunk_, pages = chunk_bytes / 4096, per_stack = size_ / 4096;
    std::vector<unsigned char> vec(pages);
    std::vector<void*> free_sorted(free_);
    std::sort(free_sorted.begin(), free_sorted.end());
    std::size_t resident = 0;
    for (void* c : chunks_) {
        if (::mincore(c, chunk_bytes, vec.data()) != 0) throw_errno("mincore");
        auto* base = static_cast<char*>(c);
        for (std::size_t st = 0; st < per_chunk_; ++st) {
            if (std::binary_search(free_sorted.begin(), free_sorted.end(), static_cast<void*>(base + st * size_))) continue;
            for (std::size_t pg = 0; pg < per_stack; ++pg) resident += (vec[st * per_stack + pg] & 1) ? 4096 : 0;
        }
    }
    return resident;
}

void stack_slab::trim() noexcept {
    for (void* p : free_) ::madvise(p, size_, MADV_DONTNEED);
}

namespace {
thread_local fiber_thread t_fiber;

struct fiber_io : io_waiter {
    boost::fibers::context* waiting;
    static void on_ready(io_waiter* w) noexcept {
        boost::fibers::context::active()->schedule(static_cast<fiber_io*>(w)->waiting);
    }
};
}  // namespace

epoll_algorithm::epoll_algorithm() { t_fiber.reactor = &reactor_; }
epoll_algorithm::~epoll_algorithm() {
    if (t_fiber.reactor == &reactor_) t_fiber.reactor = nullptr;
}

boost::fibers::context* epoll_algorithm::pick_next() noexcept {
    if (rq_.empty()) return nullptr;
    boost::fibers::context* c = &rq_.front();
    rq_.pop_front();
    return c;
}

void epoll_algorithm::suspend_until(std::chrono::steady_clock::time_point const& tp) noexcept {
    std::chrono::nanoseconds timeout{-1};
    if (tp == std::chrono::steady_clock::time_point::max() && reactor_.armed() == 0) {
        // No fiber ready, none sleeping, no fd armed, and nothing on another
        // thread schedules fibers here: every fiber waits on another. The
        // coroutine loop throws in this state; suspend_until is noexcept, so
        // end loudly rather than sleep forever.
        std::fputs("fibers: deadlock: every fiber waits and nothing can wake one\n", stderr);
        std::abort();
    }
    if (tp != std::chrono::steady_clock::time_point::max()) {
        timeout = std::chrono::duration_cast<std::chrono::nanoseconds>(tp - std::chrono::steady_clock::now());
        if (timeout.count() < 0) timeout = std::chrono::nanoseconds{0};
    }
    reactor_.poll(timeout);
}

fiber_thread& this_fiber_thread(std::size_t stack_size) {
    if (!t_fiber.slab) {
        boost::fibers::use_scheduling_algorithm<epoll_algorithm>();
        t_fiber.slab = std::make_unique<stack_slab>(stack_size ? stack_size : default_fiber_stack);
    }
    return t_fiber;
}

void fiber_context::wait_fd(int fd, std::uint32_t events) {
    fiber_io w;
    w.ready = &fiber_io::on_ready;
    w.waiting = boost::fibers::context::active();
    this_fiber_thread().reactor->arm(fd, events, &w);
    w.waiting->suspend();
}


}  // namespace cb
