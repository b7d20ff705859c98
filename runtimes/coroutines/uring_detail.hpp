// What the parts of the io_uring reactor share (uring_reactor.hpp says which
// part does what): the ring, a recv stream, a listener, the fd-generation
// table, and the helpers for their availability. Included by those .cpp
// files only: it needs liburing.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include <sys/types.h>

#include "../core/fd.hpp"
#include "uring_reactor.hpp"

#if COBENCH_HAVE_URING
#include <liburing.h>
#endif

namespace cb::uring_detail {

// The fd-reuse rule's table (uring_fd_reuse.cpp), per fd number:
// (generation << 1) | registered-socket, bumped by register_socket (bit set)
// and forget_fd (bit clear); and the socket's inode when registered (the
// sweep's check). Fds at or above tracked_fds are not tracked (single-shot).
constexpr int tracked_fds = 65536;
extern std::atomic<std::uint32_t> fd_gen[tracked_fds];
extern std::atomic<std::uint64_t> fd_ino[tracked_fds];

// The inode of the socket open under fd, or 0 when fd is closed or not a
// socket (sockfs gives no socket inode 0). One fstat, counted as the loop's
// I/O call.
ino_t socket_inode(int fd) noexcept;

// "" when the multishot form of `what` (recv, accept) may be used: the kernel
// is at least major.minor and COBENCH_URING_MULTISHOT is not 0; else why not.
std::string multishot_refused(const char* what, unsigned major, unsigned minor);

// The retired streams and listeners wait in a list until their last
// completion; that completion drops them.
template <class T>
void drop(std::vector<std::unique_ptr<T>>& zombies, const T* z) {
    zombies.erase(std::find_if(zombies.begin(), zombies.end(), [&](auto& p) { return p.get() == z; }));
}

// The `complete` of a stream's and a listener's own request: the reaping
// poll recognises them by it and hands their completions to the stream or
// listener (uring_op::complete is never called for them).
void stream_tag(uring_op*, int) noexcept;
void listener_tag(uring_op*, int) noexcept;

}  // namespace cb::uring_detail

namespace cb {

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
    ~ring();
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
    // The waiting read, taken off the stream.
    uring_op* take_waiter() noexcept {
        uring_op* w = waiter;
        waiter = nullptr;
        return w;
    }
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

#else  // built without liburing: nothing to hold

struct uring_reactor::ring {};
struct uring_reactor::stream {};
struct uring_reactor::listener {};

#endif

}  // namespace cb
