#include "fibers.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <stdexcept>

#include <sys/mman.h>

namespace cb {

namespace {
constexpr std::size_t page = 4096;
}

stack_slab::stack_slab(std::size_t stack_size, std::size_t per_chunk, bool guarded)
    : size_((stack_size + page - 1) & ~(page - 1)),
      guard_(guarded ? page : 0),
      stride_(size_ + guard_),
      per_chunk_(per_chunk) {}

stack_slab::~stack_slab() {
    for (void* c : chunks_) {
        if (guard_) unregister_guarded_chunk(c);
        ::munmap(c, stride_ * per_chunk_);
    }
}

void stack_slab::add_chunk() {
    void* c = ::mmap(nullptr, stride_ * per_chunk_, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (c == MAP_FAILED) {
        const int e = errno;
        if (guard_ && e == ENOMEM)
            throw spawn_error("fibers: mmap of a chunk of guarded stacks: " + std::string(std::strerror(e)) + " (" +
                              max_map_count_note() + ")");
        throw_errno("fibers: mmap of a stack chunk", e);
    }
    // Owned from here: a failure below unmaps it.
    struct unmap_on_failure {
        void* c;
        std::size_t bytes;
        ~unmap_on_failure() {
            if (c) ::munmap(c, bytes);
        }
    } hold{c, stride_ * per_chunk_};
    chunks_.reserve(chunks_.size() + 1);
    fresh_.reserve(fresh_.size() + per_chunk_);
    free_.reserve(total_ + per_chunk_);  // put() must not allocate: every stack may come back
    if (guard_) register_guarded_chunk(c, stride_ * per_chunk_, stride_, guard_, size_);
    chunks_.push_back(c);
    hold.c = nullptr;
    // Handed out from the low end first, so a small group touches few chunks' pages.
    for (std::size_t i = per_chunk_; i-- > 0;) fresh_.push_back(static_cast<char*>(c) + i * stride_ + guard_);
    total_ += per_chunk_;
}

void* stack_slab::get() {
    if (!free_.empty()) {
        void* p = free_.back();
        free_.pop_back();
        return p;
    }
    if (fresh_.empty()) add_chunk();
    void* p = fresh_.back();
    if (guard_ && ::mprotect(static_cast<char*>(p) - guard_, guard_, PROT_NONE) != 0) {
        const int e = errno;
        if (e == ENOMEM)
            throw spawn_error("fibers: guard page of fiber stack " + std::to_string(in_use() + 1) + ": mprotect: " +
                              std::strerror(e) + " (" + max_map_count_note() + ")");
        throw_errno("fibers: mprotect of a guard page", e);
    }
    fresh_.pop_back();
    return p;
}

std::size_t stack_slab::resident_bytes() const {
    const std::size_t chunk_bytes = stride_ * per_chunk_, pages = chunk_bytes / page;
    std::vector<unsigned char> vec(pages);
    std::size_t resident = 0;
    for (void* c : chunks_) {
        if (::mincore(c, chunk_bytes, vec.data()) != 0) throw_errno("mincore");
        for (unsigned char v : vec) resident += (v & 1) ? page : 0;
    }
    return resident;
}

std::size_t stack_slab::resident_in_use() const {
    const std::size_t chunk_bytes = stride_ * per_chunk_, pages = chunk_bytes / page, per_stack = size_ / page,
                      guard_pages = guard_ / page, stride_pages = stride_ / page;
    std::vector<unsigned char> vec(pages);
    std::vector<void*> not_in_use(free_);
    not_in_use.insert(not_in_use.end(), fresh_.begin(), fresh_.end());
    std::sort(not_in_use.begin(), not_in_use.end());
    std::size_t resident = 0;
    for (void* c : chunks_) {
        if (::mincore(c, chunk_bytes, vec.data()) != 0) throw_errno("mincore");
        auto* base = static_cast<char*>(c);
        for (std::size_t st = 0; st < per_chunk_; ++st) {
            if (std::binary_search(not_in_use.begin(), not_in_use.end(), static_cast<void*>(base + st * stride_ + guard_))) continue;
            const std::size_t first = st * stride_pages + guard_pages;
            for (std::size_t pg = 0; pg < per_stack; ++pg) resident += (vec[first + pg] & 1) ? page : 0;
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

namespace {
// Lazy binding: the first call through each PLT slot runs the dynamic
// linker's resolver on the caller's stack, and it saves the whole vector
// register state there (_dl_runtime_resolve_xsavec: about 4 KiB with
// AVX-512). A fiber on an 8 KiB stack that is the first to call, say,
// boost::fibers::mutex::lock overflows in the resolver, not in its own code.
// So before the first run on other stacks, two fibers on the thread's own
// (64 KiB) stacks go once through what fibers do to wait and to be measured:
// yield, sleep, the park barrier and its hook (mincore). Linking with
// -z now (or LD_BIND_NOW=1) makes this unnecessary.
void bind_wait_paths_once(fiber_thread& ft) {
    static std::once_flag once;
    std::call_once(once, [&ft] {
        hooked_barrier<boost::fibers::mutex, boost::fibers::condition_variable> barrier;
        run_options o;
        o.user = ft.slab.get();
        o.on_parked = [](void* slab, const parked_info&) { (void)static_cast<stack_slab*>(slab)->resident_in_use(); };
        auto wait = [&] {
            boost::this_fiber::yield();
            boost::this_fiber::sleep_for(std::chrono::nanoseconds(1));
            barrier.arrive_and_wait(2, &o);
        };
        boost::fibers::fiber a(std::allocator_arg, slab_stack_allocator{ft.slab.get()}, wait);
        boost::fibers::fiber b(std::allocator_arg, slab_stack_allocator{ft.slab.get()}, wait);
        a.join();
        b.join();
    });
}
}  // namespace

fiber_stacks_scope::fiber_stacks_scope(const run_options& opts) : ft_(this_fiber_thread()), saved_(ft_.run_slab) {
    if (opts.stack_bytes != 0 && opts.stack_bytes < min_fiber_stack)
        throw std::invalid_argument("fibers: a stack of " + std::to_string(opts.stack_bytes) +
                                    " bytes is below the minimum of " + std::to_string(min_fiber_stack));
    const stack_slab& dflt = *ft_.slab;
    const std::size_t size = opts.stack_bytes ? (opts.stack_bytes + page - 1) & ~(page - 1) : dflt.stack_size();
    const bool guarded = opts.stack_guard == run_options::guard::with;
    if (size == dflt.stack_size() && guarded == dflt.guarded()) {
        ft_.run_slab = nullptr;  // the thread's own slab, as always
        return;
    }
    bind_wait_paths_once(ft_);
    if (guarded) altstack_ = std::make_unique<signal_stack_scope>();
    own_ = std::make_unique<stack_slab>(size, 1024, guarded);
    ft_.run_slab = own_.get();
}

fiber_stacks_scope::~fiber_stacks_scope() { ft_.run_slab = saved_; }

void fiber_context::wait_fd(int fd, std::uint32_t events) {
    fiber_io w;
    w.ready = &fiber_io::on_ready;
    w.waiting = boost::fibers::context::active();
    this_fiber_thread().reactor->arm(fd, events, &w);
    w.waiting->suspend();
}


}  // namespace cb
