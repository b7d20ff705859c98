"""The echo server protocol every runtime's `serve()` speaks, the one
workloads/io/server_program.hpp defines and bench/programs/asio_echo/main.cpp
serves:

  fd 3  the listening socket (127.0.0.1, already listening)
  fd 4  the control pipe (read end): each byte 's' asks for a snapshot; EOF stops
  fd 5  the report pipe (write end): one line per snapshot and one at exit,
        "REQUESTS CONNS CPU_NS", CPU_NS the server's CPU time (every thread,
        and every child process it started)

Requests are REQUEST_BYTES long, read whole; with UPSTREAM_US > 0 each waits
that long (the runtime's own sleep) before its reply. A request is counted
just before its reply is written, so the report at exit, which comes after
the generator has its last reply, counts every request served.
"""

import os
import resource
import socket
import threading
import time

LISTEN_FD, CONTROL_FD, REPORT_FD = 3, 4, 5


def listener():
    s = socket.socket(fileno=LISTEN_FD)
    s.setblocking(True)  # the blocking servers accept in a thread; gevent and asyncio set their own mode
    return s


def report(requests, conns, cpu_ns=None):
    """One line on the report pipe (short: one write, atomic under PIPE_BUF)."""
    cpu = time.process_time_ns() if cpu_ns is None else cpu_ns
    try:
        os.write(REPORT_FD, f"{requests} {conns} {cpu}\n".encode())
    except OSError:
        pass  # nobody reads any more: nothing to tell


def control(data, snapshot):
    """Calls snapshot() once per 's' in what the control pipe gave; False at EOF."""
    for _ in range(data.count(b"s")):
        snapshot()
    return bool(data)


def blocking_control(control_fd, snapshot):
    """The control pipe read by blocking calls in this thread until EOF, then
    the last report; the exit status."""
    while control(os.read(control_fd, 64), snapshot):
        pass
    snapshot()
    return 0


def prepare(conn):
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def read_request(conn, view):
    """Fills view from a blocking socket; False at EOF (or a reset) before it is whole."""
    got = 0
    try:
        while got < len(view):
            n = conn.recv_into(view[got:])
            if n == 0:
                return False
            got += n
    except ConnectionError:
        return False
    return True


def serve_blocking(conn, size, upstream_s, count, sleep=time.sleep):
    """One connection served by blocking calls until EOF: a thread's, a pool
    worker's, a process's, a greenlet's (gevent's socket and sleep switch).
    count() is called per request."""
    with conn:
        prepare(conn)
        buf = bytearray(size)
        view = memoryview(buf)
        while read_request(conn, view):
            if upstream_s:
                sleep(upstream_s)
            count()
            try:
                conn.sendall(view)
            except ConnectionError:
                return


def children_cpu_ns(live_pids):
    """CPU of this process's children: the reaped ones (rusage) and the live or
    not yet reaped ones (/proc/PID/schedstat, its first field the ns on a
    CPU; a zombie keeps it until reaped)."""
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    total = int((ru.ru_utime + ru.ru_stime) * 1e9)
    for pid in live_pids:
        try:
            with open(f"/proc/{pid}/schedstat") as f:
                total += int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            pass  # gone: the caller reaps in this thread only, so not counted twice nor lost
    return total


def serve_accepting(size, upstream_s, control_fd, launch):
    """A thread accepts; launch(handler, conn, slot) runs each connection (a
    thread of its own, a pool's worker); the calling thread reads the control
    pipe. Each connection counts its own requests in its slot (one writer a
    slot: no update lost)."""
    lsock, counts = listener(), []

    def handle(conn, slot):
        def count():
            counts[slot] += 1
        serve_blocking(conn, size, upstream_s, count)

    def accept():
        while True:
            try:
                conn, _ = lsock.accept()
            except OSError:
                return
            counts.append(0)
            launch(handle, conn, len(counts) - 1)

    threading.Thread(target=accept, daemon=True).start()
    return blocking_control(control_fd, lambda: report(sum(counts), len(counts)))
