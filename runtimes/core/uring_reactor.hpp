// io_uring completions for the coroutine loop: the backend of the
// coroutines_uring runtime (runtimes/coroutines_uring/).
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
// them. The header needs no liburing: built without it (COBENCH_HAVE_URING
// unset), every use throws and unavailable() says why.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

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
    enum class start { now, lazily };
    explicit uring_reactor(start s = start::now);
    ~uring_reactor();
    uring_reactor(const uring_reactor&) = delete;
    uring_reactor& operator=(const uring_reactor&) = delete;

    // Queue one operation; its completion calls op->complete from poll().
    void read(int fd, void* buf, std::size_t n, uring_op* op);
    void write(int fd, const void* buf, std::size_t n, uring_op* op);
    void accept(int fd, uring_op* op);  // SOCK_CLOEXEC; the new fd is blocking (the ring waits for it)
    void poll_add(int fd, std::uint32_t events, uring_op* op);  // one-shot readiness (POLLIN/POLLOUT)

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
    struct ring;
    void open();
    void arm_wake();
    ::io_uring_sqe* sqe();
    std::unique_ptr<ring> r_;
    int inflight_ = 0;
    bool want_wake_;
};

}  // namespace cb
