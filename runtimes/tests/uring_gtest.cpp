// The reactor backends of the coroutine loop, at the runtime level: epoll
// (coroutines), poll(2) (coroutines_poll) and io_uring (coroutines_uring).
// Behaviour only: every backend delivers every byte with
// many fds armed; io_uring's EAGAIN fallback works, its submissions are
// batched, its reasons for being unavailable are clear. Each io_uring test
// skips with the reason where io_uring is unavailable. The harness-level
// tests (syscall counter, echo at 1000 connections, idle_conns, declared
// pairs) are in bench/tests/io_backends_gtest.cpp.
#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <optional>

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "runtimes/tests/backend_fixture.hpp"

namespace {

using cb::task;
using cb::testing::env_guard;

template <class R>
using Backend = cb::testing::runtime_test<R>;
TYPED_TEST_SUITE(Backend, cb::testing::loop_backends, cb::testing::runtime_names);

// The io_uring backend alone.
class Uring : public cb::testing::runtime_test<cb::coroutines_uring_runtime> {
protected:
    using R = cb::coroutines_uring_runtime;
    using C = R::context;
};

// 300 readers, each on its own pipe, written in reverse order by one writer
// after every reader has armed its wait: each gets its own bytes. Exercises
// the poll backend's array (removal from the middle) and the ring's queue.
TYPED_TEST(Backend, ManyFdsEachGetTheirOwnBytes) {
    using R = TypeParam;
    using C = typename R::context;
    constexpr std::size_t n = 300;
    std::vector<cb::fd_pair> pipes;
    for (std::size_t k = 0; k < n; ++k) {
        pipes.push_back(cb::make_pipe());
        C::configure_fd(pipes.back().read_end.get());
        C::configure_fd(pipes.back().write_end.get());
    }
    auto res = R::run(n + 1, [&](C& ctx, std::size_t i) -> task<std::uint64_t> {
        if (i == n) {
            co_await ctx.sleep_for(std::chrono::milliseconds(5));
            for (std::size_t k = n; k-- > 0;) {
                const std::uint16_t v = static_cast<std::uint16_t>(k * 7 + 1);
                if (co_await ctx.write(pipes[k].write_end.get(), &v, sizeof v) != sizeof v) co_return 0;
            }
            co_return 1;
        }
        std::uint16_t v = 0;
        std::size_t got = 0;
        while (got < sizeof v) {
            const ssize_t r = co_await ctx.read(pipes[i].read_end.get(), reinterpret_cast<char*>(&v) + got, sizeof v - got);
            if (r <= 0) co_return 0;
            got += static_cast<std::size_t>(r);
        }
        co_return v == i * 7 + 1 ? 1 : 0;
    });
    for (std::size_t k = 0; k <= n; ++k) EXPECT_EQ(res[k], 1u) << "task " << k;
}

// A non-blocking fd (not configured for the ring) answers EAGAIN in the
// ring: the operation waits for readiness and completes with the data.
TEST_F(Uring, NonBlockingFdFallsBackToAPollAndCompletes) {
    cb::fd_pair p = cb::make_pipe(true);
    const std::uint64_t before = cb::loop_syscalls.io;
    auto res = R::run(2, [&](R::context& ctx, std::size_t i) -> task<std::uint64_t> {
        if (i == 1) {
            co_await ctx.sleep_for(std::chrono::milliseconds(5));
            const char msg[] = "late";
            co_return static_cast<std::uint64_t>(co_await ctx.write(p.write_end.get(), msg, 4));
        }
        char buf[8] = {};
        const ssize_t r = co_await ctx.read(p.read_end.get(), buf, sizeof buf);
        co_return r == 4 && std::memcmp(buf, "late", 4) == 0 ? 1 : 0;
    });
    EXPECT_EQ(res[0], 1u);
    EXPECT_EQ(res[1], 4u);
    EXPECT_EQ(cb::loop_syscalls.io, before) << "the ring made the reads and writes: no read/write system call";
}

// Submissions are batched: 32 pipe ping-pongs side by side enter the kernel
// far fewer times than they make operations.
TEST_F(Uring, SubmissionsAreBatchedPerIteration) {
    constexpr std::size_t pairs = 32, rounds = 50;
    std::vector<cb::fd_pair> ab, ba;
    for (std::size_t k = 0; k < pairs; ++k) {
        ab.push_back(cb::make_pipe());
        ba.push_back(cb::make_pipe());
    }
    const std::uint64_t w0 = cb::loop_syscalls.waits;
    auto res = R::run(2 * pairs, [&](R::context& ctx, std::size_t i) -> task<std::uint64_t> {
        const std::size_t k = i / 2;
        char c = 'x';
        for (std::size_t r = 0; r < rounds; ++r) {
            if (i % 2 == 0) {
                if (co_await ctx.write(ab[k].write_end.get(), &c, 1) != 1) co_return 0;
                if (co_await ctx.read(ba[k].read_end.get(), &c, 1) != 1) co_return 0;
            } else {
                if (co_await ctx.read(ab[k].read_end.get(), &c, 1) != 1) co_return 0;
                if (co_await ctx.write(ba[k].write_end.get(), &c, 1) != 1) co_return 0;
            }
        }
        co_return 1;
    });
    for (auto v : res) ASSERT_EQ(v, 1u);
    const double ops = 4.0 * pairs * rounds;
    const double enters = static_cast<double>(cb::loop_syscalls.waits - w0);
    EXPECT_GT(enters, 0.0);
    EXPECT_LT(enters * 4, ops) << enters << " io_uring_enter calls for " << ops << " operations";
}

TEST(UringSetup, EnvironmentZeroDoesNotDisable) {
    env_guard g("COBENCH_URING_DISABLE", "0");
    EXPECT_EQ(cb::uring_reactor::unavailable().find("COBENCH_URING_DISABLE"), std::string::npos);
}

// ENOMEM at ring setup (kernels before 5.12 charge rings to the locked-memory
// limit) is a clear error that names the limit and its value.
TEST(UringSetup, SetupErrorNamesTheMemlockLimit) {
    const std::string m = cb::uring_setup_error(ENOMEM);
    EXPECT_NE(m.find("RLIMIT_MEMLOCK"), std::string::npos) << m;
    EXPECT_NE(m.find("ulimit -l"), std::string::npos) << m;
    EXPECT_EQ(cb::uring_setup_error(EINVAL).find("RLIMIT_MEMLOCK"), std::string::npos);
}


// ---- multishot recv over the provided-buffer ring --------------------------

// A connected pair of stream sockets, both ends configured for the loop.
template <class C>
std::pair<cb::unique_fd, cb::unique_fd> socket_pair() {
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) cb::throw_errno("socketpair");
    std::pair<cb::unique_fd, cb::unique_fd> p{cb::unique_fd{sv[0]}, cb::unique_fd{sv[1]}};
    C::configure_fd(p.first.get());
    C::configure_fd(p.second.get());
    return p;
}

unsigned char pattern(std::size_t conn, std::size_t off) { return static_cast<unsigned char>((conn * 131 + off * 7 + off / 251) & 0xff); }

struct echo_outcome {
    std::vector<std::uint64_t> res;
    cb::uring_reactor::stream_stats stats;
    std::string multishot;  // "" when multishot recv was in use
};

// conns echo connections on socket pairs, each client sending `bytes` in
// 1000-byte writes and reading the echo back; the server reads at most 300
// bytes at a time. Every byte is checked in order at the client. Client
// results 1 = all bytes back in order then EOF; server results = bytes echoed.
echo_outcome run_echo(std::size_t conns, std::size_t bytes) {
    using R = cb::coroutines_uring_runtime;
    using C = R::context;
    std::vector<std::pair<cb::unique_fd, cb::unique_fd>> socks;
    for (std::size_t k = 0; k < conns; ++k) socks.push_back(socket_pair<C>());
    echo_outcome out;
    out.res = R::run(2 * conns, [&](C& ctx, std::size_t i) -> task<std::uint64_t> {
        const std::size_t k = i / 2;
        if (i % 2 == 1) {  // server: echo until EOF, then shut down its side
            const int fd = socks[k].second.get();
            char buf[300];
            std::uint64_t echoed = 0;
            for (;;) {
                const ssize_t r = co_await ctx.read(fd, buf, sizeof buf);
                if (r <= 0) break;
                for (ssize_t w = 0; w < r;) {
                    const ssize_t x = co_await ctx.write(fd, buf + w, static_cast<std::size_t>(r - w));
                    if (x <= 0) co_return 0;
                    w += x;
                }
                echoed += static_cast<std::uint64_t>(r);
            }
            ::shutdown(fd, SHUT_WR);
            co_return echoed;
        }
        const int fd = socks[k].first.get();
        std::vector<unsigned char> msg(bytes);
        for (std::size_t o = 0; o < bytes; ++o) msg[o] = pattern(k, o);
        for (std::size_t o = 0; o < bytes;) {
            const std::size_t len = std::min<std::size_t>(1000, bytes - o);
            const ssize_t x = co_await ctx.write(fd, msg.data() + o, len);
            if (x <= 0) co_return 0;
            o += static_cast<std::size_t>(x);
        }
        ::shutdown(fd, SHUT_WR);
        std::vector<unsigned char> back(bytes + 1);
        std::size_t got = 0;
        for (;;) {
            const ssize_t r = co_await ctx.read(fd, back.data() + got, back.size() - got);
            if (r < 0) co_return 0;
            if (r == 0) break;
            got += static_cast<std::size_t>(r);
            if (got > bytes) co_return 0;
        }
        out.stats = ctx.loop().reactor.stats();
        out.multishot = ctx.loop().reactor.multishot_unavailable();
        co_return got == bytes && std::equal(msg.begin(), msg.end(), back.begin()) ? 1 : 0;
    });
    return out;
}

// 2 buffers of 64 bytes for 64 connections echoing 40 KB each: the ring is
// empty most of the time (ENOBUFS ends the multishots, reads fall back to
// single-shot recvs, multishots are re-armed), and no byte is lost or
// reordered.
TEST_F(Uring, TinyBufferRingLosesAndReordersNothing) {
    env_guard g("COBENCH_URING_BUFS", "2x64");
    constexpr std::size_t conns = 64, bytes = 40'000;
    const echo_outcome o = run_echo(conns, bytes);
    for (std::size_t k = 0; k < conns; ++k) {
        EXPECT_EQ(o.res[2 * k], 1u) << "client " << k << " did not get its bytes back in order";
        EXPECT_EQ(o.res[2 * k + 1], bytes) << "server " << k;
    }
    if (!o.multishot.empty()) GTEST_SKIP() << "multishot recv unavailable: " << o.multishot;
    EXPECT_GT(o.stats.chunks, 0u) << "no data came through the buffer ring";
    EXPECT_GT(o.stats.nobufs, 0u) << "2 buffers never ran out";
    EXPECT_GT(o.stats.fallbacks, 0u);
}

// The default ring: the data comes through it, every byte in order.
TEST_F(Uring, MultishotEchoDeliversEveryByte) {
    constexpr std::size_t conns = 32, bytes = 100'000;
    const echo_outcome o = run_echo(conns, bytes);
    for (std::size_t k = 0; k < conns; ++k) {
        EXPECT_EQ(o.res[2 * k], 1u) << "client " << k;
        EXPECT_EQ(o.res[2 * k + 1], bytes) << "server " << k;
    }
    if (!o.multishot.empty()) GTEST_SKIP() << "multishot recv unavailable: " << o.multishot;
    EXPECT_GT(o.stats.chunks, 0u);
}

// COBENCH_URING_MULTISHOT=0 (the path of a kernel without multishot recv):
// single-shot reads, the same bytes.
TEST_F(Uring, WithoutMultishotTheSingleShotPathWorks) {
    env_guard g("COBENCH_URING_MULTISHOT", "0");
    constexpr std::size_t conns = 16, bytes = 20'000;
    const echo_outcome o = run_echo(conns, bytes);
    for (std::size_t k = 0; k < conns; ++k) EXPECT_EQ(o.res[2 * k], 1u) << "client " << k;
    EXPECT_NE(o.multishot.find("COBENCH_URING_MULTISHOT=0"), std::string::npos) << o.multishot;
    EXPECT_EQ(o.stats.chunks, 0u);
}

TEST_F(Uring, BadBufferShapeIsAClearError) {
    env_guard g("COBENCH_URING_BUFS", "3x64");
    try {
        cb::uring_reactor r;
        FAIL() << "COBENCH_URING_BUFS=3x64 accepted";
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("power of two"), std::string::npos) << e.what();
    }
}

// EOF after the data, and a connection reset, reach the task's reads.
TEST_F(Uring, EofAndResetReachTheTask) {
    auto [a, b] = socket_pair<C>();
    // A TCP connection on loopback, for the reset.
    cb::unique_fd l{::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)};
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t alen = sizeof addr;
    ASSERT_EQ(::bind(l.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    ASSERT_EQ(::listen(l.get(), 4), 0);
    ASSERT_EQ(::getsockname(l.get(), reinterpret_cast<sockaddr*>(&addr), &alen), 0);
    cb::unique_fd c{::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)};
    ASSERT_EQ(::connect(c.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    cb::unique_fd s{::accept4(l.get(), nullptr, nullptr, SOCK_CLOEXEC)};
    ASSERT_TRUE(s);
    C::configure_fd(c.get());
    C::configure_fd(s.get());
    int reset_errno = 0;
    auto res = R::run(2, [&](C& ctx, std::size_t i) -> task<std::uint64_t> {
        char buf[16] = {};
        if (i == 1) {  // the peers: data then close / data then reset
            co_await ctx.sleep_for(std::chrono::milliseconds(2));
            if (co_await ctx.write(b.get(), "abc", 3) != 3) co_return 0;
            b.reset();
            if (co_await ctx.write(s.get(), "xyz", 3) != 3) co_return 0;
            co_await ctx.sleep_for(std::chrono::milliseconds(20));
            linger lg{1, 0};
            ::setsockopt(s.get(), SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
            s.reset();
            co_return 1;
        }
        std::uint64_t ok = 0;
        if (co_await ctx.read(a.get(), buf, sizeof buf) == 3 && std::memcmp(buf, "abc", 3) == 0) ++ok;
        if (co_await ctx.read(a.get(), buf, sizeof buf) == 0) ++ok;
        if (co_await ctx.read(c.get(), buf, sizeof buf) == 3 && std::memcmp(buf, "xyz", 3) == 0) ++ok;
        const ssize_t r = co_await ctx.read(c.get(), buf, sizeof buf);
        if (r < 0) {
            reset_errno = errno;
            ++ok;
        }
        co_return ok;
    });
    EXPECT_EQ(res[1], 1u);
    EXPECT_EQ(res[0], 4u) << "abc, EOF, xyz, then an error";
    EXPECT_EQ(reset_errno, ECONNRESET);
}

// The fd-reuse rule: a socket closed by its task while its multishot is armed
// (with unread data queued) is released, so its peer sees EOF in the same
// run; a new socket configured under the same number reads its own bytes,
// never the old socket's.
TEST_F(Uring, ClosedSocketIsReleasedAndItsNumberReusedCleanly) {
    auto [a, b] = socket_pair<C>();
    auto [x, y] = socket_pair<C>();
    std::optional<std::pair<cb::unique_fd, cb::unique_fd>> again;
    int old_number = a.get(), new_number = -1;
    cb::uring_reactor::stream_stats st{};
    auto res = R::run(2, [&](C& ctx, std::size_t i) -> task<std::uint64_t> {
        char buf[16] = {};
        if (i == 1) {  // b's reader: EOF once a is closed
            const ssize_t r = co_await ctx.read(b.get(), buf, sizeof buf);
            co_return r == 0 ? 1 : 0;
        }
        std::uint64_t ok = 0;
        if (co_await ctx.write(b.get(), "xold", 4) != 4) co_return 0;
        if (co_await ctx.read(a.get(), buf, 1) == 1 && buf[0] == 'x') ++ok;  // "old" stays queued
        a.reset();
        again.emplace(socket_pair<C>());
        new_number = again->first.get();
        if (co_await ctx.write(again->second.get(), "new", 3) != 3) co_return 0;
        const ssize_t r = co_await ctx.read(again->first.get(), buf, sizeof buf);
        if (r == 3 && std::memcmp(buf, "new", 3) == 0) ++ok;
        // x stays idle: a stream on it is armed at the end of the run
        // (cancelled at run end), after y wrote to it.
        if (co_await ctx.write(y.get(), "q", 1) != 1) co_return 0;
        if (co_await ctx.read(x.get(), buf, 1) == 1 && buf[0] == 'q') ++ok;
        st = ctx.loop().reactor.stats();
        co_return ok;
    });
    EXPECT_EQ(res[0], 3u);
    EXPECT_EQ(res[1], 1u) << "the peer of a closed socket did not see EOF";
    if (new_number == old_number) {
        EXPECT_GE(st.retired, 1u);
    }
}

// A socket number closed and reused by a pipe that was never configured: the
// registration is stale, the ring's recv answers ENOTSOCK, and the read goes
// on as a plain read of the pipe.
TEST_F(Uring, StaleRegistrationOnAPipeFallsBackToRead) {
    auto sp = socket_pair<C>();
    const int number = sp.first.get();
    sp.first.reset();
    cb::fd_pair p = cb::make_pipe();
    if (p.read_end.get() != number) GTEST_SKIP() << "the pipe did not get the socket's number";
    auto res = R::run(1, [&](C& ctx, std::size_t) -> task<std::uint64_t> {
        char buf[8] = {};
        if (co_await ctx.write(p.write_end.get(), "pipe", 4) != 4) co_return 0;
        const ssize_t r = co_await ctx.read(p.read_end.get(), buf, sizeof buf);
        co_return r == 4 && std::memcmp(buf, "pipe", 4) == 0 ? 1 : 0;
    });
    EXPECT_EQ(res[0], 1u);
}

}  // namespace

// ---- multishot accept ------------------------------------------------------

// A TCP listener on 127.0.0.1 (port chosen by the kernel).
struct tcp_listener {
    cb::unique_fd fd;
    sockaddr_in addr{};
};
tcp_listener listen_loopback() {
    tcp_listener l;
    l.fd.reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!l.fd) cb::throw_errno("socket");
    l.addr.sin_family = AF_INET;
    l.addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof l.addr;
    if (::bind(l.fd.get(), reinterpret_cast<sockaddr*>(&l.addr), sizeof l.addr) != 0 ||
        ::listen(l.fd.get(), 1024) != 0 || ::getsockname(l.fd.get(), reinterpret_cast<sockaddr*>(&l.addr), &len) != 0)
        cb::throw_errno("bind/listen");
    return l;
}
// A blocking connect to the listener (the backlog completes it before any accept).
cb::unique_fd connect_to(const tcp_listener& l) {
    cb::unique_fd c{::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)};
    if (!c || ::connect(c.get(), reinterpret_cast<const sockaddr*>(&l.addr), sizeof l.addr) != 0)
        cb::throw_errno("connect");
    return c;
}

std::size_t open_fds() {
    std::size_t n = 0;
    for (int fd = 0; fd < 65536; ++fd)
        if (::fcntl(fd, F_GETFD) != -1) ++n;
    return n;
}

struct accept_outcome {
    std::vector<std::uint64_t> res;
    std::vector<int> seen;  // per connection: how many times an acceptor got it
    cb::uring_reactor::stream_stats stats;
    std::string multishot;  // "" when multishot accept was in use
};

// `acceptors` tasks accept on one listener until `conns` connections are in;
// each connection's client (its own task, some before and some after the
// acceptors wait) sends its 4-byte number and expects it echoed. The acceptor
// that takes the last connection shuts the listener down (SHUT_RD): every
// other acceptor, waiting, must end with EINVAL. Acceptor results:
// accepted + 1'000'000 when ended by EINVAL; client results: 1 when echoed.
accept_outcome run_acceptors(std::size_t acceptors, std::size_t conns) {
    using R = cb::coroutines_uring_runtime;
    using C = R::context;
    tcp_listener l = listen_loopback();
    C::configure_fd(l.fd.get());
    accept_outcome out;
    out.seen.assign(conns, 0);
    std::size_t accepted = 0;
    out.res = R::run(acceptors + conns, [&](C& ctx, std::size_t i) -> task<std::uint64_t> {
        if (i < acceptors) {
            std::uint64_t mine = 0;
            for (;;) {
                const ssize_t s = co_await ctx.accept(l.fd.get());
                if (s < 0) co_return errno == EINVAL ? mine + 1'000'000 : mine;
                cb::unique_fd fd{static_cast<int>(s)};
                C::configure_fd(fd.get());
                ++mine;
                const bool last = ++accepted == conns;
                if (last) {
                    out.stats = ctx.loop().reactor.stats();
                    out.multishot = ctx.loop().reactor.multishot_accept_unavailable();
                }
                std::uint32_t id = 0;
                if (co_await ctx.read(fd.get(), &id, sizeof id) != sizeof id || id >= conns) co_return 0;
                ++out.seen[id];
                if (co_await ctx.write(fd.get(), &id, sizeof id) != sizeof id) co_return 0;
                if (last) ::shutdown(l.fd.get(), SHUT_RD);
            }
        }
        const auto id = static_cast<std::uint32_t>(i - acceptors);
        if (id % 2 == 1) co_await ctx.sleep_for(std::chrono::milliseconds(2));  // half after the acceptors wait
        cb::unique_fd c = connect_to(l);
        C::configure_fd(c.get());
        if (co_await ctx.write(c.get(), &id, sizeof id) != sizeof id) co_return 0;
        std::uint32_t back = ~0u;
        if (co_await ctx.read(c.get(), &back, sizeof back) != sizeof back) co_return 0;
        co_return back == id ? 1 : 0;
    });
    return out;
}

// 200 connections over 4 acceptors on one listener: each accepted once, each
// echoed; the shutdown ends every waiting acceptor with EINVAL; one
// multishot accept (not one per connection).
TEST_F(Uring, MultishotAcceptServesEveryConnectionOnce) {
    constexpr std::size_t acceptors = 4, conns = 200;
    const accept_outcome o = run_acceptors(acceptors, conns);
    std::uint64_t total = 0;
    for (std::size_t a = 0; a < acceptors; ++a) {
        EXPECT_GE(o.res[a], 1'000'000u) << "acceptor " << a << " did not end with EINVAL: " << o.res[a];
        total += o.res[a] % 1'000'000;
    }
    EXPECT_EQ(total, conns);
    for (std::size_t k = 0; k < conns; ++k) {
        EXPECT_EQ(o.seen[k], 1) << "connection " << k;
        EXPECT_EQ(o.res[acceptors + k], 1u) << "client " << k;
    }
    if (!o.multishot.empty()) GTEST_SKIP() << "multishot accept unavailable: " << o.multishot;
    EXPECT_GE(o.stats.accept_arms, 1u);
    EXPECT_LT(o.stats.accept_arms, conns / 2) << "the multishot accept was re-armed per connection";
}

// COBENCH_URING_MULTISHOT=0: single-shot accepts, the same outcome.
TEST_F(Uring, WithoutMultishotAcceptTheSingleShotPathWorks) {
    env_guard g("COBENCH_URING_MULTISHOT", "0");
    constexpr std::size_t acceptors = 3, conns = 60;
    const accept_outcome o = run_acceptors(acceptors, conns);
    for (std::size_t a = 0; a < acceptors; ++a) EXPECT_GE(o.res[a], 1'000'000u) << "acceptor " << a;
    for (std::size_t k = 0; k < conns; ++k) {
        EXPECT_EQ(o.seen[k], 1) << "connection " << k;
        EXPECT_EQ(o.res[acceptors + k], 1u) << "client " << k;
    }
    EXPECT_NE(o.multishot.find("COBENCH_URING_MULTISHOT=0"), std::string::npos) << o.multishot;
    EXPECT_EQ(o.stats.accept_arms, 0u);
}

// A run that ends with accepted connections still queued (never taken)
// closes them: the process has as many fds after as before.
TEST_F(Uring, RunEndClosesQueuedAcceptedFds) {
    const std::size_t before = open_fds();
    std::size_t queued = 0;
    std::string why;
    {
        tcp_listener l = listen_loopback();
        C::configure_fd(l.fd.get());
        std::vector<cb::unique_fd> clients;
        auto res = R::run(1, [&](C& ctx, std::size_t) -> task<std::uint64_t> {
            for (int k = 0; k < 10; ++k) clients.push_back(connect_to(l));
            const ssize_t s = co_await ctx.accept(l.fd.get());
            if (s < 0) co_return 0;
            cb::unique_fd fd{static_cast<int>(s)};
            co_await ctx.sleep_for(std::chrono::milliseconds(20));  // the other 9 arrive in the queue
            queued = ctx.loop().reactor.accept_queued(l.fd.get());
            why = ctx.loop().reactor.multishot_accept_unavailable();
            co_return 1;
        });
        EXPECT_EQ(res[0], 1u);
    }
    EXPECT_EQ(open_fds(), before) << "fds leaked by the run";
    if (!why.empty()) GTEST_SKIP() << "multishot accept unavailable: " << why;
    EXPECT_EQ(queued, 9u) << "the connections were not queued by the multishot accept";
}
