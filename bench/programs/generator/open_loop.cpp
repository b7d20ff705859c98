// The open loop (open_loop.hpp).
#include "open_loop.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <deque>
#include <functional>

#include <sys/epoll.h>
#include <sys/resource.h>
#include <time.h>

#include "cpu_sampling.hpp"
#include "generator.hpp"
#include "hiccup_probe.hpp"
#include "workloads/io/histogram.hpp"

namespace cb::gen {
namespace {

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

}  // namespace

wl::echo_phase open_sends(const std::vector<int>& fds, const std::vector<std::uint64_t>& base, int ep,
                          const open_config& cfg, const open_slice& slice, clk::time_point t0, std::uint64_t cpu0,
                          wl::log_histogram& lat, const std::function<void(wl::echo_phase&)>& at_end) {
    wl::echo_phase r;
    const std::size_t nconn = fds.size(), size = cfg.size;
    const std::size_t all_conns = slice.all_conns ? slice.all_conns : nconn, first = slice.first;
    const std::uint64_t rate = cfg.rate;
    const std::uint64_t total = rate * cfg.duration_ms / 1000;
    const auto due_ns = [rate](std::uint64_t n) { return (n / rate) * 1000000000ull + (n % rate) * 1000000000ull / rate; };
    // This slice's m-th send is the schedule's send global(m): those of its
    // connections, in order (one slice: every send, global(m) = m).
    const auto global = [nconn, all_conns, first](std::uint64_t m) { return (m / nconn) * all_conns + first + m % nconn; };
    const std::uint64_t rest = total % all_conns;
    const std::uint64_t own = (total / all_conns) * nconn + std::min<std::uint64_t>(nconn, rest > first ? rest - first : 0);
    const std::uint64_t late_after = std::max<std::uint64_t>(1000000, all_conns * 1000000000ull / rate);
    // The shortest gap between two batches of sends: one interval of this
    // slice's schedule (1/R for the whole), within [20 us, 250 us]. At rates where a send is
    // due less often than every 20 us a wake-up per send would cost the
    // generator more CPU than the sends (tens of us a timed wake on these
    // VMs), so sends are batched; at lower rates each send has its own wake
    // and the batching adds nothing to the latencies.
    const std::uint64_t tick = std::clamp<std::uint64_t>(1000000000ull * all_conns / (rate * nconn), 20000, 250000);
    constexpr std::uint64_t drain_limit = 10000000000ull;  // 10 s without a reply: give up
    r.schedule_ns = cfg.duration_ms * 1000000ull;
    r.conns = nconn;

    std::vector<open_conn> cs(nconn);
    for (std::size_t c = 0; c < nconn; ++c) {
        cs[c].fd = fds[c];
        cs[c].base = base[c];
        cs[c].dead = fds[c] < 0;
    }
    std::vector<std::size_t> dirty;
    dirty.reserve(nconn);
    std::vector<unsigned char> rbuf(65536);
    std::vector<epoll_event> evs(std::min<std::size_t>(nconn, 1024));
    std::uint64_t next_n = 0, outstanding = 0, late = 0;  // next_n: this slice's next send

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
        switch (write_out(k.fd, k.out.data(), k.out.size(), k.out_off)) {
        case write_result::done:
            break;
        case write_result::blocked:
            set_events(k, c, true);
            return;
        case write_result::failed:
            kill_conn(k, errno != 0 ? std::strerror(errno) : "write returned 0", c);
            return;
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
            if (rbuf[static_cast<std::size_t>(i)] != pattern(first + c, k.base + k.got, k.in)) k.bad = true;
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
        r.elapsed_ns = now;
    };

    std::uint64_t last_wake = 0, last_progress = 0;
    bool use_pwait2 = true;
    for (;;) {
        std::uint64_t now = since_ns(t0, clk::now());
        while (next_n < own && due_ns(global(next_n)) <= now) {
            const std::size_t c = static_cast<std::size_t>(next_n % nconn);
            open_conn& k = cs[c];
            if (!k.dead) {
                const std::uint64_t seq = k.base + k.sent;
                for (std::size_t j = 0; j < size; ++j) k.out.push_back(pattern(first + c, seq, j));
                k.due.push_back(due_ns(global(next_n)));
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
        if (next_n == own && outstanding == 0) break;
        now = since_ns(t0, clk::now());
        std::uint64_t wait;
        if (next_n < own) {
            // Measured from the schedule, not from the last wake-up: a late
            // wake or one for a reply does not push later sends back.
            const std::uint64_t wake =
                next_n == 0 ? 0 : std::max<std::uint64_t>(due_ns(global(next_n)), due_ns(global(next_n - 1)) + tick);
            wait = wake > now ? wake - now : 0;
        } else {
            const std::uint64_t give_up = std::max(r.elapsed_ns, last_progress) + drain_limit;
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
        if (next_n == own && n > 0) last_progress = last_wake;
        for (int i = 0; i < n; ++i) {
            const std::size_t c = evs[static_cast<std::size_t>(i)].data.u64;
            open_conn& k = cs[c];
            if (k.dead) continue;
            if (evs[static_cast<std::size_t>(i)].events & EPOLLOUT) flush(k, c);
            if (!k.dead && (evs[static_cast<std::size_t>(i)].events & (EPOLLIN | EPOLLHUP | EPOLLERR))) receive(k, c);
        }
    }
    if (at_end) at_end(r);
    r.cpu_ns = cpu_ns(RUSAGE_THREAD) - cpu0;
    set_latencies(r, lat);
    r.late = late;
    r.gen_valid = r.sent == own && late * 100 <= r.sent && r.errors == 0 && r.mismatches == 0;
    r.threads_invalid = r.gen_valid ? 0 : 1;
    return r;
}

void open_meter::start() {
    steal_ok = steal_ns(steal0);
    sc.start();
}

void open_meter::stop(wl::echo_phase& r) {
    std::uint64_t steal1 = 0;
    const wl::log_histogram& hic = probe.stop();
    r.hiccup_max_ns = hic.max();
    r.hiccup_p999_ns = hic.percentile(0.999);
    if (steal_ok && steal_ns(steal1) && steal1 >= steal0) r.steal_ns = steal1 - steal0;
}

wl::echo_phase open_loop(const std::vector<int>& fds, const std::vector<std::uint64_t>& base, int ep,
                         const open_config& cfg, pid_t server, wl::log_histogram& lat) {
    open_meter m{server};
    m.start();
    const std::uint64_t cpu0 = cpu_ns(RUSAGE_THREAD);
    if (cfg.hiccups) m.probe.start();
    // The server's CPU is sampled before anything closes: its tasks are all alive.
    wl::echo_phase r = open_sends(fds, base, ep, cfg, open_slice{}, clk::now(), cpu0, lat,
                                  [&m](wl::echo_phase& p) { m.sc.stop(p); });
    m.stop(r);
    return r;
}

}  // namespace cb::gen
