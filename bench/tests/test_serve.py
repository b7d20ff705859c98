"""`cobench serve`: every runtime that can serve echoes what it is sent, stops
cleanly on SIGINT and SIGTERM with connections still open (exit 0, the CPU
line printed, nothing of its session left), and bad flags are refused (exit 2).
And the Boost.Asio reference (bench/reference.hpp): its entries in the results,
selected by --runtimes and --filter, declared when its server is missing."""

import json
import os
import re
import signal
import socket
import subprocess
import time
import unittest

from cobench_util import BIN, TempDirCase, kill_session, needs_bin, run, session_members, start, wait_gone


def runtimes():
    """The registered runtimes, from the refusal of an unknown one."""
    r = run("serve", "--runtime", "no_such_runtime", timeout=60)
    m = re.search(r"known: ([^)]*)\)", r.stderr)
    return r, [x.strip() for x in m.group(1).split(",")] if m else []


@needs_bin
class Serve(unittest.TestCase):
    def serve(self, runtime, *extra):
        p = start("serve", "--runtime", runtime, "--tasks", "4", *extra, stdout=subprocess.PIPE,
                  stderr=subprocess.PIPE, text=True)
        self.addCleanup(self.kill_session, p)
        line = p.stdout.readline()
        m = re.match(r"listening 127\.0\.0\.1:(\d+)$", line.strip())
        self.assertIsNotNone(m, f"first line {line!r}; stderr: {p.stderr.read() if p.poll() is not None else ''}")
        return p, int(m.group(1))

    @staticmethod
    def kill_session(p):
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()

    def echo(self, port, conns=2, rounds=3):
        """Opens `conns` connections, echoes distinct payloads of several sizes
        on each, and leaves them open (the server must end them itself)."""
        socks = []
        for c in range(conns):
            s = socket.create_connection(("127.0.0.1", port), timeout=30)
            socks.append(s)
            for k in range(rounds):
                payload = bytes([(c * 31 + k + j) % 251 for j in range(1 + 50 * k)])
                s.sendall(payload)
                got = b""
                while len(got) < len(payload):
                    chunk = s.recv(65536)
                    self.assertTrue(chunk, "the server closed the connection")
                    got += chunk
                self.assertEqual(got, payload)
        self.addCleanup(lambda: [s.close() for s in socks])
        return socks

    def stop(self, p, sig):
        os.kill(p.pid, sig)
        out, err = p.communicate(timeout=60)
        return p.returncode, out, err

    def check_stopped(self, p, sig, requests, conns):
        sid = p.pid  # start() makes it a session leader
        rc, out, err = self.stop(p, sig)
        self.assertEqual(rc, 0, f"stdout: {out}\nstderr: {err}")
        self.assertIn("stopped: " + signal.Signals(sig).name, out)
        self.assertRegex(out, r"(?m)^server_cpu_s: [0-9.]+$")
        self.assertRegex(out, r"(?m)^server_cpu_ns_per_req: [0-9]+$")
        self.assertIn(f"requests: {requests}\n", out)
        self.assertIn(f"connections: {conns}\n", out)
        # Every task process and worker reaped: nothing of the session is left.
        deadline = time.monotonic() + 5
        while session_members(sid) and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertEqual(session_members(sid), [])

    def test_every_runtime_serves_and_stops_on_sigint(self):
        r, names = runtimes()
        self.assertEqual(r.returncode, 2)
        self.assertIn("coroutines", names)
        for rt in names:
            with self.subTest(runtime=rt):
                p, port = self.serve(rt)
                socks = self.echo(port)
                self.check_stopped(p, signal.SIGINT, requests=6, conns=2)
                for s in socks:  # the server shut them down
                    s.settimeout(10)
                    self.assertEqual(s.recv(10), b"")

    def test_sigterm_with_upstream_latency_and_workers(self):
        for rt, extra in (("coroutines", ("--upstream-us", "2000")), ("thread_loops", ("--workers", "2")),
                          ("process_loops", ("--workers", "2", "--upstream-us", "100"))):
            with self.subTest(runtime=rt):
                p, port = self.serve(rt, *extra)
                self.echo(port, conns=3, rounds=2)
                self.check_stopped(p, signal.SIGTERM, requests=6, conns=3)

    def test_stops_with_no_connection_ever_made(self):
        p, _ = self.serve("processes")
        rc, out, err = self.stop(p, signal.SIGINT)
        self.assertEqual(rc, 0, err)
        self.assertIn("requests: 0\n", out)
        self.assertIn("server_cpu_ns_per_req: none", out)

    def test_sigkill_leaves_no_handler_and_frees_the_port(self):
        """Killed outright, serve passes nothing on: its forked handlers (a
        process a task, or process workers) die with it (PR_SET_PDEATHSIG), and
        the port can be bound again. A threaded runtime is checked the same way."""
        for rt, extra in (("processes", ()), ("process_loops", ("--workers", "2")), ("threads", ())):
            with self.subTest(runtime=rt):
                p = start("serve", "--runtime", rt, "--tasks", "8", *extra, stdout=subprocess.PIPE,
                          stderr=subprocess.DEVNULL, text=True)
                sid = p.pid
                self.addCleanup(kill_session, sid)  # whatever survives, if the test fails
                self.addCleanup(p.stdout.close)
                self.addCleanup(p.wait)
                m = re.match(r"listening 127\.0\.0\.1:(\d+)$", p.stdout.readline().strip())
                self.assertIsNotNone(m)
                port = int(m.group(1))
                socks = self.echo(port, conns=8, rounds=1)  # every handler holds a connection
                if rt != "threads":
                    self.assertGreater(len(session_members(sid)), 1, "no handler process to check")
                os.kill(p.pid, signal.SIGKILL)
                p.wait(timeout=30)
                for s in socks:
                    s.close()
                self.assertEqual(wait_gone(sid, 10), [], "handler processes outlived the killed server")
                again = socket.socket()
                self.addCleanup(again.close)
                again.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                again.bind(("127.0.0.1", port))  # EADDRINUSE while anything still listens there
                again.listen(1)

    def test_bad_input(self):
        for args, says in ((["--runtime", "no_such_runtime"], "unknown runtime"),
                           ([], "--runtime NAME is required"),
                           (["--runtime", "coroutines", "--port", "70000"], "--port"),
                           (["--runtime", "coroutines", "--tasks", "0"], "--tasks"),
                           (["--runtime", "coroutines", "--upstream-us", "-1"], "--upstream-us"),
                           (["--runtime", "coroutines", "--workers", "2"], "no worker count"),
                           (["--runtime", "coroutines", "--no-such-flag"], "unknown option"),
                           (["--runtime"], "needs a value")):
            with self.subTest(args=args):
                r = run("serve", *args, timeout=60)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertIn(says, r.stderr)
                self.assertEqual(r.stdout, "")

    def test_port_in_use_is_an_error(self):
        held = socket.socket()
        held.bind(("127.0.0.1", 0))
        held.listen(1)
        self.addCleanup(held.close)
        r = run("serve", "--runtime", "coroutines", "--port", str(held.getsockname()[1]), timeout=60)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("bind", r.stderr)


@needs_bin
class AsioYardstick(TempDirCase):
    NAMES = {"echo/asio/conns:2", "echo/asio/conns:2/rate:1000", "slow_io/asio/upstream:0us/conns:2",
             "slow_io/asio/upstream:1ms/conns:2"}

    def results(self, *args, env=None):
        out = self.path("r.json")
        r = run("--profile", "test", *args, "--out", out, env=env)
        with open(out) as f:
            return r, json.load(f)

    def test_entries_counters_and_context(self):
        r, doc = self.results("--runtimes", "asio")
        self.assertEqual(r.returncode, 0, r.stderr)
        ref = doc["context"]["references"]["asio"]
        self.assertEqual(ref["kind"], "yardstick")
        self.assertRegex(ref["version"], r"^1\.[0-9]+$")
        by_name = {b["name"]: b for b in doc["benchmarks"]}
        self.assertEqual(set(by_name), self.NAMES)
        for name, b in by_name.items():
            with self.subTest(name=name):
                self.assertIs(b["reference"], True)
                self.assertNotIn("error_occurred", b)
                if not name.endswith("rate:1000"):
                    self.assertGreater(b["req_per_s"], 0)
                    self.assertGreater(b["server_cpu_ns_per_req"], 0)
                    self.assertGreater(b["p99_us"], 0)
                if name.startswith("echo/"):
                    for k in ("open_rate", "open_req_per_s", "open_p99_us", "open_server_cpu_ns_per_req",
                              "gen_valid", "gen_late_frac", "hiccup_max_us", "steal_frac"):
                        self.assertIn(k, b)
                    self.assertGreater(b["open_server_cpu_ns_per_req"], 0)
                else:
                    self.assertIn("ideal_req_per_s", b)
        # L = 1 ms per request: no reply comes sooner (behaviour, not speed).
        self.assertGreaterEqual(by_name["slow_io/asio/upstream:1ms/conns:2"]["p50_us"], 1000)
        self.assertEqual(by_name["slow_io/asio/upstream:1ms/conns:2"]["upstream_us"], 1000)

    def test_selection(self):
        r = run("--list", "--profile", "test")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("echo/asio/conns:2  [reference: Boost.Asio yardstick]", r.stdout)
        r = run("--list", "--profile", "test", "--runtimes", "coroutines")
        self.assertNotIn("/asio/", r.stdout)
        r = run("--list", "--profile", "test", "--runtimes", "coroutines,asio", "--filter", "^slow_io/")
        self.assertIn("slow_io/asio/upstream:0us/conns:2", r.stdout)
        self.assertNotIn("echo/asio", r.stdout)

    def test_declared_when_the_server_is_missing(self):
        env = dict(os.environ, COBENCH_ASIO_ECHO_BIN=self.path("no_such_server"))
        # With one runtime's benchmark beside it: a run of declared pairs alone writes no results.
        r, doc = self.results("--runtimes", "coroutines,asio", "--filter", "^(slow_io/asio|ping_pong/coroutines)/",
                              env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        declared = [d for d in doc["declared"] if d["runtime"] == "asio"]
        self.assertEqual(len(declared), 2, doc["declared"])
        self.assertIn("no_such_server", declared[0]["reason"])
        self.assertEqual([b for b in doc["benchmarks"] if "/asio/" in b["name"]], [])


if __name__ == "__main__":
    unittest.main()
