// `cobench serve`: any registered runtime's echo server, standing alone, for
// users to drive with their own load tools (wrk2, tcpkali, a netcat loop) and
// check our numbers against theirs.
//
//   cobench serve --runtime NAME [--address A] [--port P] [--workers K] [--upstream-us L] [--tasks N]
//
// It listens on A:P (A 127.0.0.1 by default, IPv4 or IPv6) (0, the default: the kernel picks; the port is
// printed on the first line of stdout), and runs N handler tasks under the
// runtime. Each takes a connection accepted with the runtime's own accept
// (ctx.accept: a blocking accept4 in processes and threads, the loop's
// reactor in the others), then echoes whatever arrives on it until the
// client closes: each read (up to 16 KiB) is a request, written back whole,
// after an optional simulated upstream latency of L microseconds
// (ctx.sleep_for, as slow_io waits on its upstream); then it takes the
// next. N tasks serve N connections at once; more wait in the listen queue.
// Who accepts (serve.cpp says why): where the runtime's tasks share
// memory, one more task accepts and hands each connection to the handlers
// over a channel of the runtime's (the shared epoll reactor of fibers and
// the pool takes one waiter per descriptor); where they do not (a process a
// task, or process workers), every handler accepts for itself.
//
// Stopping: SIGINT or SIGTERM shuts the listener down (every acceptor, in
// every process, wakes with EINVAL and its task ends) and shuts every open
// connection down (SHUT_RDWR: its task reads EOF and ends). The handler
// finds the connections in a table in shared memory (MAP_SHARED, so forked
// task processes and workers see it), where each task puts its pid and its
// connection's descriptor; in a forked process the parent's handler passes
// the signal on to the pids in the table, whose own (inherited) handler
// shuts down their connections. The runtime then returns as after any run:
// every thread joined, every child reaped. A second signal, once the first
// has not finished the job, kills the task processes and exits at once
// (128+N).
// Killed outright (SIGKILL), the server passes nothing on: every task
// process and worker has asked the kernel to kill it when the server dies
// (PR_SET_PDEATHSIG, bench/supervise.hpp's die_with_parent), so none is left
// serving or holding the port.
//
// Exit status: 0 once stopped by a signal with every task ended cleanly; 1 if
// a task failed (the message says which; a failing task stops the others the
// same way); 2 bad input (flags, unknown runtime, a runtime that cannot
// serve). On exit it prints requests served, connections, the server's CPU
// (user + system of this process, all threads, and of its reaped children:
// the task processes or workers) from just before the tasks start to after
// they are joined, and CPU per request.
#pragma once

#include <cstdint>
#include <string>

namespace cb {

struct serve_options {
    std::string runtime;
    std::string address = "127.0.0.1";  // IPv4 or IPv6, numeric
    unsigned port = 0;
    std::size_t workers = 0;   // 0: the runtime's default (runtimes with sized_workers only)
    std::uint64_t upstream_us = 0;
    std::size_t tasks = 0;     // 0: by the runtime's cost class
};

// argv[1] is "serve". Throws cb::bad_input.
serve_options parse_serve_args(int argc, char** argv);

std::string serve_usage_text();

// Serves until SIGINT/SIGTERM; returns the exit status.
int run_serve(const serve_options& o);

}  // namespace cb
