// Loopback TCP plumbing for I/O workloads, outside any timed region: a
// listener on 127.0.0.1, accepting a client's connections, and enough
// descriptors for them.
#pragma once

#include <cerrno>
#include <chrono>
#include <stdexcept>
#include <string>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include "echo_client.hpp"
#include "runtimes/core/fd.hpp"

namespace cb::wl {

// A listening socket on 127.0.0.1 with a kernel-chosen port.
inline unique_fd listen_loopback(int backlog, std::uint16_t& port) {
    unique_fd s{::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)};
    if (!s) throw_errno("echo: socket");
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    if (::bind(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) throw_errno("echo: bind");
    if (::listen(s.get(), backlog) != 0) throw_errno("echo: listen");
    socklen_t len = sizeof a;
    if (::getsockname(s.get(), reinterpret_cast<sockaddr*>(&a), &len) != 0) throw_errno("echo: getsockname");
    port = ntohs(a.sin_port);
    return s;
}

// n listening sockets on one 127.0.0.1 port, each with SO_REUSEPORT (set
// before bind, as the kernel requires of every member): the kernel hashes
// each new connection's addresses to one of them. The port is chosen by the
// kernel for the first; a port-0 bind never joins someone else's group.
inline std::vector<unique_fd> listen_loopback_group(std::size_t n, int backlog, std::uint16_t& port) {
    std::vector<unique_fd> out;
    port = 0;
    for (std::size_t k = 0; k < n; ++k) {
        unique_fd s{::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)};
        if (!s) throw_errno("echo: socket");
        int one = 1;
        if (::setsockopt(s.get(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) throw_errno("echo: SO_REUSEPORT");
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        a.sin_port = htons(port);
        if (::bind(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) throw_errno("echo: bind (SO_REUSEPORT)");
        if (::listen(s.get(), backlog) != 0) throw_errno("echo: listen");
        if (k == 0) {
            socklen_t len = sizeof a;
            if (::getsockname(s.get(), reinterpret_cast<sockaddr*>(&a), &len) != 0) throw_errno("echo: getsockname");
            port = ntohs(a.sin_port);
        }
        out.push_back(std::move(s));
    }
    return out;
}

// Accepts n connections, giving up when the client exits first or after
// `timeout` without one.
inline std::vector<unique_fd> accept_clients(int listen_fd, std::size_t n, echo_client& client,
                                             std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
    std::vector<unique_fd> out;
    out.reserve(n);
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (out.size() < n) {
        pollfd pf{listen_fd, POLLIN, 0};
        int pr = ::poll(&pf, 1, 100);
        if (pr < 0 && errno != EINTR) throw_errno("echo: poll");
        if (pr > 0) {
            int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
            if (fd >= 0) {
                out.emplace_back(fd);
                int one = 1;
                ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                deadline = std::chrono::steady_clock::now() + timeout;
                continue;
            }
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ECONNABORTED)
                throw_errno("echo: accept");
        }
        if (client.exited())
            throw std::runtime_error("echo: the client exited after " + std::to_string(out.size()) + " of " +
                                     std::to_string(n) + " connections: " + client.finish().problem);
        if (std::chrono::steady_clock::now() > deadline)
            throw std::runtime_error("echo: timed out accepting connection " + std::to_string(out.size() + 1) + " of " +
                                     std::to_string(n));
    }
    return out;
}

// Raises the soft RLIMIT_NOFILE to the hard one if fewer than `need`
// descriptors are allowed; false if even the hard limit is too low.
inline bool ensure_nofile(std::size_t need) {
    rlimit rl{};
    if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) return false;
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need) {
        rl.rlim_cur = rl.rlim_max;
        if (::setrlimit(RLIMIT_NOFILE, &rl) != 0) return false;
    }
    return rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= need;
}

}  // namespace cb::wl
