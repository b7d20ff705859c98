"""py_threading: one threading.Thread a task, as the threading docs start one.

Tasks are OS threads that take turns holding the GIL: a hand-off or a yield
(time.sleep(0)) releases it; pure Python code runs one thread at a time.
"""

import queue
import threading
import time

from echo_server import serve_accepting
from runtimes.base import Runtime

PARK_TIMEOUT_S = 120  # a task that fails before parking must not hang the run


class Threads(Runtime):
    name, label = "py_threading", "CPython threading (a thread a task)"
    kind, stack, cost = "thread", "os_thread", "medium"
    os_threads = True

    def queue(self, maxsize):
        return queue.Queue(maxsize)

    def lock(self):
        return threading.Lock()

    yield_ = staticmethod(lambda: time.sleep(0))  # releases the GIL: the idiom for "let others run"
    sleep = staticmethod(time.sleep)

    def park(self):
        self._arrived.wait(PARK_TIMEOUT_S)
        self._release.wait(PARK_TIMEOUT_S)

    def run(self, n, body, parked=None):
        results, errors = [None] * n, []

        def task(i):
            try:
                results[i] = body(i)
            except BaseException as e:  # reported by the run, not lost in a thread
                errors.append((i, e))

        if parked:
            self._arrived, self._release = threading.Barrier(n + 1), threading.Event()
        threads = [threading.Thread(target=task, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        if parked:
            self._arrived.wait(PARK_TIMEOUT_S)
            parked(None)
            self._release.set()
        for t in threads:
            t.join()
        if errors:
            raise RuntimeError(f"task {errors[0][0]} failed: {errors[0][1]!r}")
        return results

    def serve(self, size, upstream_s, control_fd):
        """A thread a connection (socketserver.ThreadingTCPServer's model)."""
        def launch(handler, *args):
            threading.Thread(target=handler, args=args, daemon=True).start()
        return serve_accepting(size, upstream_s, control_fd, launch)

RUNTIME = Threads()
