"""bench/syscalls.sh's results: at the test size (2 connections, 20 requests
each), with strace and with perf stat, it adds
echo_syscalls/<asio|coroutines>/conns:2 entries with the four counters and
the tool, the yardstick's marked as a reference, the counters' units in
context.counters; a second run replaces them; --repetitions N makes N
entries a server, each with its repetition index. A tool that cannot count here
(perf without permission, strace that may not attach) declares them: the
test is then skipped with that reason. With neither tool on PATH the
entries are declared, naming strace. An unreadable results file exits 2 and
is left as it was."""

import json
import os
import shutil
import subprocess
import unittest

from cobench_util import BIN, TempDirCase, needs_bin, read_bytes

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(ROOT, "bench", "syscalls.sh")
COUNTERS = ("syscalls_per_req", "epoll_ctl_per_req", "epoll_wait_per_req", "io_per_req")
SERVERS = ("asio", "coroutines")


def minimal_results(path):
    with open(path, "w") as f:
        json.dump({"context": {"cobench_schema": 2, "counters": {}, "runtimes": [
            {"name": "coroutines", "label": "C++20 coroutines", "io_backend": "epoll", "io_backend_variant": False},
            {"name": "coroutines_poll", "io_backend": "poll", "io_backend_variant": True}]}, "benchmarks": [
            {"name": "echo/coroutines/conns:1", "real_time": 1.0}], "families": [], "declared": []}, f)


def load(path):
    with open(path) as f:
        return json.load(f)


def run_script(results, env=None, tracer="auto", extra=()):
    return subprocess.run(["bash", SCRIPT, results, "--profile", "test", "--bin-dir", os.path.dirname(BIN),
                           "--tracer", tracer, *extra],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=120, env=env)


@needs_bin
class SyscallsScript(TempDirCase):
    def test_entries_strace(self):
        self.entries_or_declarations("strace")

    def test_entries_perf(self):
        self.entries_or_declarations("perf")

    def entries_or_declarations(self, tracer):
        path = os.path.join(self.dir, "results.json")
        minimal_results(path)
        r = run_script(path, tracer=tracer)
        self.assertEqual(r.returncode, 0, r.stderr)
        doc = load(path)
        self.assertIn("echo/coroutines/conns:1", [b["name"] for b in doc["benchmarks"]], "other entries stay")
        for c in COUNTERS:
            self.assertEqual(doc["context"]["counters"][c], {"unit": "syscalls/req", "better": "lower"})
        names = {b["name"]: b for b in doc["benchmarks"] if b["name"].startswith("echo_syscalls/")}
        declared = {(d["runtime"], d["params"]): d["reason"] for d in doc["declared"]
                    if d["workload"] == "echo_syscalls"}
        for s in SERVERS:
            name = f"echo_syscalls/{s}/conns:2"
            if tracer == "strace" and shutil.which("strace") is None:
                self.assertIn("strace is not installed", declared[(s, "conns:2")])
                continue
            if (s, "conns:2") in declared:
                self.skipTest(f"{name} declared here: {declared[(s, 'conns:2')]}")
            e = names[name]
            for c in COUNTERS:
                self.assertGreaterEqual(e[c], 0.0)
            self.assertGreater(e["syscalls_per_req"], 0.0)
            self.assertGreaterEqual(e["syscalls_per_req"],
                                    e["epoll_ctl_per_req"] + e["epoll_wait_per_req"] + e["io_per_req"] - 1e-9)
            self.assertGreater(e["io_per_req"], 1.0, "a request is at least a read and a write")
            self.assertEqual(e.get("reference", False), s == "asio")
            self.assertEqual(e["tracer"], tracer)
        # Again: replaced, not duplicated.
        self.assertEqual(run_script(path, tracer=tracer).returncode, 0)
        doc = load(path)
        again = [b["name"] for b in doc["benchmarks"] if b["name"].startswith("echo_syscalls/")]
        self.assertEqual(sorted(again), sorted(set(again)))
        self.assertEqual(len([d for d in doc["declared"] if d["workload"] == "echo_syscalls"]), len(declared))

    def test_repetitions_are_entries_of_their_own(self):
        """--repetitions 3: three measurements a server, each an entry with its index, so that the
        report folds them (n = 3) as it folds a benchmark's repetitions; bad counts exit 2."""
        path = os.path.join(self.dir, "results.json")
        minimal_results(path)
        r = run_script(path, extra=("--repetitions", "3"))
        self.assertEqual(r.returncode, 0, r.stderr)
        doc = load(path)
        declared = [d for d in doc["declared"] if d["workload"] == "echo_syscalls"]
        if declared:
            self.skipTest(f"declared here: {declared[0]['reason']}")
        for s in SERVERS:
            reps = [b for b in doc["benchmarks"] if b["name"] == f"echo_syscalls/{s}/conns:2"]
            self.assertEqual(sorted(b["repetition_index"] for b in reps), [0, 1, 2])
            self.assertEqual({b["repetitions"] for b in reps}, {3})
        before = read_bytes(path)
        r = run_script(path, extra=("--repetitions", "0"))
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("--repetitions must be at least 1", r.stderr)
        self.assertEqual(read_bytes(path), before)

    def test_without_a_tracer_declares(self):
        path = os.path.join(self.dir, "results.json")
        minimal_results(path)
        bare = os.path.join(self.dir, "bin")
        os.mkdir(bare)
        for tool in ("bash", "python3", "dirname"):
            if shutil.which(tool):
                os.symlink(shutil.which(tool), os.path.join(bare, tool))
        env = dict(os.environ, PATH=bare, COBENCH_PYTHON=shutil.which("python3") or "/usr/bin/python3")
        r = run_script(path, env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        doc = load(path)
        self.assertEqual([b for b in doc["benchmarks"] if b["name"].startswith("echo_syscalls/")], [])
        reasons = [d["reason"] for d in doc["declared"] if d["workload"] == "echo_syscalls"]
        self.assertEqual(len(reasons), len(SERVERS))
        for why in reasons:
            self.assertIn("strace is not installed", why)

    def test_unreadable_results_exit_2_and_stay(self):
        path = os.path.join(self.dir, "results.json")
        with open(path, "w") as f:
            f.write("{not json")
        before = read_bytes(path)
        r = run_script(path)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("cannot read the results file", r.stderr)
        self.assertEqual(read_bytes(path), before)
        self.assertEqual(os.listdir(self.dir), ["results.json"], "no temporary file left")


if __name__ == "__main__":
    unittest.main()
