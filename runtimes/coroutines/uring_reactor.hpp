// io_uring completions for the coroutine loop: the backend of the
// coroutines_uring runtime (runtimes/coroutines_uring/). It lives beside the
// loop (event_loop.cpp is compiled for every backend and is its only user);
// epoll, which fibers and the pool share, stays in core/reactor.hpp.
//
// The code is split by role: uring_ring.cpp (availability, ring set-up,
// submission, the reaping poll, the run-end teardown), uring_recv.cpp (the
// multishot recv streams and their provided-buffer ring), uring_accept.cpp
// (multishot accept), uring_fd_reuse.cpp (the fd-generation table and the
// fstat sweep of the fd-reuse rule); uring_detail.hpp holds what they share.
//
// Completion-based where epoll_reactor is readiness-based: an awaitable hands
// the ring a whole operation (read, write, accept, or a poll where it must
// wait for readiness) with an intrusive uring_op, and is called back with the
// operation's result. Operations queue as submission entries without a
// system call; poll() submits everything queued since the last one and reaps
// completions in one io_uring_enter, so submissions are batched per loop
// iteration.
//
// Timeouts: the loop's timer heap. poll(timeout) waits with the deadline
// passed to io_uring_enter itself (IORING_ENTER_EXT_ARG, through liburing's
// io_uring_submit_and_wait_timeout), which costs no submission entry and no
// extra completion, and keeps one timer structure for all three backends,
// where IORING_OP_TIMEOUT would need a cancel for every sleep that is
// overtaken by I/O.
//
// The ring is set up with IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN
// (completions are produced only when this thread enters the kernel: no
// task-work interrupts), falling back to a plain ring where the kernel refuses
// them.
//
// Socket reads: multishot recv over a provided-buffer ring (registered by
// hand: liburing 2.3 has no io_uring_setup_buf_ring). A socket fd passed
// through configure_fd (register_socket) gets, at its first read, one
// IORING_OP_RECV with IORING_RECV_MULTISHOT | IOSQE_BUFFER_SELECT that stays
// armed across reads: each completion lands in a ring buffer and is queued
// on the fd's stream in arrival order; recv() copies from that queue (at once
// when data is queued, no submission at all) and gives each buffer back to
// the ring once it is copied out. A multishot that ends (no IORING_CQE_F_MORE:
// ENOBUFS when the ring is empty, or the kernel's own reasons) is re-armed by
// the next read that finds the queue empty; a read that finds the ring
// exhausted (ENOBUFS) with nothing queued is served by one single-shot recv
// into the task's own buffer. Never two recvs in flight on one fd, so nothing
// is lost or reordered. EOF and errors are queued behind the data.
//
// The fd-reuse rule (the context never sees close()): a stream belongs to
// (fd, generation), where register_socket and every accepted fd bump the fd's
// generation; a read that finds a stream of an older generation retires it
// (cancel, its buffers back to the ring) and starts afresh. A stream also ends
// when its EOF or error reaches the task (the multishot has then ended too).
// A socket closed while its multishot is armed would stay open (the request
// holds the file): when the loop is about to block, or every 4096th poll, but
// at most once a millisecond, the armed streams no task is reading are
// checked with fstat (the inode registered?) and a closed or replaced one is
// cancelled, so its peer sees the close. At the end of a run every armed
// recv is cancelled and reaped before the buffers are freed. Left open: a
// registered socket closed with data unread and its number reused, within
// the same run and before the next check, by an fd that went through neither
// configure_fd nor ctx.accept would read the old socket's queued bytes. Fds not registered, or
// not sockets (pipes), keep the single-shot path; so does everything where the
// kernel lacks buffer rings or multishot recv (before 6.0), or where
// COBENCH_URING_MULTISHOT=0. COBENCH_URING_BUFS=COUNTxSIZE sizes the ring
// (COUNT a power of two; default 1024x4096).
//
// Accepts: where the kernel has multishot accept (5.19) and
// COBENCH_URING_MULTISHOT is not 0, accept() keeps one
// IORING_OP_ACCEPT with IORING_ACCEPT_MULTISHOT armed per listener (armed by
// the first accept that finds nothing queued): accepted fds queue per
// listener in arrival order, an accept that finds one queued completes at
// once (no submission), waiters queue in order behind one multishot. An
// error that ends the multishot (EINVAL after shutdown(SHUT_RD), EBADF) goes
// to every waiting acceptor; the next accept re-arms. A listener closed with
// its multishot armed and no acceptor waiting is found by the same fstat
// sweep as a stream: cancelled, and its queued, never-taken fds closed. At
// the end of a run every armed accept is cancelled and reaped, and every
// queued fd (and any accepted during the cancel) is closed. Otherwise
// (COBENCH_URING_MULTISHOT=0, kernel before 5.19, fds above 65535): one
// single-shot IORING_OP_ACCEPT per waiter. The header needs no liburing: built without it (COBENCH_HAVE_URING
// unset), every use throws and unavailable() says why.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "../core/reactor.hpp"

struct io_uring_sqe;  // liburing's, declared here so that the header needs no liburing

namespace cb {

// One submitted operation: `complete` gets the completion's result (bytes,
// a new fd, poll events, or -errno).
struct uring_op {
    void (*complete)(uring_op*, int res) noexcept = nullptr;
};

// The message a failed ring setup throws with: for ENOMEM it names
// RLIMIT_MEMLOCK and its current value (kernels before 5.12 charge the rings
// to that limit).
std::string uring_setup_error(int err);

class uring_reactor {
public:
    static constexpr bool completion_based = true;
    // lazily: the ring is set up on first use (a loop whose tasks never wait
    // on an fd makes no ring). now: also an eventfd for wake() (sharded loops).
    using start = reactor_start;
    explicit uring_reactor(start s = start::now);
    ~uring_reactor();
    uring_reactor(const uring_reactor&) = delete;
    uring_reactor& operator=(const uring_reactor&) = delete;

    // Queue one operation; its completion calls op->complete from poll().
    void read(int fd, void* buf, std::size_t n, uring_op* op);
    void write(int fd, const void* buf, std::size_t n, uring_op* op);
    void accept(int fd, uring_op* op);  // SOCK_CLOEXEC; the new fd is blocking (the ring waits for it)
    void poll_add(int fd, std::uint32_t events, uring_op* op);  // one-shot readiness (POLLIN/POLLOUT)

    // A socket read through the fd's multishot stream (above). done: *res is
    // the result (bytes, 0 at EOF, -errno) and op is not kept; waiting: op is
    // completed from poll(); single_shot: not a stream (not registered, not
    // a socket, no multishot here): use read().
    enum class recv_path { done, waiting, single_shot };
    [[nodiscard]] recv_path recv(int fd, void* buf, std::size_t n, uring_op* op, int* res);
    // A new file under this fd number: configure_fd of the completion
    // backend (register_socket: eligible if it is a socket) and every fd the
    // ring accepted (forget_fd: not eligible until configured). Any thread;
    // fds above 65535 are not tracked (single-shot).
    static void register_socket(int fd) noexcept;
    static void forget_fd(int fd) noexcept;
    // Whether socket reads use multishot recv here ("" = yes, else why not).
    std::string multishot_unavailable();
    // Whether accept() uses multishot accept here ("" = yes, else why not).
    std::string multishot_accept_unavailable();
    // Accepted fds queued on listener fd that no accept took yet.
    std::size_t accept_queued(int fd) const noexcept;
    // Counters for tests: chunks queued, ENOBUFS ends, single-shot fallbacks, re-arms, stale streams retired.
    // accept_arms: multishot accepts armed; accepted_queued: fds queued with no acceptor waiting.
    struct stream_stats {
        std::uint64_t chunks = 0, nobufs = 0, fallbacks = 0, arms = 0, retired = 0, accept_arms = 0,
                      accepted_queued = 0;
    };
    stream_stats stats() const noexcept { return stats_; }

    void wake() noexcept;
    // Submits what is queued and waits up to `timeout` (negative: forever; 0:
    // only reaps) for completions, then calls them. One io_uring_enter.
    int poll(std::chrono::nanoseconds timeout);
    // Operations queued or in flight.
    int armed() const noexcept { return inflight_; }
    // The setup flags the ring got (0 before it is set up).
    unsigned setup_flags() const noexcept;

    // "" when io_uring works here, else the exact reason: the environment
    // (COBENCH_URING_DISABLE=1, read at every call), kernel.io_uring_disabled,
    // a failing io_uring_setup (ENOSYS: no io_uring or a seccomp filter;
    // EPERM), or a missing opcode. The kernel probe runs once a process.
    static std::string unavailable();

private:
    // The ring (uring_ring.cpp).
    struct ring;
    void open();
    void arm_wake();
    ::io_uring_sqe* sqe();
    void cancel(uring_op* target) noexcept;
    void finish(uring_op* w, int res) noexcept;
    // The recv streams (uring_recv.cpp).
    struct stream;
    static void setup_buffers(ring& r);
    void stream_cqe(stream* st, int res, unsigned flags) noexcept;
    void deliver(stream* st) noexcept;
    std::size_t take(stream* st, void* buf, std::size_t n) noexcept;
    void arm_stream(stream* st);
    void retire(stream* st) noexcept;
    void give_back(unsigned bid) noexcept;
    // The multishot accepts (uring_accept.cpp).
    struct listener;
    void listener_cqe(listener* l, int res, unsigned flags) noexcept;
    void arm_listener(listener* l);
    void retire_listener(listener* l) noexcept;
    void finish_all(listener* l, int res) noexcept;
    // The fd-reuse check (uring_fd_reuse.cpp).
    void sweep() noexcept;

    std::unique_ptr<ring> r_;
    std::vector<std::unique_ptr<stream>> streams_;  // by fd
    std::vector<std::unique_ptr<stream>> zombies_;  // retired, their recv not yet ended
    std::vector<std::unique_ptr<listener>> listeners_;  // by fd: multishot accept
    std::vector<std::unique_ptr<listener>> lzombies_;   // retired, their accept not yet ended
    std::chrono::steady_clock::time_point last_sweep_{};
    int inflight_ = 0;
    std::uint64_t polls_ = 0;
    stream_stats stats_{};
    bool want_wake_;
};

}  // namespace cb
