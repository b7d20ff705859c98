"""Shared helpers for the robustness tests: running the real binary, finding
what it left behind (processes, files), and dropping privileges for the
resource-limit faults.

The binary comes from COBENCH_BIN (ctest sets it, and COBENCH_ECHO_CLIENT_BIN).
"""

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

BIN = os.environ.get("COBENCH_BIN", "")

needs_bin = unittest.skipUnless(BIN and os.path.exists(BIN), "COBENCH_BIN not set: run through ctest")

# A small but real run: one family, a few benchmarks, the kernel reference left out.
SMALL = ["--profile", "test", "--runtimes", "coroutines", "--filter", "^(ping_pong|spawn|yield_ring)/"]


def default_signals():
    """preexec_fn: SIGINT as the default, even if our caller ignores it (a
    background job of a non-interactive shell), so that the binary catches it."""
    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, signal.SIG_DFL)


def run(*args, timeout=300, env=None, prefix=(), cwd=None):
    return subprocess.run([*prefix, BIN, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          timeout=timeout, env=env, cwd=cwd, preexec_fn=default_signals)


def start(*args, prefix=(), **kw):
    """A run in a session of its own, so everything it starts can be found by
    session id and nothing of the test runner is signalled by mistake."""
    return subprocess.Popen([*prefix, BIN, *args], start_new_session=True, preexec_fn=default_signals, **kw)


def session_members(sid):
    """Pids of live (not zombie) processes whose session id is sid."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        state, session = fields[0], int(fields[3])
        if session == sid and state != "Z":
            out.append(int(d))
    return out


def parent_of(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return None
    return int(stat[stat.rindex(")") + 2:].split()[1])


def processes_running(path):
    """Pids of live processes whose executable is path (pgrep by binary path)."""
    real = os.path.realpath(path)
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            if os.readlink(f"/proc/{d}/exe") == real:
                with open(f"/proc/{d}/stat") as f:
                    stat = f.read()
                if stat[stat.rindex(")") + 2] != "Z":
                    out.append(int(d))
        except OSError:
            continue
    return out


def wait_gone(sid, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        left = session_members(sid)
        if not left:
            return []
        time.sleep(0.1)
    return session_members(sid)


def kill_session(sid):
    for pid in session_members(sid):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


def wait_for_line(path, needle, seconds):
    """Waits until the file at path contains needle; returns its text."""
    deadline = time.monotonic() + seconds
    text = ""
    while time.monotonic() < deadline:
        with open(path, errors="replace") as f:
            text = f.read()
        if needle in text:
            return text
        time.sleep(0.05)
    raise AssertionError(f"{needle!r} did not appear within {seconds} s; stderr so far:\n{text[-3000:]}")


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def read_text(path):
    with open(path, errors="replace") as f:
        return f.read()


def load(path):
    with open(path) as f:
        return json.load(f)


def make_old_results(folder, name="results.json"):
    """A previous results file whose bytes the tests compare afterwards."""
    path = os.path.join(folder, name)
    with open(path, "w") as f:
        json.dump({"context": {"cobench_schema": 2, "marker": "previous results"}, "benchmarks": [
            {"name": "ping_pong/coroutines/pin:same", "run_type": "iteration", "real_time": 1.0}],
            "families": [], "declared": []}, f)
    return path, read_bytes(path)


class TempDirCase(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="cobench-robust-")
        self.addCleanup(shutil.rmtree, self.dir, ignore_errors=True)

    def path(self, *parts):
        return os.path.join(self.dir, *parts)

    def start_logged(self, *args, tag="run"):
        """start(*args) with stderr in a file beside self.dir (not in it: tests list that folder);
        returns (process, stderr path). Its session is killed and the file removed at cleanup."""
        err = self.path("..", os.path.basename(self.dir) + f".{tag}.stderr")
        self.addCleanup(lambda: os.path.exists(err) and os.unlink(err))
        with open(err, "w") as e:
            p = start(*args, stdout=subprocess.DEVNULL, stderr=e)
        self.addCleanup(kill_session, p.pid)
        return p, err

    def assertOnly(self, folder, names, msg=""):
        """Nothing but `names` in folder: no temporary or .part files left."""
        self.assertEqual(sorted(os.listdir(folder)), sorted(names), msg or f"left behind in {folder}")

    def assertNothingRan(self, r):
        self.assertNotIn("benchmarks, profile", r.stderr, "a family started although the input was refused")


def unprivileged_prefix(uid):
    """A command prefix that runs as a user of its own, where RLIMIT_NPROC
    applies (root ignores it); None if that cannot be done here."""
    if os.geteuid() != 0:
        return []
    if not shutil.which("setpriv"):
        return None
    if any(os.stat(f"/proc/{d}").st_uid == uid for d in os.listdir("/proc") if d.isdigit()):
        return None
    prefix = ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups"]
    probe = subprocess.run([*prefix, BIN, "--help"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return prefix if probe.returncode == 0 else None


def with_nproc(prefix, n):
    return [*prefix, "prlimit", f"--nproc={n}"] if shutil.which("prlimit") else None
