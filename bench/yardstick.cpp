#include "yardstick.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>

#include <boost/version.hpp>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench/families.hpp"
#include "bench/supervise.hpp"
#include "runtimes/core/fd.hpp"
#include "workloads/echo.hpp"
#include "workloads/io/echo_client.hpp"
#include "workloads/io/loopback.hpp"
#include "workloads/slow_io.hpp"

extern char** environ;

namespace cb {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;

// What the yardstick is, for the workloads' sizes: one thread, stackless
// coroutines, a frame a connection; sized as a light runtime (the brief:
// echo's connection counts for a light runtime).
constexpr runtime_traits asio_traits{"asio", "Boost.Asio (one thread, C++20 coroutines)", task_kind::coroutine, false,
                                     true, stack_model::stackless, cost_class::light};

std::string boost_version() {
    return std::to_string(BOOST_VERSION / 100000) + "." + std::to_string(BOOST_VERSION / 100 % 1000);
}
std::string label() { return "Boost.Asio " + boost_version() + " (one thread, C++20 coroutines; yardstick)"; }

// $COBENCH_ASIO_ECHO_BIN, else cobench_asio_echo beside this executable.
std::string find_asio(std::string* why) {
    std::string p;
    if (const char* env = std::getenv("COBENCH_ASIO_ECHO_BIN"); env && *env) {
        p = env;
    } else {
        p = self_exe();
        p = p.substr(0, p.find_last_of('/') + 1) + "cobench_asio_echo";
    }
    if (::access(p.c_str(), X_OK) != 0) {
        *why = "the Asio echo server '" + p + "' is not an executable file (build target cobench_asio_echo, or set "
               "COBENCH_ASIO_ECHO_BIN)";
        return {};
    }
    return p;
}

struct snapshot {
    std::uint64_t requests = 0, conns = 0, cpu_ns = 0;
};

// The server process: spawned on construction; stopped (its control pipe
// closed), then killed if it lingers, and reaped on destruction.
class asio_server {
public:
    asio_server(const std::string& exe, int listener, std::uint64_t upstream_us) {
        fd_pair ctl = make_pipe(), rep = make_pipe();
        // Sources above every target first (no dup2 overwrites another's
        // source); dup2 clears CLOEXEC on the targets.
        auto above = [](int fd) {
            unique_fd moved{::fcntl(fd, F_DUPFD_CLOEXEC, 10)};
            if (!moved) throw_errno("fcntl(F_DUPFD_CLOEXEC)");
            return moved;
        };
        unique_fd l = above(listener), c = above(ctl.read_end.get()), r = above(rep.write_end.get());
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_adddup2(&fa, l.get(), 3);
        posix_spawn_file_actions_adddup2(&fa, c.get(), 4);
        posix_spawn_file_actions_adddup2(&fa, r.get(), 5);
#if defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 34)
        posix_spawn_file_actions_addclosefrom_np(&fa, 6);
#endif
        posix_spawnattr_t at;
        posix_spawnattr_init(&at);
        sigset_t none, defaults;
        sigemptyset(&none);
        sigemptyset(&defaults);
        for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGPIPE}) sigaddset(&defaults, sig);
        posix_spawnattr_setsigmask(&at, &none);
        posix_spawnattr_setsigdefault(&at, &defaults);
        posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
        std::vector<std::string> a{exe, std::to_string(wl::echo::request_size), std::to_string(upstream_us)};
        std::vector<char*> argv;
        for (auto& x : a) argv.push_back(x.data());
        argv.push_back(nullptr);
        const int err = ::posix_spawn(&pid_, exe.c_str(), &fa, &at, argv.data(), environ);
        posix_spawn_file_actions_destroy(&fa);
        posix_spawnattr_destroy(&at);
        if (err != 0) {
            pid_ = -1;
            throw_errno("posix_spawn " + exe, err);
        }
        control_ = std::move(ctl.write_end);
        report_ = std::move(rep.read_end);
    }
    ~asio_server() {
        control_.reset();  // EOF: the server stops
        if (pid_ <= 0) return;
        for (auto until = std::chrono::steady_clock::now() + 2s; std::chrono::steady_clock::now() < until;) {
            if (::waitpid(pid_, nullptr, WNOHANG) == pid_) return;
            std::this_thread::sleep_for(1ms);
        }
        ::kill(pid_, SIGKILL);
        while (::waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
        }
    }
    asio_server(const asio_server&) = delete;
    asio_server& operator=(const asio_server&) = delete;

    pid_t pid() const noexcept { return pid_; }

    // The server's counts now; nullopt if it does not answer within `timeout`.
    [[nodiscard]] std::optional<snapshot> ask(std::chrono::milliseconds timeout = 10s) {
        const char s = 's';
        if (::write(control_.get(), &s, 1) != 1) return std::nullopt;
        return next_line(timeout);
    }
    // Stops the server (EOF on its control pipe) and returns its final counts.
    [[nodiscard]] std::optional<snapshot> stop(std::chrono::milliseconds timeout = 10s) {
        control_.reset();
        auto s = next_line(timeout);
        int st = 0;
        pid_t r;
        while ((r = ::waitpid(pid_, &st, 0)) < 0 && errno == EINTR) {
        }
        pid_ = -1;
        if (r < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) return std::nullopt;
        return s;
    }

private:
    std::optional<snapshot> next_line(std::chrono::milliseconds timeout) {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        for (;;) {
            if (const auto nl = buf_.find('\n'); nl != std::string::npos) {
                snapshot s;
                unsigned long long a = 0, b = 0, c = 0;
                const bool ok = std::sscanf(buf_.c_str(), "%llu %llu %llu", &a, &b, &c) == 3;
                buf_.erase(0, nl + 1);
                if (!ok) return std::nullopt;
                s.requests = a, s.conns = b, s.cpu_ns = c;
                return s;
            }
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
            if (left.count() <= 0) return std::nullopt;
            pollfd pf{report_.get(), POLLIN, 0};
            const int pr = ::poll(&pf, 1, static_cast<int>(left.count()));
            if (pr < 0 && errno == EINTR) {
                throw_if_interrupted();
                continue;
            }
            if (pr <= 0) return std::nullopt;
            char b[256];
            const ssize_t n = ::read(report_.get(), b, sizeof b);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) return std::nullopt;
            buf_.append(b, static_cast<std::size_t>(n));
        }
    }

    pid_t pid_ = -1;
    unique_fd control_, report_;
    std::string buf_;
};

// Waits until the server has accepted `conns` connections (the client
// connects them all before it waits for the go byte); the counts then.
std::optional<snapshot> all_accepted(asio_server& srv, wl::echo_client& client, std::uint64_t conns) {
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    for (;;) {
        throw_if_interrupted();
        const auto s = srv.ask();
        if (!s) return std::nullopt;
        if (s->conns >= conns) return s;
        if (client.exited() || std::chrono::steady_clock::now() > deadline) return std::nullopt;
        std::this_thread::sleep_for(2ms);
    }
}

struct listening {
    unique_fd fd;
    std::uint16_t port = 0;
};
listening listen_for(std::size_t conns) {
    listening l;
    l.fd = wl::listen_loopback(static_cast<int>(conns + 16), l.port);
    int one = 1;  // accepted sockets inherit it (the server sets it again, as Asio's users do)
    if (::setsockopt(l.fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0) throw_errno("TCP_NODELAY");
    return l;
}

void send_go(wl::echo_client& client) {
    const char go = 'g';
    if (::write(client.go_fd(), &go, 1) != 1) throw_errno("go byte");
}

// One run of echo/asio/...: the counters echo reports, or an error.
counters run_echo(const std::string& exe, const wl::echo::params& p, double& wall_ms, double& ops) {
    if (!wl::ensure_nofile(p.conns + wl::echo::spare_fds)) throw std::runtime_error("RLIMIT_NOFILE too low");
    listening l = listen_for(p.conns);
    asio_server srv(exe, l.fd.get(), 0);
    l.fd.reset();  // the server holds its own copy
    wl::echo_client_options co = wl::echo::client_options(p);
    co.server_pid = srv.pid();
    wl::echo_client client(l.port, p.conns, p.requests, wl::echo::request_size, wl::echo_client::find(), co);
    if (!all_accepted(srv, client, p.conns)) throw std::runtime_error("the Asio server did not accept every connection");
    const auto t0 = std::chrono::steady_clock::now();
    send_go(client);
    const wl::echo_report& r = client.finish(std::chrono::seconds(120));
    wall_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    throw_if_interrupted();
    const auto fin = srv.stop();
    if (!r.problem.empty()) throw std::runtime_error(r.problem);
    if (!fin) throw std::runtime_error("the Asio server did not report at exit, or failed");
    // As echo's verify().
    const wl::echo_phase* open = p.sweep ? &r : r.open ? &*r.open : nullptr;
    if (!open) throw std::runtime_error("echo client: no open-loop report");
    if (r.mismatches + (open == &r ? 0 : open->mismatches) != 0)
        throw std::runtime_error("replies differed from their request");
    if (!p.sweep && (r.requests != p.conns * p.requests || r.errors != 0))
        throw std::runtime_error("client completed " + std::to_string(r.requests) + " of " +
                                 std::to_string(p.conns * p.requests) + " requests");
    if (open->sent != p.open_requests() || open->requests != open->sent || open->errors != 0)
        throw std::runtime_error("open loop: sent " + std::to_string(open->sent) + " of " +
                                 std::to_string(p.open_requests()) + ", " + std::to_string(open->requests) + " replies");
    if (!open->server_cpu_ok || (!p.sweep && !r.server_cpu_ok))
        throw std::runtime_error("echo client could not read the Asio server's CPU clock");
    const std::uint64_t want = p.conns * p.requests + p.open_requests();
    if (fin->requests != want)
        throw std::runtime_error("the Asio server served " + std::to_string(fin->requests) + " requests, expected " +
                                 std::to_string(want));
    // As echo's collect(), one run.
    measurement m;
    m.iterations = 1;
    auto& x = m.sums;
    if (!p.sweep) {
        x["requests"] = static_cast<double>(r.requests);
        x["client_s"] = static_cast<double>(r.elapsed_ns) / 1e9;
        x["p50_us"] = static_cast<double>(r.p50_ns) / 1e3;
        x["p90_us"] = static_cast<double>(r.p90_ns) / 1e3;
        x["p99_us"] = static_cast<double>(r.p99_ns) / 1e3;
        x["p999_us"] = static_cast<double>(r.p999_ns) / 1e3;
        x["client_cpu_s"] = static_cast<double>(r.cpu_ns) / 1e9;
        x["server_cpu_ns"] = static_cast<double>(r.server_cpu_ns);
    }
    const wl::echo_phase& o = *open;
    x["open_requests"] = static_cast<double>(o.requests);
    x["open_s"] = static_cast<double>(o.elapsed_ns) / 1e9;
    x["open_p50_us"] = static_cast<double>(o.p50_ns) / 1e3;
    x["open_p90_us"] = static_cast<double>(o.p90_ns) / 1e3;
    x["open_p99_us"] = static_cast<double>(o.p99_ns) / 1e3;
    x["open_p999_us"] = static_cast<double>(o.p999_ns) / 1e3;
    x["open_max_us"] = static_cast<double>(o.max_ns) / 1e3;
    x["open_server_cpu_ns"] = static_cast<double>(o.server_cpu_ns);
    x["gen_cpu_ns"] = static_cast<double>(o.cpu_ns);
    x["gen_sent"] = static_cast<double>(o.sent);
    x["gen_late"] = static_cast<double>(o.late);
    x["gen_invalid_runs"] = o.gen_valid ? 0 : 1;
    x["hiccup_max_us"] = static_cast<double>(o.hiccup_max_ns) / 1e3;
    x["hiccup_p999_us"] = static_cast<double>(o.hiccup_p999_ns) / 1e3;
    x["steal_ns"] = static_cast<double>(o.steal_ns);
    x["cpu_ns_available"] = static_cast<double>(o.elapsed_ns) * static_cast<double>(wl::cpu_count());
    x["gen_pinned"] = wl::echo::generator_cpu() >= 0 ? 1 : 0;
    x["open_rate"] = static_cast<double>(p.rate);
    ops = static_cast<double>(want);
    return wl::echo::report(p, m);
}

// One run of slow_io/asio/...: the closed loop, the server's CPU from its
// own clock between every connection accepted and the last reply.
counters run_slow(const std::string& exe, const wl::slow_io::params& p, double& wall_ms, double& ops) {
    if (!wl::ensure_nofile(p.conns + wl::slow_io::spare_fds)) throw std::runtime_error("RLIMIT_NOFILE too low");
    listening l = listen_for(p.conns);
    asio_server srv(exe, l.fd.get(), p.upstream_us);
    l.fd.reset();
    wl::echo_client client(l.port, p.conns, p.requests, wl::slow_io::request_size);
    const auto before = all_accepted(srv, client, p.conns);
    if (!before) throw std::runtime_error("the Asio server did not accept every connection");
    const auto t0 = std::chrono::steady_clock::now();
    send_go(client);
    const wl::echo_report& r = client.finish(std::chrono::seconds(300));
    wall_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    throw_if_interrupted();
    const auto fin = srv.stop();
    if (!r.problem.empty()) throw std::runtime_error(r.problem);
    if (!fin) throw std::runtime_error("the Asio server did not report at exit, or failed");
    if (r.mismatches != 0) throw std::runtime_error(std::to_string(r.mismatches) + " replies differed from their request");
    const std::uint64_t want = p.conns * p.requests;
    if (r.requests != want || r.errors != 0 || fin->requests != want)
        throw std::runtime_error("client completed " + std::to_string(r.requests) + " of " + std::to_string(want) +
                                 " requests, the server served " + std::to_string(fin->requests));
    measurement m;
    m.iterations = 1;
    m.sums["requests"] = static_cast<double>(r.requests);
    m.sums["client_s"] = static_cast<double>(r.elapsed_ns) / 1e9;
    m.sums["p50_us"] = static_cast<double>(r.p50_ns) / 1e3;
    m.sums["p99_us"] = static_cast<double>(r.p99_ns) / 1e3;
    m.sums["client_cpu_s"] = static_cast<double>(r.cpu_ns) / 1e9;
    m.sums["server_cpu_ns"] = static_cast<double>(fin->cpu_ns - before->cpu_ns);
    ops = static_cast<double>(want);
    return wl::slow_io::report(p, m);
}

struct entry {
    yardstick_name n;
    std::optional<wl::echo::params> echo;
    std::optional<wl::slow_io::params> slow;
    std::string unsupported;
    int max_repetitions = 100;
};

std::vector<entry> entries(profile prof) {
    std::vector<entry> out;
    if (!measures_workloads(prof)) return out;
    for (const auto& p : wl::echo::sizes(prof, asio_traits)) {
        entry e;
        e.n = {std::string(wl::echo::name) + "/asio/" + p.label(), std::string(wl::echo::name), p.label()};
        e.echo = p;
        e.unsupported = wl::echo::unsupported(asio_traits, p);
        e.max_repetitions = wl::echo::max_repetitions(p);
        out.push_back(e);
    }
    for (const auto& p : wl::slow_io::sizes(prof, asio_traits)) {
        entry e;
        e.n = {std::string(wl::slow_io::name) + "/asio/" + p.label(), std::string(wl::slow_io::name), p.label()};
        e.slow = p;
        e.unsupported = wl::slow_io::unsupported(asio_traits, p);
        e.max_repetitions = wl::slow_io::max_repetitions(p);
        out.push_back(e);
    }
    return out;
}

}  // namespace

std::vector<yardstick_name> yardstick_names(profile p) {
    std::vector<yardstick_name> out;
    for (auto& e : entries(p)) out.push_back(e.n);
    return out;
}

void asio_yardstick(const options& o, json& benchmarks, json& declared, json& references) {
    std::vector<entry> todo;
    for (auto& e : entries(o.prof))
        if (o.selected(e.n.name, yardstick_runtime)) todo.push_back(e);
    if (todo.empty()) return;
    references[yardstick_runtime] = {{"label", label()}, {"kind", "yardstick"}, {"version", boost_version()},
                                     {"program", "cobench_asio_echo (bench/programs/asio_echo/)"}};
    std::string why;
    const std::string exe = find_asio(&why);
    std::fprintf(stderr, "cobench: Boost.Asio yardstick: %zu benchmarks%s\n", todo.size(),
                 exe.empty() ? ": the server is missing, declared" : "...");
    const auto t_all = std::chrono::steady_clock::now();
    std::size_t ok = 0, failed = 0;
    for (const auto& e : todo) {
        throw_if_interrupted();
        const std::string reason = exe.empty() ? why : e.unsupported;
        if (!reason.empty()) {
            declared.push_back({{"workload", e.n.workload}, {"runtime", yardstick_runtime}, {"params", e.n.params},
                                {"reason", reason}});
            continue;
        }
        const int reps = std::max(1, std::min(o.repetitions, e.max_repetitions));
        for (int rep = 0; rep < reps; ++rep) {
            double wall_ms = 0, ops = 0;
            counters c;
            std::string error;
            try {
                c = e.echo ? run_echo(exe, *e.echo, wall_ms, ops) : run_slow(exe, *e.slow, wall_ms, ops);
            } catch (const interrupted&) {
                throw;
            } catch (const std::exception& ex) {
                error = ex.what();
            }
            throw_if_interrupted();
            if (!error.empty()) {
                ++failed;
                benchmarks.push_back({{"name", e.n.name}, {"run_name", e.n.name}, {"run_type", "iteration"},
                                      {"reference", true}, {"error_occurred", true},
                                      {"error_message", "Asio yardstick: " + error}});
                break;
            }
            json b{{"name", e.n.name}, {"run_name", e.n.name}, {"run_type", "iteration"},
                   {"repetitions", reps}, {"repetition_index", rep}, {"iterations", 1},
                   {"real_time", wall_ms}, {"cpu_time", wall_ms}, {"time_unit", "ms"},
                   {"reference", true}, {"label", label()}, {"ops", ops}};
            for (auto& [k, v] : c) b[k] = v;
            benchmarks.push_back(b);
            ++ok;
        }
    }
    std::fprintf(stderr, "cobench: Boost.Asio yardstick: %zu runs ok, %zu failed, in %.1f s\n", ok, failed,
                 std::chrono::duration<double>(std::chrono::steady_clock::now() - t_all).count());
}

}  // namespace cb
