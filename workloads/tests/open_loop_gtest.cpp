// The open-loop generator (cobench_echo_client --rate, bench/programs/generator/)
// against a tiny echo server written here (one thread, poll): that a server
// stall shows in its percentiles where the closed loop hides it, that a rate
// it cannot keep is flagged, that it checks reply bytes, and that bad option
// values exit 2. Behaviour, not speed: the thresholds are a stall's own size.
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "runtimes/core/fd.hpp"
#include "workloads/io/echo_client.hpp"
#include "workloads/io/loopback.hpp"

namespace {

namespace wl = cb::wl;
using namespace std::chrono_literals;
constexpr std::size_t size = 64;

// An echo server on its own thread: accepts, echoes every byte back, and
// (optionally) sleeps `stall` once after echoing `stall_after` requests, or
// flips a byte in every `corrupt_every`-th reply. Stops on destruction.
class test_server {
public:
    explicit test_server(std::uint64_t stall_after = 0, std::chrono::milliseconds stall = 0ms,
                         std::uint64_t corrupt_every = 0)
        : listener_(wl::listen_loopback(1024, port_)), stop_(cb::make_pipe()) {
        thread_ = std::thread([this, stall_after, stall, corrupt_every] { serve(stall_after, stall, corrupt_every); });
    }
    ~test_server() {
        const char x = 's';
        (void)!::write(stop_.write_end.get(), &x, 1);
        thread_.join();
    }
    test_server(const test_server&) = delete;
    test_server& operator=(const test_server&) = delete;
    std::uint16_t port() const { return port_; }
    bool stalled() const { return stalled_.load(); }

private:
    void serve(std::uint64_t stall_after, std::chrono::milliseconds stall, std::uint64_t corrupt_every) {
        std::vector<cb::unique_fd> conns;
        std::vector<char> buf(65536);
        std::uint64_t bytes = 0;
        for (;;) {
            std::vector<pollfd> pf{{stop_.read_end.get(), POLLIN, 0}, {listener_.get(), POLLIN, 0}};
            for (auto& c : conns) pf.push_back({c.get(), POLLIN, 0});
            if (::poll(pf.data(), pf.size(), 1000) < 0) continue;
            if (pf[0].revents) return;
            if (pf[1].revents & POLLIN) {
                const int fd = ::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC);
                if (fd >= 0) conns.emplace_back(fd);
            }
            for (std::size_t i = 2; i < pf.size(); ++i) {
                if (!pf[i].revents) continue;
                cb::unique_fd& c = conns[i - 2];
                if (!c) continue;
                const ssize_t n = ::read(c.get(), buf.data(), buf.size());
                if (n <= 0) {
                    c.reset();
                    continue;
                }
                for (ssize_t j = 0; j < n; ++j) {
                    if (corrupt_every && (bytes / size) % corrupt_every == corrupt_every - 1 && bytes % size == 5)
                        buf[static_cast<std::size_t>(j)] ^= 0x5a;
                    ++bytes;
                }
                if (!cb::write_full(c.get(), buf.data(), static_cast<std::size_t>(n))) c.reset();
                if (stall_after && !stalled_ && bytes / size >= stall_after) {
                    stalled_ = true;
                    std::this_thread::sleep_for(stall);
                }
            }
            std::erase_if(conns, [](const cb::unique_fd& c) { return !c; });
        }
    }

    std::uint16_t port_ = 0;
    cb::unique_fd listener_;
    cb::fd_pair stop_;
    std::atomic<bool> stalled_{false};
    std::thread thread_;
};

wl::echo_report drive(const test_server& srv, std::size_t conns, std::uint64_t requests,
                      const wl::echo_client_options& opt = {}) {
    // A client that rejected its options has gone before the go byte: its
    // pipe then has no reader, which must be an error here, not a death.
    std::signal(SIGPIPE, SIG_IGN);
    wl::echo_client client(srv.port(), conns, requests, size, wl::echo_client::find(), opt);
    const char go = 'g';
    const bool went = cb::write_full(client.go_fd(), &go, 1);
    wl::echo_report r = client.finish(120s);
    if (r.problem.empty()) {
        EXPECT_TRUE(went);
    }
    return r;
}

wl::echo_client_options open(std::uint64_t rate, std::uint64_t ms) {
    wl::echo_client_options o;
    o.rate = rate;
    o.duration_ms = ms;
    return o;
}

// A 100 ms stall, once, during a 1 s run at 2000 req/s over 4 connections:
// the open loop keeps sending through it, so every request due in those
// 100 ms (10% of the run) waits for the stall's end, measured from when it
// was meant to go: p99 (the top 1%, the ones due in its first ~10 ms) and
// max are near 100 ms. The closed loop sends nothing while it waits: only
// its 4 outstanding requests, of 10,000, see the stall, so its p99 does not
// show it; its max does (those 4 requests did wait), which is why latency
// percentiles come from an open loop.
TEST(OpenLoop, StallShowsInOpenLoopPercentilesNotClosedLoop) {
    constexpr auto stall = 100ms;
    constexpr std::uint64_t shown = 80'000'000;  // ns: most of the stall
    {
        test_server srv(500, stall);  // a quarter into the schedule
        const wl::echo_report r = drive(srv, 4, 0, open(2000, 1000));
        ASSERT_EQ(r.problem, "");
        ASSERT_TRUE(srv.stalled());
        EXPECT_EQ(r.sent, 2000u);
        EXPECT_EQ(r.requests, 2000u);
        EXPECT_EQ(r.mismatches, 0u);
        EXPECT_GE(r.p99_ns, shown) << "open loop p99 must show the stall";
        EXPECT_GE(r.max_ns, shown);
        EXPECT_LE(r.p50_ns, r.p90_ns);
        EXPECT_LE(r.p90_ns, r.p99_ns);
        EXPECT_LE(r.p99_ns, r.p999_ns);
        EXPECT_LE(r.p999_ns, r.max_ns);
        EXPECT_EQ(r.schedule_ns, 1'000'000'000u);
        EXPECT_GT(r.hiccup_max_ns, 0u) << "the probe wakes after its 1 ms, never exactly on it";
        EXPECT_TRUE(r.server_cpu_ok);
        EXPECT_GT(r.cpu_ns, 0u);
    }
    {
        test_server srv(2000, stall);
        const wl::echo_report r = drive(srv, 4, 2500);
        ASSERT_EQ(r.problem, "");
        ASSERT_TRUE(srv.stalled());
        EXPECT_EQ(r.requests, 10000u);
        EXPECT_LT(r.p99_ns, shown) << "closed loop p99 hides the stall";
        EXPECT_GE(r.max_ns, shown) << "its outstanding requests did wait";
        EXPECT_LE(r.p99_ns, r.p999_ns);
    }
}

// 20M req/s for 25 ms is 500,000 requests: more than any generator can
// write, read and check in 25 ms, so most sends go out late and the run is
// flagged, yet every request is still sent and answered.
TEST(OpenLoop, RateItCannotKeepIsInvalid) {
    test_server srv;
    const wl::echo_report r = drive(srv, 4, 0, open(20'000'000, 25));
    ASSERT_EQ(r.problem, "");
    EXPECT_EQ(r.sent, 500'000u);
    EXPECT_EQ(r.requests, r.sent);
    std::printf("asked 20M req/s for 25 ms: %llu sent, %llu late, replies over %.1f ms, p99 %.1f ms\n",
                static_cast<unsigned long long>(r.sent), static_cast<unsigned long long>(r.late),
                static_cast<double>(r.elapsed_ns) / 1e6, static_cast<double>(r.p99_ns) / 1e6);
    EXPECT_GT(r.late * 100, r.sent) << "more than 1% late";
    EXPECT_FALSE(r.gen_valid);
}

TEST(OpenLoop, KeptRateIsValidAndClosedFirstReportsBothPhases) {
    test_server srv;
    wl::echo_client_options o = open(500, 200);
    o.closed_first = true;
    o.hiccups = false;
    const wl::echo_report r = drive(srv, 3, 20, o);
    ASSERT_EQ(r.problem, "");
    EXPECT_EQ(r.requests, 60u);  // the closed phase
    EXPECT_TRUE(r.server_cpu_ok);
    ASSERT_TRUE(r.open.has_value());
    EXPECT_EQ(r.open->sent, 100u);
    EXPECT_EQ(r.open->requests, 100u);
    EXPECT_EQ(r.open->hiccup_max_ns, 0u) << "no probe asked for";
    EXPECT_TRUE(r.open->server_cpu_ok);
    // 500 req/s is 2 ms between sends: a generator late by more than 1% of
    // them would mean this machine stalled for most of the run; the flag
    // must then say so, so check it against its own counts.
    EXPECT_EQ(r.open->gen_valid, r.open->late * 100 <= r.open->sent);
}

TEST(OpenLoop, VerifiesReplyBytes) {
    test_server srv(0, 0ms, 50);  // every 50th reply has a flipped byte
    const wl::echo_report r = drive(srv, 2, 0, open(2000, 100));
    EXPECT_NE(r.problem, "") << "the client must exit non-zero when replies differ";
    EXPECT_EQ(r.mismatches, 4u);  // 200 replies
    EXPECT_FALSE(r.gen_valid);
}

TEST(OpenLoop, BadOptionsExit2) {
    test_server srv;
    const auto status2 = [&](const wl::echo_client_options& o) {
        const wl::echo_report r = drive(srv, 1, 0, o);
        return r.problem.find("exited with status 2") != std::string::npos;
    };
    EXPECT_TRUE(status2(open(1000, 0))) << "--rate without --duration-ms";
    EXPECT_TRUE(status2(open(0, 100))) << "--duration-ms without --rate";
    EXPECT_TRUE(status2(open(2'000'000'000, 100))) << "rate above 1e9";
    EXPECT_TRUE(status2(open(1, 10))) << "no request at all in the schedule";
    wl::echo_client_options pin = open(1000, 100);
    pin.pin_cpus = {100000};
    EXPECT_TRUE(status2(pin)) << "a CPU that does not exist";
    wl::echo_client_options slow = open(1000, 100);
    slow.slow_ms = 5;
    EXPECT_TRUE(status2(slow)) << "open loop with a closed-loop-only option";
}

}  // namespace
