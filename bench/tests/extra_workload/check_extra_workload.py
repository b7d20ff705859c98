"""Adding a workload is one header plus its presentation entry (run by ctest
as extra_workload).

cobench_extra_workload is cobench built with this folder's extra_workload.hpp
appended to the workloads (COBENCH_EXTRA_WORKLOADS_HEADER, workloads/all.hpp);
nothing outside this folder names the workload. The run writes a results file
whose path this script prints (COBENCH_EXTRA_OUT, else a temporary folder), so
that further checks (the report's section for the workload) read the same
file: add them as methods of ExtraWorkload, which runs the binary once.

The report side: presentation.py, beside the header, is the workload's one presentation
entry; report.py, given it through COBENCH_PRESENTATION_EXTRA, gives the workload that section,
and without it the generic section every workload gets.

Environment: COBENCH_EXTRA_BIN (ctest sets it), COBENCH_EXTRA_OUT (optional).
"""

import json
import os
import subprocess
import tempfile
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent.parent

BIN = os.environ.get("COBENCH_EXTRA_BIN", "")
WORKLOAD = "extra_tally"
COUNTER = "tally_ns"
FILTER = "^extra_"


def results_path():
    out = os.environ.get("COBENCH_EXTRA_OUT")
    if out:
        os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
        return os.path.abspath(out)
    return os.path.join(tempfile.mkdtemp(prefix="cobench_extra_"), "results.json")


@unittest.skipUnless(BIN and os.path.exists(BIN), "COBENCH_EXTRA_BIN not set: run through ctest")
class ExtraWorkload(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.out = results_path()
        print(f"extra workload results: {cls.out}", flush=True)
        cls.listed = subprocess.run([BIN, "--list", "--profile", "test", "--filter", FILTER], check=True,
                                    stdout=subprocess.PIPE, text=True, timeout=60).stdout
        run = subprocess.run([BIN, "--profile", "test", "--filter", FILTER, "--out", cls.out],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=240)
        cls.returncode, cls.stderr = run.returncode, run.stderr
        with open(cls.out, encoding="utf-8") as f:
            cls.doc = json.load(f)
        cls.runtimes = [rt["name"] for rt in cls.doc["context"]["runtimes"]]
        cls.entries = [b for b in cls.doc["benchmarks"] if b["name"].startswith(WORKLOAD + "/")]

    def test_run_succeeds(self):
        self.assertEqual(self.returncode, 0, self.stderr[-2000:])

    def test_every_runtime_has_a_verified_entry_or_a_reason(self):
        # An entry whose verify() failed carries an error instead of counters;
        # a runtime may declare the pair (an I/O backend variant does: the
        # workload never waits in the reactor), with a reason.
        measured = {b["name"].split("/")[1] for b in self.entries if not b.get("error_occurred")}
        declared = {d["runtime"]: d["reason"] for d in self.doc["declared"] if d["workload"] == WORKLOAD}
        self.assertEqual([b.get("error_message") for b in self.entries if b.get("error_occurred")], [])
        self.assertGreaterEqual(len(measured), 1)
        self.assertEqual(measured | set(declared), set(self.runtimes))
        self.assertEqual(measured & set(declared), set())
        for rt, reason in declared.items():
            self.assertTrue(reason, rt)
        for rt in measured:
            self.assertIn(f"{WORKLOAD}/{rt}/", self.listed, f"{WORKLOAD} ran under {rt} but is not listed")

    def test_its_counter_and_metadata(self):
        for b in self.entries:
            self.assertGreater(b.get(COUNTER, 0), 0, b["name"])
            self.assertEqual(b.get("ops"), 4 * 100, b["name"])  # tasks:4 x steps:100, the test size
        meta = self.doc["context"]["counters"].get(COUNTER)
        self.assertEqual(meta, {"unit": "ns", "better": "lower"})

    def report(self, extra):
        """The report of this run, with or without the workload's presentation file."""
        env = dict(os.environ)
        env.pop("COBENCH_PRESENTATION_EXTRA", None)
        if extra:
            env["COBENCH_PRESENTATION_EXTRA"] = str(HERE / "presentation.py")
        folder = tempfile.mkdtemp(prefix="cobench_extra_report_")
        md = os.path.join(folder, "report.md")
        run = subprocess.run([str(ROOT / "plots" / "python.sh"), str(ROOT / "plots" / "report.py"), self.out,
                              "--out-dir", os.path.join(folder, "charts"), "--report", md],
                             env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=300)
        self.assertEqual(run.returncode, 0, run.stderr[-2000:])
        return Path(md).read_text(encoding="utf-8")

    def test_its_presentation_entry_gives_its_section(self):
        text = self.report(extra=True)
        self.assertIn("extra_tally: time per step against the fastest runtime", text)
        self.assertIn("tally step", text)   # its headline row
        for b in self.entries:
            self.assertIn(b["name"].split("/")[1], text)

    def test_without_the_entry_it_still_gets_the_generic_section(self):
        text = self.report(extra=False)
        self.assertNotIn("extra_tally: time per step against the fastest runtime", text)
        self.assertIn("extra_tally", text)
        self.assertIn("tally_ns", text)

    def test_nothing_else_ran(self):
        others = [b["name"] for b in self.doc["benchmarks"] if not b["name"].startswith(WORKLOAD + "/")]
        self.assertEqual(others, [])


if __name__ == "__main__":
    unittest.main()
