"""py_multiprocessing: a multiprocessing.Process a task with the fork start
method, results in shared memory (multiprocessing.RawArray), hand-offs
through multiprocessing.SimpleQueue, as the multiprocessing docs write them.

SimpleQueue, not Queue: a Queue's put() hands the message to a feeder
thread that writes it to the pipe later, so a sentinel that the last
producer puts after every producer counted itself done can reach the pipe
before messages another producer put earlier, and the consumers stop with
those messages unread (producer_consumer's verify caught it). A
SimpleQueue's put() writes into the pipe, under a lock, before it returns.
Its bound is the pipe's buffer (64 KiB), not the queue size asked for.

The one Python runtime whose tasks run Python on several cores at once:
each process has its own interpreter and its own GIL. Tasks share nothing
but what lives in multiprocessing's shared memory (a RawValue counter).
"""

import multiprocessing
import os
import selectors
import time

from echo_server import CONTROL_FD, REPORT_FD, children_cpu_ns, control, listener, report, serve_blocking
from runtimes.base import Runtime

fork = multiprocessing.get_context("fork")
PARK_TIMEOUT_S = 120


def _task(body, i, results):
    results[i] = body(i)


class Processes(Runtime):
    name, label = "py_multiprocessing", "CPython multiprocessing (fork, a process a task)"
    kind, stack, cost = "process", "process", "heavy"
    multi_core, shared_memory, os_threads = True, False, True

    def queue(self, maxsize):
        return fork.SimpleQueue()  # see the head: bounded by the pipe, not by maxsize

    def lock(self):
        return fork.Lock()

    def counter(self):
        return fork.RawValue("Q", 0)  # unsynchronised: `c.value += 1` can lose updates

    yield_ = staticmethod(lambda: time.sleep(0))
    sleep = staticmethod(time.sleep)

    def park(self):
        self._arrived.wait(PARK_TIMEOUT_S)
        self._release.wait(PARK_TIMEOUT_S)

    def run(self, n, body, parked=None):
        results = fork.RawArray("Q", n)
        if parked:
            self._arrived, self._release = fork.Barrier(n + 1), fork.Event()
        procs = [fork.Process(target=_task, args=(body, i, results)) for i in range(n)]
        for p in procs:
            p.start()
        if parked:
            self._arrived.wait(PARK_TIMEOUT_S)
            parked([p.pid for p in procs])
            self._release.set()
        for p in procs:
            p.join()
        for i, p in enumerate(procs):
            if p.exitcode != 0:
                raise RuntimeError(f"task {i}'s process exited with status {p.exitcode}")
        return list(results)

    def serve(self, size, upstream_s, control_fd):
        """A process a connection, forked by the accepting process (what
        socketserver.ForkingTCPServer does): the rig opens every connection
        before it sends a request, so a fixed pool of processes, each
        serving one connection, would leave the rest unserved. Each child
        counts its requests in a RawValue of its own; the parent sums them
        and adds its children's CPU (children_cpu_ns)."""
        lsock, children = listener(), []  # (process, its RawValue)
        sel = selectors.DefaultSelector()
        sel.register(lsock, selectors.EVENT_READ)
        sel.register(control_fd, selectors.EVENT_READ)

        def snapshot():
            # Reaping happens in this thread only (here and in Process.start),
            # so each child's CPU is counted once: alive or zombie, or in rusage.
            live = [p.pid for p, _ in children if p.exitcode is None]
            cpu = time.process_time_ns() + children_cpu_ns(live)
            report(sum(c.value for _, c in children), len(children), cpu)

        while True:
            for key, _ in sel.select():
                if key.fileobj is lsock:
                    conn, _ = lsock.accept()
                    served = fork.RawValue("Q", 0)
                    p = fork.Process(target=_serve_one, args=(lsock, conn, size, upstream_s, served), daemon=True)
                    p.start()
                    conn.close()
                    children.append((p, served))
                elif not control(os.read(control_fd, 64), snapshot):
                    for p, _ in children:
                        p.join(5)
                    snapshot()
                    return 0


def _serve_one(lsock, conn, size, upstream_s, served):
    lsock.close()  # the parent accepts and answers the control pipe, not the children
    os.close(CONTROL_FD)
    os.close(REPORT_FD)

    def count():
        served.value += 1
    serve_blocking(conn, size, upstream_s, count)


RUNTIME = Processes()
