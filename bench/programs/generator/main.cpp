// cobench_echo_client: the load generator of the echo workloads.
//
//   cobench_echo_client PORT CONNS REQUESTS SIZE GO_FD REPORT_FD [OPTION...]
//
// A process of its own, outside the runtime under test: it opens CONNS
// connections to 127.0.0.1:PORT, waits for one byte on GO_FD (the server's
// first task sends it once the runtime under test is running), then drives
// them in a closed loop (closed_loop.hpp: one request of SIZE bytes
// outstanding a connection, REQUESTS round trips each) or, with --rate, an
// open loop (open_loop.hpp: sends on a fixed schedule, latency from the
// intended send time). One thread, epoll; on a 2-core machine it still
// takes one core. It writes one line a phase to REPORT_FD, in the format
// of workloads/io/generator_report.hpp (the fields and what they mean:
// echo_phase there).
//
// Its parts: main.cpp (this file: the command line, set-up, the go byte,
// the phases in order, the report), closed_loop.*, open_loop.*,
// hiccup_probe.* (the open loop's stall floor), cpu_sampling.* (its own,
// the server's and the machine's steal time), exits.cpp (every way out
// shuts --listen-fds down), generator.hpp (what they share).
//
// Open loop (--rate=R --duration-ms=D; REQUESTS is then ignored unless
// --closed-first):
//   --closed-first       run the closed loop first (REQUESTS per connection,
//                        connections kept open), then the open loop on the
//                        same connections: two report lines, closed then
//                        open. The server's CPU is sampled for both phases.
//   --no-hiccups         no hiccup probe thread (hiccup_* are 0).
//   --pin=CPU            pin this process (both threads) to CPU.
//   --server-pid=P       whose CPU server_cpu_ns measures (default: parent):
//                        that process and all its live descendants but this
//                        client.
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
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <sched.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include "closed_loop.hpp"
#include "cpu_sampling.hpp"
#include "generator.hpp"
#include "open_loop.hpp"
#include "workloads/io/generator_report.hpp"

namespace {

using namespace cb::gen;

std::uint64_t arg(const char* s, const char* what) {
    char* end = nullptr;
    errno = 0;
    unsigned long long v = std::strtoull(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || *s == '-') usage_error(std::string("bad ") + what + ": " + s);
    return v;
}

// "--name=value" -> value, or nullptr if `a` is not that option.
const char* option(const char* a, const char* name) {
    const std::size_t n = std::strlen(name);
    return std::strncmp(a, name, n) == 0 && a[n] == '=' ? a + n + 1 : nullptr;
}

// The command line's options (the listeners go to add_listener as they are
// parsed, so that a usage error already shuts those down).
struct options {
    std::uint64_t reconnect = 0, mark_ms = 0, slow_ms = 0, rate = 0, duration_ms = 0;
    bool hiccups = true, closed_first = false, pin_given = false;
    std::uint64_t pin = 0;
    pid_t server = ::getppid();
};

// The options after the six positional arguments; exits 2 on a bad one.
options parse_options(int argc, char** argv) {
    options o;
    bool hiccups_given = false;
    for (int i = 7; i < argc; ++i) {
        if (const char* v = option(argv[i], "--listen-fds")) {
            for (std::string rest = v; !rest.empty();) {
                const std::size_t comma = rest.find(',');
                add_listener(static_cast<int>(arg(rest.substr(0, comma).c_str(), "listening fd")));
                rest = comma == std::string::npos ? "" : rest.substr(comma + 1);
            }
        } else if (const char* r = option(argv[i], "--reconnect")) {
            o.reconnect = arg(r, "reconnect");
        } else if (const char* m = option(argv[i], "--mark-every-ms")) {
            o.mark_ms = arg(m, "mark period");
        } else if (const char* t = option(argv[i], "--slow-ms")) {
            o.slow_ms = arg(t, "slow threshold");
        } else if (const char* ra = option(argv[i], "--rate")) {
            o.rate = arg(ra, "rate");
            if (o.rate == 0 || o.rate > 1000000000) usage_error(std::string("--rate must be 1 to 1e9 requests/s: ") + ra);
        } else if (const char* d = option(argv[i], "--duration-ms")) {
            o.duration_ms = arg(d, "duration");
            if (o.duration_ms == 0 || o.duration_ms > 3600000)
                usage_error(std::string("--duration-ms must be 1 to 3600000: ") + d);
        } else if (const char* pc = option(argv[i], "--pin")) {
            o.pin = arg(pc, "CPU");
            o.pin_given = true;
        } else if (const char* sp = option(argv[i], "--server-pid")) {
            o.server = static_cast<pid_t>(arg(sp, "server pid"));
            if (o.server <= 0) usage_error("--server-pid must be a process id");
        } else if (std::strcmp(argv[i], "--no-hiccups") == 0) {
            o.hiccups = false;
            hiccups_given = true;
        } else if (std::strcmp(argv[i], "--closed-first") == 0) {
            o.closed_first = true;
        } else {
            usage_error(std::string("unknown option ") + argv[i]);
        }
    }
    if ((o.rate == 0) != (o.duration_ms == 0)) usage_error("--rate and --duration-ms go together");
    if (o.rate == 0 && (o.closed_first || hiccups_given)) usage_error("--closed-first and --no-hiccups need --rate");
    if (o.rate > 0 && (accepting() || o.reconnect || o.mark_ms || o.slow_ms))
        usage_error("the open loop (--rate) cannot be combined with --listen-fds, --reconnect, --mark-every-ms or --slow-ms");
    return o;
}

void pin_to(std::uint64_t cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (cpu >= CPU_SETSIZE) usage_error("--pin: no such CPU: " + std::to_string(cpu));
    CPU_SET(static_cast<int>(cpu), &set);
    if (::sched_setaffinity(0, sizeof set, &set) != 0)
        usage_error("--pin=" + std::to_string(cpu) + ": sched_setaffinity: " + std::strerror(errno));
}

// False if the go byte never came (the parent is gone).
bool wait_for_go(int go_fd) {
    char go = 0;
    ssize_t g;
    while ((g = ::read(go_fd, &go, 1)) < 0 && errno == EINTR) {
    }
    if (g != 1) return false;
    ::close(go_fd);
    return true;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 7) {
        std::fprintf(stderr, "usage: %s PORT CONNS REQUESTS SIZE GO_FD REPORT_FD [--listen-fds=A,B] [--reconnect=R] "
                     "[--mark-every-ms=P] [--slow-ms=T] [--rate=R --duration-ms=D [--closed-first] [--no-hiccups] "
                     "[--pin=CPU] [--server-pid=P]]\n", argv[0]);
        return 2;
    }
    const options o = parse_options(argc, argv);
    if (o.pin_given) pin_to(o.pin);
    // Connect after the go byte: the server accepts inside its run.
    const bool accept_mode = accepting();
    if (accept_mode) shut_listeners_on_fatal_signals();
    const bool open_phase = o.rate > 0;
    closed_config cc;
    cc.port = static_cast<std::uint16_t>(arg(argv[1], "port"));
    cc.conns = arg(argv[2], "conns");
    cc.requests = open_phase && !o.closed_first ? 0 : arg(argv[3], "requests");
    if (open_phase && !o.closed_first) (void)arg(argv[3], "requests");  // still checked
    cc.size = arg(argv[4], "size");
    const int go_fd = static_cast<int>(arg(argv[5], "go fd"));
    const int report_fd = static_cast<int>(arg(argv[6], "report fd"));
    if (cc.conns == 0 || cc.size == 0 || cc.size > 65536) usage_error("need 1 <= conns and 1 <= size <= 65536");
    if (open_phase && o.rate * o.duration_ms / 1000 == 0) usage_error("--rate times --duration-ms makes no request");
    cc.reconnect = o.reconnect, cc.mark_ms = o.mark_ms, cc.slow_ms = o.slow_ms;
    // With an open phase the connections stay open after the closed one (if
    // any), and the server's CPU is sampled from here (server_clock).
    cc.keep_open = open_phase;
    std::signal(SIGPIPE, SIG_IGN);  // a server gone away is an error to report, not a death
    // Timed waits end when asked, not up to 50 us later (the default timer
    // slack), which would add to every open-loop latency; threads started
    // after this (the hiccup probe) inherit it.
    if (open_phase) ::prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
    rlimit rl{};
    if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        ::setrlimit(RLIMIT_NOFILE, &rl);
    }
    closed_loop closed(cc);
    if (!accept_mode) closed.connect_all();
    if (!wait_for_go(go_fd)) {
        (void)shut_listeners();
        return 3;
    }

    server_clock closed_sc{o.server};
    if (o.closed_first) closed_sc.start();
    cb::wl::echo_phase closed_phase = closed.run();
    std::uint64_t mismatches = closed_phase.mismatches, errors = closed_phase.errors;
    bool complete = closed_phase.requests == cc.conns * cc.requests;
    std::vector<cb::wl::echo_phase> phases;
    if (!open_phase || o.closed_first) {
        if (o.closed_first) closed_sc.stop(closed_phase);
        phases.push_back(closed_phase);
    }
    if (open_phase) {
        phases.push_back(open_loop(closed.fds(), closed.done(), closed.epoll_fd(),
                                   open_config{o.rate, o.duration_ms, o.hiccups, cc.size}, o.server));
        const cb::wl::echo_phase& op = phases.back();
        mismatches += op.mismatches;
        errors += op.errors;
        complete = complete && op.requests == op.sent;
        closed.close_all();
    }
    // Every connection made has been served (each had a reply), so none is
    // left in a listener's queue, where shutdown would reset it.
    const bool shut = shut_listeners();

    const std::string text = cb::wl::report_text(phases);
    bool reported = ::write(report_fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
    if (!reported) std::fprintf(stderr, "cobench_echo_client: could not write the report: %s\n", std::strerror(errno));
    if (mismatches > 0)
        std::fprintf(stderr, "cobench_echo_client: %llu replies differed from their request\n",
                     static_cast<unsigned long long>(mismatches));
    return (reported && shut && mismatches == 0 && errors == 0 && complete) ? 0 : 1;
}
