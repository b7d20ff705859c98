"""bench/gate.sh and bench/baseline.sh: exit statuses, and a baseline that is
never replaced by a failed or partial run.

Both run in a subprocess as CI runs them, with a stand-in for the benchmark
binary (COBENCH_BIN) that writes a chosen instruction-count file and exits
with a chosen status; the build folder and the baseline are temporary
(COBENCH_TEST_BUILD, COBENCH_BASELINE), so the repository is not touched.
"""

import json
import os
import subprocess
import tempfile
import unittest
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]

FAKE_COBENCH = """#!/usr/bin/env bash
# Stand-in for cobench --instructions: copies $FAKE_RESULTS to --out (when
# set) and exits with $FAKE_RC.
out= prev=
for a in "$@"; do [ "$prev" = --out ] && out=$a; prev=$a; done
if [ -n "${FAKE_RESULTS:-}" ] && [ -n "$out" ]; then cp "$FAKE_RESULTS" "$out"; fi
exit "${FAKE_RC:-0}"
"""

CONTEXT = {"cobench_schema": 2, "cobench_profile": "instructions", "fingerprint": "fp-1",
           "git_commit": "0" * 40}


def instruction_file(counts, errored=(), **context):
    entries = []
    for name, value in counts.items():
        e = {"name": name, "run_name": name, "run_type": "iteration", "repetitions": 1,
             "repetition_index": 0, "iterations": 1, "real_time": 1.0, "cpu_time": 1.0,
             "time_unit": "ms", "instructions_per_op": value}
        if name in errored:
            e.update(error_occurred=True, error_message="EAGAIN")
        entries.append(e)
    return {"context": dict(CONTEXT, **context), "benchmarks": entries, "families": [], "declared": []}


class ScriptTest(unittest.TestCase):
    COUNTS = {"spawn/coroutines/tasks:1000": 900.0, "cpu_bound/coroutines/tasks:1": 3600.0}

    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory()
        self.tmp = Path(self._tmp.name)
        self.fake = self.tmp / "cobench"
        self.fake.write_text(FAKE_COBENCH)
        self.fake.chmod(0o755)
        self.baseline = self.tmp / "baseline.json"
        self.baseline.write_text(json.dumps(instruction_file(self.COUNTS)))

    def tearDown(self):
        self._tmp.cleanup()

    def script(self, name, doc=None, rc=0):
        env = dict(os.environ, COBENCH_BIN=str(self.fake), COBENCH_TEST_BUILD=str(self.tmp / "build"),
                   COBENCH_BASELINE=str(self.baseline), FAKE_RC=str(rc))
        env.pop("FAKE_RESULTS", None)
        if doc is not None:
            path = self.tmp / "fake-results.json"
            path.write_text(json.dumps(doc))
            env["FAKE_RESULTS"] = str(path)
        return subprocess.run(["bash", str(REPO / "bench" / name)], env=env, capture_output=True,
                              text=True, timeout=300)


class GateTest(ScriptTest):
    def test_statuses(self):
        slower = dict(self.COUNTS, **{"spawn/coroutines/tasks:1000": 1000.0})
        cases = [
            ("same counts", instruction_file(self.COUNTS), 0, 0),
            ("11% more instructions", instruction_file(slower), 0, 1),
            ("other toolchain", instruction_file(self.COUNTS, fingerprint="fp-2"), 0, 2),
            ("a benchmark errored", instruction_file(self.COUNTS, errored=["cpu_bound/coroutines/tasks:1"]), 3, 3),
            ("the run failed", None, 1, 1),
            ("the run was interrupted", None, 130, 130),
        ]
        for what, doc, rc, status in cases:
            with self.subTest(what):
                proc = self.script("gate.sh", doc, rc)
                self.assertEqual(proc.returncode, status, proc.stdout + proc.stderr)

    def test_missing_baseline_is_bad_input(self):
        self.baseline.unlink()
        proc = self.script("gate.sh", instruction_file(self.COUNTS))
        self.assertEqual(proc.returncode, 2, proc.stderr)
        self.assertIn("no such file", proc.stderr)


class BaselineTest(ScriptTest):
    def test_success_replaces_the_baseline(self):
        new = instruction_file(dict(self.COUNTS, **{"cpu_bound/coroutines/tasks:1": 3700.0}))
        proc = self.script("baseline.sh", new)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(json.loads(self.baseline.read_text()), new)

    def test_failed_or_partial_run_keeps_the_old_baseline(self):
        before = self.baseline.read_bytes()
        for what, doc, rc, status in (("failed", None, 1, 1),
                                      ("a family failed", instruction_file({"spawn/coroutines/tasks:1000": 1.0}), 3, 1),
                                      ("nothing written", None, 0, 1),
                                      ("interrupted", None, 130, 130)):
            with self.subTest(what):
                proc = self.script("baseline.sh", doc, rc)
                self.assertEqual(proc.returncode, status, proc.stderr)
                self.assertIn("kept as it was", proc.stderr)
                self.assertEqual(self.baseline.read_bytes(), before)
                leftovers = [p.name for p in self.tmp.iterdir() if p.name.startswith(".baseline.json")]
                self.assertEqual(leftovers, [], "no temporary file left beside the baseline")


if __name__ == "__main__":
    unittest.main()
