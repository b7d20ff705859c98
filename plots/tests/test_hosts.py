"""Hosts side by side: `report.py A.json B.json` gives one report with a column
per host, and refuses files that cannot stand side by side with exit 2, writing nothing.

fixtures/hosts_a.json is a cut of the reference run (host "vm", 2 CPUs); hosts_b.json the same cut
with another machine context (host "bare-metal", 16 CPUs) and numbers derived from A's, without
echo, with skynet, and without process_loops (fixtures/make_hosts.py writes both).
"""

import json
import tempfile
import unittest
from pathlib import Path

import cobench_results
import hosts
import report
from cobench_results import fmt
from fixture_files import FIXTURES, PLOTS, PreviousOutputs, WrittenReport, run_report, snapshot

A, B = FIXTURES / "hosts_a.json", FIXTURES / "hosts_b.json"
GOOD = FIXTURES / "good.json"
INSTRUCTIONS = PLOTS.parent / "results" / "baseline" / "instructions.json"


def side(*paths):
    loaded = [report.load_checked(p) for p in paths]
    return [hosts.Host(label, p, r) for label, p, r in zip(hosts.labels(list(paths), loaded), paths, loaded)]


class SideBySideReportTest(WrittenReport):
    FILES, REPORT = (A, B), "hosts.md"
    # A chart of an earlier side-by-side report, and one of a single-host report.
    PREVIOUS = {"out/hosts_gone.png": b"old", "out/switch_cost.png": b"single"}

    def test_written_with_exit_0(self):
        self.assertEqual(self.proc.returncode, 0, self.proc.stderr)
        self.assertIn("2 hosts side by side: vm, bare-metal", self.proc.stdout)
        self.assertIn("# cobench: 2 hosts side by side", self.md)

    def test_machine_table_has_a_column_per_host(self):
        self.assertIn("|  | vm | bare-metal |", self.md)
        self.assertIn("| CPU model | AMD EPYC | AMD EPYC 7313P 16-Core Processor |", self.md)
        self.assertIn("| CPUs | 2 | 16 |", self.md)
        self.assertIn("| virtualized | vm: kvm; container: docker | none |", self.md)

    def test_workload_tables_have_a_column_per_host_and_the_ratio(self):
        self.assertIn("| runtime | params | vm | bare-metal | bare-metal / vm |", self.md)
        # The ratio is computed from the two files' medians, not copied from anywhere.
        a, b = (cobench_results.load(p).value("ping_pong", "coroutines", "switch_ns", pin="same") for p in (A, B))
        header, rows, _ = hosts.counter_table(side(A, B), "ping_pong", "switch_ns")
        row = next(r for r in rows if r[:2] == ["coroutines", "pin:same"])
        self.assertEqual(row[4], f"×{fmt(b / a)}")
        self.assertTrue(row[2].startswith(fmt(a)), row)
        self.assertTrue(row[3].startswith(fmt(b)), row)

    def test_what_a_host_lacks_is_a_dash_with_a_reason(self):
        self.assertIn("Not measured on bare-metal: its file has no `echo` entries.", self.md)
        self.assertIn("Not measured on vm: its file has no `skynet` entries.", self.md)
        self.assertIn("`echo`: not in the file of bare-metal", self.md)
        self.assertRegex(self.md, r"\| process_loops \| pin:same \| [^|]+ \| – \(not run\) \| – \|")
        self.assertIn("bare-metal, process_loops pin:cross, process_loops pin:same: this runtime was not "
                      "part of this run", self.md)

    def test_caps_get_no_ratio(self):
        self.assertRegex(self.md, r"\| coroutines \| — \| ≥ 4,000,000 \| ≥ 4,000,000 \| – \(cap\) \|")

    def test_a_chart_per_workload_with_a_series_per_host(self):
        for w in ("ping_pong", "spawn", "idle_memory", "max_tasks", "cpu_bound", "echo", "skynet"):
            for ext in ("png", "svg"):
                self.assertTrue((self.out / f"hosts_{w}.{ext}").is_file(), (w, ext))
            self.assertIn(f"(out/hosts_{w}.png)", self.md.replace("../out/", "out/"))
        values, groups, size = hosts.panel_values(side(A, B), "ping_pong", "switch_ns", {"pin": "same"}, "common")
        self.assertIn(("coroutines", "vm"), values)
        self.assertIn(("coroutines", "bare-metal"), values)
        self.assertNotIn(("process_loops", "bare-metal"), values)
        svg = (self.out / "hosts_ping_pong.svg").read_text(encoding="utf-8")
        self.assertIn("<!-- vm -->", svg)           # the legend names both hosts
        self.assertIn("<!-- bare-metal -->", svg)

    def test_old_side_by_side_charts_go_single_host_ones_stay(self):
        self.assertFalse((self.out / "hosts_gone.png").exists())
        self.assertEqual((self.out / "switch_cost.png").read_bytes(), b"single")

    def test_summary_and_html(self):
        self.assertIn("## Summary: how much better each host is than the first", self.md)
        self.assertRegex(self.md, r"\| all runtimes \| ×\d")
        self.assertIn("data:image/png;base64,", self.html)
        self.assertNotIn('src="out/', self.html)


class LabelTest(unittest.TestCase):
    def test_host_name_else_cpu_model_and_count(self):
        self.assertEqual(hosts.host_label({"host_name": "box", "cpu_model": "X"}), "box")
        self.assertEqual(hosts.host_label({"cpu_model": "AMD EPYC", "cpu_count": "2"}), "AMD EPYC ×2 CPUs")
        self.assertEqual(hosts.host_label({}), "unknown CPU")

    def test_duplicates_and_overrides(self):
        loaded = [report.load_checked(p) for p in (A, B)]
        loaded[1].context["host_name"] = "vm"
        self.assertEqual(hosts.labels([A, B], loaded), ["vm", "vm #2"])
        self.assertEqual(hosts.labels([A, B], loaded, [(str(B), "server")]), ["vm", "server"])
        with self.assertRaises(cobench_results.ResultsError):
            hosts.labels([A, B], loaded, [("nowhere.json", "x")])

    def test_label_option_splits_at_the_file(self):
        args = report.parse_args([str(A), "odd=name.json", "--label", "odd=name.json=server"])
        self.assertEqual(args.label, [("odd=name.json", "server")])
        self.assertEqual(args.files, [A, Path("odd=name.json")])


class RefusedTest(PreviousOutputs):
    """Every refusal: exit 2, one line naming the files, and the previous outputs byte-identical."""
    PREVIOUS = {"out/hosts_ping_pong.png": b"previous", "hosts.md": b"previous report\n"}

    def write(self, name, doc):
        path = self.dir / name
        path.write_text(json.dumps(doc), encoding="utf-8")
        self.before = snapshot(self.dir)
        return path

    def check_rejected(self, files, expect, extra=(), one_line=True):
        proc = run_report(*files, "--out-dir", self.dir / "out", "--report", self.dir / "hosts.md", *extra)
        self.assertEqual(proc.returncode, 2, proc.stdout + proc.stderr)
        lines = proc.stderr.strip().splitlines()
        if one_line:
            self.assertEqual(len(lines), 1, proc.stderr)
            self.assertTrue(lines[0].startswith("report.py: error: "), lines[0])
        for text in expect:
            self.assertIn(text, proc.stderr)
        self.assertEqual(snapshot(self.dir), self.before)

    def test_different_schemas(self):
        doc = json.loads(B.read_text(encoding="utf-8"))
        doc["context"]["cobench_schema"] = 1
        old = self.write("b_schema1.json", doc)
        self.check_rejected([A, old], ["different results schemas", f"{A}: 2", f"{old}: 1"])

    def test_disjoint_workloads(self):
        doc = json.loads(B.read_text(encoding="utf-8"))
        doc["benchmarks"] = [e for e in doc["benchmarks"] if e["run_name"].startswith("skynet/")]
        only = self.write("b_skynet.json", doc)
        self.check_rejected([A, only], ["no workload in common", str(only), str(A)])

    def test_same_file_twice(self):
        self.check_rejected([A, A], ["same file, given twice", str(A)])

    def test_a_copy_of_the_same_run(self):
        copy = self.write("copy.json", json.loads(A.read_text(encoding="utf-8")))
        copy.write_bytes(A.read_bytes())
        self.before = snapshot(self.dir)
        self.check_rejected([A, copy], ["identical contents", str(A), str(copy)])

    def test_not_cobench_results(self):
        doc = json.loads(B.read_text(encoding="utf-8"))
        del doc["context"]["cobench_schema"]
        plain = self.write("plain.json", doc)
        self.check_rejected([A, plain], ["not a cobench results file", str(plain)])

    def test_instruction_count_file(self):
        self.check_rejected([A, INSTRUCTIONS], ["an instruction-count file", str(INSTRUCTIONS)])

    def test_single_file_options(self):
        for extra in (["--baseline", str(GOOD)], ["--readme-table"], ["--baseline", str(GOOD), "--compare-only"]):
            self.check_rejected([A, B], ["one results file", str(A), str(B)], extra, one_line=False)

    def test_label_needs_several_files(self):
        self.check_rejected([A], ["--label names the hosts"], ["--label", f"{A}=x"], one_line=False)


class FailedRunsTest(unittest.TestCase):
    def test_a_host_with_failures_is_reported_with_exit_3(self):
        with tempfile.TemporaryDirectory() as tmp:
            proc = run_report(A, GOOD, "--out-dir", Path(tmp) / "out", "--report", Path(tmp) / "r.md")
            self.assertEqual(proc.returncode, 3, proc.stderr)
            md = (Path(tmp) / "r.md").read_text(encoding="utf-8")
            self.assertIn("## Problems in these runs", md)
            self.assertIn("bench-vm: runtime families not finished: fibers (crashed)", md)


class SingleFileTest(unittest.TestCase):
    def test_one_file_keeps_the_single_host_interface(self):
        args = report.parse_args([str(A)])
        self.assertEqual(args.results, A)      # a Path, as before
        self.assertEqual(args.files, [A])
        self.assertEqual(report.parse_args([]).results, report.DEFAULT_RESULTS)


if __name__ == "__main__":
    unittest.main()
