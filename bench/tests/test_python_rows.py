"""The CPython yardsticks (bench/reference_python.hpp) as the orchestrator
runs them: their workload rows and their echo rows (the suite's own
generator through the echo rig) land in the results file with
"reference": true and the interpreter, context.references says what each
runtime is, a missing module or interpreter declares rows with the reason,
a Python row that errors counts as a failure, and --runtimes, --filter and
--list select them like any entry.

The program is bench/programs/cpython/cobench_py.py, or COBENCH_PY_PROGRAM;
the tests that need it skip where it is absent. The failure test uses a
small program of its own written into a temporary folder."""

import json
import os
import textwrap
import unittest

from cobench_util import TempDirCase, needs_bin, run

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PROGRAM = os.environ.get("COBENCH_PY_PROGRAM") or os.path.join(ROOT, "bench", "programs", "cpython", "cobench_py.py")
PYTHON = os.environ.get("COBENCH_PYTHON") or "/usr/bin/python3"
SIX = ["py_multiprocessing", "py_threading", "py_threadpool", "py_gevent", "py_asyncio", "py_uvloop"]

needs_program = unittest.skipUnless(os.path.exists(PROGRAM) and os.access(PYTHON, os.X_OK),
                                    f"{PROGRAM} or {PYTHON} missing")


def env(**extra):
    e = dict(os.environ, COBENCH_PY_PROGRAM=PROGRAM)
    e.update(extra)
    return e


def runtime_of(name):
    return name.split("/")[1]


@needs_bin
class PythonRows(TempDirCase):
    def results(self, *args, environ=None):
        out = self.path("r.json")
        r = run("--profile", "test", *args, "--out", out, env=environ or env())
        doc = None
        if os.path.exists(out):
            with open(out) as f:
                doc = json.load(f)
        return r, doc

    @needs_program
    def test_rows_references_and_echo(self):
        r, doc = self.results("--runtimes", "py_asyncio,py_threading")
        self.assertEqual(r.returncode, 0, r.stderr[-3000:])
        by_name = {b["name"]: b for b in doc["benchmarks"]}
        self.assertTrue(by_name)
        self.assertEqual({runtime_of(n) for n in by_name}, {"py_asyncio", "py_threading"})
        self.assertEqual(doc["families"], [], "no C++ family was asked for")
        for name, b in by_name.items():
            with self.subTest(name=name):
                self.assertIs(b["reference"], True)
                self.assertNotIn("error_occurred", b, b.get("error_message"))
                self.assertRegex(b["interpreter"], r"^CPython 3\.\d+\.\d+$")
        # Workloads besides echo, and echo through the rig with the C++ rows' counters.
        self.assertTrue(any(not n.startswith("echo/") for n in by_name))
        echo = by_name["echo/py_asyncio/conns:2"]
        for k in ("req_per_s", "server_cpu_ns_per_req", "open_rate", "open_server_cpu_ns_per_req", "gen_valid",
                  "gen_late_frac", "hiccup_max_us"):
            self.assertIn(k, echo)
        self.assertGreater(echo["open_server_cpu_ns_per_req"], 0)
        self.assertIn("echo/py_threading/conns:2", by_name)
        refs = doc["context"]["references"]
        self.assertEqual(set(refs), {"py_asyncio", "py_threading"})
        for rt, ref in refs.items():
            with self.subTest(runtime=rt):
                self.assertEqual(ref["kind"], "yardstick")
                self.assertIs(ref["yardstick"], True)
                self.assertIs(ref["interpreter_lock"], True)
                self.assertIs(ref["available"], True)
                self.assertRegex(ref["interpreter"], r"^CPython 3\.\d+\.\d+$")
                self.assertTrue(ref["interpreter_build"])
                self.assertIn(ref["model_kind"], ("process", "thread", "pooled", "fiber", "coroutine", "hybrid"))
                self.assertIn("multi_core", ref)
                self.assertTrue(ref["label"].startswith(ref["interpreter"]))
        self.assertEqual(refs["py_asyncio"]["model_kind"], "coroutine")
        self.assertEqual(refs["py_threading"]["model_kind"], "thread")
        # Every counter a Python row carries has its unit and direction.
        counters = doc["context"]["counters"]
        skip = {"name", "run_name", "run_type", "repetitions", "repetition_index", "iterations", "real_time",
                "cpu_time", "time_unit", "reference", "label", "interpreter", "threads", "family_index",
                "per_family_instance_index", "aggregate_name", "aggregate_unit"}
        for name, b in by_name.items():
            for k, v in b.items():
                if k not in skip and isinstance(v, (int, float)) and not isinstance(v, bool):
                    self.assertIn(k, counters, f"{name}: counter {k} has no unit in context.counters")

    @needs_program
    def test_a_missing_module_declares_its_rows(self):
        r, doc = self.results("--runtimes", "py_gevent,py_asyncio", "--filter", "^(spawn|echo)/",
                              environ=env(COBENCH_PY_HIDE="gevent"))
        self.assertEqual(r.returncode, 0, r.stderr[-3000:])
        self.assertEqual([b["name"] for b in doc["benchmarks"] if runtime_of(b["name"]) == "py_gevent"], [])
        declared = [d for d in doc["declared"] if d["runtime"] == "py_gevent"]
        self.assertIn("echo", {d["workload"] for d in declared})
        self.assertIn("spawn", {d["workload"] for d in declared})
        for d in declared:
            self.assertIn("gevent", d["reason"])
        self.assertTrue(any(runtime_of(b["name"]) == "py_asyncio" for b in doc["benchmarks"]))
        ref = doc["context"]["references"]["py_gevent"]
        self.assertIs(ref["available"], False)
        self.assertIn("gevent", ref["reason"])

    def test_a_missing_interpreter_declares_every_row(self):
        r, doc = self.results("--runtimes", "coroutines,py_asyncio", "--filter",
                              "^(ping_pong/coroutines/pin:same|echo/py_asyncio/)",
                              environ=env(COBENCH_PYTHON=self.path("no_such_python")))
        self.assertEqual(r.returncode, 0, r.stderr[-3000:])
        declared = [d for d in doc["declared"] if d["runtime"] == "py_asyncio"]
        self.assertTrue(declared)
        for d in declared:
            self.assertIn("no_such_python", d["reason"])
        self.assertEqual([b for b in doc["benchmarks"] if "/py_" in b["name"]], [])

    def test_an_errored_python_row_is_a_failure(self):
        program = self.path("fake_py.py")
        with open(program, "w") as f:
            f.write(textwrap.dedent("""\
                import json, sys
                names = ["spawn/py_asyncio/tasks:2", "yield_ring/py_asyncio/tasks:2"]
                if sys.argv[1] == "list":
                    rt = {"name": "py_asyncio", "label": "asyncio", "available": True, "reason": "",
                          "module_version": "x", "traits": {"kind": "coroutine", "multi_core": False,
                          "interpreter_lock": True, "stack": "stackless", "shared_memory": True, "yardstick": True}}
                    print(json.dumps({"interpreter": {"implementation": "CPython", "version": "3.11.2",
                                      "build": "b", "executable": sys.executable, "gil": True},
                                      "runtimes": [rt], "declared": [], "counters": {},
                                      "entries": [{"name": n, "workload": n.split("/")[0], "runtime": "py_asyncio",
                                                   "params": "tasks:2"} for n in names]}))
                elif sys.argv[1] == "run":
                    # One row fails, the other is never written.
                    print(json.dumps({"name": names[0], "error_occurred": True, "error_message": "verify: wrong"}))
                    sys.exit(1)
                """))
        r, doc = self.results("--runtimes", "coroutines,py_asyncio", "--filter",
                              "^(ping_pong/coroutines/pin:same|spawn/py_asyncio|yield_ring/py_asyncio)",
                              environ=env(COBENCH_PY_PROGRAM=program))
        self.assertEqual(r.returncode, 3, r.stderr[-3000:])
        by_name = {b["name"]: b for b in doc["benchmarks"]}
        self.assertIn("verify: wrong", by_name["spawn/py_asyncio/tasks:2"]["error_message"])
        self.assertIn("wrote no result", by_name["yield_ring/py_asyncio/tasks:2"]["error_message"])
        for n in ("spawn/py_asyncio/tasks:2", "yield_ring/py_asyncio/tasks:2"):
            self.assertIs(by_name[n]["error_occurred"], True)
            self.assertIs(by_name[n]["reference"], True)

    @needs_program
    def test_list_and_selection(self):
        r = run("--list", "--profile", "test", "--runtimes", "python", env=env())
        self.assertEqual(r.returncode, 0, r.stderr)
        listed = [l for l in r.stdout.splitlines() if "[reference: CPython 3." in l]
        self.assertEqual({runtime_of(l.split()[0]) for l in listed}, set(SIX))
        for rt in SIX:
            self.assertIn(f"echo/{rt}/conns:2  [reference: CPython 3.", r.stdout)
        # Without --runtimes they are in; a list without them runs none.
        r = run("--list", "--profile", "test", env=env())
        self.assertIn("echo/py_uvloop/conns:2", r.stdout)
        r = run("--list", "--profile", "test", "--runtimes", "coroutines,asio", env=env())
        self.assertNotIn("/py_", r.stdout)
        r = run("--list", "--profile", "test", "--runtimes", "coroutines,py_uvloop", "--filter", "^echo/", env=env())
        self.assertIn("echo/py_uvloop/conns:2", r.stdout)
        self.assertNotIn("echo/py_asyncio", r.stdout)
        self.assertNotIn("spawn/py_uvloop", r.stdout)
        r = run("--list", "--profile", "test", "--runtimes", "py_gevent", env=env(COBENCH_PY_HIDE="gevent"))
        self.assertIn("declared echo/py_gevent/conns:2: ", r.stdout)
        self.assertNotIn("[reference", r.stdout)

    def test_runtime_names(self):
        r = run("--list", "--profile", "test", "--runtimes", "python,py_asyncio", env=env())
        self.assertEqual(r.returncode, 2)
        self.assertIn("twice", r.stderr)
        r = run("--list", "--profile", "test", "--runtimes", "py_nope", env=env())
        self.assertEqual(r.returncode, 2)
        self.assertIn("py_asyncio", r.stderr, "the refusal names the CPython runtimes")


if __name__ == "__main__":
    unittest.main()
