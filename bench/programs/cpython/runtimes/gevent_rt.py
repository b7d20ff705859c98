"""py_gevent: greenlets on gevent's hub, with gevent's own primitives
(gevent.spawn, gevent.queue.Queue, gevent.event.Event, gevent.sleep) and
no monkey-patching, as gevent's docs write them.

Greenlets are stackful: every one runs on the thread's C stack, and a
switched-out greenlet keeps the slice it used copied to the heap (its
stack is held only while suspended). One OS thread runs them all, switching
only where a greenlet blocks in gevent.
"""

import os

from echo_server import control, listener, report, serve_blocking
from runtimes.base import Runtime, import_optional
from runtimes.threading_rt import PARK_TIMEOUT_S

gevent, _ = import_optional("gevent")
if gevent:
    import gevent.event
    import gevent.lock
    import gevent.os
    import gevent.queue
    import gevent.server
    import gevent.socket


class Greenlets(Runtime):
    name, label = "py_gevent", "gevent greenlets (one thread)"
    kind, stack, cost = "fiber", "per_suspended_task", "light"
    module, package = "gevent", "python3-gevent"

    def queue(self, maxsize):
        return gevent.queue.Queue(maxsize)

    def lock(self):
        return gevent.lock.Semaphore()

    yield_ = staticmethod(lambda: gevent.sleep(0))  # gevent's documented yield
    sleep = staticmethod(lambda s: gevent.sleep(s))

    def park(self):
        self._parked += 1
        if self._parked == self._n:
            self._all.set()
        self._release.wait(PARK_TIMEOUT_S)

    def run(self, n, body, parked=None):
        if parked:
            self._n, self._parked = n, 0
            self._all, self._release = gevent.event.Event(), gevent.event.Event()
        greenlets = [gevent.spawn(body, i) for i in range(n)]
        if parked:
            self._all.wait(PARK_TIMEOUT_S)
            parked(None)
            self._release.set()
        gevent.joinall(greenlets, raise_error=True)
        return [g.value for g in greenlets]

    def serve(self, size, upstream_s, control_fd):
        """gevent.server.StreamServer, a greenlet a connection (gevent's echo
        server example); the main greenlet reads the control pipe."""
        served = [0, 0]  # requests, connections: one thread, no lost update

        def count():
            served[0] += 1

        def handle(conn, _address):
            served[1] += 1
            serve_blocking(conn, size, upstream_s, count, sleep=gevent.sleep)

        server = gevent.server.StreamServer(gevent.socket.socket(fileno=listener().detach()), handle)
        server.start()
        gevent.os.make_nonblocking(control_fd)
        snapshot = lambda: report(*served)
        while control(gevent.os.nb_read(control_fd, 64), snapshot):
            pass
        snapshot()
        os._exit(0)  # the handlers' greenlets end with the process


RUNTIME = Greenlets()
