#include "bench/programs/serve/serve.hpp"

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <exception>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string_view>
#include <vector>

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bench/cli.hpp"
#include "bench/supervise.hpp"
#include "runtimes/core/fd.hpp"
#include "runtimes/core/worker_group.hpp"
#include "runtimes/registry.hpp"
#include "workloads/common.hpp"
#include "workloads/io/echo_server.hpp"
#include "workloads/io/loopback.hpp"

namespace cb {
namespace {

constexpr std::size_t buffer_size = 16 * 1024;  // one read, one request
constexpr std::size_t max_tasks = 100000;

// Shared by every process and thread of the server (MAP_SHARED, created
// before the runtime forks anything), read by the signal handlers.
struct control {
    std::atomic<int> stopping{0};   // the first signal, or SIGTERM for a failed task
    std::atomic<int> listener{-1};
    std::atomic<int> failed{0};
    struct slot {
        std::atomic<pid_t> pid{0};  // the process running task i while it runs
        std::atomic<int> fd{-1};    // its open connection, -1 between connections
    };
    std::size_t n = 0;
    slot* slots() { return reinterpret_cast<slot*>(this + 1); }
};
static_assert(std::atomic<int>::is_always_lock_free && std::atomic<pid_t>::is_always_lock_free);

// The mapping, owned: unmapped when serve returns.
class shared_control {
public:
    explicit shared_control(std::size_t n) : bytes_(sizeof(control) + n * sizeof(control::slot)) {
        void* p = ::mmap(nullptr, bytes_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) throw_errno("serve: mmap");
        c_ = new (p) control;
        c_->n = n;
        for (std::size_t i = 0; i < n; ++i) new (c_->slots() + i) control::slot;
    }
    ~shared_control() { ::munmap(c_, bytes_); }
    shared_control(const shared_control&) = delete;
    shared_control& operator=(const shared_control&) = delete;
    control* get() const noexcept { return c_; }

private:
    std::size_t bytes_;
    control* c_ = nullptr;
};

control* g_control = nullptr;  // set while serving
pid_t g_server_pid = 0;        // the process that runs the runtime (the parent of any task process)

// Shuts down what this process can reach: the listener (the socket all
// copies share, so acceptors everywhere end), this process's connections;
// the server process also passes the signal on to task processes.
// Async-signal-safe: atomics, shutdown, kill, getpid.
void stop_everything(int sig) {
    control* c = g_control;
    if (!c) return;
    int none = 0;
    c->stopping.compare_exchange_strong(none, sig);
    if (const int l = c->listener.load(); l >= 0) ::shutdown(l, SHUT_RD);
    const pid_t self = ::getpid();
    pid_t last = 0;
    for (std::size_t i = 0; i < c->n; ++i) {
        const pid_t p = c->slots()[i].pid.load();
        if (p == self) {
            if (const int fd = c->slots()[i].fd.load(); fd >= 0) ::shutdown(fd, SHUT_RDWR);
        } else if (p > 0 && self == g_server_pid && p != last) {
            ::kill(p, SIGTERM);  // its handler shuts its own connections down
            last = p;
        }
    }
}

volatile std::sig_atomic_t g_signals_here = 0;  // signals this process's handler has seen

void on_signal(int sig) {
    const int saved = errno;
    control* c = g_control;
    // Counted per process: a terminal's Ctrl-C reaches task processes too,
    // and their handler may set `stopping` before ours runs.
    const bool again = g_signals_here != 0;
    g_signals_here = 1;
    if (c && again && ::getpid() == g_server_pid) {
        // A second signal: no more waiting for tasks to end.
        for (std::size_t i = 0; i < c->n; ++i)
            if (const pid_t p = c->slots()[i].pid.load(); p > 0 && p != g_server_pid) ::kill(p, SIGKILL);
        ::_exit(128 + sig);
    }
    stop_everything(sig);
    errno = saved;
}

// A task process (processes) or worker (process_loops) dies with the server,
// also when the server is killed with SIGKILL and cannot pass anything on:
// it would otherwise keep serving, and hold the port. Armed once per process,
// by its first task, before that task accepts anything: one prctl and one
// getppid a process, inside server_cpu_s but outside every request.
// Processes and workers are single-threaded, so a plain flag does.
pid_t g_armed_in = 0;

void die_with_server() {
    const pid_t self = ::getpid();
    if (self == g_server_pid || self == g_armed_in) return;
    g_armed_in = self;
    // The server is gone already: nobody would collect this process's result.
    if (!die_with_parent(g_server_pid, SIGKILL)) ::_exit(exit_failure);
}

// From a task that failed: the others stop as on a signal.
void stop_from_task() {
    control* c = g_control;
    if (!c) return;
    c->failed.store(1);
    if (::getpid() == g_server_pid) stop_everything(SIGTERM);
    else ::kill(g_server_pid, SIGTERM);
}

// The listening address: numeric IPv4 or IPv6 (--address); nullopt if neither.
struct listen_address {
    sockaddr_storage addr{};
    socklen_t len = 0;
};
std::optional<listen_address> parse_address(const std::string& text, unsigned port) {
    std::string host = text;  // "[::1]" as well as "::1"
    if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    // Strictly dotted-quad or IPv6 (getaddrinfo alone takes inet_aton's "1.2.3" too).
    unsigned char raw[sizeof(in6_addr)];
    if (::inet_pton(AF_INET, host.c_str(), raw) != 1 && ::inet_pton(AF_INET6, host.c_str(), raw) != 1) return std::nullopt;
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;  // an address, never a name lookup
    addrinfo* res = nullptr;
    if (::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res) != 0 || !res) return std::nullopt;
    listen_address a;
    std::memcpy(&a.addr, res->ai_addr, res->ai_addrlen);
    a.len = res->ai_addrlen;
    ::freeaddrinfo(res);
    return a;
}

// "127.0.0.1:PORT", "[::1]:PORT".
std::string host_port(const std::string& address, unsigned port) {
    const bool v6 = address.find(':') != std::string::npos && address.front() != '[';
    return (v6 ? "[" + address + "]" : address) + ":" + std::to_string(port);
}

unique_fd listen_on(const std::string& address, unsigned port, int backlog, std::uint16_t& bound) {
    std::optional<listen_address> a = parse_address(address, port);
    if (!a) throw bad_input("serve: --address: not an IPv4 or IPv6 address: '" + address + "'");
    unique_fd s{::socket(a->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0)};
    if (!s) throw_errno("serve: socket");
    int one = 1;
    // A restarted server may take its port back while old connections linger in TIME_WAIT.
    if (::setsockopt(s.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0) throw_errno("serve: SO_REUSEADDR");
    // Accepted sockets inherit it from the listener on Linux.
    if (::setsockopt(s.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0) throw_errno("serve: TCP_NODELAY");
    if (::bind(s.get(), reinterpret_cast<sockaddr*>(&a->addr), a->len) != 0)
        throw_errno("serve: bind " + host_port(address, port));
    if (::listen(s.get(), backlog) != 0) throw_errno("serve: listen");
    socklen_t len = a->len;
    if (::getsockname(s.get(), reinterpret_cast<sockaddr*>(&a->addr), &len) != 0) throw_errno("serve: getsockname");
    bound = ntohs(a->addr.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&a->addr)->sin6_port
                                                : reinterpret_cast<sockaddr_in*>(&a->addr)->sin_port);
    return s;
}

// How connections reach the tasks. The loops built on the shared epoll
// reactor (fibers, the pool) take one waiter per descriptor, so several
// tasks of one process must not wait in accept on one listener: in a
// runtime whose tasks share memory, task 0 alone accepts and hands each
// connection (its descriptor) to the N handler tasks over a channel of the
// runtime's own. Where tasks do not share memory (processes, process_loops'
// workers), every task accepts: a blocking accept4 in its own process, or
// the coroutine loop, which takes several acceptors on one listener (as
// echo_accept's workers do).
constexpr std::uint64_t no_more = ~std::uint64_t{0};  // on the channel: the acceptor has stopped

template <class C>
struct serve_state {
    control* ctl;
    int listener;
    std::chrono::microseconds upstream;
    bool hand_off;        // task 0 accepts, tasks 1.. handle
    std::size_t tasks;
    typename C::template channel<std::uint64_t> conns;
};

template <class C>
task<std::uint64_t> serve_task(C& ctx, serve_state<C>& s, std::size_t i) {
    die_with_server();
    control::slot& slot = s.ctl->slots()[i];
    slot.pid.store(::getpid());
    std::uint64_t conns = 0, requests = 0;
    if (s.hand_off && i == 0) {
        // The acceptor. However it ends, every handler is told (no co_await
        // inside a handler block, so the error waits until they are).
        std::exception_ptr failed;
        try {
            for (;;) {
                const int a = wl::accepted(co_await ctx.accept(s.listener), "serve");
                if (a == wl::accept_stopped) break;
                if (a == wl::accept_again) continue;
                ++conns;
                co_await ctx.send(s.conns, static_cast<std::uint64_t>(a));
            }
        } catch (...) {
            failed = std::current_exception();
            stop_from_task();
        }
        // Handlers still running take what is queued (a connection queued
        // while stopping is shut down at once), so these sends end.
        for (std::size_t k = 1; k < s.tasks; ++k) co_await ctx.send(s.conns, no_more);
        slot.pid.store(0);
        if (failed) std::rethrow_exception(failed);
        co_return wl::served_count{conns, 0}.packed();
    }
    try {
        // On the heap: fiber stacks may be a few KiB.
        const auto buf = std::make_unique<char[]>(buffer_size);
        // Each read a request (whatever the client's protocol), echoed after
        // the upstream wait; a connection error ends the connection.
        wl::echo_service svc;
        svc.upstream = s.upstream;
        svc.buffer = buf.get();
        for (;;) {
            int fd = -1;
            if (s.hand_off) {
                const std::uint64_t v = co_await ctx.recv(s.conns);
                if (v == no_more) break;
                fd = static_cast<int>(v);
            } else {
                fd = wl::accepted(co_await ctx.accept(s.listener), "serve");
                if (fd == wl::accept_stopped) break;
                if (fd == wl::accept_again) continue;
                ++conns;
            }
            unique_fd conn{fd};
            C::configure_fd(conn.get());
            slot.fd.store(conn.get());
            // A signal before the store above has not seen this connection:
            // it is shut down here instead.
            if (s.ctl->stopping.load() != 0) ::shutdown(conn.get(), SHUT_RDWR);
            requests += co_await wl::serve_echo(ctx, conn.get(), buffer_size, "serve", svc);
            slot.fd.store(-1);
        }
    } catch (...) {
        slot.fd.store(-1);
        slot.pid.store(0);
        stop_from_task();
        throw;
    }
    slot.pid.store(0);
    co_return wl::served_count{conns, requests}.packed();
}

struct outcome {
    std::uint64_t requests = 0, conns = 0;
};

// Tasks a run needs for `handlers` connections at once.
std::size_t tasks_for(const runtime_traits& t, std::size_t handlers) { return handlers + (t.shared_memory ? 1 : 0); }

template <class R>
outcome serve_with(control* ctl, int listener, std::chrono::microseconds upstream, std::size_t tasks,
                   std::size_t workers) {
    using C = typename R::context;
    run_options o;
    o.workers = workers;
    C::configure_fd(listener);
    serve_state<C> s{ctl, listener, upstream, R::traits.shared_memory, tasks,
                     typename C::template channel<std::uint64_t>(tasks)};
    auto body = [&s](C& ctx, std::size_t i) { return serve_task(ctx, s, i); };
    const std::vector<std::uint64_t> res = R::run(tasks, body, o);
    outcome out;
    for (std::uint64_t v : res) {
        const wl::served_count c = wl::served_count::unpack(v);
        out.conns += c.conns;
        out.requests += c.requests;
    }
    return out;
}

std::string runtime_list() {
    std::string s;
    for_each_runtime([&](auto r) {
        if (!s.empty()) s += ", ";
        s += decltype(r)::traits.name;
    });
    return s;
}

}  // namespace

std::string serve_usage_text() {
    return R"(usage: cobench serve --runtime NAME [--address A] [--port P] [--workers K] [--upstream-us L] [--tasks N]

Runs NAME's echo server on A (default 127.0.0.1) until SIGINT or SIGTERM, for
your own load tools. The first line on stdout is "listening A:PORT" (an IPv6
address in brackets). Each of
N handler tasks takes a connection accepted through the runtime (ctx.accept),
echoes whatever arrives (each read of up to 16 KiB is one request, written
back whole, after the upstream wait if any) until the client closes, then
takes the next.

  --runtime NAME     one of: )" + runtime_list() + R"(
  --address A        the numeric IPv4 or IPv6 address to listen on
                     (default 127.0.0.1; 0.0.0.0 or :: for every interface)
  --port P           0 to 65535 (default 0: the kernel picks one)
  --workers K        workers of runtimes with several (1 to 4096; default:
                     the CPUs this process may use)
  --upstream-us L    wait L microseconds (ctx.sleep_for) before each reply: a
                     simulated upstream, as slow_io (0 to 10000000; default 0)
  --tasks N          connections served at once, a handler task each; more
                     wait in the listen queue (1 to 100000; default by the
                     runtime's task cost: 32 processes, 256 threads, 1024
                     otherwise). Where tasks share memory, one more task
                     accepts and hands connections to the handlers over a
                     channel; elsewhere every handler accepts for itself

On SIGINT or SIGTERM the listener and every open connection are shut down,
every task ends, every thread is joined and every child reaped; it then
prints requests, connections, server_cpu_s (user + system of this process
and its reaped children, from the start of the tasks to their end) and
server_cpu_ns_per_req, one "key: value" a line. A second signal exits at once.

Exit status: 0 stopped by a signal, all tasks ended cleanly; 1 a task failed
(the others are stopped the same way); 2 bad input or a runtime that cannot
serve.
)";
}

serve_options parse_serve_args(int argc, char** argv) {
    serve_options o;
    bool have_runtime = false;
    for (int i = 2; i < argc; ++i) {
        std::string a = argv[i], v;
        const auto eq = a.find('=');
        const bool inline_value = a.rfind("--", 0) == 0 && eq != std::string::npos;
        if (inline_value) {
            v = a.substr(eq + 1);
            a = a.substr(0, eq);
        }
        auto value = [&]() -> std::string {
            if (inline_value) return v;
            if (i + 1 >= argc) throw bad_input("serve: " + a + " needs a value (see cobench serve --help)");
            return argv[++i];
        };
        if (a == "--help" || a == "-h") {
            if (inline_value) throw bad_input("serve: " + a + " takes no value");
            std::fputs(serve_usage_text().c_str(), stdout);
            std::exit(exit_ok);
        } else if (a == "--runtime") {
            o.runtime = value();
            have_runtime = true;
        } else if (a == "--address") {
            o.address = value();
            if (!parse_address(o.address, 0)) throw bad_input("serve: --address: not an IPv4 or IPv6 address: '" + o.address + "'");
        } else if (a == "--port") {
            o.port = static_cast<unsigned>(parse_integer("serve: --port", value(), 0, 65535));
        } else if (a == "--workers") {
            o.workers = static_cast<std::size_t>(parse_integer("serve: --workers", value(), 1, 4096));
        } else if (a == "--upstream-us") {
            o.upstream_us = static_cast<std::uint64_t>(parse_integer("serve: --upstream-us", value(), 0, 10000000));
        } else if (a == "--tasks") {
            o.tasks = static_cast<std::size_t>(parse_integer("serve: --tasks", value(), 1, max_tasks));
        } else {
            throw bad_input("serve: unknown option '" + std::string(argv[i]) + "' (see cobench serve --help)");
        }
    }
    if (!have_runtime) throw bad_input("serve: --runtime NAME is required (one of: " + runtime_list() + ")");
    bool known = false, can_serve = false, sized_workers = false;
    runtime_traits traits{};
    for_each_runtime([&](auto r) {
        using R = decltype(r);
        if (R::traits.name != o.runtime) return;
        known = true;
        traits = R::traits;
        can_serve = R::traits.concurrent;
        sized_workers = R::traits.sized_workers;
    });
    if (!known) throw bad_input("serve: unknown runtime '" + o.runtime + "' (known: " + runtime_list() + ")");
    if (!can_serve)
        throw bad_input("serve: runtime '" + o.runtime + "' cannot serve: " +
                        wl::needs_concurrency(traits, "a task waiting for a connection"));
    if (o.workers && !sized_workers)
        throw bad_input("serve: --workers: runtime '" + o.runtime +
                        "' has no worker count of its own (one process or thread a task, or one loop); "
                        "use --tasks");
    if (o.tasks == 0) o.tasks = wl::by_cost<std::size_t>(traits, 32, 256, 1024, 1024);
    return o;
}

int run_serve(const serve_options& o) {
    std::size_t tasks = 0, workers = 0;
    std::string what;
    for_each_runtime([&](auto r) {
        using R = decltype(r);
        if (R::traits.name != o.runtime) return;
        what = std::string(R::traits.label);
        tasks = tasks_for(R::traits, o.tasks);
        if (!R::traits.sized_workers) return;
        run_options ro;
        ro.workers = o.workers;
        workers = workers_for(tasks, ro);
    });
    // Descriptors: a connection a task, as many waiting in the hand-off
    // channel, the listener, the runtime's own.
    if (!wl::ensure_nofile(2 * tasks + 64))
        throw std::runtime_error("serve: RLIMIT_NOFILE is below the " + std::to_string(2 * tasks + 64) +
                                 " descriptors " + std::to_string(o.tasks) + " tasks need; use fewer --tasks");
    ::signal(SIGPIPE, SIG_IGN);  // a write to a client gone is EPIPE, ending its connection
    shared_control ctl(tasks);
    g_control = ctl.get();
    g_server_pid = ::getpid();
    struct sigaction sa{};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;  // blocking reads and accepts restart; shutdown is what wakes them
    for (int sig : {SIGINT, SIGTERM}) ::sigaction(sig, &sa, nullptr);
    // The handlers go before the listener is published, so a signal at any
    // point reaches it.
    std::uint16_t port = 0;
    unique_fd listener = listen_on(o.address, o.port, static_cast<int>(std::min<std::size_t>(tasks + 64, 4096)), port);
    ctl.get()->listener.store(listener.get());
    if (ctl.get()->stopping.load() != 0) ::shutdown(listener.get(), SHUT_RD);

    std::printf("listening %s\n", host_port(o.address, port).c_str());
    std::printf("runtime: %s (%s), %zu connections at once%s, upstream %llu us\n", o.runtime.c_str(), what.c_str(),
                o.tasks, workers ? (", " + std::to_string(workers) + " workers").c_str() : "",
                static_cast<unsigned long long>(o.upstream_us));
    std::fflush(nullptr);  // before any fork: a task process must not flush our buffer again

    const double cpu0 = wl::server_cpu_ns();
    outcome out;
    std::string error;
    try {
        for_each_runtime([&](auto r) {
            using R = decltype(r);
            if (R::traits.name == o.runtime)
                out = serve_with<R>(ctl.get(), listener.get(), std::chrono::microseconds(o.upstream_us), tasks,
                                    o.workers);
        });
    } catch (const std::exception& e) {
        error = e.what();
    }
    const double cpu = wl::server_cpu_ns() - cpu0;
    ctl.get()->listener.store(-1);
    listener.reset();
    const int sig = ctl.get()->stopping.load();
    if (error.empty() && ctl.get()->failed.load() != 0) error = "a server task failed";
    if (sig && error.empty()) std::printf("stopped: SIG%s\n", sigabbrev_np(sig));
    std::printf("requests: %llu\nconnections: %llu\nserver_cpu_s: %.6f\n", static_cast<unsigned long long>(out.requests),
                static_cast<unsigned long long>(out.conns), cpu / 1e9);
    if (out.requests > 0) std::printf("server_cpu_ns_per_req: %.0f\n", cpu / static_cast<double>(out.requests));
    else std::printf("server_cpu_ns_per_req: none (no requests)\n");
    std::fflush(stdout);
    g_control = nullptr;
    if (!error.empty()) {
        std::fprintf(stderr, "cobench serve: %s\n", error.c_str());
        return exit_failure;
    }
    return exit_ok;
}

}  // namespace cb
