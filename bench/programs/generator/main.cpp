// cobench_echo_client: the load generator of the echo workloads.
//
//   cobench_echo_client PORT CONNS REQUESTS SIZE GO_FD REPORT_FD [OPTION...]
//
// By default a single-threaded, closed-loop driver: it opens CONNS connections to
// 127.0.0.1:PORT, waits for one byte on GO_FD (the server's first task sends
// it once the runtime under test is running), then keeps exactly one request
// of SIZE bytes outstanding on every connection until each has made REQUESTS
// round trips, checking every reply byte for byte against its request. It runs
// in a process of its own, outside the runtime under test, and uses epoll with
// no threads, so what it adds per request is a write, a read and a share of an
// epoll_wait; on a 2-core machine it still takes one core.
//
// It closes each connection once that connection is done (the server's task
// for it then sees EOF and ends), and writes one line to REPORT_FD per phase:
//
//   requests mismatches errors p50_ns p99_ns elapsed_ns cpu_ns max_ns conns stuck marks
//   p90_ns p999_ns server_cpu_ns server_cpu_ok sent late gen_valid hiccup_max_ns
//   hiccup_p999_ns steal_ns schedule_ns
//
// (elapsed: go byte to last reply; cpu: this process's user + system time
// from the go byte to the last reply (connecting before it is set-up),
// to tell whether the client rather than the server was the limit; max: the
// slowest round trip; conns: connections made; stuck and marks: see
// --slow-ms and --mark-every-ms, 0 without them. Percentiles come from a
// log-linear histogram, workloads/io/histogram.hpp: within 0.8%, max exact.
// The fields from server_cpu_ns on are the open loop's (below); a closed
// phase gives sent = requests, gen_valid = 1 and 0 for the others, and
// server_cpu_ok = 0 unless --closed-first sampled it.)
//
// OPEN LOOP (--rate=R --duration-ms=D; REQUESTS is then ignored unless
// --closed-first): constant total rate R over the CONNS connections for D ms,
// in the manner of wrk2. Send n (n = 0, 1, ...) is due at t0 + n/R on
// connection n mod CONNS, so connection c sends at t0 + (c + k*CONNS)/R. A
// request is sent when due whether or not its connection's previous reply
// has come (pipelined; each connection keeps a FIFO of intended send times,
// and replies come back in order), and its latency is measured from its
// INTENDED send time, so a server stall shows in the percentiles instead of
// silencing the client (coordinated omission). Cheap by batching: one timed
// wait (epoll_pwait2, to the next due send but at least `tick` after the
// last sent one's due time, tick = 1/R within [20 us, 250 us]) then every
// send that is due, one write per connection.
// Late sends: a send written more than one interval after its intended time,
// the interval being the per-connection one (CONNS/R) or 1 ms if that is
// larger (above 50k req/s the tick makes sends up to 20-250 us late by design). The run
// is valid (gen_valid = 1) when at most 1% of sends were late, every send was
// made and every reply came back intact. After the schedule it drains the
// outstanding replies (giving up after 10 s without one). Also measured:
//   cpu_ns         the generating thread's own CPU over the open phase
//                  (RUSAGE_THREAD: the hiccup probe's is not in it);
//   hiccup_*       a jHiccup-style probe thread (unless --no-hiccups): it
//                  sleeps 1 ms in a loop and records how much later than
//                  asked it woke, into a histogram: the machine's own stall
//                  floor during the run, to read p99.9 and max against;
//   steal_ns       steal time over the phase, all CPUs, from /proc/stat;
//   server_cpu_ns  the server's CPU over the phase (user + system), read
//                  from outside: the CPU clocks (clock_getcpuclockid) of the
//                  server process (--server-pid, default the parent) and of
//                  all its live descendants but this client, sampled when the
//                  phase starts and after its last reply, before any
//                  connection closes (so process-per-task servers' children
//                  are still alive and counted); server_cpu_ok = 0 if it
//                  could not be read.
//   --closed-first       run the closed loop first (REQUESTS per connection,
//                        connections kept open), then the open loop on the
//                        same connections: two report lines, closed then
//                        open. The server's CPU is sampled for both phases.
//   --no-hiccups         no hiccup probe thread (hiccup_* are 0).
//   --pin=CPU            pin this process (both threads) to CPU.
//   --server-pid=P       whose CPU server_cpu_ns measures (default: parent).
// Open-loop options cannot be combined with --listen-fds, --reconnect,
// --mark-every-ms or --slow-ms (exit 2).
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
// Exit status: 0 if every request came back intact, 1 otherwise (an open
// loop that fell behind its schedule still exits 0: gen_valid says so), 2
// for bad arguments or set-up failures, 3 if the go byte never came (parent
// gone).
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../workloads/io/histogram.hpp"

namespace {

using clk = std::chrono::steady_clock;
using cb::wl::log_histogram;

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

[[noreturn]] void usage_error(const std::string& what) {
    std::fprintf(stderr, "cobench_echo_client: %s\n", what.c_str());
    shut_listeners();
    std::exit(2);
}

std::uint64_t arg(const char* s, const char* what) {
    char* end = nullptr;
    errno = 0;
    unsigned long long v = std::strtoull(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || *s == '-') usage_error(std::string("bad ") + what + ": " + s);
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

// Byte j of request `seq` on connection c: a pattern that differs between
// connections and between consecutive requests, so a reply sent to the
// wrong connection or a stale one shows as a mismatch.
inline unsigned char pattern(std::size_t c, std::uint64_t seq, std::size_t j) {
    return static_cast<unsigned char>(c * 131 + seq * 31 + j * 7 + 1);
}
void fill(conn& k, std::size_t c) {
    for (std::size_t j = 0; j < k.req.size(); ++j) k.req[j] = pattern(c, k.done, j);
}

// "--name=value" -> value, or nullptr if `a` is not that option.
const char* option(const char* a, const char* name) {
    const std::size_t n = std::strlen(name);
    return std::strncmp(a, name, n) == 0 && a[n] == '=' ? a + n + 1 : nullptr;
}

std::uint64_t ns_of(const timeval& t) {
    return (static_cast<std::uint64_t>(t.tv_sec) * 1000000ull + static_cast<std::uint64_t>(t.tv_usec)) * 1000ull;
}
std::uint64_t cpu_ns(int who) {
    rusage ru{};
    ::getrusage(who, &ru);
    return ns_of(ru.ru_utime) + ns_of(ru.ru_stime);
}
std::uint64_t since_ns(clk::time_point a, clk::time_point b) {
    return b > a ? static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(b - a).count()) : 0;
}

// Steal time of all CPUs so far (the "cpu" line of /proc/stat, 8th value, in
// USER_HZ ticks), in ns; false if it cannot be read.
bool steal_ns(std::uint64_t& out) {
    std::ifstream f("/proc/stat");
    std::string label;
    unsigned long long v[8] = {};
    if (!(f >> label) || label != "cpu") return false;
    for (auto& x : v)
        if (!(f >> x)) return false;
    const long hz = ::sysconf(_SC_CLK_TCK);
    if (hz <= 0) return false;
    out = v[7] * (1000000000ull / static_cast<unsigned long long>(hz));
    return true;
}

// The CPU time (user + system, ns) of process `root` and all its live
// descendants except `skip`, from their process CPU clocks; descendants are
// found through /proc/PID/task/TID/children. False if root's clock cannot be
// read. A child that exits between listing and reading is skipped.
bool tree_cpu_ns(pid_t root, pid_t skip, std::uint64_t& out) {
    out = 0;
    std::vector<pid_t> todo{root};
    bool first = true;
    while (!todo.empty()) {
        const pid_t p = todo.back();
        todo.pop_back();
        clockid_t cid;
        timespec ts{};
        if (::clock_getcpuclockid(p, &cid) != 0 || ::clock_gettime(cid, &ts) != 0) {
            if (first) return false;
            continue;
        }
        first = false;
        out += static_cast<std::uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<std::uint64_t>(ts.tv_nsec);
        const std::string task_dir = "/proc/" + std::to_string(p) + "/task";
        DIR* d = ::opendir(task_dir.c_str());
        if (!d) continue;
        while (const dirent* e = ::readdir(d)) {
            if (e->d_name[0] == '.') continue;
            std::ifstream f(task_dir + "/" + e->d_name + "/children");
            for (long child; f >> child;)
                if (static_cast<pid_t>(child) != skip) todo.push_back(static_cast<pid_t>(child));
        }
        ::closedir(d);
    }
    return true;
}

}  // namespace

namespace {

// One phase's numbers: one line of the report (bench/echo_client.cpp's head
// comment and workloads/io/echo_client.hpp read it).
struct phase_report {
    std::uint64_t requests = 0, mismatches = 0, errors = 0, p50 = 0, p99 = 0, elapsed = 0, cpu = 0, max = 0,
                  conns = 0, stuck = 0, marks = 0, p90 = 0, p999 = 0, server_cpu = 0, server_cpu_ok = 0, sent = 0,
                  late = 0, gen_valid = 0, hiccup_max = 0, hiccup_p999 = 0, steal = 0, schedule = 0;
    void latencies(const log_histogram& h) {
        p50 = h.percentile(0.50), p90 = h.percentile(0.90), p99 = h.percentile(0.99), p999 = h.percentile(0.999);
        max = h.max();
    }
    std::string line() const {
        std::ostringstream o;
        for (std::uint64_t v : {requests, mismatches, errors, p50, p99, elapsed, cpu, max, conns, stuck, marks, p90, p999,
                                server_cpu, server_cpu_ok, sent, late, gen_valid, hiccup_max, hiccup_p999, steal, schedule})
            o << v << ' ';
        std::string s = o.str();
        s.back() = '\n';
        return s;
    }
};

// The server's CPU, sampled from outside (tree_cpu_ns) at a phase's ends.
struct server_clock {
    pid_t pid;
    std::uint64_t t0 = 0;
    bool ok = false;
    void start() { ok = tree_cpu_ns(pid, ::getpid(), t0); }
    void stop(phase_report& r) const {
        std::uint64_t t1 = 0;
        if (ok && tree_cpu_ns(pid, ::getpid(), t1) && t1 >= t0) {
            r.server_cpu = t1 - t0;
            r.server_cpu_ok = 1;
        }
    }
};

// jHiccup-style: sleeps 1 ms in a loop and records how late it woke.
class hiccup_probe {
public:
    hiccup_probe() = default;
    hiccup_probe(const hiccup_probe&) = delete;
    hiccup_probe& operator=(const hiccup_probe&) = delete;
    ~hiccup_probe() { stop(); }
    void start() {
        try {
            thread_ = std::thread([this] {
                while (!stop_.load(std::memory_order_relaxed)) {
                    const clk::time_point a = clk::now();
                    timespec ts{0, 1000000};
                    ::nanosleep(&ts, nullptr);
                    const std::uint64_t slept = since_ns(a, clk::now());
                    hist_.record(slept > 1000000 ? slept - 1000000 : 0);
                }
            });
        } catch (const std::exception& e) {
            errno = EAGAIN;
            die("hiccup probe thread");
        }
    }
    const log_histogram& stop() {
        stop_.store(true);
        if (thread_.joinable()) thread_.join();
        return hist_;
    }

private:
    std::atomic<bool> stop_{false};
    std::thread thread_;
    log_histogram hist_;
};

struct open_conn {
    int fd = -1;
    bool dead = false;
    std::uint64_t base = 0;             // sequence number of its first open-loop request (pattern)
    std::uint64_t sent = 0, got = 0;    // requests appended / replies completed
    std::deque<std::uint64_t> due;      // intended send times (ns after t0) of the outstanding requests
    std::size_t fresh = 0;              // requests appended this tick (their lateness is judged at the write)
    std::size_t in = 0;                 // bytes of the current reply read
    bool bad = false;                   // the current reply differs so far
    std::vector<unsigned char> out;     // bytes not yet written
    std::size_t out_off = 0;
    bool writing = false, dirty = false;
};

struct open_config {
    std::uint64_t rate = 0, duration_ms = 0;
    bool hiccups = true;
    std::size_t size = 0;
};

// The open loop over already-connected, epoll-registered (data = index,
// EPOLLIN) non-blocking sockets; see the head comment.
phase_report open_loop(const std::vector<int>& fds, const std::vector<std::uint64_t>& base, int ep,
                       const open_config& cfg, pid_t server) {
    phase_report r;
    const std::size_t nconn = fds.size(), size = cfg.size;
    const std::uint64_t rate = cfg.rate;
    const std::uint64_t total = rate * cfg.duration_ms / 1000;
    const auto due_ns = [rate](std::uint64_t n) { return (n / rate) * 1000000000ull + (n % rate) * 1000000000ull / rate; };
    const std::uint64_t late_after = std::max<std::uint64_t>(1000000, nconn * 1000000000ull / rate);
    // The shortest gap between two batches of sends: one interval of the
    // whole schedule (1/R), within [20 us, 250 us]. At rates where a send is
    // due less often than every 20 us a wake-up per send would cost the
    // generator more CPU than the sends (tens of us a timed wake on these
    // VMs), so sends are batched; at lower rates each send has its own wake
    // and the batching adds nothing to the latencies.
    const std::uint64_t tick = std::clamp<std::uint64_t>(1000000000ull / rate, 20000, 250000);
    constexpr std::uint64_t drain_limit = 10000000000ull;  // 10 s without a reply: give up
    r.schedule = cfg.duration_ms * 1000000ull;
    r.conns = nconn;

    std::vector<open_conn> cs(nconn);
    for (std::size_t c = 0; c < nconn; ++c) {
        cs[c].fd = fds[c];
        cs[c].base = base[c];
        cs[c].dead = fds[c] < 0;
    }
    log_histogram lat;
    std::vector<std::size_t> dirty;
    dirty.reserve(nconn);
    std::vector<unsigned char> rbuf(65536);
    std::vector<epoll_event> evs(std::min<std::size_t>(nconn, 1024));
    std::uint64_t next_n = 0, outstanding = 0, late = 0;
    clk::time_point t0;

    auto set_events = [&](open_conn& k, std::size_t c, bool out) {
        if (k.writing == out) return;
        k.writing = out;
        epoll_event e{};
        e.events = out ? EPOLLIN | EPOLLOUT : EPOLLIN;
        e.data.u64 = c;
        if (::epoll_ctl(ep, EPOLL_CTL_MOD, k.fd, &e) != 0) die("epoll_ctl");
    };
    auto kill_conn = [&](open_conn& k, const char* why, std::size_t c) {
        std::fprintf(stderr, "cobench_echo_client: open loop, connection %zu: %s after %llu replies\n", c, why,
                     static_cast<unsigned long long>(k.got));
        ++r.errors;
        outstanding -= k.due.size();
        k.due.clear();
        k.dead = true;
        ::epoll_ctl(ep, EPOLL_CTL_DEL, k.fd, nullptr);
    };
    // Writes what it can; judges the lateness of this tick's new requests.
    auto flush = [&](open_conn& k, std::size_t c) {
        if (k.fresh > 0) {
            const std::uint64_t now = since_ns(t0, clk::now());
            for (std::size_t j = k.due.size() - k.fresh; j < k.due.size(); ++j)
                if (now > k.due[j] + late_after) ++late;
            k.fresh = 0;
        }
        while (k.out_off < k.out.size()) {
            const ssize_t w = ::write(k.fd, k.out.data() + k.out_off, k.out.size() - k.out_off);
            if (w > 0) {
                k.out_off += static_cast<std::size_t>(w);
            } else if (w < 0 && errno == EINTR) {
                continue;
            } else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                set_events(k, c, true);
                return;
            } else {
                kill_conn(k, w < 0 ? std::strerror(errno) : "write returned 0", c);
                return;
            }
        }
        k.out.clear();
        k.out_off = 0;
        set_events(k, c, false);
    };
    auto receive = [&](open_conn& k, std::size_t c) {
        const ssize_t n = ::read(k.fd, rbuf.data(), rbuf.size());
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
        if (n <= 0) {
            kill_conn(k, n == 0 ? "server closed" : std::strerror(errno), c);
            return;
        }
        const clk::time_point now_tp = clk::now();
        const std::uint64_t now = since_ns(t0, now_tp);
        for (ssize_t i = 0; i < n; ++i) {
            if (k.due.empty()) {  // a byte nobody asked for
                ++r.mismatches;
                kill_conn(k, "reply without a request", c);
                return;
            }
            if (rbuf[static_cast<std::size_t>(i)] != pattern(c, k.base + k.got, k.in)) k.bad = true;
            if (++k.in < size) continue;
            lat.record(now > k.due.front() ? now - k.due.front() : 0);
            k.due.pop_front();
            if (k.bad) ++r.mismatches;
            k.bad = false;
            k.in = 0;
            ++k.got;
            ++r.requests;
            --outstanding;
        }
        r.elapsed = now;
    };

    hiccup_probe probe;
    std::uint64_t steal0 = 0, steal1 = 0;
    const bool steal_ok = steal_ns(steal0);
    server_clock sc{server};
    sc.start();
    const std::uint64_t cpu0 = cpu_ns(RUSAGE_THREAD);
    if (cfg.hiccups) probe.start();
    t0 = clk::now();
    std::uint64_t last_wake = 0, last_progress = 0;
    bool use_pwait2 = true;
    for (;;) {
        std::uint64_t now = since_ns(t0, clk::now());
        while (next_n < total && due_ns(next_n) <= now) {
            const std::size_t c = static_cast<std::size_t>(next_n % nconn);
            open_conn& k = cs[c];
            if (!k.dead) {
                const std::uint64_t seq = k.base + k.sent;
                for (std::size_t j = 0; j < size; ++j) k.out.push_back(pattern(c, seq, j));
                k.due.push_back(due_ns(next_n));
                ++k.fresh;
                ++k.sent;
                ++r.sent;
                ++outstanding;
                if (!k.dirty) {
                    k.dirty = true;
                    dirty.push_back(c);
                }
            }
            ++next_n;
        }
        for (std::size_t c : dirty) {
            cs[c].dirty = false;
            if (!cs[c].dead) flush(cs[c], c);
        }
        dirty.clear();
        if (next_n == total && outstanding == 0) break;
        now = since_ns(t0, clk::now());
        std::uint64_t wait;
        if (next_n < total) {
            // Measured from the schedule, not from the last wake-up: a late
            // wake or one for a reply does not push later sends back.
            const std::uint64_t wake =
                next_n == 0 ? 0 : std::max<std::uint64_t>(due_ns(next_n), due_ns(next_n - 1) + tick);
            wait = wake > now ? wake - now : 0;
        } else {
            const std::uint64_t give_up = std::max(r.elapsed, last_progress) + drain_limit;
            if (now >= give_up) {
                std::fprintf(stderr, "cobench_echo_client: open loop: no reply for 10 s, %llu outstanding\n",
                             static_cast<unsigned long long>(outstanding));
                r.errors += outstanding;
                break;
            }
            wait = give_up - now;
        }
        const timespec to{static_cast<time_t>(wait / 1000000000ull), static_cast<long>(wait % 1000000000ull)};
        int n = use_pwait2 ? ::epoll_pwait2(ep, evs.data(), static_cast<int>(evs.size()), &to, nullptr) : 0;
        if (use_pwait2 && n < 0 && errno == ENOSYS) use_pwait2 = false;  // a kernel before 5.11
        if (!use_pwait2)  // whole milliseconds, rounded up
            n = ::epoll_wait(ep, evs.data(), static_cast<int>(evs.size()),
                             static_cast<int>(std::min<std::uint64_t>((wait + 999999) / 1000000, 60000)));
        last_wake = since_ns(t0, clk::now());
        if (n < 0) {
            if (errno == EINTR) continue;
            die("epoll_pwait2");
        }
        if (next_n == total && n > 0) last_progress = last_wake;
        for (int i = 0; i < n; ++i) {
            const std::size_t c = evs[static_cast<std::size_t>(i)].data.u64;
            open_conn& k = cs[c];
            if (k.dead) continue;
            if (evs[static_cast<std::size_t>(i)].events & EPOLLOUT) flush(k, c);
            if (!k.dead && (evs[static_cast<std::size_t>(i)].events & (EPOLLIN | EPOLLHUP | EPOLLERR))) receive(k, c);
        }
    }
    // Sampled before anything closes: the server's tasks are all alive.
    sc.stop(r);
    r.cpu = cpu_ns(RUSAGE_THREAD) - cpu0;
    const log_histogram& hic = probe.stop();
    r.hiccup_max = hic.max();
    r.hiccup_p999 = hic.percentile(0.999);
    if (steal_ok && steal_ns(steal1) && steal1 >= steal0) r.steal = steal1 - steal0;
    r.latencies(lat);
    r.late = late;
    r.gen_valid = r.sent == total && late * 100 <= r.sent && r.errors == 0 && r.mismatches == 0 ? 1 : 0;
    return r;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 7) {
        std::fprintf(stderr, "usage: %s PORT CONNS REQUESTS SIZE GO_FD REPORT_FD [--listen-fds=A,B] [--reconnect=R] "
                     "[--mark-every-ms=P] [--slow-ms=T] [--rate=R --duration-ms=D [--closed-first] [--no-hiccups] "
                     "[--pin=CPU] [--server-pid=P]]\n", argv[0]);
        return 2;
    }
    std::uint64_t reconnect = 0, mark_ms = 0, slow_ms = 0, rate = 0, duration_ms = 0;
    bool hiccups = true, closed_first = false, pin_given = false, hiccups_given = false;
    std::uint64_t pin = 0;
    pid_t server = ::getppid();
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
        } else if (const char* ra = option(argv[i], "--rate")) {
            rate = arg(ra, "rate");
            if (rate == 0 || rate > 1000000000) usage_error(std::string("--rate must be 1 to 1e9 requests/s: ") + ra);
        } else if (const char* d = option(argv[i], "--duration-ms")) {
            duration_ms = arg(d, "duration");
            if (duration_ms == 0 || duration_ms > 3600000) usage_error(std::string("--duration-ms must be 1 to 3600000: ") + d);
        } else if (const char* pc = option(argv[i], "--pin")) {
            pin = arg(pc, "CPU");
            pin_given = true;
        } else if (const char* sp = option(argv[i], "--server-pid")) {
            server = static_cast<pid_t>(arg(sp, "server pid"));
            if (server <= 0) usage_error("--server-pid must be a process id");
        } else if (std::strcmp(argv[i], "--no-hiccups") == 0) {
            hiccups = false;
            hiccups_given = true;
        } else if (std::strcmp(argv[i], "--closed-first") == 0) {
            closed_first = true;
        } else {
            usage_error(std::string("unknown option ") + argv[i]);
        }
    }
    if ((rate == 0) != (duration_ms == 0)) usage_error("--rate and --duration-ms go together");
    if (rate == 0 && (closed_first || hiccups_given)) usage_error("--closed-first and --no-hiccups need --rate");
    if (rate > 0 && (!listeners.empty() || reconnect || mark_ms || slow_ms))
        usage_error("the open loop (--rate) cannot be combined with --listen-fds, --reconnect, --mark-every-ms or --slow-ms");
    if (pin_given) {
        cpu_set_t set;
        CPU_ZERO(&set);
        if (pin >= CPU_SETSIZE) usage_error("--pin: no such CPU: " + std::to_string(pin));
        CPU_SET(static_cast<int>(pin), &set);
        if (::sched_setaffinity(0, sizeof set, &set) != 0)
            usage_error("--pin=" + std::to_string(pin) + ": sched_setaffinity: " + std::strerror(errno));
    }
    // Connect after the go byte: the server accepts inside its run.
    const bool accept_mode = !listeners.empty();
    if (accept_mode)
        for (int sig : {SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL})
            std::signal(sig, on_fatal_signal);
    const auto port = static_cast<std::uint16_t>(arg(argv[1], "port"));
    const std::size_t nconn = arg(argv[2], "conns");
    const std::uint64_t requests = rate > 0 && !closed_first ? 0 : arg(argv[3], "requests");
    if (rate > 0 && !closed_first) (void)arg(argv[3], "requests");  // still checked
    const std::size_t size = arg(argv[4], "size");
    const int go_fd = static_cast<int>(arg(argv[5], "go fd"));
    const int report_fd = static_cast<int>(arg(argv[6], "report fd"));
    if (nconn == 0 || size == 0 || size > 65536) usage_error("need 1 <= conns and 1 <= size <= 65536");
    if (rate > 0 && rate * duration_ms / 1000 == 0) usage_error("--rate times --duration-ms makes no request");
    std::signal(SIGPIPE, SIG_IGN);  // a server gone away is an error to report, not a death
    // Timed waits end when asked, not up to 50 us later (the default timer
    // slack), which would add to every open-loop latency; threads started
    // after this (the hiccup probe) inherit it.
    if (rate > 0) ::prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
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

    log_histogram lat;
    const bool open_phase = rate > 0;
    // With an open phase the connections stay open after the closed one (if
    // any), and the server's CPU is sampled from here (server_clock).
    const bool keep_open = open_phase;
    server_clock closed_sc{server};
    if (closed_first) closed_sc.start();
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
    // The closed phase's own CPU: connecting the sockets before the go byte
    // is set-up, not load (it made client_cpu_frac exceed 1 on short runs).
    const std::uint64_t closed_cpu0 = cpu_ns(RUSAGE_SELF);
    for (std::size_t c = 0; c < nconn; ++c) {
        if (requests == 0) {
            if (!accept_mode && !keep_open) {
                ::close(cs[c].fd);
                cs[c].fd = -1;
            }
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
            const std::size_t c = evs[static_cast<std::size_t>(i)].data.u64;
            conn& k = cs[c];
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
            if (slow_ms > 0 && !k.marked && now - k.t0 > slow && k.stuck_at != marks) {
                k.stuck_at = marks;
                ++stuck;
            }
            if (++k.done == requests) {
                if (keep_open)
                    --active;  // the open phase goes on on it
                else
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
    std::vector<phase_report> phases;
    if (!open_phase || closed_first) {
        phase_report p;
        p.requests = lat.count();
        p.mismatches = mismatches;
        p.errors = errors;
        p.latencies(lat);
        p.elapsed = since_ns(begin, end);
        p.cpu = cpu_ns(RUSAGE_SELF) - closed_cpu0;
        p.conns = conns_made;
        p.stuck = stuck;
        p.marks = marks;
        p.sent = p.requests;
        p.gen_valid = 1;
        if (closed_first) closed_sc.stop(p);
        phases.push_back(p);
    }
    bool complete = lat.count() == nconn * requests;
    if (open_phase) {
        std::vector<int> fds(nconn);
        std::vector<std::uint64_t> base(nconn);
        for (std::size_t c = 0; c < nconn; ++c) {
            fds[c] = cs[c].fd;
            base[c] = cs[c].done;
        }
        phases.push_back(open_loop(fds, base, ep, open_config{rate, duration_ms, hiccups, size}, server));
        const phase_report& o = phases.back();
        mismatches += o.mismatches;
        errors += o.errors;
        complete = complete && o.requests == o.sent;
        for (auto& k : cs)
            if (k.fd >= 0) {
                ::close(k.fd);
                k.fd = -1;
            }
    }
    // Every connection made has been served (each had a reply), so none is
    // left in a listener's queue, where shutdown would reset it.
    const bool shut = shut_listeners();

    std::string text;
    for (const phase_report& p : phases) text += p.line();
    bool reported = ::write(report_fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
    if (!reported) std::fprintf(stderr, "cobench_echo_client: could not write the report: %s\n", std::strerror(errno));
    if (mismatches > 0)
        std::fprintf(stderr, "cobench_echo_client: %llu replies differed from their request\n",
                     static_cast<unsigned long long>(mismatches));
    return (reported && shut && mismatches == 0 && errors == 0 && complete) ? 0 : 1;
}
