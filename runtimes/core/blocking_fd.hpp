// The fd operations of a context whose tasks block in the system call itself
// (a process or an OS thread a task, or the inline test runtime): fds stay
// blocking, and each operation is complete when the call returns.
#pragma once

#include <cstddef>

#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include "fd.hpp"
#include "task.hpp"

namespace cb {

struct blocking_fd_ops {
    static void configure_fd(int fd) { set_nonblocking(fd, false); }
    ready<ssize_t> read(int fd, void* b, std::size_t n) { return {::read(fd, b, n)}; }
    ready<ssize_t> write(int fd, const void* b, std::size_t n) { return {::write(fd, b, n)}; }
    ready<ssize_t> accept(int fd) { return {::accept4(fd, nullptr, nullptr, SOCK_CLOEXEC)}; }
};

}  // namespace cb
