// The io_uring reactor's fd-reuse rule (uring_reactor.hpp: "The fd-reuse
// rule"): the context never sees close(), so a stream or listener must find
// out that its fd number now names another file. Per fd number a generation
// (bumped by register_socket and by every accepted fd) and the registered
// socket's inode; and the sweep that fstats the armed streams and listeners
// no task waits on, retiring a closed or replaced one so that its request
// releases the socket.
#include <sys/stat.h>

#include "uring_detail.hpp"

namespace cb {

namespace uring_detail {

std::atomic<std::uint32_t> fd_gen[tracked_fds];
std::atomic<std::uint64_t> fd_ino[tracked_fds];

ino_t socket_inode(int fd) noexcept {
    struct stat sb{};
    ++loop_syscalls.io;
    return ::fstat(fd, &sb) == 0 && S_ISSOCK(sb.st_mode) ? sb.st_ino : 0;
}

namespace {

void bump_gen(int fd, bool eligible) noexcept {
    if (fd < 0 || fd >= tracked_fds) return;
    const std::uint32_t old = fd_gen[fd].load(std::memory_order_relaxed);
    fd_gen[fd].store((((old >> 1) + 1) << 1) | (eligible ? 1u : 0u), std::memory_order_relaxed);
}

}  // namespace

}  // namespace uring_detail

using namespace uring_detail;

void uring_reactor::register_socket(int fd) noexcept {
    struct stat sb{};
    const bool sock = ::fstat(fd, &sb) == 0 && S_ISSOCK(sb.st_mode);
    if (fd >= 0 && fd < tracked_fds) fd_ino[fd].store(sock ? sb.st_ino : 0, std::memory_order_relaxed);
    bump_gen(fd, sock);
}
void uring_reactor::forget_fd(int fd) noexcept { bump_gen(fd, false); }

#if COBENCH_HAVE_URING

// Armed streams no task is reading, and listeners with an armed accept or
// queued fds and no accept waiting: a closed fd (EBADF) or another file under
// its number (another inode) is retired, so the request releases the socket
// (and a listener's queued connections are closed).
void uring_reactor::sweep() noexcept {
    for (auto& p : streams_) {
        stream* st = p.get();
        if (st && st->armed && !st->waiter && socket_inode(st->fd) != st->ino) retire(st);
    }
    for (auto& p : listeners_) {
        listener* l = p.get();
        if (l && l->waiters.empty() && (l->armed || !l->ready.empty()) && socket_inode(l->fd) != l->ino)
            retire_listener(l);
    }
}

#endif

}  // namespace cb
