// The io_uring reactor's ring (uring_reactor.hpp): whether io_uring works
// here, the ring's set-up and teardown, submission entries, the plain
// operations (read, write, a readiness poll), wake(), and the poll that
// submits the batch and hands each completion to its operation.
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <stdexcept>

#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "uring_detail.hpp"

namespace cb {

std::string uring_setup_error(int err) {
    std::string m = "io_uring ring setup failed: " + std::string(std::strerror(err));
    if (err == ENOMEM) {
        rlimit rl{};
        std::string lim = "unknown";
        if (::getrlimit(RLIMIT_MEMLOCK, &rl) == 0)
            lim = rl.rlim_cur == RLIM_INFINITY ? "unlimited" : std::to_string(rl.rlim_cur) + " bytes";
        m += " (RLIMIT_MEMLOCK is " + lim +
             "; kernels before 5.12 charge rings to it: raise it with ulimit -l or in limits.conf)";
    }
    return m;
}

namespace {

std::string env_disabled() {
    const char* e = std::getenv("COBENCH_URING_DISABLE");
    if (e && *e && std::string(e) != "0") return "io_uring disabled by COBENCH_URING_DISABLE=" + std::string(e);
    return {};
}

}  // namespace

#if COBENCH_HAVE_URING

namespace uring_detail {

void stream_tag(uring_op*, int) noexcept {}
void listener_tag(uring_op*, int) noexcept {}

std::string multishot_refused(const char* what, unsigned major, unsigned minor) {
    if (const char* e = std::getenv("COBENCH_URING_MULTISHOT"); e && std::string(e) == "0")
        return std::string("multishot ") + what + " disabled by COBENCH_URING_MULTISHOT=0";
    utsname u{};
    if (::uname(&u) != 0) return "uname failed";
    unsigned ma = 0, mi = 0;
    if (std::sscanf(u.release, "%u.%u", &ma, &mi) != 2) return std::string("unparsable kernel release ") + u.release;
    if (ma < major || (ma == major && mi < minor))
        return std::string("kernel ") + u.release + " lacks multishot " + what + " (" + std::to_string(major) + "." +
               std::to_string(minor) + ")";
    return {};
}

}  // namespace uring_detail

using namespace uring_detail;

namespace {

constexpr unsigned ring_entries = 4096;

// Tries the fast flags first, then without them (kernels before 6.1 refuse
// DEFER_TASKRUN with EINVAL).
int setup_ring(io_uring& r, unsigned entries, unsigned& flags_out) {
    const unsigned tries[] = {IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN, IORING_SETUP_COOP_TASKRUN, 0};
    int rc = -EINVAL;
    for (unsigned f : tries) {
        io_uring_params p{};
        p.flags = f;
        rc = io_uring_queue_init_params(entries, &r, &p);
        if (rc == 0) {
            flags_out = f;
            return 0;
        }
        if (rc != -EINVAL) return rc;
    }
    return rc;
}

std::string probe_kernel() {
    {
        std::ifstream f("/proc/sys/kernel/io_uring_disabled");
        int v = 0;
        if (f >> v && v == 2) return "io_uring disabled by the kernel (sysctl kernel.io_uring_disabled=2)";
    }
    io_uring r{};
    unsigned flags = 0;
    if (int rc = setup_ring(r, 8, flags); rc < 0) {
        const int e = -rc;
        std::string why = "io_uring_setup failed: " + std::string(std::strerror(e));
        if (e == ENOSYS) why += " (no io_uring in this kernel, or a seccomp filter refuses it)";
        else if (e == EPERM) why += " (a seccomp filter or kernel.io_uring_disabled=1 refuses it to this process)";
        else if (e == ENOMEM) why = uring_setup_error(e);
        return why;
    }
    std::string why;
    if (io_uring_probe* p = io_uring_get_probe_ring(&r)) {
        const std::pair<int, const char*> need[] = {{IORING_OP_READ, "IORING_OP_READ"},
                                                    {IORING_OP_WRITE, "IORING_OP_WRITE"},
                                                    {IORING_OP_ACCEPT, "IORING_OP_ACCEPT"},
                                                    {IORING_OP_POLL_ADD, "IORING_OP_POLL_ADD"}};
        for (auto [op, name] : need)
            if (!io_uring_opcode_supported(p, op)) {
                why = std::string("io_uring lacks opcode ") + name;
                break;
            }
        io_uring_free_probe(p);
    } else {
        why = "io_uring opcode probe failed (IORING_REGISTER_PROBE: kernel before 5.6)";
    }
    io_uring_queue_exit(&r);
    return why;
}

}  // namespace

std::string uring_reactor::unavailable() {
    if (std::string e = env_disabled(); !e.empty()) return e;
    static const std::string kernel = probe_kernel();
    return kernel;
}

uring_reactor::ring::~ring() {
    if (live) io_uring_queue_exit(&r);
    if (br) ::munmap(br, br_len);
}

uring_reactor::uring_reactor(start s) : want_wake_(s == start::now) {
    if (s == start::now) open();
}

// Run end: every armed recv and accept is cancelled and its last completion
// reaped before the ring and its buffers go (a recv must not outlive the
// memory it writes to, nor hold a socket open; an accept must not leave
// connections nobody closes).
uring_reactor::~uring_reactor() {
    if (!r_) return;
    try {
        for (auto& st : streams_) {
            if (!st) continue;
            st->waiter = nullptr;  // its task's frame is gone with the run: never call it
            if (st->armed) retire(st.get());
        }
        for (auto& l : listeners_) {
            if (!l) continue;
            l->waiters.clear();  // their tasks' frames are gone with the run
            retire_listener(l.get());
        }
        for (int round = 0; round < 100 && (!zombies_.empty() || !lzombies_.empty()); ++round) {
            io_uring_cqe* cqe = nullptr;
            __kernel_timespec ts{0, 10'000'000};
            ++loop_syscalls.waits;
            (void)io_uring_submit_and_wait_timeout(&r_->r, &cqe, 1, &ts, nullptr);
            while (__io_uring_peek_cqe(&r_->r, &cqe, nullptr) == 0 && cqe != nullptr) {
                auto* op = static_cast<uring_op*>(io_uring_cqe_get_data(cqe));
                const int res = cqe->res;
                const unsigned fl = cqe->flags;
                io_uring_cqe_seen(&r_->r, cqe);
                if (op && op->complete == &uring_detail::stream_tag && static_cast<stream*>(op)->retired)
                    stream_cqe(static_cast<stream*>(op), res, fl);
                else if (op && op->complete == &uring_detail::listener_tag && static_cast<listener*>(op)->retired)
                    listener_cqe(static_cast<listener*>(op), res, fl);
            }
        }
    } catch (...) {
        // no submission entry: the ring's exit cancels what is left
    }
}

unsigned uring_reactor::setup_flags() const noexcept { return r_ ? r_->flags : 0; }

void uring_reactor::open() {
    if (std::string why = unavailable(); !why.empty()) throw std::runtime_error(why);
    auto r = std::make_unique<ring>();
    if (int rc = setup_ring(r->r, ring_entries, r->flags); rc < 0) throw std::runtime_error(uring_setup_error(-rc));
    r->live = true;
    r->ms_why = multishot_refused("recv", 6, 0);  // buffer rings need 5.19: their registration is tried too
    r->ams_why = multishot_refused("accept", 5, 19);
    setup_buffers(*r);
    r->cancel_op.complete = [](uring_op*, int) noexcept {};
    r_ = std::move(r);
    if (want_wake_) {
        r_->ev.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
        if (!r_->ev) throw_errno("eventfd");
        r_->wake_op.complete = [](uring_op*, int) noexcept {};
        arm_wake();
    }
}

io_uring_sqe* uring_reactor::sqe() {
    if (!r_) open();
    io_uring_sqe* s = io_uring_get_sqe(&r_->r);
    if (s) return s;
    // The submission queue is full: hand it to the kernel now.
    ++loop_syscalls.waits;
    if (int rc = io_uring_submit(&r_->r); rc < 0) throw_errno("io_uring_submit", -rc);
    s = io_uring_get_sqe(&r_->r);
    if (!s) throw std::runtime_error("io_uring: no submission entry after a submit");
    return s;
}

void uring_reactor::arm_wake() {
    io_uring_sqe* s = sqe();
    io_uring_prep_read(s, r_->ev.get(), &r_->ev_value, sizeof r_->ev_value, 0);
    io_uring_sqe_set_data(s, &r_->wake_op);
}

void uring_reactor::read(int fd, void* buf, std::size_t n, uring_op* op) {
    io_uring_sqe* s = sqe();
    io_uring_prep_read(s, fd, buf, static_cast<unsigned>(n), static_cast<__u64>(-1));
    io_uring_sqe_set_data(s, op);
    ++inflight_;
}

void uring_reactor::write(int fd, const void* buf, std::size_t n, uring_op* op) {
    io_uring_sqe* s = sqe();
    io_uring_prep_write(s, fd, buf, static_cast<unsigned>(n), static_cast<__u64>(-1));
    io_uring_sqe_set_data(s, op);
    ++inflight_;
}

// Asks the ring to cancel target's request. Its completions still come, the
// last without IORING_CQE_F_MORE; where no submission entry can be had, the
// request ends with the ring.
void uring_reactor::cancel(uring_op* target) noexcept {
    try {
        io_uring_sqe* s = sqe();
        io_uring_prep_cancel64(s, reinterpret_cast<std::uintptr_t>(target), 0);
        io_uring_sqe_set_data(s, &r_->cancel_op);
    } catch (...) {
    }
}

// A waiting operation's end: no longer in flight, its callback called.
void uring_reactor::finish(uring_op* w, int res) noexcept {
    --inflight_;
    w->complete(w, res);
}

void uring_reactor::poll_add(int fd, std::uint32_t events, uring_op* op) {
    io_uring_sqe* s = sqe();
    io_uring_prep_poll_add(s, fd, events);
    io_uring_sqe_set_data(s, op);
    ++inflight_;
}

void uring_reactor::wake() noexcept {
    if (!r_ || !r_->ev) return;
    std::uint64_t one = 1;
    [[maybe_unused]] ssize_t r = ::write(r_->ev.get(), &one, sizeof one);
}

int uring_reactor::poll(std::chrono::nanoseconds timeout) {
    if (!r_ && timeout.count() >= 0) {
        // Nothing was ever submitted (a loop with only timers): no ring is
        // needed to sleep until the next deadline.
        if (timeout.count() > 0) {
            timespec ts{static_cast<time_t>(timeout.count() / 1'000'000'000),
                        static_cast<long>(timeout.count() % 1'000'000'000)};
            ++loop_syscalls.waits;
            while (::nanosleep(&ts, &ts) != 0 && errno == EINTR) {
            }
        }
        return 0;
    }
    if (!r_) open();
    io_uring* r = &r_->r;
    const bool blocking = timeout.count() != 0 && io_uring_cq_ready(r) == 0;
    if ((!streams_.empty() || !listeners_.empty()) && (++polls_ % 4096 == 0 || blocking)) {
        const auto now = std::chrono::steady_clock::now();
        if (now - last_sweep_ >= std::chrono::milliseconds(1)) {
            last_sweep_ = now;
            sweep();
        }
    }
    int rc;
    ++loop_syscalls.waits;
    if (!blocking) {
        // Submit and run completions, never wait: the one enter of a busy iteration.
        rc = io_uring_submit_and_get_events(r);
    } else {
        io_uring_cqe* cqe = nullptr;
        __kernel_timespec ts{};
        if (timeout.count() > 0) {
            ts.tv_sec = timeout.count() / 1'000'000'000;
            ts.tv_nsec = timeout.count() % 1'000'000'000;
        }
        rc = io_uring_submit_and_wait_timeout(r, &cqe, 1, timeout.count() > 0 ? &ts : nullptr, nullptr);
        if (rc == -ETIME) rc = 0;
    }
    if (rc < 0 && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY) throw_errno("io_uring_enter", -rc);
    // Reap: the callbacks may queue new operations (never reap), so walk the
    // completion queue entry by entry and release each before its callback.
    int called = 0;
    io_uring_cqe* cqe;
    // __io_uring_peek_cqe looks at the ring only; io_uring_peek_cqe may enter
    // the kernel when it finds nothing, which would escape the count.
    while (__io_uring_peek_cqe(r, &cqe, nullptr) == 0 && cqe != nullptr) {
        auto* op = static_cast<uring_op*>(io_uring_cqe_get_data(cqe));
        const int res = cqe->res;
        const unsigned fl = cqe->flags;
        io_uring_cqe_seen(r, cqe);
        if (op == &r_->wake_op) {
            arm_wake();
            continue;
        }
        if (op == &r_->cancel_op) continue;
        if (op->complete == &uring_detail::stream_tag) {
            stream_cqe(static_cast<stream*>(op), res, fl);
            ++called;
            continue;
        }
        if (op->complete == &uring_detail::listener_tag) {
            listener_cqe(static_cast<listener*>(op), res, fl);
            ++called;
            continue;
        }
        finish(op, res);
        ++called;
    }
    return called;
}

#else  // built without liburing

std::string uring_reactor::unavailable() {
    if (std::string e = env_disabled(); !e.empty()) return e;
    return "built without liburing (pkg-config found no liburing at configure time)";
}
uring_reactor::uring_reactor(start s) : want_wake_(s == start::now) {
    if (s == start::now) open();
}
uring_reactor::~uring_reactor() = default;
unsigned uring_reactor::setup_flags() const noexcept { return 0; }
void uring_reactor::open() { throw std::runtime_error(unavailable()); }
void uring_reactor::read(int, void*, std::size_t, uring_op*) { open(); }
void uring_reactor::write(int, const void*, std::size_t, uring_op*) { open(); }
void uring_reactor::poll_add(int, std::uint32_t, uring_op*) { open(); }
void uring_reactor::wake() noexcept {}
int uring_reactor::poll(std::chrono::nanoseconds) {
    open();
    return 0;
}

#endif

}  // namespace cb
