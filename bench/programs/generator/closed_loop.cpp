// The closed loop (closed_loop.hpp).
#include "closed_loop.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cpu_sampling.hpp"
#include "workloads/io/histogram.hpp"

namespace cb::gen {

closed_loop::closed_loop(const closed_config& cfg) : cfg_(cfg), ep_(::epoll_create1(EPOLL_CLOEXEC)), cs_(cfg.conns) {
    if (!ep_) die("epoll_create1");
    for (conn& k : cs_) {
        k.req.resize(cfg.size);
        k.rep.resize(cfg.size);
    }
}

// Blocking connect: on loopback the kernel completes the handshake inside
// the call (into the listener's backlog, whether or not the server is
// accepting yet), so it does not wait for the server; to another host
// (--host) it takes a network round trip, still before the go byte. False
// on failure (errno set).
bool closed_loop::open_conn(conn& k, std::size_t c) {
    k.fd = ::socket(cfg_.addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (k.fd < 0) return false;
    if (::connect(k.fd, reinterpret_cast<const sockaddr*>(&cfg_.addr), cfg_.addr_len) != 0) {
        const int err = errno;
        ::close(k.fd);
        k.fd = -1;
        errno = err;
        return false;
    }
    int one = 1;
    ::setsockopt(k.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    ::fcntl(k.fd, F_SETFL, ::fcntl(k.fd, F_GETFL) | O_NONBLOCK);
    epoll_event e{};
    e.events = EPOLLIN;
    e.data.u64 = c;
    if (::epoll_ctl(ep_.get(), EPOLL_CTL_ADD, k.fd, &e) != 0) die("epoll_ctl");
    k.since = 0;
    k.stuck_at = ~0ull;
    ++conns_made_;
    return true;
}

void closed_loop::connect_all() {
    for (std::size_t c = 0; c < cs_.size(); ++c)
        if (!open_conn(cs_[c], c)) die("connect");
}

void closed_loop::finish_conn(conn& k) {
    ::close(k.fd);  // also leaves the epoll set
    k.fd = -1;
    --active_;
}

// Waits for EPOLLOUT while a request is half written, else for EPOLLIN.
void closed_loop::set_writing(conn& k, std::size_t c, bool writing) {
    if (k.writing == writing) return;
    k.writing = writing;
    epoll_event e{};
    e.events = writing ? EPOLLOUT : EPOLLIN;
    e.data.u64 = c;
    ::epoll_ctl(ep_.get(), EPOLL_CTL_MOD, k.fd, &e);
}

// Writes what is left of the current request; false on a hard error.
bool closed_loop::push(conn& k, std::size_t c) {
    switch (write_out(k.fd, k.req.data(), cfg_.size, k.out)) {
    case write_result::done:
        set_writing(k, c, false);
        return true;
    case write_result::blocked:
        set_writing(k, c, true);
        return true;
    case write_result::failed:
        break;
    }
    return false;
}

bool closed_loop::start(conn& k, std::size_t c) {
    for (std::size_t j = 0; j < k.req.size(); ++j) k.req[j] = pattern(cfg_.first + c, k.done, j);
    k.out = k.in = 0;
    k.t0 = clk::now();
    if (cfg_.mark_ms > 0) {
        k.marked = k.t0 >= next_mark_;
        if (k.marked) {
            ++marks_;
            while (next_mark_ <= k.t0) next_mark_ += std::chrono::milliseconds(cfg_.mark_ms);
        }
        k.req[0] = k.marked ? 1 : 0;
    }
    return push(k, c);
}

wl::echo_phase closed_loop::run() {
    const std::size_t nconn = cs_.size(), size = cfg_.size;
    const std::uint64_t requests = cfg_.requests;
    const bool accept_mode = accepting(), keep_open = cfg_.keep_open;
    const auto slow = std::chrono::milliseconds(cfg_.slow_ms);
    wl::log_histogram& lat = lat_;
    std::uint64_t mismatches = 0, errors = 0, stuck = 0;

    const clk::time_point begin = clk::now();
    // The closed phase's own CPU: connecting the sockets before the go byte
    // is set-up, not load (it made client_cpu_frac exceed 1 on short runs).
    const std::uint64_t cpu0 = cpu_ns(RUSAGE_SELF);
    for (std::size_t c = 0; c < nconn; ++c) {
        if (requests == 0) {
            if (!accept_mode && !keep_open) {
                ::close(cs_[c].fd);
                cs_[c].fd = -1;
            }
            continue;
        }
        if (accept_mode && !open_conn(cs_[c], c)) {
            std::fprintf(stderr, "cobench_echo_client: connection %zu: connect: %s\n", c, std::strerror(errno));
            ++errors;
            continue;
        }
        ++active_;
        if (!start(cs_[c], c)) {
            ++errors;
            finish_conn(cs_[c]);
        }
    }
    // Marks start once every connection is open: a stall then hits a server
    // in its steady state, not one still accepting its first connections.
    next_mark_ = clk::now();
    clk::time_point end = begin;
    std::vector<epoll_event> evs(std::min<std::size_t>(nconn, 1024));
    while (active_ > 0) {
        // No event for 30 s: the server is stuck. Give up and say so.
        int n = ::epoll_wait(ep_.get(), evs.data(), static_cast<int>(evs.size()), 30000);
        if (n < 0) {
            if (errno == EINTR) continue;
            die("epoll_wait");
        }
        if (n == 0) {
            std::fprintf(stderr, "cobench_echo_client: no progress for 30 s with %zu connections active\n", active_);
            errors += active_;
            for (auto& k : cs_)
                if (k.fd >= 0) finish_conn(k);
            break;
        }
        for (int i = 0; i < n; ++i) {
            const std::size_t c = evs[static_cast<std::size_t>(i)].data.u64;
            conn& k = cs_[c];
            if (k.fd < 0 || (keep_open && k.done == requests)) continue;
            if (k.writing) {
                if (!push(k, c)) {
                    ++errors;
                    finish_conn(k);
                }
                continue;
            }
            ssize_t r = ::read(k.fd, k.rep.data() + k.in, size - k.in);
            if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) continue;
            if (r <= 0) {
                std::fprintf(stderr, "cobench_echo_client: connection %zu: %s after %llu replies\n", c,
                             r == 0 ? "server closed" : std::strerror(errno), static_cast<unsigned long long>(k.done));
                ++errors;
                finish_conn(k);
                continue;
            }
            k.in += static_cast<std::size_t>(r);
            if (k.in < size) continue;
            const clk::time_point now = clk::now();
            lat.record(since_ns(k.t0, now));
            end = now;
            if (std::memcmp(k.req.data(), k.rep.data(), size) != 0) ++mismatches;
            if (cfg_.slow_ms > 0 && !k.marked && now - k.t0 > slow && k.stuck_at != marks_) {
                k.stuck_at = marks_;
                ++stuck;
            }
            if (++k.done == requests) {
                if (keep_open)
                    --active_;  // the open phase goes on on it
                else
                    finish_conn(k);
                continue;
            }
            if (cfg_.reconnect > 0 && ++k.since == cfg_.reconnect) {
                // The reply is in, so the server has accepted this connection
                // and sees EOF next; the new one queues on a listener.
                ::close(k.fd);
                if (!open_conn(k, c)) {
                    std::fprintf(stderr, "cobench_echo_client: connection %zu: reconnect: %s\n", c, std::strerror(errno));
                    ++errors;
                    --active_;
                    continue;
                }
            }
            if (!start(k, c)) {
                ++errors;
                finish_conn(k);
            }
        }
    }
    wl::echo_phase p;
    p.requests = lat.count();
    p.mismatches = mismatches;
    p.errors = errors;
    set_latencies(p, lat);
    p.elapsed_ns = since_ns(begin, end);
    p.cpu_ns = cpu_ns(RUSAGE_SELF) - cpu0;
    p.conns = conns_made_;
    p.stuck = stuck;
    p.marks = marks_;
    p.sent = p.requests;
    p.gen_valid = true;
    return p;
}

std::vector<int> closed_loop::fds() const {
    std::vector<int> v(cs_.size());
    for (std::size_t c = 0; c < cs_.size(); ++c) v[c] = cs_[c].fd;
    return v;
}

std::vector<std::uint64_t> closed_loop::done() const {
    std::vector<std::uint64_t> v(cs_.size());
    for (std::size_t c = 0; c < cs_.size(); ++c) v[c] = cs_[c].done;
    return v;
}

void closed_loop::close_all() {
    for (conn& k : cs_)
        if (k.fd >= 0) {
            ::close(k.fd);
            k.fd = -1;
        }
}

}  // namespace cb::gen
