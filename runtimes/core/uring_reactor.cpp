#include "uring_reactor.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <deque>
#include <cstring>
#include <fstream>
#include <stdexcept>

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "fd.hpp"
#include "reactor.hpp"

#if COBENCH_HAVE_URING
#include <liburing.h>
#endif

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

// Per fd number: (generation << 1) | registered-socket. Bumped by
// register_socket (bit set) and forget_fd (bit clear).
constexpr int tracked_fds = 65536;
std::atomic<std::uint32_t> fd_gen[tracked_fds];
std::atomic<std::uint64_t> fd_ino[tracked_fds];  // the socket's inode when registered (the sweep's check)

void bump_gen(int fd, bool eligible) noexcept {
    if (fd < 0 || fd >= tracked_fds) return;
    const std::uint32_t old = fd_gen[fd].load(std::memory_order_relaxed);
    fd_gen[fd].store((((old >> 1) + 1) << 1) | (eligible ? 1u : 0u), std::memory_order_relaxed);
}

}  // namespace

void uring_reactor::register_socket(int fd) noexcept {
    struct stat sb{};
    const bool sock = ::fstat(fd, &sb) == 0 && S_ISSOCK(sb.st_mode);
    if (fd >= 0 && fd < tracked_fds) fd_ino[fd].store(sock ? sb.st_ino : 0, std::memory_order_relaxed);
    bump_gen(fd, sock);
}
void uring_reactor::forget_fd(int fd) noexcept { bump_gen(fd, false); }

#if COBENCH_HAVE_URING

struct uring_reactor::ring {
    io_uring r{};
    unsigned flags = 0;
    unique_fd ev;
    std::uint64_t ev_value = 0;
    uring_op wake_op{};
    uring_op cancel_op{};  // the user_data of cancel requests: their completions are dropped
    bool live = false;  // set up: io_uring_queue_exit only then
    // The provided-buffer ring (group 0): nbufs buffers of bufsz bytes.
    io_uring_buf_ring* br = nullptr;
    std::size_t br_len = 0;
    std::unique_ptr<char[]> bufs;
    unsigned nbufs = 0, bufsz = 0;
    std::string ms_why = "ring not set up";  // "" = multishot recv in use
    std::string ams_why = "ring not set up";  // "" = multishot accept in use
    ring() = default;
    ring(const ring&) = delete;
    ring& operator=(const ring&) = delete;
    ~ring() {
        if (live) io_uring_queue_exit(&r);
        if (br) ::munmap(br, br_len);
    }
};

// One socket's multishot recv and the data it received that no read took yet.
struct uring_reactor::stream : uring_op {
    struct chunk {
        unsigned bid, off, len;
    };
    int fd = -1;
    std::uint32_t gen = 0;
    ino_t ino = 0;
    bool sock = false;
    bool armed = false;    // a recv is in flight (multishot, or the single-shot fallback)
    bool single = false;   // the one in flight is the fallback, into the waiter's buffer
    bool retired = false;  // cancelled: its completions only give buffers back
    int end = 1;           // <= 0: EOF (0) or -errno, behind the queued data
    std::deque<chunk> q;
    uring_op* waiter = nullptr;
    void* wbuf = nullptr;
    std::size_t wn = 0;
};

// One listener's multishot accept: the fds it accepted that no accept took
// yet, and the accepts waiting, both in arrival order.
struct uring_reactor::listener : uring_op {
    int fd = -1;
    ino_t ino = 0;
    bool armed = false;
    bool retired = false;  // cancelled: what it still accepts is closed
    std::deque<int> ready;
    std::deque<uring_op*> waiters;
};

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

void stream_tag(uring_op*, int) noexcept {}
void listener_tag(uring_op*, int) noexcept {}

// Multishot accept needs 5.19.
std::string multishot_accept_kernel() {
    if (const char* e = std::getenv("COBENCH_URING_MULTISHOT"); e && std::string(e) == "0")
        return "multishot accept disabled by COBENCH_URING_MULTISHOT=0";
    utsname u{};
    if (::uname(&u) != 0) return "uname failed";
    unsigned major = 0, minor = 0;
    if (std::sscanf(u.release, "%u.%u", &major, &minor) != 2) return std::string("unparsable kernel release ") + u.release;
    if (major < 5 || (major == 5 && minor < 19)) return std::string("kernel ") + u.release + " lacks multishot accept (5.19)";
    return {};
}

// Multishot recv needs 6.0; buffer rings 5.19 (their registration is tried too).
std::string multishot_kernel() {
    if (const char* e = std::getenv("COBENCH_URING_MULTISHOT"); e && std::string(e) == "0")
        return "multishot recv disabled by COBENCH_URING_MULTISHOT=0";
    utsname u{};
    if (::uname(&u) != 0) return "uname failed";
    unsigned major = 0, minor = 0;
    if (std::sscanf(u.release, "%u.%u", &major, &minor) != 2) return std::string("unparsable kernel release ") + u.release;
    if (major < 6) return std::string("kernel ") + u.release + " lacks multishot recv (6.0)";
    return {};
}

// COBENCH_URING_BUFS=COUNTxSIZE (COUNT a power of two up to 32768, SIZE 1..1 MiB).
void buffer_shape(unsigned& count, unsigned& size) {
    count = 1024;
    size = 4096;
    const char* e = std::getenv("COBENCH_URING_BUFS");
    if (!e || !*e) return;
    unsigned c = 0, z = 0;
    char tail = 0;
    if (std::sscanf(e, "%ux%u%c", &c, &z, &tail) != 2 || c == 0 || c > 32768 || (c & (c - 1)) != 0 || z == 0 ||
        z > (1u << 20))
        throw std::runtime_error(std::string("COBENCH_URING_BUFS=") + e +
                                 ": expected COUNTxSIZE, COUNT a power of two in 1..32768, SIZE in 1..1048576 bytes");
    count = c;
    size = z;
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

uring_reactor::uring_reactor(start s) : want_wake_(s == start::now) {
    if (s == start::now) open();
}

// Run end: every armed recv is cancelled and its last completion reaped
// before the ring and its buffers go (a recv must not outlive the memory it
// writes to, nor hold a socket open).
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
                if (op && op->complete == &stream_tag && static_cast<stream*>(op)->retired)
                    stream_cqe(static_cast<stream*>(op), res, fl);
                else if (op && op->complete == &listener_tag && static_cast<listener*>(op)->retired)
                    listener_cqe(static_cast<listener*>(op), res, fl);
            }
        }
    } catch (...) {
        // no submission entry: the ring's exit cancels what is left
    }
}

unsigned uring_reactor::setup_flags() const noexcept { return r_ ? r_->flags : 0; }

std::string uring_reactor::multishot_unavailable() {
    if (!r_) open();
    return r_->ms_why;
}

std::string uring_reactor::multishot_accept_unavailable() {
    if (!r_) open();
    return r_->ams_why;
}

std::size_t uring_reactor::accept_queued(int fd) const noexcept {
    if (fd < 0 || static_cast<std::size_t>(fd) >= listeners_.size() || !listeners_[static_cast<std::size_t>(fd)])
        return 0;
    return listeners_[static_cast<std::size_t>(fd)]->ready.size();
}

void uring_reactor::open() {
    if (std::string why = unavailable(); !why.empty()) throw std::runtime_error(why);
    auto r = std::make_unique<ring>();
    if (int rc = setup_ring(r->r, ring_entries, r->flags); rc < 0) throw std::runtime_error(uring_setup_error(-rc));
    r->live = true;
    r->ms_why = multishot_kernel();
    r->ams_why = multishot_accept_kernel();
    if (r->ms_why.empty()) {
        buffer_shape(r->nbufs, r->bufsz);
        r->br_len = (r->nbufs * sizeof(io_uring_buf) + 4095) & ~std::size_t{4095};
        void* m = ::mmap(nullptr, r->br_len, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
        if (m == MAP_FAILED) {
            r->ms_why = "buffer ring mmap failed: " + std::string(std::strerror(errno));
        } else {
            r->br = static_cast<io_uring_buf_ring*>(m);
            io_uring_buf_reg reg{};
            reg.ring_addr = reinterpret_cast<std::uintptr_t>(m);
            reg.ring_entries = r->nbufs;
            reg.bgid = 0;
            if (int rc = io_uring_register_buf_ring(&r->r, &reg, 0); rc < 0) {
                r->ms_why = "io_uring_register_buf_ring failed: " + std::string(std::strerror(-rc)) +
                            " (kernel before 5.19?)";
            } else {
                r->bufs = std::make_unique<char[]>(std::size_t{r->nbufs} * r->bufsz);
                io_uring_buf_ring_init(r->br);
                const int mask = io_uring_buf_ring_mask(r->nbufs);
                for (unsigned b = 0; b < r->nbufs; ++b)
                    io_uring_buf_ring_add(r->br, r->bufs.get() + std::size_t{b} * r->bufsz, r->bufsz,
                                          static_cast<unsigned short>(b), mask, static_cast<int>(b));
                io_uring_buf_ring_advance(r->br, static_cast<int>(r->nbufs));
            }
        }
    }
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

void uring_reactor::accept(int fd, uring_op* op) {
    if (!r_) open();
    if (r_->ams_why.empty() && fd >= 0 && fd < tracked_fds) {
        if (listeners_.size() <= static_cast<std::size_t>(fd)) listeners_.resize(static_cast<std::size_t>(fd) + 1);
        auto& slot = listeners_[static_cast<std::size_t>(fd)];
        listener* l = slot.get();
        if (!l || (l->ready.empty() && l->waiters.empty())) {
            // About to wait (nothing queued): the one fstat, so that a listener
            // closed and its number reused starts afresh.
            struct stat sb{};
            ++loop_syscalls.io;
            const bool sock = ::fstat(fd, &sb) == 0 && S_ISSOCK(sb.st_mode);
            if (l && (!sock || sb.st_ino != l->ino)) {
                retire_listener(l);
                l = nullptr;
            }
            if (!l && sock) {
                auto fresh = std::make_unique<listener>();
                fresh->complete = &listener_tag;
                fresh->fd = fd;
                fresh->ino = sb.st_ino;
                l = fresh.get();
                slot = std::move(fresh);
            }
        }
        if (l) {
            if (!l->ready.empty() && l->waiters.empty()) {  // queued: at once, no submission
                const int nfd = l->ready.front();
                l->ready.pop_front();
                op->complete(op, nfd);
                return;
            }
            l->waiters.push_back(op);
            ++inflight_;
            if (!l->armed) {
                try {
                    arm_listener(l);
                } catch (...) {
                    l->waiters.pop_back();
                    --inflight_;
                    throw;
                }
            }
            return;
        }
        // not a socket (or closed): the single-shot accept reports the error
    }
    io_uring_sqe* s = sqe();
    io_uring_prep_accept(s, fd, nullptr, nullptr, SOCK_CLOEXEC);
    io_uring_sqe_set_data(s, op);
    ++inflight_;
}

void uring_reactor::arm_listener(listener* l) {
    io_uring_sqe* s = sqe();
    io_uring_prep_multishot_accept(s, l->fd, nullptr, nullptr, SOCK_CLOEXEC);
    io_uring_sqe_set_data(s, static_cast<uring_op*>(l));
    l->armed = true;
    ++stats_.accept_arms;
}

void uring_reactor::listener_cqe(listener* l, int res, unsigned flags) noexcept {
    const bool more = (flags & IORING_CQE_F_MORE) != 0;
    if (!more) l->armed = false;
    if (l->retired) {
        if (res >= 0) ::close(res);
        if (!l->armed)
            lzombies_.erase(std::find_if(lzombies_.begin(), lzombies_.end(), [&](auto& z) { return z.get() == l; }));
        return;
    }
    if (res >= 0) {
        if (!l->waiters.empty()) {
            uring_op* w = l->waiters.front();
            l->waiters.pop_front();
            --inflight_;
            w->complete(w, res);
        } else {
            l->ready.push_back(res);
            ++stats_.accepted_queued;
        }
    } else if (!more) {  // the multishot ended with an error: every waiting acceptor gets it
        std::deque<uring_op*> ws;
        ws.swap(l->waiters);
        for (uring_op* w : ws) {
            --inflight_;
            w->complete(w, res);
        }
    } else if (!l->waiters.empty()) {  // a passing error (the multishot goes on): the first acceptor gets it
        uring_op* w = l->waiters.front();
        l->waiters.pop_front();
        --inflight_;
        w->complete(w, res);
    }
    if (!l->armed && !l->waiters.empty()) {
        try {
            arm_listener(l);
        } catch (...) {
            std::deque<uring_op*> ws;
            ws.swap(l->waiters);
            for (uring_op* w : ws) {
                --inflight_;
                w->complete(w, -ENOMEM);
            }
        }
    }
}

// Closes the listener's queued fds and cancels its accept (if armed),
// keeping it until its last completion; accepts still waiting get ECANCELED.
void uring_reactor::retire_listener(listener* l) noexcept {
    for (int f : l->ready) ::close(f);
    l->ready.clear();
    auto& slot = listeners_[static_cast<std::size_t>(l->fd)];
    std::unique_ptr<listener> own = std::move(slot);
    std::deque<uring_op*> ws;
    ws.swap(l->waiters);
    for (uring_op* w : ws) {
        --inflight_;
        w->complete(w, -ECANCELED);
    }
    if (!l->armed) return;  // own frees it
    l->retired = true;
    try {
        io_uring_sqe* s = sqe();
        io_uring_prep_cancel64(s, reinterpret_cast<std::uintptr_t>(static_cast<uring_op*>(l)), 0);
        io_uring_sqe_set_data(s, &r_->cancel_op);
    } catch (...) {
    }
    lzombies_.push_back(std::move(own));  // its last completion frees it
}

void uring_reactor::poll_add(int fd, std::uint32_t events, uring_op* op) {
    io_uring_sqe* s = sqe();
    io_uring_prep_poll_add(s, fd, events);
    io_uring_sqe_set_data(s, op);
    ++inflight_;
}

uring_reactor::recv_path uring_reactor::recv(int fd, void* buf, std::size_t n, uring_op* op, int* res) {
    if (!r_) open();
    if (!r_->ms_why.empty() || fd < 0 || fd >= tracked_fds || n == 0) return recv_path::single_shot;
    const std::uint32_t g = fd_gen[fd].load(std::memory_order_relaxed);
    if (!(g & 1)) return recv_path::single_shot;
    if (streams_.size() <= static_cast<std::size_t>(fd)) streams_.resize(static_cast<std::size_t>(fd) + 1);
    stream* st = streams_[static_cast<std::size_t>(fd)].get();
    if (st && st->gen != g) {  // another file under this number since the stream began
        retire(st);
        st = nullptr;
    }
    if (!st) {
        auto fresh = std::make_unique<stream>();
        fresh->complete = &stream_tag;
        fresh->fd = fd;
        fresh->gen = g;
        // A socket when registered; if the number now holds another kind of
        // file (closed and reused without configure_fd), the recv answers
        // ENOTSOCK and the stream turns single-shot (stream_cqe).
        fresh->sock = true;
        fresh->ino = static_cast<ino_t>(fd_ino[fd].load(std::memory_order_relaxed));
        st = fresh.get();
        streams_[static_cast<std::size_t>(fd)] = std::move(fresh);
    }
    // Not a socket, or a second task reading the same socket while one
    // waits: plain reads (two concurrent readers of one socket get its bytes
    // in an unspecified split on every backend; none is lost).
    if (!st->sock || st->waiter) return recv_path::single_shot;
    n = std::min<std::size_t>(n, 1u << 30);  // results are int
    if (!st->q.empty()) {
        *res = static_cast<int>(take(st, buf, n));
        return recv_path::done;
    }
    if (st->end <= 0) {
        *res = st->end;
        if (!st->armed) streams_[static_cast<std::size_t>(fd)].reset();  // the stream is over: the task will close
        return recv_path::done;
    }
    st->waiter = op;
    st->wbuf = buf;
    st->wn = n;
    ++inflight_;
    if (!st->armed) arm_stream(st);
    return recv_path::waiting;
}

void uring_reactor::arm_stream(stream* st) {
    io_uring_sqe* s = sqe();
    io_uring_prep_recv_multishot(s, st->fd, nullptr, 0, 0);
    s->flags |= IOSQE_BUFFER_SELECT;
    s->buf_group = 0;
    io_uring_sqe_set_data(s, static_cast<uring_op*>(st));
    st->armed = true;
    st->single = false;
    ++stats_.arms;
}

void uring_reactor::give_back(unsigned bid) noexcept {
    io_uring_buf_ring_add(r_->br, r_->bufs.get() + std::size_t{bid} * r_->bufsz, r_->bufsz,
                          static_cast<unsigned short>(bid), io_uring_buf_ring_mask(r_->nbufs), 0);
    io_uring_buf_ring_advance(r_->br, 1);
}

std::size_t uring_reactor::take(stream* st, void* buf, std::size_t n) noexcept {
    std::size_t got = 0;
    auto* out = static_cast<char*>(buf);
    while (got < n && !st->q.empty()) {
        stream::chunk& c = st->q.front();
        const std::size_t k = std::min<std::size_t>(n - got, c.len - c.off);
        std::memcpy(out + got, r_->bufs.get() + std::size_t{c.bid} * r_->bufsz + c.off, k);
        got += k;
        c.off += static_cast<unsigned>(k);
        if (c.off == c.len) {
            give_back(c.bid);
            st->q.pop_front();
        }
    }
    return got;
}

// The waiting read gets what is queued, or the stream's end.
void uring_reactor::deliver(stream* st) noexcept {
    uring_op* w = st->waiter;
    st->waiter = nullptr;
    --inflight_;
    int r;
    if (!st->q.empty()) {
        r = static_cast<int>(take(st, st->wbuf, st->wn));
    } else {
        r = st->end;
        if (!st->armed) streams_[static_cast<std::size_t>(st->fd)].reset();
    }
    w->complete(w, r);
}

void uring_reactor::stream_cqe(stream* st, int res, unsigned flags) noexcept {
    const bool more = (flags & IORING_CQE_F_MORE) != 0;
    if (st->single) {  // the fallback recv: straight into the waiter's buffer
        st->armed = st->single = false;
        if (st->retired) {
            zombies_.erase(std::find_if(zombies_.begin(), zombies_.end(), [&](auto& z) { return z.get() == st; }));
            return;
        }
        uring_op* w = st->waiter;
        st->waiter = nullptr;
        --inflight_;
        if (res <= 0 && res != -EAGAIN && res != -EINTR) st->end = res;
        w->complete(w, res);
        return;
    }
    if (res == -ENOTSOCK && !st->retired) {  // not a socket (any more): reads of this fd go single-shot
        st->sock = false;
        st->armed = false;
        if (uring_op* w = st->waiter) {
            st->waiter = nullptr;  // the read goes on as the waiter's own op (still counted in flight)
            try {
                io_uring_sqe* s = sqe();
                io_uring_prep_read(s, st->fd, st->wbuf, static_cast<unsigned>(st->wn), static_cast<__u64>(-1));
                io_uring_sqe_set_data(s, w);
            } catch (...) {
                --inflight_;
                w->complete(w, -ENOMEM);
            }
        }
        return;
    }
    if (res > 0 && (flags & IORING_CQE_F_BUFFER)) {
        const unsigned bid = flags >> IORING_CQE_BUFFER_SHIFT;
        if (st->retired) give_back(bid);
        else {
            st->q.push_back({bid, 0, static_cast<unsigned>(res)});
            ++stats_.chunks;
        }
    } else if (res == -ENOBUFS) {
        ++stats_.nobufs;
    } else if (res <= 0 && !st->retired && res != -ECANCELED) {
        st->end = res;  // EOF or an error, behind the data
    }
    if (!more) st->armed = false;
    if (st->retired) {
        if (!st->armed)
            zombies_.erase(std::find_if(zombies_.begin(), zombies_.end(), [&](auto& z) { return z.get() == st; }));
        return;
    }
    if (!st->waiter) return;
    if (!st->q.empty() || st->end <= 0) {
        deliver(st);
        return;
    }
    if (st->armed) return;
    try {
        if (res == -ENOBUFS) {  // the ring is empty: this read gets one recv of its own
            io_uring_sqe* s = sqe();
            io_uring_prep_recv(s, st->fd, st->wbuf, st->wn, 0);
            io_uring_sqe_set_data(s, static_cast<uring_op*>(st));
            st->armed = st->single = true;
            ++stats_.fallbacks;
        } else {
            arm_stream(st);
        }
    } catch (...) {
        uring_op* w = st->waiter;
        st->waiter = nullptr;
        --inflight_;
        w->complete(w, -ENOMEM);
    }
}

// Cancels the stream's recv (if any), gives its buffers back, and keeps it
// until its last completion; a read still waiting on it gets ECANCELED.
void uring_reactor::retire(stream* st) noexcept {
    ++stats_.retired;
    for (auto& c : st->q) give_back(c.bid);
    st->q.clear();
    auto& slot = streams_[static_cast<std::size_t>(st->fd)];
    std::unique_ptr<stream> own = std::move(slot);
    if (st->waiter) {
        uring_op* w = st->waiter;
        st->waiter = nullptr;
        --inflight_;
        w->complete(w, -ECANCELED);
    }
    if (!st->armed) return;  // own frees it
    st->retired = true;
    try {
        io_uring_sqe* s = sqe();
        io_uring_prep_cancel64(s, reinterpret_cast<std::uintptr_t>(static_cast<uring_op*>(st)), 0);
        io_uring_sqe_set_data(s, &r_->cancel_op);
        zombies_.push_back(std::move(own));
    } catch (...) {
        zombies_.push_back(std::move(own));  // its completion, when it comes, frees it
    }
}

// Armed streams no task is reading: a closed fd (EBADF) or another file under
// its number (another inode) is cancelled, so the request releases the socket.
void uring_reactor::sweep() noexcept {
    for (auto& p : streams_) {
        stream* st = p.get();
        if (!st || !st->armed || st->waiter) continue;
        struct stat sb{};
        ++loop_syscalls.io;
        if (::fstat(st->fd, &sb) != 0 || sb.st_ino != st->ino || !S_ISSOCK(sb.st_mode)) retire(st);
    }
    for (auto& p : listeners_) {
        listener* l = p.get();
        if (!l || !l->waiters.empty() || (!l->armed && l->ready.empty())) continue;
        struct stat sb{};
        ++loop_syscalls.io;
        if (::fstat(l->fd, &sb) != 0 || sb.st_ino != l->ino || !S_ISSOCK(sb.st_mode)) retire_listener(l);
    }
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
        if (op->complete == &stream_tag) {
            stream_cqe(static_cast<stream*>(op), res, fl);
            ++called;
            continue;
        }
        if (op->complete == &listener_tag) {
            listener_cqe(static_cast<listener*>(op), res, fl);
            ++called;
            continue;
        }
        --inflight_;
        op->complete(op, res);
        ++called;
    }
    return called;
}

#else  // built without liburing

struct uring_reactor::ring {};
struct uring_reactor::stream {};
struct uring_reactor::listener {};

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
void uring_reactor::accept(int, uring_op*) { open(); }
void uring_reactor::poll_add(int, std::uint32_t, uring_op*) { open(); }
uring_reactor::recv_path uring_reactor::recv(int, void*, std::size_t, uring_op*, int*) {
    open();
    return recv_path::single_shot;
}
std::string uring_reactor::multishot_unavailable() { return unavailable(); }
std::string uring_reactor::multishot_accept_unavailable() { return unavailable(); }
std::size_t uring_reactor::accept_queued(int) const noexcept { return 0; }
void uring_reactor::wake() noexcept {}
int uring_reactor::poll(std::chrono::nanoseconds) {
    open();
    return 0;
}

#endif

}  // namespace cb
