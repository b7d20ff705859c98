"""The CPython runtimes, in the order they run and are listed."""

from runtimes.asyncio_rt import RUNTIME as asyncio_runtime, UVLOOP as uvloop_runtime
from runtimes.gevent_rt import RUNTIME as gevent_runtime
from runtimes.multiprocessing_rt import RUNTIME as multiprocessing_runtime
from runtimes.threading_rt import RUNTIME as threading_runtime
from runtimes.threadpool_rt import RUNTIME as threadpool_runtime

ALL = [multiprocessing_runtime, threading_runtime, threadpool_runtime, gevent_runtime, asyncio_runtime,
       uvloop_runtime]
BY_NAME = {rt.name: rt for rt in ALL}
