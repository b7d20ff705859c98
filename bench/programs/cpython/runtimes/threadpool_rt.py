"""py_threadpool: concurrent.futures.ThreadPoolExecutor with its default
size, min(32, CPUs + 4) workers, as the concurrent.futures docs use it:
submit() a task, result() to join.

A pool runs `workers` tasks at once. A task that blocks (a full queue, a
park, a sleep) holds its worker while it waits, so tasks beyond the pool's
size wait in its queue: timer_fanout's sleepers go a pool-full at a time,
and a workload whose tasks must all be alive at once is declared beyond the
pool's size. Workers are started before the clock (the pool is warm, like a
oneTBB arena), on the CPUs the harness pinned.
"""

import os
import threading
from concurrent.futures import ThreadPoolExecutor

from echo_server import serve_accepting
from runtimes.threading_rt import PARK_TIMEOUT_S, Threads

# The echo server's pool: a blocking handler holds its worker for its
# connection's whole life, so a pool smaller than the connections leaves the
# rest queued, unserved until others close: the generator's run would stall.
# Sized past the largest connection count the suite offers (4000).
SERVE_WORKERS = 5000


class Pool(Threads):  # queues, locks, yield, sleep and park as threads'
    name, label = "py_threadpool", "CPython concurrent.futures.ThreadPoolExecutor"
    kind, stack, cost = "pooled", "os_thread", "light"
    workers = min(32, (os.cpu_count() or 1) + 4)  # the executor's documented default

    def start(self):
        self.executor = ThreadPoolExecutor(max_workers=self.workers)
        started = threading.Barrier(self.workers + 1)
        for _ in range(self.workers):  # each waits, so each is a new worker thread
            self.executor.submit(started.wait)
        started.wait()

    def stop(self):
        self.executor.shutdown()

    def run(self, n, body, parked=None):
        if parked:
            self._arrived, self._release = threading.Barrier(n + 1), threading.Event()
        futures = [self.executor.submit(body, i) for i in range(n)]
        if parked:
            self._arrived.wait(PARK_TIMEOUT_S)
            parked(None)
            self._release.set()
        return [f.result() for f in futures]

    def serve(self, size, upstream_s, control_fd):
        """Each accepted connection submitted to a pool (SERVE_WORKERS says why its size)."""
        executor = ThreadPoolExecutor(max_workers=SERVE_WORKERS)
        status = serve_accepting(size, upstream_s, control_fd, executor.submit)
        os._exit(status)  # the pool's workers are not daemons: shutdown would wait for open connections


RUNTIME = Pool()
