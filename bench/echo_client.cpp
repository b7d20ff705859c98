// cobench_echo_client: the load generator of the echo workloads.
//
//   cobench_echo_client PORT CONNS REQUESTS SIZE GO_FD REPORT_FD [OPTION...]
//
// A single-threaded, closed-loop driver: it opens CONNS connections to
// 127.0.0.1:PORT, waits for one byte on GO_FD (the server's first task sends
// it once the runtime under test is running), then keeps exactly one request
// of SIZE bytes outstanding on every connection until each has made REQUESTS
// round trips, checking every reply byte for byte against its request. It runs
// in a process of its own, outside the runtime under test, and uses epoll with
// no threads, so what it adds per request is a write, a read and a share of an
// epoll_wait; on a 2-core machine it still takes one core.
//
// It closes each connection once that connection is done (the server's task
// for it then sees EOF and ends), and writes one line to REPORT_FD:
//
//   requests mismatches errors p50_ns p99_ns elapsed_ns cpu_ns max_ns conns stuck marks
//
// (elapsed: go byte to last reply; cpu: this process's user + system time,
// to tell whether the client rather than the server was the limit; max: the
// slowest round trip; conns: connections made; stuck and marks: see
// --slow-ms and --mark-every-ms, 0 without them.)
//
// Options, for echo_accept (workloads/echo_accept.hpp); without them the
// client behaves as the plain echo workload expects:
//   --listen-fds=A,B,..  the server's listening sockets, inherited. The server
//                        accepts inside its timed run, so connections are
//                        made after the go byte; once every connection is
//                        done (or on any failure) the client calls
//                        shutdown(fd, SHUT_RD) on each, which wakes the
//                        server's waiting acceptors with EINVAL: that is how
//                        the server's run ends.
//   --reconnect=R        close and reopen a connection after every R round
//                        trips on it (churn: new connections keep arriving
//                        during the run, so the accept path is exercised).
//                        Each of the CONNS slots still makes REQUESTS.
//   --mark-every-ms=P    byte 0 of every request is 0, except the first
//                        request started at or after each P ms tick (ticks
//                        start once every connection is first open), whose
//                        byte 0 is 1: the server stalls on it. `marks`
//                        counts them.
//   --slow-ms=T          `stuck` counts connections that saw a reply slower
//                        than T ms other than a marked request's, at most
//                        once per connection per mark (a reply is attributed
//                        to the latest mark before it).
//
// Exit status: 0 if every request came back intact, 1 otherwise, 2 for bad
// arguments or set-up failures, 3 if the go byte never came (parent gone).
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

namespace {

using clk = std::chrono::steady_clock;

// --listen-fds: shut down on every way out, or the server's acceptors would
// wait forever for a connection that never comes. Filled before any handler
// is installed and never changed after, so the signal handler may read it.
std::vector<int> listeners;
volatile std::sig_atomic_t listeners_shut = 0;
bool shut_listeners() {
    if (listeners_shut) return true;
    listeners_shut = 1;
    bool ok = true;
    for (int fd : listeners)
        if (::shutdown(fd, SHUT_RD) != 0) {
            std::fprintf(stderr, "cobench_echo_client: shutdown(listener %d): %s\n", fd, std::strerror(errno));
            ok = false;
        }
    return ok;
}
// A client killed by a catchable signal (a user's kill, a crash) still ends
// the server's run; shutdown() is async-signal-safe. Only SIGKILL cannot be
// covered: the server then waits until the family's timeout.
void on_fatal_signal(int sig) {
    for (int fd : listeners) ::shutdown(fd, SHUT_RD);
    std::signal(sig, SIG_DFL);
    std::raise(sig);
}

[[noreturn]] void die(const char* what) {
    const int err = errno;
    shut_listeners();
    std::fprintf(stderr, "cobench_echo_client: %s: %s\n", what, std::strerror(err));
    std::exit(2);
}

std::uint64_t arg(const char* s, const char* what) {
    char* end = nullptr;
    errno = 0;
    unsigned long long v = std::strtoull(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0') {
        std::fprintf(stderr, "cobench_echo_client: bad %s: %s\n", what, s);
        shut_listeners();
        std::exit(2);
    }
    return v;
}

struct conn {
    int fd = -1;
    std::uint64_t done = 0;   // completed round trips (over all of this slot's connections)
    std::uint64_t since = 0;  // round trips on the current connection (--reconnect)
    std::uint64_t stuck_at = ~0ull;  // the mark this connection was last counted stuck for
    bool marked = false;      // the current request carries the stall mark
    std::size_t out = 0;     // bytes of the current request written
    std::size_t in = 0;      // bytes of the current reply read
    bool writing = false;
    clk::time_point t0;
    std::vector<unsigned char> req, rep;
};

// Request n of connection c: a pattern that differs between connections and
// between consecutive requests, so a reply sent to the wrong connection or a
// stale one shows as a mismatch.
void fill(conn& k, std::size_t c) {
    for (std::size_t j = 0; j < k.req.size(); ++j)
        k.req[j] = static_cast<unsigned char>(c * 131 + k.done * 31 + j * 7 + 1);
}

std::uint64_t percentile(std::vector<std::uint64_t>& v, double q) {
    if (v.empty()) return 0;
    std::size_t rank = static_cast<std::size_t>(q * static_cast<double>(v.size()) + 0.999999);  // nearest rank
    std::size_t idx = std::min(v.size() - 1, rank == 0 ? 0 : rank - 1);
    std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(idx), v.end());
    return v[idx];
}

// "--name=value" -> value, or nullptr if `a` is not that option.
const char* option(const char* a, const char* name) {
    const std::size_t n = std::strlen(name);
    return std::strncmp(a, name, n) == 0 && a[n] == '=' ? a + n + 1 : nullptr;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 7) {
        std::fprintf(stderr, "usage: %s PORT CONNS REQUESTS SIZE GO_FD REPORT_FD [--listen-fds=A,B] [--reconnect=R] "
                     "[--mark-every-ms=P] [--slow-ms=T]\n", argv[0]);
        return 2;
    }
    std::uint64_t reconnect = 0, mark_ms = 0, slow_ms = 0;
    for (int i = 7; i < argc; ++i) {
        if (const char* v = option(argv[i], "--listen-fds")) {
            for (std::string rest = v; !rest.empty();) {
                const std::size_t comma = rest.find(',');
                listeners.push_back(static_cast<int>(arg(rest.substr(0, comma).c_str(), "listening fd")));
                rest = comma == std::string::npos ? "" : rest.substr(comma + 1);
            }
        } else if (const char* r = option(argv[i], "--reconnect")) {
            reconnect = arg(r, "reconnect");
        } else if (const char* m = option(argv[i], "--mark-every-ms")) {
            mark_ms = arg(m, "mark period");
        } else if (const char* t = option(argv[i], "--slow-ms")) {
            slow_ms = arg(t, "slow threshold");
        } else {
            std::fprintf(stderr, "cobench_echo_client: unknown option %s\n", argv[i]);
            shut_listeners();
            return 2;
        }
    }
    // Connect after the go byte: the server accepts inside its run.
    const bool accept_mode = !listeners.empty();
    if (accept_mode)
        for (int sig : {SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL})
            std::signal(sig, on_fatal_signal);
    const auto port = static_cast<std::uint16_t>(arg(argv[1], "port"));
    const std::size_t nconn = arg(argv[2], "conns");
    const std::uint64_t requests = arg(argv[3], "requests");
    const std::size_t size = arg(argv[4], "size");
    const int go_fd = static_cast<int>(arg(argv[5], "go fd"));
    const int report_fd = static_cast<int>(arg(argv[6], "report fd"));
    if (nconn == 0 || size == 0 || size > 65536) {
        std::fprintf(stderr, "cobench_echo_client: need 1 <= conns and 1 <= size <= 65536\n");
        shut_listeners();
        return 2;
    }
    std::signal(SIGPIPE, SIG_IGN);  // a server gone away is an error to report, not a death
    rlimit rl{};
    if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        ::setrlimit(RLIMIT_NOFILE, &rl);
    }

    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    std::vector<conn> cs(nconn);
    const int ep = ::epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) die("epoll_create1");
    std::uint64_t conns_made = 0;
    // Opens slot k's connection. Blocking connect: on loopback the kernel
    // completes the handshake inside the call (into the listener's backlog,
    // whether or not the server is accepting yet), so it does not wait for
    // the server. False on failure (errno set).
    auto open_conn = [&](conn& k, std::size_t c) -> bool {
        k.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (k.fd < 0) return false;
        if (::connect(k.fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
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
        if (::epoll_ctl(ep, EPOLL_CTL_ADD, k.fd, &e) != 0) die("epoll_ctl");
        k.since = 0;
        k.stuck_at = ~0ull;
        ++conns_made;
        return true;
    };
    for (std::size_t c = 0; c < nconn; ++c) {
        cs[c].req.resize(size);
        cs[c].rep.resize(size);
    }
    // Plain echo: the server accepted before its run, so connect now, untimed
    // (a backlog smaller than CONNS only slows this set-up down).
    if (!accept_mode)
        for (std::size_t c = 0; c < nconn; ++c)
            if (!open_conn(cs[c], c)) die("connect");

    char go = 0;
    ssize_t g;
    while ((g = ::read(go_fd, &go, 1)) < 0 && errno == EINTR) {
    }
    if (g != 1) {
        shut_listeners();
        return 3;
    }
    ::close(go_fd);

    std::vector<std::uint64_t> lat;
    lat.reserve(nconn * requests);
    std::uint64_t mismatches = 0, errors = 0, marks = 0, stuck = 0;
    std::size_t active = 0;
    const auto mark_every = std::chrono::milliseconds(mark_ms);
    const auto slow = std::chrono::milliseconds(slow_ms);
    clk::time_point next_mark = clk::time_point::max();  // set once every connection is open

    auto finish_conn = [&](conn& k) {
        ::close(k.fd);  // also leaves the epoll set
        k.fd = -1;
        --active;
    };
    // Writes what is left of the current request; false on a hard error.
    auto push = [&](conn& k, std::size_t c) -> bool {
        while (k.out < size) {
            ssize_t w = ::write(k.fd, k.req.data() + k.out, size - k.out);
            if (w > 0) {
                k.out += static_cast<std::size_t>(w);
            } else if (w < 0 && errno == EINTR) {
                continue;
            } else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                if (!k.writing) {
                    k.writing = true;
                    epoll_event e{};
                    e.events = EPOLLOUT;
                    e.data.u64 = c;
                    ::epoll_ctl(ep, EPOLL_CTL_MOD, k.fd, &e);
                }
                return true;
            } else {
                return false;
            }
        }
        if (k.writing) {
            k.writing = false;
            epoll_event e{};
            e.events = EPOLLIN;
            e.data.u64 = c;
            ::epoll_ctl(ep, EPOLL_CTL_MOD, k.fd, &e);
        }
        return true;
    };
    auto start = [&](conn& k, std::size_t c) -> bool {
        fill(k, c);
        k.out = k.in = 0;
        k.t0 = clk::now();
        if (mark_ms > 0) {
            k.marked = k.t0 >= next_mark;
            if (k.marked) {
                ++marks;
                while (next_mark <= k.t0) next_mark += mark_every;
            }
            k.req[0] = k.marked ? 1 : 0;
        }
        return push(k, c);
    };

    const clk::time_point begin = clk::now();
    for (std::size_t c = 0; c < nconn; ++c) {
        if (requests == 0) {
            if (!accept_mode) ::close(cs[c].fd);
            continue;
        }
        if (accept_mode && !open_conn(cs[c], c)) {
            std::fprintf(stderr, "cobench_echo_client: connection %zu: connect: %s\n", c, std::strerror(errno));
            ++errors;
            continue;
        }
        ++active;
        if (!start(cs[c], c)) {
            ++errors;
            finish_conn(cs[c]);
        }
    }
    // Marks start once every connection is open: a stall then hits a server
    // in its steady state, not one still accepting its first connections.
    next_mark = clk::now();
    clk::time_point end = begin;
    std::vector<epoll_event> evs(std::min<std::size_t>(nconn, 1024));
    while (active > 0) {
        // No event for 30 s: the server is stuck. Give up and say so.
        int n = ::epoll_wait(ep, evs.data(), static_cast<int>(evs.size()), 30000);
        if (n < 0) {
            if (errno == EINTR) continue;
            die("epoll_wait");
        }
        if (n == 0) {
            std::fprintf(stderr, "cobench_echo_client: no progress for 30 s with %zu connections active\n", active);
            errors += active;
            for (auto& k : cs)
                if (k.fd >= 0) finish_conn(k);
            break;
        }
        for (int i = 0; i < n; ++i) {
            const std::size_t c = evs[i].data.u64;
            conn& k = cs[c];
            if (k.fd < 0) continue;
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
            lat.push_back(static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(now - k.t0).count()));
            end = now;
            if (std::memcmp(k.req.data(), k.rep.data(), size) != 0) ++mismatches;
            if (slow_ms > 0 && !k.marked && now - k.t0 > slow && k.stuck_at != marks) {
                k.stuck_at = marks;
                ++stuck;
            }
            if (++k.done == requests) {
                finish_conn(k);
                continue;
            }
            if (reconnect > 0 && ++k.since == reconnect) {
                // The reply is in, so the server has accepted this connection
                // and sees EOF next; the new one queues on a listener.
                ::close(k.fd);
                if (!open_conn(k, c)) {
                    std::fprintf(stderr, "cobench_echo_client: connection %zu: reconnect: %s\n", c, std::strerror(errno));
                    ++errors;
                    --active;
                    continue;
                }
            }
            if (!start(k, c)) {
                ++errors;
                finish_conn(k);
            }
        }
    }
    // Every connection made has been served (each had a reply), so none is
    // left in a listener's queue, where shutdown would reset it.
    const bool shut = shut_listeners();

    const std::uint64_t count = lat.size();
    const std::uint64_t max = lat.empty() ? 0 : *std::max_element(lat.begin(), lat.end());
    const std::uint64_t p50 = percentile(lat, 0.50), p99 = percentile(lat, 0.99);
    rusage ru{};
    ::getrusage(RUSAGE_SELF, &ru);
    const unsigned long long cpu_ns =
        (static_cast<unsigned long long>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000ull +
         static_cast<unsigned long long>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec)) * 1000ull;
    char line[320];
    int len = std::snprintf(line, sizeof line, "%llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu\n",
                            static_cast<unsigned long long>(count), static_cast<unsigned long long>(mismatches),
                            static_cast<unsigned long long>(errors), static_cast<unsigned long long>(p50),
                            static_cast<unsigned long long>(p99),
                            static_cast<unsigned long long>(std::chrono::duration_cast<std::chrono::nanoseconds>(end - begin).count()),
                            cpu_ns, static_cast<unsigned long long>(max), static_cast<unsigned long long>(conns_made),
                            static_cast<unsigned long long>(stuck), static_cast<unsigned long long>(marks));
    bool reported = len > 0 && ::write(report_fd, line, static_cast<std::size_t>(len)) == len;
    if (!reported) std::fprintf(stderr, "cobench_echo_client: could not write the report: %s\n", std::strerror(errno));
    if (mismatches > 0)
        std::fprintf(stderr, "cobench_echo_client: %llu replies differed from their request\n",
                     static_cast<unsigned long long>(mismatches));
    return (reported && shut && mismatches == 0 && errors == 0 && count == nconn * requests) ? 0 : 1;
}
