// File-descriptor and error helpers shared by every runtime.
#pragma once

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>

#include <fcntl.h>
#include <unistd.h>

namespace cb {

[[noreturn]] inline void throw_errno(const std::string& what, int err = errno) {
    throw std::system_error(err, std::generic_category(), what);
}

// A task group could not be started (fork, pthread_create, a stack, ...).
// `started`: the tasks whose process, thread or fiber existed, all at once,
// when the next spawn failed (0 where none was started or it is not known):
// how many the machine held at its wall.
struct spawn_error : std::runtime_error {
    explicit spawn_error(const std::string& what, std::size_t started_tasks = 0)
        : std::runtime_error(what), started(started_tasks) {}
    std::size_t started;
};

// Which file an fd number names, for a reactor that registers an fd once and
// keeps the registration (core/reactor.hpp, register-once): the kernel drops
// a closed file from an epoll set silently, so a new file under the same
// number would look registered and never report. A generation per fd number,
// bumped when an fd is closed through unique_fd (every runtime's fds are)
// and when a runtime configures a new fd (configure_fd: covers a number
// freed by a raw close()); a registration remembers the generation it was
// made under. Fds at or above tracked_fds are not tracked (such a reactor
// arms them one-shot). fd_closes counts closes, so that a reactor finds a
// waiter whose fd was closed under it without looking on every wait. Costs
// a close or a configure one atomic increment each.
namespace fd_reuse {
inline constexpr int tracked_fds = 65536;
inline std::atomic<std::uint32_t> generation[tracked_fds];
inline std::atomic<std::uint64_t> closes{0};
inline std::uint32_t current(int fd) noexcept { return generation[fd].load(std::memory_order_relaxed); }
// A new file under this number (or none): registrations of older files under it are stale.
inline void renew(int fd) noexcept {
    if (fd >= 0 && fd < tracked_fds) generation[fd].fetch_add(1, std::memory_order_relaxed);
}
inline void closed(int fd) noexcept {
    renew(fd);
    closes.fetch_add(1, std::memory_order_relaxed);
}
}  // namespace fd_reuse

class unique_fd {
public:
    unique_fd() noexcept = default;
    explicit unique_fd(int fd) noexcept : fd_(fd) {}
    unique_fd(unique_fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
    unique_fd& operator=(unique_fd&& o) noexcept {
        if (this != &o) reset(std::exchange(o.fd_, -1));
        return *this;
    }
    unique_fd(const unique_fd&) = delete;
    unique_fd& operator=(const unique_fd&) = delete;
    ~unique_fd() { reset(); }

    int get() const noexcept { return fd_; }
    explicit operator bool() const noexcept { return fd_ >= 0; }
    int release() noexcept { return std::exchange(fd_, -1); }
    void reset(int fd = -1) noexcept {
        if (fd_ >= 0) {
            // Before the close, not after: once closed, another thread may
            // get the same number (accept, socket) and renew it, and a bump
            // made after that would mark the new file's registration stale
            // (its read failed with EBADF). Until the close the number is
            // ours, and this thread, which is closing it, arms no wait on it.
            fd_reuse::closed(fd_);
            ::close(fd_);
        }
        fd_ = fd;
    }

private:
    int fd_ = -1;
};

struct fd_pair {
    unique_fd read_end, write_end;
};

inline fd_pair make_pipe(bool nonblocking = false) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC | (nonblocking ? O_NONBLOCK : 0)) != 0) throw_errno("pipe2");
    return {unique_fd{fds[0]}, unique_fd{fds[1]}};
}

// Grows a pipe that carries `messages` messages of `size` bytes so that they
// fit wherever reads left off: a write goes into the last page only if it fits
// behind what was written there, and a page is reused only once read to its
// end, so a one-page pipe holding one unread 8-byte message blocks its 512th
// send. Twice the bytes plus a page leaves room for `messages` messages. Best
// effort: an unprivileged process may not grow past pipe-max-size.
inline void size_pipe_for(const fd_pair& p, std::size_t messages, std::size_t size) {
    ::fcntl(p.write_end.get(), F_SETPIPE_SZ, static_cast<long>(2 * messages * size + 4096));
}

inline void set_nonblocking(int fd, bool on) {
    int fl = ::fcntl(fd, F_GETFL);
    if (fl < 0) throw_errno("fcntl(F_GETFL)");
    int want = on ? (fl | O_NONBLOCK) : (fl & ~O_NONBLOCK);
    if (want != fl && ::fcntl(fd, F_SETFL, want) != 0) throw_errno("fcntl(F_SETFL)");
}

// Full-length read/write on a blocking fd, retrying on EINTR and short counts.
// Returns false at EOF (read) or on error with errno set.
inline bool read_full(int fd, void* buf, std::size_t n) {
    auto* p = static_cast<char*>(buf);
    while (n > 0) {
        ssize_t r = ::read(fd, p, n);
        if (r > 0) {
            p += r;
            n -= static_cast<std::size_t>(r);
        } else if (r == 0) {
            return false;
        } else if (errno != EINTR) {
            return false;
        }
    }
    return true;
}
inline bool write_full(int fd, const void* buf, std::size_t n) {
    auto* p = static_cast<const char*>(buf);
    while (n > 0) {
        ssize_t r = ::write(fd, p, n);
        if (r >= 0) {
            p += r;
            n -= static_cast<std::size_t>(r);
        } else if (errno != EINTR) {
            return false;
        }
    }
    return true;
}

}  // namespace cb
