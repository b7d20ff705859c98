"""bench/run.sh: where --out goes, which exit status comes back, and that a
failed or empty run leaves the previous results, charts and report alone.

The script runs as users run it, in a subprocess, on a copy of the scripts
(so the repository's own plots/out and results/ are never touched), with a
stand-in for the benchmark binary (COBENCH_BIN) that writes a chosen results
file and exits with a chosen status.
"""

import json
import os
import shutil
import subprocess
import tempfile
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
FIXTURES = HERE / "fixtures"

FAKE_COBENCH = """#!/usr/bin/env bash
# Stand-in for build/cobench: logs its directory and arguments, copies
# $FAKE_RESULTS to --out (when both are set) and exits with $FAKE_RC.
printf '%s\\n' "$PWD" "$@" >"$FAKE_LOG"
out= prev=
for a in "$@"; do
  [ "$prev" = --out ] && out=$a
  case $a in --out=*) out=${a#--out=} ;; esac
  prev=$a
done
if [ -n "${FAKE_RESULTS:-}" ] && [ -n "$out" ]; then
  mkdir -p "$(dirname "$out")" && cp "$FAKE_RESULTS" "$out.part" && mv "$out.part" "$out"
fi
exit "${FAKE_RC:-0}"
"""


def tiny_results(failed_family=False):
    """A valid results file with one benchmark: one chart and the overview, quick to draw."""
    doc = json.loads((FIXTURES / "incomplete.json").read_text(encoding="utf-8"))
    doc["benchmarks"] = [e for e in doc["benchmarks"] if e["run_name"].startswith("ping_pong/")][:2]
    doc["declared"] = []
    doc["families"] = [{"runtime": e["run_name"].split("/")[1], "status": "ok", "message": "", "wall_s": 1.0}
                       for e in doc["benchmarks"]]
    if failed_family:
        doc["families"].append({"runtime": "fibers", "status": "crashed",
                                "message": "killed by signal 11", "wall_s": 1.0})
    return doc


def snapshot(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in Path(folder).rglob("*") if p.is_file() and "__pycache__" not in p.parts}


class RunScriptTest(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory()
        self.tmp = Path(self._tmp.name)
        self.repo = self.tmp / "repo"
        (self.repo / "bench").mkdir(parents=True)
        for script in ("run.sh", "where_time_goes.sh"):
            shutil.copy2(REPO / "bench" / script, self.repo / "bench" / script)
        shutil.copytree(REPO / "plots", self.repo / "plots",
                        ignore=shutil.ignore_patterns("__pycache__", "tests", "reference", "out"))
        self.fake = self.tmp / "cobench"
        self.fake.write_text(FAKE_COBENCH)
        self.fake.chmod(0o755)
        self.caller = self.tmp / "caller dir"
        self.caller.mkdir()
        # Earlier outputs that a failed run must not touch.
        (self.repo / "results").mkdir()
        (self.repo / "results" / "latest.json").write_text('{"previous": "results"}\n')
        (self.repo / "results" / "report.md").write_text("# previous report\n")
        (self.repo / "plots" / "out").mkdir()
        (self.repo / "plots" / "out" / "switch_cost.png").write_bytes(b"previous chart")
        self.tiny = self.tmp / "tiny.json"
        self.tiny.write_text(json.dumps(tiny_results()))

    def tearDown(self):
        self._tmp.cleanup()

    def run_sh(self, *args, results=None, rc=0):
        env = dict(os.environ, COBENCH_BIN=str(self.fake), FAKE_RC=str(rc), FAKE_LOG=str(self.tmp / "log"))
        env.pop("FAKE_RESULTS", None)
        if results is not None:
            env["FAKE_RESULTS"] = str(results)
        return subprocess.run(["bash", str(self.repo / "bench" / "run.sh"), *args], cwd=self.caller,
                              env=env, capture_output=True, text=True, timeout=300)

    def binary_args(self):
        return (self.tmp / "log").read_text().splitlines()[1:]

    def outputs(self):
        return {**{"results/" + k: v for k, v in snapshot(self.repo / "results").items()},
                **{"plots/out/" + k: v for k, v in snapshot(self.repo / "plots" / "out").items()}}

    def test_relative_out_is_taken_from_the_callers_directory(self):
        proc = self.run_sh("--profile", "quick", "--out", "sub/r.json", results=self.tiny)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn(str(self.caller / "sub" / "r.json"), self.binary_args())
        self.assertTrue((self.caller / "sub" / "r.json").exists())
        self.assertNotEqual((self.repo / "plots" / "out" / "switch_cost.png").read_bytes(), b"previous chart")

    def test_out_with_equals_sign(self):
        proc = self.run_sh("--out=r.json", results=self.tiny)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn(f"--out={self.caller / 'r.json'}", self.binary_args())

    def test_default_out_is_in_the_repository(self):
        proc = self.run_sh(results=self.tiny)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(self.binary_args()[-2:], ["--out", str(self.repo / "results" / "latest.json")])

    def test_failures_keep_everything(self):
        cases = [
            ("run failed", dict(rc=1), 1),
            ("bad flags", dict(rc=2), 2),
            ("interrupted", dict(rc=130), 130),
            ("exit 0 but nothing written", dict(rc=0), 1),
        ]
        for what, kw, status in cases:
            with self.subTest(what):
                before = self.outputs()
                proc = self.run_sh("--profile", "quick", **kw)
                self.assertEqual(proc.returncode, status, proc.stderr)
                self.assertIn("kept", proc.stderr)
                self.assertEqual(self.outputs(), before)

    def test_results_with_nothing_to_report_keep_the_charts(self):
        doc = json.loads((FIXTURES / "incomplete.json").read_text())
        for e in doc["benchmarks"]:
            e.update(error_occurred=True, error_message="EAGAIN")
        errored = self.tmp / "errored.json"
        errored.write_text(json.dumps(doc))
        charts = snapshot(self.repo / "plots" / "out")
        proc = self.run_sh(results=errored, rc=3)
        self.assertEqual(proc.returncode, 2, proc.stderr)
        self.assertIn("no successful benchmark", proc.stderr)
        self.assertEqual(snapshot(self.repo / "plots" / "out"), charts)

    def test_some_families_failed_is_3_with_a_report(self):
        crashed = self.tmp / "crashed.json"
        crashed.write_text(json.dumps(tiny_results(failed_family=True)))
        proc = self.run_sh(results=crashed, rc=3)
        self.assertEqual(proc.returncode, 3, proc.stderr)
        self.assertIn("crashed", (self.repo / "results" / "report.md").read_text())

    def test_list_and_help_go_straight_to_the_binary(self):
        proc = self.run_sh("--list", "--out", "x.json", rc=0)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(self.binary_args(), ["--list", "--out", str(self.caller / "x.json")])
        self.assertEqual(self.run_sh("--help", rc=2).returncode, 2)

    def test_header_documents_the_statuses(self):
        text = (REPO / "bench" / "run.sh").read_text()
        for line in ("#   0  all ok", "#   1  a failure", "#   2  bad input", "#   3  results written",
                     "#   4  internal error"):
            self.assertIn(line, text)


if __name__ == "__main__":
    unittest.main()
