"""py_asyncio and py_uvloop: coroutines on one event loop, written as the
asyncio docs write them (asyncio.TaskGroup, asyncio.Queue, asyncio.Event,
await asyncio.sleep(0) to yield), on asyncio's default loop or on uvloop's.

A repetition's runs share one asyncio.Runner (made before them, closed after). The
echo server is the docs' streams server: asyncio.start_server on the given
socket, reader.readexactly, writer.write and drain.
"""

import asyncio
import os

from echo_server import control, listener, prepare, report
from runtimes.base import Runtime, import_optional


class Coroutines(Runtime):
    name, label = "py_asyncio", "CPython asyncio (default event loop)"
    kind, stack, cost = "coroutine", "stackless", "tiny"
    is_async = True
    # loop.time() is float seconds: a microsecond covers its rounding.
    timer_slack_ns = 1_000

    def loop_factory(self):
        return asyncio.new_event_loop

    def queue(self, maxsize):
        return asyncio.Queue(maxsize)

    async def park(self):
        self._parked += 1
        if self._parked == self._n:
            self._all.set()
        await self._release.wait()

    def start(self):
        self.runner = asyncio.Runner(loop_factory=self.loop_factory())

    def stop(self):
        self.runner.close()

    def run(self, n, body, parked=None):
        return self.runner.run(self._main(n, body, parked))

    async def _main(self, n, body, parked):
        if parked:
            self._n, self._parked = n, 0
            self._all, self._release = asyncio.Event(), asyncio.Event()
        async with asyncio.TaskGroup() as tg:
            tasks = [tg.create_task(body(i)) for i in range(n)]
            if parked:
                await self._all.wait()
                parked(None)
                self._release.set()
        return [t.result() for t in tasks]

    def serve(self, size, upstream_s, control_fd):
        with asyncio.Runner(loop_factory=self.loop_factory()) as runner:
            return runner.run(self._serve(size, upstream_s, control_fd))

    async def _serve(self, size, upstream_s, control_fd):
        served = [0, 0]  # requests, connections: one thread, no lost update

        async def handle(reader, writer):
            served[1] += 1
            prepare(writer.get_extra_info("socket"))
            try:
                while True:
                    data = await reader.readexactly(size)
                    if upstream_s:
                        await asyncio.sleep(upstream_s)
                    served[0] += 1
                    writer.write(data)
                    await writer.drain()
            except (asyncio.IncompleteReadError, ConnectionError):
                pass  # EOF or a reset: the client is done with this connection
            finally:
                writer.close()

        server = await asyncio.start_server(handle, sock=listener())
        loop, stopped = asyncio.get_running_loop(), asyncio.Event()
        snapshot = lambda: report(*served)

        def on_control():
            if not control(os.read(control_fd, 64), snapshot):
                loop.remove_reader(control_fd)
                stopped.set()

        loop.add_reader(control_fd, on_control)
        await stopped.wait()
        snapshot()
        server.close()
        return 0


class UvloopCoroutines(Coroutines):
    name, label = "py_uvloop", "CPython asyncio on uvloop (libuv)"
    module, package = "uvloop", "python3-uvloop"
    # libuv counts its loop time in whole milliseconds, cached at the start of
    # each loop iteration, and rounds a delay to milliseconds: by loop.time(),
    # a timer may fire up to a millisecond early (by the monotonic clock, by
    # as long as the iteration that set it had run).
    timer_slack_ns = 1_000_000

    def loop_factory(self):
        uvloop, why = import_optional("uvloop")
        if uvloop is None:
            raise RuntimeError(why)
        return uvloop.new_event_loop


RUNTIME = Coroutines()
UVLOOP = UvloopCoroutines()
