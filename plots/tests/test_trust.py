"""A report users can trust. Verdict caveats, statistics, the headline table, the
compare view, and workloads unknown to plots/.

Everything is built in memory from fixtures/good.json (changed in memory where a test needs
other numbers), except one subprocess run of --compare-only and one of --readme-table.
"""

import copy
import json
import re
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

import claims
import cobench_results
import compare_view
import headline
import report
from fixture_files import five_parse
from presentation import builtin

HERE = Path(__file__).resolve().parent
GOOD = HERE / "fixtures" / "good.json"
REPORT_PY = HERE.parent / "report.py"


def good_doc():
    return json.loads(GOOD.read_text(encoding="utf-8"))


def parse(doc):
    """The document at five repetitions (fixture_files.five: the same medians), judged as the full
    profile judges; raw_parse keeps its own repetitions."""
    return five_parse(doc)


def raw_parse(doc):
    return cobench_results.parse(copy.deepcopy(doc), "test")


def markdown(r):
    return report.build_report(r, claims.evaluate_all(r), [], [], lambda c: "").markdown(lambda c: "")


def repeat(doc, run_name, values):
    """Replace a benchmark's entries by one iteration entry per repetition: values is
    [{counter: value}, ...], the first being repetition 0."""
    old = [e for e in doc["benchmarks"] if e["run_name"] == run_name]
    assert old, run_name
    base = next(e for e in old if e["run_type"] == "iteration")
    doc["benchmarks"] = [e for e in doc["benchmarks"] if e["run_name"] != run_name]
    for i, counters in enumerate(values):
        doc["benchmarks"].append(dict(base, repetitions=len(values), repetition_index=i, **counters))


def with_await_between(doc, lost):
    """Adds lost_updates .../await:between entries; lost: {runtime: lost_fraction}."""
    for e in [e for e in doc["benchmarks"] if e["run_name"].startswith("lost_updates/")]:
        rt = e["run_name"].split("/")[1]
        if rt in lost:
            name = e["run_name"] + "/await:between"
            doc["benchmarks"].append(dict(e, name=name, run_name=name, lost_fraction=lost[rt],
                                          lost_updates=lost[rt] * 1000))


class StatisticsTest(unittest.TestCase):
    def test_warmup_outlier_is_flagged_and_left_out(self):
        doc = good_doc()
        repeat(doc, "ping_pong/threads/pin:same/repeats:3",
               [{"switch_ns": 40000.0}, {"switch_ns": 2100.0}, {"switch_ns": 2110.0}])
        [p] = [p for p in raw_parse(doc).points("ping_pong", "threads") if p.params == {"pin": "same"}]
        self.assertEqual(p.warmup, {"switch_ns": 40000.0})
        self.assertEqual((p.counters["switch_ns"], p.n["switch_ns"]), (2105.0, 2))
        self.assertEqual(p.range("switch_ns"), (2100.0, 2110.0))
        self.assertIn("warm-up outlier", markdown(raw_parse(doc)))
        # A first repetition inside the others' spread stays in.
        self.assertFalse(cobench_results.warmup_outlier([2150.0, 2100.0, 2200.0], "lower"))

    def test_significant_figures(self):
        self.assertEqual(cobench_results.fmt(40956.3), "41,000")
        self.assertEqual(cobench_results.fmt(0.00104321), "0.00104")
        self.assertEqual(cobench_results.human(3208.19, "ns"), "3.21 µs")
        self.assertEqual(cobench_results.human(8704, "bytes/task"), "8.50 KiB")

    def test_report_states_n_and_what_it_allows(self):
        doc = good_doc()
        for rt in ("threads", "coroutines"):
            for pin in ("same",):
                name = f"ping_pong/{rt}/pin:{pin}" + ("/repeats:3" if rt == "threads" else "")
                repeat(doc, name, [{"switch_ns": v} for v in (100.0, 101.0, 102.0)])
        lines = " ".join(report.statistics_lines(raw_parse(doc)))
        self.assertIn("n = 3 for", lines)
        self.assertIn("What n = 3 allows: comparing two runs of n = 3 each, the smallest p-value a two-sided "
                      "Mann-Whitney U test can give is 0.1, so no such comparison can be significant", lines)


class CaveatsTest(unittest.TestCase):
    def test_overlapping_runs_are_indistinguishable(self):
        doc = good_doc()
        # Coroutines 1.3x threads at the most conns by the median, but the runs overlap.
        for rt, few, many in (("threads", (30000, 45000, 31000), (91000, 150000, 95000)),
                              ("coroutines", (40000, 41000, 31500), (118000, 120000, 119000))):
            for conns, values in ((1, few), (256, many)):
                repeat(doc, f"echo/{rt}/conns:{conns}",
                       [{"req_per_s": float(v), "p99_us": 100.0 + i} for i, v in enumerate(values)])
        c = next(c for c in claims.evaluate_all(parse(doc)) if c.key == "e")
        self.assertEqual(c.verdict, claims.INDISTINGUISHABLE, c.evidence)
        text = " ".join(c.evidence)
        self.assertIn("indistinguishable: the ranges of the repetitions overlap", text)
        self.assertIn("coroutines are not favoured", text)
        # Without the overlap, the same medians decide.
        repeat(doc, "echo/threads/conns:256", [{"req_per_s": v, "p99_us": 100.0} for v in (91000.0, 92000.0, 93000.0)])
        self.assertNotEqual(next(c for c in claims.evaluate_all(parse(doc)) if c.key == "e").verdict,
                            claims.INDISTINGUISHABLE)

    def test_a_cap_is_never_called_a_wall(self):
        doc = good_doc()
        for e in doc["benchmarks"]:
            if e["run_name"] == "max_tasks/coroutines":
                e["label"] = "limit: the profile's cap of 1000000"
        r = parse(doc)
        md = markdown(r)
        self.assertIsNone(re.search(r"\bwalls?\b", md, re.IGNORECASE))
        b = next(c for c in claims.evaluate_all(r) if c.key == "b")
        self.assertIn("a lower bound", " ".join(b.evidence))
        header, rows, _ = headline.headline(r)
        [row] = [row for row in rows if "`max_tasks`" in row[0]]
        self.assertTrue(row[header.index("coroutines")].startswith("≥ "), row)
        self.assertIn("(cap)", row[header.index("coroutines")])
        self.assertIn("a cap of the harness: a lower bound", md)

    def test_plain_lost_updates_hold_by_construction(self):
        c = next(c for c in claims.evaluate_all(parse(good_doc())) if c.key == "g")
        self.assertEqual(c.verdict, claims.CONFIRMED)
        self.assertIn("by construction", " ".join(c.evidence))
        self.assertIn("no await:between variant in this file", " ".join(c.evidence))

    def test_await_between_loses_updates_under_coroutines(self):
        doc = good_doc()
        with_await_between(doc, {"threads": 0.05, "coroutines": 0.3, "fibers": 0.28})
        r = parse(doc)
        c = next(c for c in claims.evaluate_all(r) if c.key == "g")
        self.assertEqual(c.verdict, claims.MIXED)
        between = [e for e in c.evidence if e.startswith("await:between")]
        self.assertEqual(len(between), 1, c.evidence)
        self.assertIn("→ refuted (coroutines lose updates: an await between the load and the store", between[0])
        self.assertIn("coroutines 0.300", between[0])
        header, rows, _ = headline.headline(r)
        [row] = [row for row in rows if "await:between" in row[0]]
        self.assertTrue(row[header.index("coroutines")].startswith("30.0%"), row)

    def test_client_saturation_is_said(self):
        doc = good_doc()
        for e in doc["benchmarks"]:
            if e["run_name"] == "echo/coroutines/conns:256":
                e["client_cpu_frac"] = 0.91
        text = " ".join(next(c for c in claims.evaluate_all(parse(doc)) if c.key == "e").evidence)
        self.assertIn("the echo client was near saturation", text)
        self.assertIn("coroutines conns:256 0.91", text)


class HeadlineTest(unittest.TestCase):
    def test_readme_table_is_the_report_headline(self):
        r = parse(good_doc())
        readme = report.readme_table(r)
        table = readme.split("\n\n")[0]
        self.assertIn(table, markdown(r))
        self.assertIn("| one-way hand-off, same core: `ping_pong` pin:same", table)
        self.assertIn("best", table)
        with tempfile.TemporaryDirectory() as tmp:
            proc = subprocess.run([sys.executable, str(REPORT_PY), str(GOOD), "--readme-table",
                                   "--out-dir", tmp, "--report", f"{tmp}/r.md"],
                                  capture_output=True, text=True, timeout=120)
            self.assertEqual(proc.returncode, 0, proc.stderr)
            self.assertEqual(proc.stdout, report.readme_table(cobench_results.load(GOOD)))
            self.assertEqual(list(Path(tmp).iterdir()), [])   # nothing written

    def test_runtimes_are_the_columns_from_the_file(self):
        r = parse(good_doc())
        header, _, _ = headline.headline(r)
        self.assertEqual(header[1:], [rt for rt in r.runtimes_in_run() if r.points(runtime=rt)])


class DashesTest(unittest.TestCase):
    def test_every_empty_cell_says_why(self):
        md = markdown(parse(good_doc()))
        cells = re.findall(r"\| – \(([^)]*)\)", md)
        self.assertTrue(cells)
        self.assertLessEqual(set(cells), {"declared", "errored", "other sizes", "not run",
                                          "not in profile", "not reported"})
        self.assertIn("declared by the harness: 1,111,111 OS threads", md)

    def test_unknown_workload_gets_a_generic_table(self):
        doc = good_doc()
        doc["context"]["counters"]["pushes_per_s"] = {"unit": "pushes/s", "better": "higher"}
        for rt, v in (("threads", 1.5e6), ("coroutines", 9.25e6)):
            for slots in (8, 64):
                name = f"ring_buffer/{rt}/slots:{slots}"
                doc["benchmarks"].append({"name": name, "run_name": name, "run_type": "iteration",
                                          "repetitions": 1, "repetition_index": 0, "iterations": 10,
                                          "real_time": 1.0, "cpu_time": 1.0, "time_unit": "ms",
                                          "pushes_per_s": v * slots / 8, "ops": 10.0})
        md = markdown(parse(doc))
        self.assertIn("### ring_buffer", md)
        self.assertIn("`ring_buffer` ran at slots = 8, 64.", md)
        self.assertIn("**pushes_per_s** (pushes/s, higher is better", md)
        self.assertIn("| coroutines | 9,250,000 | 74,000,000 |", md)

    def test_timer_overhead_split_into_fixed_and_per_task(self):
        doc = good_doc()
        fixed, per = 130.0, 2.0   # µs, µs per task
        for e in doc["benchmarks"]:
            if e["run_name"].startswith("timer_fanout/coroutines/"):
                n = cobench_results.parse_name(e["run_name"])[2]["tasks"]
                e["overhead_us_per_task"] = (fixed + per * n) / n
        a, b, _ = builtin.overhead_fit(parse(doc))["coroutines"]
        self.assertAlmostEqual(a, fixed, places=6)
        self.assertAlmostEqual(b, per, places=6)
        self.assertIn("fixed a (µs)", markdown(parse(doc)))


class CompareTest(unittest.TestCase):
    def test_injected_regression_is_ranked_first(self):
        old = good_doc()
        new = copy.deepcopy(old)
        for e in new["benchmarks"]:
            if cobench_results.parse_name(e["run_name"])[1:] == ("threads", {"tasks": 10000}) and "spawn_ns" in e:
                e["spawn_ns"] *= 1.10       # 10% slower: lower is better
        items, _ = compare_view.rows(parse(old), parse(new))
        w, rt, params, row, factor = items[0]
        self.assertEqual((w, rt, params, row.metric), ("spawn", "threads", "tasks:10000", "spawn_ns"))
        self.assertAlmostEqual(factor, 1.10)
        self.assertTrue(all(f is None or f <= 1.0 + 1e-9 for *_, f in items[1:]))
        with tempfile.TemporaryDirectory() as tmp:
            paths = []
            for name, doc in (("old.json", old), ("new.json", new)):
                paths.append(Path(tmp) / name)
                paths[-1].write_text(json.dumps(doc), encoding="utf-8")
            proc = subprocess.run([sys.executable, str(REPORT_PY), str(paths[1]), "--baseline", str(paths[0]),
                                   "--compare-only"], capture_output=True, text=True, timeout=120)
            self.assertEqual(proc.returncode, 0, proc.stderr)
            md = proc.stdout
            self.assertEqual(sorted(p.name for p in Path(tmp).iterdir()), ["new.json", "old.json"])
        per_workload = md.split("**Per workload**")[1].split("\n| ")[2]
        self.assertTrue(per_workload.startswith("spawn | 1.0"), per_workload)
        largest = md.split("**Largest changes**")[1].split("\n| ")[2]
        self.assertTrue(largest.startswith("spawn/threads/tasks:10000 | spawn_ns |"), largest)
        self.assertIn("1.100", largest)


if __name__ == "__main__":
    unittest.main()
