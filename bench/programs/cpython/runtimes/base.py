"""What every CPython runtime offers the workloads, the harness and `serve`.

A runtime is one class: its traits (what it is, for sizes and the report),
`run(n, body, parked)` (spawn n tasks, join them, return their results), the
primitives a body uses (a queue, a lock, a counter, yield, sleep, park), and
`serve()`, its echo server (echo_server.py has the protocol). Bodies call the
runtime's own objects (`q.put(x)`, `await q.get()`), so each reads as the
library's documentation writes it; `ctx` is the runtime itself.
"""

import importlib
import os
import platform
import sys

# COBENCH_PY_HIDE=gevent,uvloop: these modules count as not importable, so the
# tests can see what a machine without them declares.
HIDDEN = {m.strip() for m in os.environ.get("COBENCH_PY_HIDE", "").split(",") if m.strip()}


def import_optional(module):
    """(module, None) or (None, why it cannot be imported)."""
    if module in HIDDEN:
        return None, f"No module named '{module}' (hidden by COBENCH_PY_HIDE)"
    try:
        return importlib.import_module(module), None
    except ImportError as e:
        return None, str(e)


class Counter:
    """A plain shared integer for tasks that share memory: `c.value += 1` is a
    load and a store in the interpreter, exactly what lost_updates asks about."""
    __slots__ = ("value",)

    def __init__(self):
        self.value = 0


class Runtime:
    name = label = ""
    kind = stack = cost = ""     # as the C++ traits (runtimes/core/traits.hpp)
    multi_core = False           # two tasks can run Python at once (only processes: the GIL)
    shared_memory = True         # tasks see each other's plain writes
    os_threads = False           # tasks run on more than one OS thread (a cross-core hand-off exists)
    is_async = False             # bodies are coroutines (`async def`)
    module = package = None      # the optional import and its Debian package
    workers = 0                  # a pool: how many tasks run at once
    timer_slack_ns = 0           # how early a timer may fire (its clock's resolution)

    def available(self):
        """(True, version) or (False, reason)."""
        if self.module is None:
            return True, platform.python_version()
        mod, why = import_optional(self.module)
        if mod is None:
            return False, f"{self.package} is not installed: {why}"
        return True, getattr(mod, "__version__", "")

    def traits(self):
        return {"kind": self.kind, "multi_core": self.multi_core, "interpreter_lock": True, "stack": self.stack,
                "cost": self.cost, "shared_memory": self.shared_memory, "yardstick": True, "concurrent": True,
                "sized_stacks": False, "sized_workers": False, "counts_syscalls": False}

    # Untimed, around a repetition's runs (after the harness pinned this thread's CPUs).
    def start(self):
        pass

    def stop(self):
        pass

    def counter(self):
        return Counter()


def interpreter():
    return {"implementation": platform.python_implementation(), "version": platform.python_version(),
            "build": " ".join(platform.python_build()) + ", " + platform.python_compiler(),
            "executable": sys.executable, "gil": True}
