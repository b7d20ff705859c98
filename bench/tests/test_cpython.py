"""The CPython yardstick rows (bench/programs/cpython/cobench_py.py), on
Debian's /usr/bin/python3: every workload verifies its result under every
runtime at the test profile; a missing gevent or uvloop (simulated with
COBENCH_PY_HIDE) declares those rows with the reason and fails nothing; bad
usage exits 2; `serve` echoes over the fd protocol of
workloads/io/server_program.hpp and reports its counts; the JSON shapes the
orchestrator reads."""

import fcntl
import json
import os
import socket
import subprocess
import unittest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PROG = os.path.join(ROOT, "bench", "programs", "cpython", "cobench_py.py")
PYTHON = os.environ.get("COBENCH_PY_INTERPRETER", "/usr/bin/python3")
RUNTIMES = ["py_multiprocessing", "py_threading", "py_threadpool", "py_gevent", "py_asyncio", "py_uvloop"]
ROW_KEYS = {"name", "run_name", "run_type", "repetition_index", "repetitions", "iterations", "real_time", "cpu_time",
            "time_unit", "reference", "ops"}

needs_python = unittest.skipUnless(os.access(PYTHON, os.X_OK), f"{PYTHON} is not here")


def cobench_py(*args, env=None, timeout=120):
    return subprocess.run([PYTHON, PROG, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})})


def listing(*args, env=None):
    r = cobench_py("list", "--profile", "test", *args, env=env)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def rows(stdout):
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


@needs_python
class Listing(unittest.TestCase):
    def test_shape(self):
        d = listing()
        self.assertEqual(d["interpreter"]["implementation"], "CPython")
        self.assertTrue(d["interpreter"]["gil"])
        self.assertTrue(d["interpreter"]["version"].startswith("3."))
        self.assertIn("build", d["interpreter"])
        self.assertEqual([r["name"] for r in d["runtimes"]], RUNTIMES)
        for r in d["runtimes"]:
            t = r["traits"]
            self.assertIn(t["kind"], ("process", "thread", "pooled", "fiber", "coroutine"))
            self.assertTrue(t["interpreter_lock"] and t["yardstick"])
            self.assertEqual(t["multi_core"], r["name"] == "py_multiprocessing")
            self.assertIn("stack", t)
            self.assertIn("shared_memory", t)
            self.assertEqual("reason" in r, not r["available"])
        self.assertTrue(d["entries"])
        for e in d["entries"]:
            self.assertEqual(e["name"], f"{e['workload']}/{e['runtime']}/{e['params']}")
        for x in d["declared"]:
            self.assertTrue(x["reason"], x)
        workloads = {e["workload"] for e in d["entries"]}
        self.assertEqual(workloads, {"ping_pong", "yield_ring", "spawn", "idle_memory", "cpu_bound", "timer_fanout",
                                     "producer_consumer", "lost_updates"})
        for c in ("switch_ns", "spawn_ns", "pss_per_task", "speedup", "overhead_us_per_task", "msgs_per_s",
                  "lost_updates", "ops", "cpu_user_ns_per_op"):
            self.assertIn(d["counters"][c]["better"], ("lower", "higher", "none"), c)
            self.assertTrue(d["counters"][c]["unit"], c)

    def test_filter_and_runtimes_select(self):
        d = listing("--filter", "^spawn/", "--runtimes", "py_threading,py_asyncio")
        self.assertTrue(d["entries"])
        self.assertTrue(all(e["workload"] == "spawn" and e["runtime"] in ("py_threading", "py_asyncio")
                            for e in d["entries"]))


@needs_python
class EveryWorkloadVerifies(unittest.TestCase):
    def test_test_profile(self):
        planned = listing()
        r = cobench_py("run", "--profile", "test", timeout=300)
        got = rows(r.stdout)
        errors = [x for x in got if x.get("error_occurred")]
        self.assertEqual(errors, [], r.stderr[-2000:])
        self.assertEqual(r.returncode, 0, r.stderr[-2000:])
        available = {x["name"] for x in planned["runtimes"] if x["available"]}
        want = {e["name"] for e in planned["entries"] if e["runtime"] in available}
        self.assertEqual({x["name"] for x in got}, want)
        for x in got:
            self.assertLessEqual(ROW_KEYS, set(x), x["name"])
            self.assertEqual((x["run_type"], x["time_unit"], x["reference"]), ("iteration", "ms", True))
            self.assertGreater(x["iterations"], 0)
            for k, v in x.items():
                if k not in ROW_KEYS and isinstance(v, (int, float)) and not isinstance(v, bool):
                    self.assertIn(k, planned["counters"], f"{x['name']}: counter {k} has no metadata")
        by = {x["name"]: x for x in got}
        # Where the interpreter may switch (lost_updates.py's head): a yield
        # between the load and the store loses updates on one thread, as
        # the C++ coroutines do; between two increments, never.
        for rt in available & {"py_gevent", "py_asyncio", "py_uvloop"}:
            self.assertEqual(by[f"lost_updates/{rt}/tasks:2"]["lost_updates"], 0, rt)
            self.assertGreater(by[f"lost_updates/{rt}/tasks:2/await:between"]["lost_updates"], 0, rt)
        self.assertEqual(by["cpu_bound/py_threading/tasks:1"]["speedup"], 1.0)
        self.assertIn("speedup", by["cpu_bound/py_threading/tasks:2"])

    def test_repetitions(self):
        r = cobench_py("run", "--profile", "test", "--filter", "^(spawn|idle_memory)/py_(asyncio|threading)/",
                       "--repetitions", "2")
        self.assertEqual(r.returncode, 0, r.stderr)
        got = rows(r.stdout)
        names = {x["name"] for x in got}
        self.assertEqual(len(names), 4)
        for n in names:
            self.assertEqual(sorted(x["repetition_index"] for x in got if x["name"] == n), [0, 1])
            self.assertTrue(all(x["repetitions"] == 2 for x in got if x["name"] == n))


@needs_python
class MissingModules(unittest.TestCase):
    HIDE = {"COBENCH_PY_HIDE": "gevent,uvloop"}

    def test_declared_with_the_reason(self):
        d = listing(env=self.HIDE)
        by = {r["name"]: r for r in d["runtimes"]}
        for rt, pkg, mod in (("py_gevent", "python3-gevent", "gevent"), ("py_uvloop", "python3-uvloop", "uvloop")):
            self.assertFalse(by[rt]["available"])
            self.assertIn(f"{pkg} is not installed", by[rt]["reason"])
            self.assertIn(f"No module named '{mod}'", by[rt]["reason"])
            self.assertFalse([e for e in d["entries"] if e["runtime"] == rt])
            declared = [x for x in d["declared"] if x["runtime"] == rt]
            self.assertTrue(declared)
            self.assertTrue(all(pkg in x["reason"] for x in declared))
        self.assertTrue(by["py_asyncio"]["available"])

    def test_run_fails_nothing(self):
        r = cobench_py("run", "--profile", "test", "--runtimes", "py_gevent,py_uvloop,py_asyncio", "--filter",
                       "^(spawn|lost_updates)/", env=self.HIDE)
        self.assertEqual(r.returncode, 0, r.stderr)
        got = rows(r.stdout)
        self.assertTrue(got)
        self.assertEqual({x["name"].split("/")[1] for x in got}, {"py_asyncio"})
        self.assertFalse([x for x in got if x.get("error_occurred")])
        r = cobench_py("serve", "py_gevent", "64", "0", env=self.HIDE)
        self.assertEqual(r.returncode, 1)
        self.assertIn("python3-gevent is not installed", r.stderr)


@needs_python
class BadUsage(unittest.TestCase):
    def test_exit_2(self):
        for args in ([], ["frobnicate"], ["list"], ["list", "--profile", "huge"], ["run", "--profile", "test", "--x"],
                     ["run", "--profile", "test", "--runtimes", "threads"], ["run", "--profile", "test", "--filter", "("],
                     ["run", "--profile", "test", "--repetitions", "0"], ["serve", "py_threading"],
                     ["serve", "no_such", "64", "0"], ["serve", "py_threading", "0", "0"],
                     ["serve", "py_threading", "64", "-1"], ["serve", "py_threading", "x", "0"]):
            r = cobench_py(*args)
            self.assertEqual(r.returncode, 2, args)
            self.assertEqual(r.stdout, "", args)
            self.assertIn("cobench_py:", r.stderr, args)


class Server:
    """`cobench_py.py serve` started as cobench starts a server program: the
    listener on fd 3, the control pipe's read end on 4, the report pipe's
    write end on 5 (moved above 10 first, so no placement overwrites another)."""

    def __init__(self, runtime, request_bytes, upstream_us):
        lsock = socket.socket()
        lsock.bind(("127.0.0.1", 0))
        lsock.listen(16)
        self.port = lsock.getsockname()[1]
        ctl_r, self.ctl_w = os.pipe()
        self.rep_r, rep_w = os.pipe()
        above = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10) for fd in (lsock.fileno(), ctl_r, rep_w)]

        def place():
            for target, fd in zip((3, 4, 5), above):
                os.dup2(fd, target)

        self.proc = subprocess.Popen([PYTHON, PROG, "serve", runtime, str(request_bytes), str(upstream_us)],
                                     pass_fds=(3, 4, 5), preexec_fn=place, stderr=subprocess.PIPE, text=True)
        for fd in above + [ctl_r, rep_w]:
            os.close(fd)
        lsock.close()
        self.report = os.fdopen(self.rep_r)

    def snapshot(self):
        os.write(self.ctl_w, b"s")
        return [int(x) for x in self.report.readline().split()]

    def stop(self):
        os.close(self.ctl_w)
        self.ctl_w = None
        line = self.report.readline()
        status = self.proc.wait(30)
        self.report.close()
        return [int(x) for x in line.split()], status, self.proc.stderr.read()

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc.stderr.close()
        if not self.report.closed:
            self.report.close()
        if self.ctl_w is not None:
            os.close(self.ctl_w)


@needs_python
class Serve(unittest.TestCase):
    def test_echo_for_each_runtime(self):
        available = {r["name"] for r in listing()["runtimes"] if r["available"]}
        for rt in RUNTIMES:
            if rt not in available:
                continue
            with self.subTest(runtime=rt):
                self.echo(rt)

    def echo(self, runtime, size=48, rounds=4, conns=3):
        s = Server(runtime, size, 500)
        self.addCleanup(s.kill)
        socks = [socket.create_connection(("127.0.0.1", s.port), timeout=30) for _ in range(conns)]
        for k in range(rounds):
            for c, sock in enumerate(socks):
                msg = bytes((c * 7 + k + j) % 251 for j in range(size))
                sock.sendall(msg[:5])  # a request in two segments: read whole before the reply
                sock.sendall(msg[5:])
                got = b""
                while len(got) < size:
                    chunk = sock.recv(size - len(got))
                    self.assertTrue(chunk, "the server closed the connection")
                    got += chunk
                self.assertEqual(got, msg)
        requests, accepted, cpu = s.snapshot()
        self.assertEqual((requests, accepted), (rounds * conns, conns))
        self.assertGreater(cpu, 0)
        for sock in socks:
            sock.close()
        (requests, accepted, cpu_final), status, err = s.stop()
        self.assertEqual(status, 0, err)
        self.assertEqual((requests, accepted), (rounds * conns, conns))
        self.assertGreaterEqual(cpu_final, cpu)


if __name__ == "__main__":
    unittest.main()


@needs_python
class OtherLoad(unittest.TestCase):
    """Each row records the CPU the rest of the machine used beside it (other_load_frac),
    measured inside the harness: a spinning process that is not the harness's own shows."""

    def test_a_spinning_neighbour_is_measured(self):
        spinners = [subprocess.Popen(["/usr/bin/python3", "-c", "while True: pass"])
                    for _ in range(os.cpu_count() or 1)]
        try:
            r = cobench_py("run", "--profile", "quick", "--runtimes", "py_asyncio",
                           "--filter", "^timer_fanout/py_asyncio/tasks:100/")
        finally:
            for s in spinners:
                s.kill()
                s.wait()
        self.assertEqual(r.returncode, 0, r.stderr)
        got = rows(r.stdout)
        self.assertTrue(got, r.stderr)
        for row in got:
            self.assertGreater(row["other_load_frac"], 0.15, row)
            self.assertIn("steal_frac", row)
