// cobench_echo_client: the load generator of the echo workloads.
//
//   cobench_echo_client PORT CONNS REQUESTS SIZE GO_FD REPORT_FD [OPTION...]
//   cobench_echo_client --port P --conns N [--host ADDRESS] [--requests R]
//                       [--size S] [OPTION...]                  (by hand)
//
// A process of its own, outside the runtime under test: it opens CONNS
// connections to 127.0.0.1:PORT (or --host), waits for one byte on GO_FD (the server's
// first task sends it once the runtime under test is running), then drives
// them in a closed loop (closed_loop.hpp: one request of SIZE bytes
// outstanding a connection, REQUESTS round trips each) or, with --rate, an
// open loop (open_loop.hpp: sends on a fixed schedule, latency from the
// intended send time). One thread, epoll, unless --threads; on a 2-core
// machine it still takes one core. It writes one line a phase to REPORT_FD, in the format
// of workloads/io/generator_report.hpp (the fields and what they mean:
// echo_phase there).
//
// By hand (the first argument an option): against any server, ours
// (cobench serve), Asio's or one a user wrote, with no go byte (it starts
// once connected) and the report lines on stdout; --requests (default
// 1000 a connection) or --rate/--duration-ms, --size (default 64); the
// server's CPU only with --server-pid (a local server). These three work in
// either form:
//   --host ADDRESS       the server's name or address, IPv4 or IPv6
//                        (default 127.0.0.1); with PORT, 1 to 65535.
//   --threads T          T threads, as wrk2's -t (1 to CONNS; default 1):
//                        thread i owns connections [i*CONNS/T, (i+1)*CONNS/T)
//                        and, in the open loop, the sends due on them (the
//                        schedule is unchanged); each its own epoll. The
//                        phase is the threads' sum, their histograms merged
//                        exactly; valid only if every thread's share is
//                        (threads_invalid counts those that were not).
//                        Cannot go with --listen-fds, --reconnect,
//                        --mark-every-ms or --slow-ms.
//   --report-out FILE    also write the report as JSON to FILE: each phase's
//                        fields, its histogram's buckets and each thread's
//                        own, so that reports of several generator hosts
//                        merge exactly (bench/merge_generators.py).
// Every option takes its value as --name=value or --name value.
//
// Its parts: main.cpp (this file: the command line, set-up, the go byte,
// the phases in order, the report), threads.* (--threads: the slices, their
// merge), report_json.* (--report-out), closed_loop.*, open_loop.*,
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
//   --pin=CPU[,CPU..]    pin this process (every thread) to these CPUs,
//                        generating thread i to the i-th (modulo their
//                        count); the report's cpu_first/cpu_last/cpus_pinned
//                        say where it ran.
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
#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <netdb.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "closed_loop.hpp"
#include "cpu_sampling.hpp"
#include "generator.hpp"
#include "open_loop.hpp"
#include "report_json.hpp"
#include "threads.hpp"
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

// The command line's options (the listeners go to add_listener as they are
// parsed, so that a usage error already shuts those down).
struct options {
    // The server and the load: the positional arguments, or by hand --host,
    // --port, --conns, --requests, --size.
    std::string host = "127.0.0.1";
    std::uint64_t port = 0, conns = 0, requests = 1000, size = 64;
    int go_fd = -1, report_fd = STDOUT_FILENO;  // by hand: no go byte, the report on stdout
    std::uint64_t reconnect = 0, mark_ms = 0, slow_ms = 0, rate = 0, duration_ms = 0, threads = 1;
    bool hiccups = true, closed_first = false;
    std::vector<unsigned> pin;
    std::string report_out;
    pid_t server = ::getppid();
};

// Options from argv[first] on; exits 2 on a bad one. `by_hand`: the load's
// own options (--port, --conns, ...) are allowed.
void parse_options(int argc, char** argv, int first, bool by_hand, options& o) {
    bool hiccups_given = false, port_given = false, conns_given = false;
    for (int i = first; i < argc; ++i) {
        // "--name=value" or "--name value" -> value, or nullptr if argv[i] is not that option.
        const auto option = [&](const char* name) -> const char* {
            const std::size_t n = std::strlen(name);
            if (std::strncmp(argv[i], name, n) != 0) return nullptr;
            if (argv[i][n] == '=') return argv[i] + n + 1;
            if (argv[i][n] != '\0') return nullptr;
            if (i + 1 >= argc) usage_error(std::string(name) + " needs a value");
            return argv[++i];
        };
        if (const char* v = option("--listen-fds")) {
            for (std::string rest = v; !rest.empty();) {
                const std::size_t comma = rest.find(',');
                add_listener(static_cast<int>(arg(rest.substr(0, comma).c_str(), "listening fd")));
                rest = comma == std::string::npos ? "" : rest.substr(comma + 1);
            }
        } else if (const char* r = option("--reconnect")) {
            o.reconnect = arg(r, "reconnect");
        } else if (const char* m = option("--mark-every-ms")) {
            o.mark_ms = arg(m, "mark period");
        } else if (const char* t = option("--slow-ms")) {
            o.slow_ms = arg(t, "slow threshold");
        } else if (const char* ra = option("--rate")) {
            o.rate = arg(ra, "rate");
            if (o.rate == 0 || o.rate > 1000000000) usage_error(std::string("--rate must be 1 to 1e9 requests/s: ") + ra);
        } else if (const char* d = option("--duration-ms")) {
            o.duration_ms = arg(d, "duration");
            if (o.duration_ms == 0 || o.duration_ms > 3600000)
                usage_error(std::string("--duration-ms must be 1 to 3600000: ") + d);
        } else if (const char* pc = option("--pin")) {
            for (std::string rest = pc; !rest.empty() || o.pin.empty();) {
                const std::size_t comma = rest.find(',');
                const std::uint64_t cpu = arg(rest.substr(0, comma).c_str(), "CPU");
                if (cpu >= CPU_SETSIZE) usage_error("--pin: no such CPU: " + std::to_string(cpu));
                o.pin.push_back(static_cast<unsigned>(cpu));
                rest = comma == std::string::npos ? "" : rest.substr(comma + 1);
            }
        } else if (const char* sp = option("--server-pid")) {
            o.server = static_cast<pid_t>(arg(sp, "server pid"));
            if (o.server <= 0) usage_error("--server-pid must be a process id");
        } else if (const char* th = option("--threads")) {
            o.threads = arg(th, "--threads");
            if (o.threads == 0) usage_error("--threads must be at least 1");
        } else if (const char* h = option("--host")) {
            o.host = h;
            if (o.host.empty()) usage_error("--host needs an address or a name");
        } else if (const char* ro = option("--report-out")) {
            o.report_out = ro;
        } else if (const char* po = by_hand ? option("--port") : nullptr) {
            o.port = arg(po, "port");
            port_given = true;
        } else if (const char* co = by_hand ? option("--conns") : nullptr) {
            o.conns = arg(co, "conns");
            conns_given = true;
        } else if (const char* rq = by_hand ? option("--requests") : nullptr) {
            o.requests = arg(rq, "requests");
        } else if (const char* sz = by_hand ? option("--size") : nullptr) {
            o.size = arg(sz, "size");
        } else if (std::strcmp(argv[i], "--no-hiccups") == 0) {
            o.hiccups = false;
            hiccups_given = true;
        } else if (std::strcmp(argv[i], "--closed-first") == 0) {
            o.closed_first = true;
        } else {
            usage_error(std::string("unknown option ") + argv[i]);
        }
    }
    if (by_hand && !(port_given && conns_given)) usage_error("by hand, --port and --conns are required");
    if (o.port == 0 || o.port > 65535) usage_error("the port must be 1 to 65535: " + std::to_string(o.port));
    if (o.conns == 0 || o.size == 0 || o.size > 65536) usage_error("need 1 <= conns and 1 <= size <= 65536");
    if (o.threads > o.conns)
        usage_error("--threads " + std::to_string(o.threads) + " is more than the " + std::to_string(o.conns) +
                    " connections: every thread needs one");
    if ((o.rate == 0) != (o.duration_ms == 0)) usage_error("--rate and --duration-ms go together");
    if (o.rate == 0 && (o.closed_first || hiccups_given)) usage_error("--closed-first and --no-hiccups need --rate");
    if (o.rate > 0 && (accepting() || o.reconnect || o.mark_ms || o.slow_ms))
        usage_error("the open loop (--rate) cannot be combined with --listen-fds, --reconnect, --mark-every-ms or --slow-ms");
    if (o.threads > 1 && (accepting() || o.reconnect || o.mark_ms || o.slow_ms))
        usage_error("--threads cannot be combined with --listen-fds, --reconnect, --mark-every-ms or --slow-ms");
    if (o.rate > 0 && o.rate * o.duration_ms / 1000 == 0) usage_error("--rate times --duration-ms makes no request");
}

// The server's address, IPv4 or IPv6; exits 2 if the host does not resolve.
void resolve(const options& o, closed_config& cc) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    addrinfo* res = nullptr;
    const std::string port = std::to_string(o.port);
    std::string host = o.host;  // "[::1]", as serve prints it, as well as "::1"
    if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    if (const int e = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &res); e != 0 || !res)
        usage_error("cannot resolve host '" + o.host + "': " + (e != 0 ? ::gai_strerror(e) : "no address"));
    std::memcpy(&cc.addr, res->ai_addr, res->ai_addrlen);
    cc.addr_len = res->ai_addrlen;
    ::freeaddrinfo(res);
}

// The whole process on the CPUs of --pin (the hiccup probe and threads made
// later inherit it; each generating thread then takes its own).
void pin_process(const std::vector<unsigned>& cpus) {
    cpu_set_t set;
    CPU_ZERO(&set);
    for (unsigned c : cpus) CPU_SET(c, &set);
    if (::sched_setaffinity(0, sizeof set, &set) != 0)
        usage_error("--pin: sched_setaffinity: " + std::string(std::strerror(errno)));
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

// One thread, in this one: the phases as they have always run.
std::vector<phase_result> run_here(closed_loop& closed, const options& o, const closed_config& cc) {
    const bool open_phase = o.rate > 0;
    server_clock closed_sc{o.server};
    if (o.closed_first) closed_sc.start();
    std::vector<phase_result> phases;
    cb::wl::echo_phase closed_phase = closed.run();
    if (!open_phase || o.closed_first) {
        if (o.closed_first) closed_sc.stop(closed_phase);
        closed_phase.threads_invalid =
            closed_phase.requests == cc.conns * cc.requests && closed_phase.errors == 0 && closed_phase.mismatches == 0
                ? 0 : 1;
        phases.push_back({closed_phase, closed.histogram(), {closed_phase}, {closed.histogram()}});
    }
    if (open_phase) {
        cb::wl::log_histogram lat;
        const cb::wl::echo_phase op = open_loop(closed.fds(), closed.done(), closed.epoll_fd(),
                                                open_config{o.rate, o.duration_ms, o.hiccups, cc.size}, o.server, lat);
        phases.push_back({op, lat, {op}, {lat}});
    }
    return phases;
}

}  // namespace

int main(int argc, char** argv) {
    options o;
    const bool by_hand = argc >= 2 && std::strncmp(argv[1], "--", 2) == 0;
    if (!by_hand && argc < 7) {
        std::fprintf(stderr, "usage: %s PORT CONNS REQUESTS SIZE GO_FD REPORT_FD [--listen-fds=A,B] [--reconnect=R] "
                     "[--mark-every-ms=P] [--slow-ms=T] [--rate=R --duration-ms=D [--closed-first] [--no-hiccups] "
                     "[--server-pid=P]] [--pin=CPU[,CPU..]] [--host=ADDRESS] [--threads=T] [--report-out=FILE]\n"
                     "   or: %s --port P --conns N [--host ADDRESS] [--requests R] [--size S] [OPTION...]\n",
                     argv[0], argv[0]);
        return 2;
    }
    if (by_hand) {
        o.server = 0;  // a server anywhere: its CPU only with --server-pid
        parse_options(argc, argv, 1, true, o);
    } else {
        o.port = arg(argv[1], "port");
        o.conns = arg(argv[2], "conns");
        o.requests = arg(argv[3], "requests");
        o.size = arg(argv[4], "size");
        o.go_fd = static_cast<int>(arg(argv[5], "go fd"));
        o.report_fd = static_cast<int>(arg(argv[6], "report fd"));
        parse_options(argc, argv, 7, false, o);
    }
    if (!o.pin.empty()) pin_process(o.pin);
    // Connect after the go byte: the server accepts inside its run.
    const bool accept_mode = accepting();
    if (accept_mode) shut_listeners_on_fatal_signals();
    const bool open_phase = o.rate > 0;
    closed_config cc;
    resolve(o, cc);
    cc.conns = o.conns;
    cc.requests = open_phase && !o.closed_first ? 0 : o.requests;
    cc.size = o.size;
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
    // A loop a thread, each over its slice of the connections.
    const std::size_t nthreads = static_cast<std::size_t>(o.threads);
    std::vector<std::unique_ptr<closed_loop>> loops;
    for (std::size_t t = 0; t < nthreads; ++t) {
        closed_config slice = cc;
        slice.first = slice_first(t, cc.conns, nthreads);
        slice.conns = slice_first(t + 1, cc.conns, nthreads) - slice.first;
        loops.push_back(std::make_unique<closed_loop>(slice));
    }
    if (!accept_mode)
        for (auto& l : loops) l->connect_all();
    if (o.go_fd >= 0 && !wait_for_go(o.go_fd)) {
        (void)shut_listeners();
        return 3;
    }

    std::vector<phase_result> phases;
    if (nthreads == 1) {
        phases = run_here(*loops.front(), o, cc);
    } else {
        thread_plan plan;
        plan.closed_phase_reported = !open_phase || o.closed_first;
        plan.closed_first = o.closed_first;
        plan.open = open_phase;
        plan.oc = open_config{o.rate, o.duration_ms, o.hiccups, cc.size};
        plan.server = o.server;
        plan.pin = o.pin;
        plan.conns = cc.conns;
        plan.requests = cc.requests;
        phases = run_threads(loops, plan);
    }
    for (auto& l : loops) l->close_all();
    // Every connection made has been served (each had a reply), so none is
    // left in a listener's queue, where shutdown would reset it.
    const bool shut = shut_listeners();

    std::vector<cb::wl::echo_phase> lines;
    std::uint64_t mismatches = 0, errors = 0;
    bool complete = true;
    for (phase_result& p : phases) {
        // Where it ran, on every line and part.
        const auto where = [&o](cb::wl::echo_phase& x) {
            if (o.pin.empty()) return;
            x.cpu_first = *std::min_element(o.pin.begin(), o.pin.end());
            x.cpu_last = *std::max_element(o.pin.begin(), o.pin.end());
            x.cpus_pinned = o.pin.size();
        };
        where(p.merged);
        for (cb::wl::echo_phase& x : p.parts) where(x);
        mismatches += p.merged.mismatches;
        errors += p.merged.errors;
        lines.push_back(p.merged);
    }
    // The closed phase made every round trip; the open one had a reply for every send.
    if (!open_phase || o.closed_first) complete = lines.front().requests == cc.conns * cc.requests;
    if (open_phase) complete = complete && lines.back().requests == lines.back().sent;

    const std::string text = cb::wl::report_text(lines);
    bool reported = ::write(o.report_fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
    if (!reported) std::fprintf(stderr, "cobench_echo_client: could not write the report: %s\n", std::strerror(errno));
    if (!o.report_out.empty())
        reported = write_report_json(o.report_out, report_origin{o.host, static_cast<unsigned>(o.port)}, phases) &&
                   reported;
    if (mismatches > 0)
        std::fprintf(stderr, "cobench_echo_client: %llu replies differed from their request\n",
                     static_cast<unsigned long long>(mismatches));
    return (reported && shut && mismatches == 0 && errors == 0 && complete) ? 0 : 1;
}
