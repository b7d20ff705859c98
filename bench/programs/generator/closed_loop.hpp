// The generator's closed loop, and the connections it opens: it keeps
// exactly one request of SIZE bytes outstanding on every connection until
// each has made REQUESTS round trips, checking every reply byte for byte
// against its request, with epoll and no threads, so what it adds per
// request is a write, a read and a share of an epoll_wait. A connection is
// closed once it is done (the server's task for it then sees EOF and ends),
// unless an open phase goes on on it (keep_open).
//
// echo_accept's options (main.cpp lists them): with --listen-fds the
// connections are made after the go byte, inside the server's run; with
// --reconnect a slot closes and reopens its connection every R round trips;
// --mark-every-ms sets byte 0 of one request a period to 1 (the server
// stalls on it) and --slow-ms counts the connections that saw another reply
// slower than T ms ("stuck"), once per connection per mark.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include <sys/socket.h>

#include "generator.hpp"
#include "runtimes/core/fd.hpp"
#include "workloads/io/generator_report.hpp"
#include "workloads/io/histogram.hpp"

namespace cb::gen {

struct closed_config {
    sockaddr_storage addr{};     // the server's (IPv4 or IPv6), resolved once (--host, PORT)
    socklen_t addr_len = 0;
    std::size_t first = 0;       // the global index of this loop's first connection (--threads: its slice)
    std::size_t conns = 0, size = 0;
    std::uint64_t requests = 0;  // per connection; 0: no closed phase (the open loop alone)
    std::uint64_t reconnect = 0, mark_ms = 0, slow_ms = 0;
    bool keep_open = false;      // an open phase follows on the same connections
};

class closed_loop {
public:
    explicit closed_loop(const closed_config& cfg);  // exits 2 if there is no epoll set
    closed_loop(const closed_loop&) = delete;
    closed_loop& operator=(const closed_loop&) = delete;
    ~closed_loop() { close_all(); }

    // Plain echo (no --listen-fds): every connection, before the go byte,
    // untimed (a backlog smaller than CONNS only slows this set-up down).
    // Exits 2 on failure.
    void connect_all();
    // The closed phase, from the go byte on; the server's CPU is not in it.
    [[nodiscard]] wl::echo_phase run();

    // For the open phase that goes on: the epoll set, each slot's fd (-1 if
    // lost) and the round trips each made (the next request's pattern).
    [[nodiscard]] int epoll_fd() const noexcept { return ep_.get(); }
    [[nodiscard]] std::vector<int> fds() const;
    [[nodiscard]] std::vector<std::uint64_t> done() const;
    // The closed phase's latencies (run() records them).
    [[nodiscard]] const wl::log_histogram& histogram() const noexcept { return lat_; }
    void close_all();

private:
    struct conn {
        int fd = -1;
        std::uint64_t done = 0;          // completed round trips (over all of this slot's connections)
        std::uint64_t since = 0;         // round trips on the current connection (--reconnect)
        std::uint64_t stuck_at = ~0ull;  // the mark this connection was last counted stuck for
        bool marked = false;             // the current request carries the stall mark
        std::size_t out = 0;             // bytes of the current request written
        std::size_t in = 0;              // bytes of the current reply read
        bool writing = false;
        clk::time_point t0;
        std::vector<unsigned char> req, rep;
    };

    [[nodiscard]] bool open_conn(conn& k, std::size_t c);
    void finish_conn(conn& k);
    void set_writing(conn& k, std::size_t c, bool writing);
    // Inlined into start() and run() as it was when they were one function:
    // the client's CPU per request is reported (client_cpu_ns_per_req), and
    // a call here cost about 15 instructions a round trip.
    [[nodiscard, gnu::always_inline]] inline bool push(conn& k, std::size_t c);
    [[nodiscard]] bool start(conn& k, std::size_t c);

    closed_config cfg_;
    wl::log_histogram lat_;
    unique_fd ep_;
    std::vector<conn> cs_;
    std::uint64_t conns_made_ = 0;
    // The phase's state.
    std::size_t active_ = 0;
    std::uint64_t marks_ = 0;
    clk::time_point next_mark_ = clk::time_point::max();  // set once every connection is open
};

}  // namespace cb::gen
