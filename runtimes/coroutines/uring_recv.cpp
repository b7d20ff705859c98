// The io_uring reactor's recv streams (uring_reactor.hpp: "Socket reads"):
// one multishot recv per registered socket, receiving into the
// provided-buffer ring; the data queued per stream in arrival order and
// copied out by the reads; the single-shot fallback when the ring runs dry;
// and a stream's retirement (cancel, buffers back to the ring).
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

#include <sys/mman.h>

#include "uring_detail.hpp"

namespace cb {

#if COBENCH_HAVE_URING

using namespace uring_detail;

namespace {

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

}  // namespace

// The provided-buffer ring the streams receive into (group 0), where
// multishot recv is to be used; where it cannot be set up, ms_why says why
// and socket reads stay single-shot.
void uring_reactor::setup_buffers(ring& r) {
    if (!r.ms_why.empty()) return;
    buffer_shape(r.nbufs, r.bufsz);
    r.br_len = (r.nbufs * sizeof(io_uring_buf) + 4095) & ~std::size_t{4095};
    void* m = ::mmap(nullptr, r.br_len, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    if (m == MAP_FAILED) {
        r.ms_why = "buffer ring mmap failed: " + std::string(std::strerror(errno));
    } else {
        r.br = static_cast<io_uring_buf_ring*>(m);
        io_uring_buf_reg reg{};
        reg.ring_addr = reinterpret_cast<std::uintptr_t>(m);
        reg.ring_entries = r.nbufs;
        reg.bgid = 0;
        if (int rc = io_uring_register_buf_ring(&r.r, &reg, 0); rc < 0) {
            r.ms_why = "io_uring_register_buf_ring failed: " + std::string(std::strerror(-rc)) +
                       " (kernel before 5.19?)";
        } else {
            r.bufs = std::make_unique<char[]>(std::size_t{r.nbufs} * r.bufsz);
            io_uring_buf_ring_init(r.br);
            const int mask = io_uring_buf_ring_mask(r.nbufs);
            for (unsigned b = 0; b < r.nbufs; ++b)
                io_uring_buf_ring_add(r.br, r.bufs.get() + std::size_t{b} * r.bufsz, r.bufsz,
                                      static_cast<unsigned short>(b), mask, static_cast<int>(b));
            io_uring_buf_ring_advance(r.br, static_cast<int>(r.nbufs));
        }
    }
}

std::string uring_reactor::multishot_unavailable() {
    if (!r_) open();
    return r_->ms_why;
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
    uring_op* w = st->take_waiter();
    int r;
    if (!st->q.empty()) {
        r = static_cast<int>(take(st, st->wbuf, st->wn));
    } else {
        r = st->end;
        if (!st->armed) streams_[static_cast<std::size_t>(st->fd)].reset();
    }
    finish(w, r);
}

void uring_reactor::stream_cqe(stream* st, int res, unsigned flags) noexcept {
    const bool more = (flags & IORING_CQE_F_MORE) != 0;
    if (st->single) {  // the fallback recv: straight into the waiter's buffer
        st->armed = st->single = false;
        if (st->retired) {
            drop(zombies_, st);
            return;
        }
        if (res <= 0 && res != -EAGAIN && res != -EINTR) st->end = res;
        finish(st->take_waiter(), res);
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
                finish(w, -ENOMEM);
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
        if (!st->armed) drop(zombies_, st);
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
        finish(st->take_waiter(), -ENOMEM);
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
    if (st->waiter) finish(st->take_waiter(), -ECANCELED);
    if (!st->armed) return;  // own frees it
    st->retired = true;
    cancel(st);
    zombies_.push_back(std::move(own));  // its last completion frees it
}

#else  // built without liburing

uring_reactor::recv_path uring_reactor::recv(int, void*, std::size_t, uring_op*, int*) {
    open();
    return recv_path::single_shot;
}
std::string uring_reactor::multishot_unavailable() { return unavailable(); }

#endif

}  // namespace cb
