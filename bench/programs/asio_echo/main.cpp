// cobench_asio_echo: the Boost.Asio yardstick, an echo
// server written the way Asio's own C++20 coroutine examples write one
// (asio/example/cpp20/coroutines/echo_server.cpp: one io_context run by one
// thread, a tcp::acceptor, co_spawn with use_awaitable, one coroutine a
// connection), with header-only Asio from Debian's Boost (1.74).
//
// Two departures from the example, both to serve the same protocol as
// cobench's own servers (workloads/echo.hpp, workloads/slow_io.hpp):
// requests are REQUEST bytes, read whole with async_read and answered with
// async_write (the example echoes whatever read_some returns), and with
// UPSTREAM_US > 0 each request waits on a steady_timer for that long before
// its reply (slow_io's simulated upstream).
//
//   cobench_asio_echo REQUEST UPSTREAM_US
//
// Started by cobench (workloads/io/server_program.hpp) with posix_spawn, with
//   fd 3  the listening socket (127.0.0.1, made by cobench, already listening)
//   fd 4  the control pipe (read end): each byte 's' asks for a snapshot; EOF
//         (cobench closed it, or died) stops the server
//   fd 5  the report pipe (write end): one line per snapshot and one at exit,
//         "REQUESTS CONNS CPU_NS", CPU_NS this process's CPU time
//         (CLOCK_PROCESS_CPUTIME_ID: user + system, every thread)
// SIGINT and SIGTERM stop it too (signal_set, as the example). Exit 0 after
// the final report line; 2 on bad arguments.
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>  // before Asio: 1.74's awaitable.hpp uses std::exchange without including it (GCC 12)

#include <time.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

using boost::asio::awaitable;
using boost::asio::co_spawn;
using boost::asio::detached;
using boost::asio::use_awaitable;
using boost::asio::ip::tcp;
namespace this_coro = boost::asio::this_coro;

namespace {

constexpr int listen_fd = 3, control_fd = 4, report_fd = 5;
constexpr std::size_t max_request = 1024;  // the example's buffer: in every connection's frame

std::size_t g_request = 64;
std::chrono::microseconds g_upstream{0};
unsigned long long g_requests = 0, g_conns = 0;

unsigned long long cpu_ns() {
    timespec ts{};
    ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<unsigned long long>(ts.tv_sec) * 1000000000ull + static_cast<unsigned long long>(ts.tv_nsec);
}

// One line on the report pipe (short: one write, atomic under PIPE_BUF).
void report() {
    char line[96];
    const int n = std::snprintf(line, sizeof line, "%llu %llu %llu\n", g_requests, g_conns, cpu_ns());
    for (int put = 0; put < n;) {
        const ssize_t w = ::write(report_fd, line + put, static_cast<std::size_t>(n - put));
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return;  // nobody reads any more: nothing to tell
        put += static_cast<int>(w);
    }
}

awaitable<void> echo(tcp::socket socket) {
    try {
        char data[max_request];
        boost::asio::steady_timer upstream(socket.get_executor());
        for (;;) {
            co_await boost::asio::async_read(socket, boost::asio::buffer(data, g_request), use_awaitable);
            if (g_upstream.count() > 0) {
                upstream.expires_after(g_upstream);
                co_await upstream.async_wait(use_awaitable);
            }
            co_await boost::asio::async_write(socket, boost::asio::buffer(data, g_request), use_awaitable);
            ++g_requests;
        }
    } catch (const std::exception&) {
        // EOF or a reset: the client is done with this connection.
    }
}

awaitable<void> listener(tcp::acceptor& acceptor) {
    auto executor = co_await this_coro::executor;
    for (;;) {
        tcp::socket socket = co_await acceptor.async_accept(use_awaitable);
        socket.set_option(tcp::no_delay(true));
        ++g_conns;
        co_spawn(executor, echo(std::move(socket)), detached);
    }
}

// Snapshots on request; EOF ends the server.
awaitable<void> control(boost::asio::posix::stream_descriptor& pipe, boost::asio::io_context& io) {
    char buf[64];
    try {
        for (;;) {
            const std::size_t n = co_await pipe.async_read_some(boost::asio::buffer(buf), use_awaitable);
            for (std::size_t i = 0; i < n; ++i)
                if (buf[i] == 's') report();
        }
    } catch (const std::exception&) {
    }
    io.stop();
}

bool parse(const char* s, unsigned long long lo, unsigned long long hi, unsigned long long& out) {
    if (!*s) return false;
    for (const char* p = s; *p; ++p)
        if (*p < '0' || *p > '9') return false;
    errno = 0;
    out = std::strtoull(s, nullptr, 10);
    return errno == 0 && out >= lo && out <= hi;
}

}  // namespace

int main(int argc, char** argv) {
    unsigned long long req = 0, up = 0;
    if (argc != 3 || !parse(argv[1], 1, max_request, req) || !parse(argv[2], 0, 100000000, up)) {
        std::fprintf(stderr, "usage: cobench_asio_echo REQUEST_BYTES UPSTREAM_US (fds 3 listener, 4 control, 5 report)\n");
        return 2;
    }
    g_request = static_cast<std::size_t>(req);
    g_upstream = std::chrono::microseconds(up);
    try {
        boost::asio::io_context io_context(1);
        boost::asio::signal_set signals(io_context, SIGINT, SIGTERM);
        signals.async_wait([&](auto, auto) { io_context.stop(); });
        tcp::acceptor acceptor(io_context);
        acceptor.assign(tcp::v4(), listen_fd);
        boost::asio::posix::stream_descriptor pipe(io_context, control_fd);
        co_spawn(io_context, listener(acceptor), detached);
        co_spawn(io_context, control(pipe, io_context), detached);
        io_context.run();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "cobench_asio_echo: %s\n", e.what());
        report();
        return 1;
    }
    report();
    return 0;
}
