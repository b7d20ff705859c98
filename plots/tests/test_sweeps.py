"""Capacity and sweeps in the report: walls (max_tasks by what stopped it), stack sizes, the worker sweep
and the generator pipeline.

fixtures/sweeps.json is hybrid.json as a full run of the limits era (labels that name their kind,
the stack-size, worker and pipeline entries); fixtures/sweeps_limits.json a `--profile limits`
file (max_tasks only). make_sweeps.py writes both. Tests that need other numbers change a copy in
memory.
"""

import re
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

import charts
import claims
import cobench_results
import capacity
import headline
import pipeline
import tables
from doc import Doc
from fixture_files import five, maker, parse, read

HERE = Path(__file__).resolve().parent
FIXTURES = HERE / "fixtures"
REPORT_PY = HERE.parent / "report.py"
REFERENCE = HERE.parent.parent / "results" / "reference" / "cobench.json"


doc = read


def relabel(d, run_name, label, **counters):
    hits = [e for e in d["benchmarks"] if e["run_name"] == run_name]
    assert hits, run_name
    for e in hits:
        e["label"] = label
        e.update(counters)


def claim_b(d):
    return next(c for c in claims.evaluate_all(parse(d)) if c.key == "b")


class FixtureTest(unittest.TestCase):
    def test_committed_fixtures_are_what_the_script_builds(self):
        module = maker("make_sweeps")
        for name, built in module.build().items():
            self.assertEqual(built, doc(name), f"{name}: run plots/tests/fixtures/make_sweeps.py")


class StopKindTest(unittest.TestCase):
    def test_new_labels(self):
        for label, kind in (
                ("wall: could not create thread 32451 of 64000: Resource temporarily unavailable "
                 "(kernel.pid_max 32768)", tables.WALL),
                ("budget: 66500000 tasks fit in the memory budget of 10752 MiB", tables.BUDGET),
                ("cap: the profile's cap of 4000000", tables.CAP),
                ("time: a group of 128000000 would take about 151 s (limit 120 s a group)", tables.TIME),
                ("error: the tasks did not finish", tables.ERROR)):
            self.assertEqual(tables.stop_kind(label), (kind, False), label)
            self.assertTrue(tables.is_new_label(label))
        self.assertEqual(tables.stop_kind("none held: wall: fork: EAGAIN (RLIMIT_NPROC 10)"), (tables.WALL, True))
        self.assertEqual(tables.stop_kind("none held: budget: 250 tasks would need 9 MiB"), (tables.BUDGET, True))

    def test_old_labels(self):
        for label, kind in (("limit: the profile's cap of 4000", tables.CAP), ("limit: 1000000", tables.CAP),
                            ("limit: memory budget (12 GiB)", tables.BUDGET),
                            ("EAGAIN: fork", tables.FAILED), ("ENOMEM: mmap", tables.FAILED),
                            ("threads: could not create thread 32451 of 64000: Resource temporarily "
                             "unavailable (kernel.pid_max 32768)", tables.FAILED)):
            self.assertEqual(tables.stop_kind(label), (kind, False), label)
            self.assertFalse(tables.is_new_label(label))
        self.assertEqual(tables.stop_kind(""), (None, False))

    def test_lower_bounds_are_caps_and_time_only(self):
        self.assertTrue(tables.is_capped("cap: the profile's cap of 4000"))
        self.assertTrue(tables.is_capped("limit: the profile's cap of 4000"))
        self.assertTrue(tables.is_capped("time: a group of 8 took 200 s"))
        for label in ("wall: EAGAIN", "budget: ...", "EAGAIN: fork", "error: x"):
            self.assertFalse(tables.is_capped(label), label)

    def test_reference_file(self):
        r = cobench_results.load(REFERENCE)
        kinds = {s.runtime: s.kind for s in tables.stops(r)}
        self.assertEqual(kinds["threads"], tables.FAILED)
        self.assertEqual({k for rt, k in kinds.items() if rt != "threads"}, {tables.CAP})


class WallsTest(unittest.TestCase):
    def test_limits_table_and_sentence(self):
        r = parse(doc("sweeps_limits.json"))
        header, rows, notes = tables.walls_table(r)
        by = {row[0]: dict(zip(header, row)) for row in rows}
        self.assertEqual(by["threads"]["tasks held"], "32,451")
        self.assertEqual(by["threads"]["stopped by"], "wall")
        self.assertEqual(by["coroutines"]["stopped by"], "budget")
        self.assertEqual(by["coroutines"]["bytes per task"], "160 B")
        self.assertEqual(by["process_loops"]["tasks held"], "≥ 64,000,000")
        self.assertEqual(len(rows), 8, "the stack-size variants are not runtimes of their own")
        self.assertIn("wall: the machine refused the next spawn", " ".join(notes))
        self.assertEqual(tables.walls_sentence(r), "coroutines held the most, 66,500,000 (stopped by: "
                         "budget), processes the fewest, 31,744 (stopped by: wall): 2,090× as many.")

    def test_walls_section_only_for_new_labels(self):
        for name, expect in (("sweeps_limits.json", True), ("sweeps.json", True), ("good.json", False),
                             ("hybrid.json", False)):
            d = Doc()
            self.assertEqual(capacity.walls_section(d, parse(doc(name))), expect, name)
            if not expect:
                self.assertEqual(d.blocks, [])

    def test_chart_marks_each_bar(self):
        r = parse(doc("sweeps_limits.json"))
        chart = next(c for c in charts.render_all(r)[0] if c.name == "max_tasks")
        for text in (b"32.5k  (wall, 28.0 KiB)", b"66.5M  (budget, 160 B)", "≥ 64M  (time, 168 B)".encode()):
            self.assertIn(text, chart.svg)
        self.assertIn("process_loops: stopped by the profile's cap or time limit", " ".join(chart.notes))


class ClaimBTest(unittest.TestCase):
    def test_real_ratio_from_walls_and_budget(self):
        c = claim_b(doc("sweeps_limits.json"))
        self.assertEqual(c.verdict, claims.CONFIRMED)
        text = " ".join(c.evidence)
        self.assertIn(f"→ factor {66500000 / 32451:.1f} (confirmed): the real ratio", text)
        self.assertNotIn("ratio of caps", text)

    def test_ratio_of_caps_does_not_confirm(self):
        d = doc("sweeps_limits.json")
        relabel(d, "max_tasks/coroutines", "cap: the profile's cap of 4000000", max_tasks=4000000.0)
        c = claim_b(d)
        text = " ".join(c.evidence)
        self.assertIn("factor ≥ 123.3: a ratio of caps", text)
        self.assertEqual(c.verdict, claims.UNDECIDED)   # nothing else in a limits file decides
        relabel(d, "max_tasks/threads", "cap: the profile's cap of 4000", max_tasks=4000.0)
        c = claim_b(d)
        self.assertIn("factor 1000.0: a ratio of caps, not of what the machine holds (undecided",
                      " ".join(c.evidence))
        self.assertEqual(c.verdict, claims.UNDECIDED)

    def test_a_wall_can_refute(self):
        d = doc("sweeps_limits.json")
        relabel(d, "max_tasks/coroutines", "wall: ENOMEM: mmap (vm.max_map_count 65530)", max_tasks=40000.0)
        self.assertEqual(claim_b(d).verdict, claims.REFUTED)

    def test_an_error_decides_nothing(self):
        d = doc("sweeps_limits.json")
        relabel(d, "max_tasks/coroutines", "error: the tasks did not start")
        self.assertEqual(claim_b(d).verdict, claims.UNDECIDED)

    def test_full_run_with_caps_rests_on_memory(self):
        c = claim_b(five(doc("sweeps.json")))   # at five repetitions (the same medians): judged
        text = " ".join(c.evidence)
        self.assertIn("a ratio of caps", text)
        self.assertIn("idle_memory tasks:10000: rss_per_task threads 12,300 B, coroutines 176 B → factor "
                      "69.9 (confirmed)", text, "the stack-size entries stay out of the memory measure")
        self.assertEqual(c.verdict, claims.CONFIRMED)


class HeadlineTest(unittest.TestCase):
    def row(self, r, workload):
        header, rows, notes = headline.headline(r)
        [row] = [row for row in rows if f"`{workload}`" in row[0]]
        return dict(zip(header, row)), notes

    def test_readme_table_marks_walls_and_caps(self):
        proc = subprocess.run([sys.executable, str(REPORT_PY), "--readme-table",
                               str(FIXTURES / "sweeps_limits.json")], capture_output=True, text=True)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        [line] = [ln for ln in proc.stdout.splitlines() if "`max_tasks`" in ln]
        cells = dict(zip([c.strip() for c in proc.stdout.splitlines()[0].split("|")],
                         [c.strip() for c in line.split("|")]))
        self.assertIn("32.5k tasks (wall)", cells["threads"])
        self.assertIn("66.5M tasks (budget)", cells["coroutines"])
        self.assertEqual(cells["process_loops"], "≥ 64.0M tasks (time limit) · ×≤ 1.0", "a bound's factor")
        self.assertIn("Most tasks held, what stopped each count: (wall) the machine refused the next spawn",
                      proc.stdout)
        self.assertIn("(time limit) one group took too long: a lower bound", proc.stdout)

    def test_caps_in_a_full_run(self):
        cells, notes = self.row(parse(doc("sweeps.json")), "max_tasks")
        self.assertTrue(cells["coroutines"].startswith("≥ 1.00M tasks (cap)"), cells)
        self.assertIn("(wall)", cells["threads"])
        self.assertIn("(cap) the profile's own cap: a lower bound", " ".join(notes))

    def test_sweep_entries_leave_the_other_rows_alone(self):
        before = headline.headline(parse(doc("hybrid.json")))
        after = headline.headline(parse(doc("sweeps.json")))
        self.assertEqual(before[0], after[0])
        rows = lambda t: {row[0]: row for row in t[1] if "`max_tasks`" not in row[0]}
        self.assertEqual(rows(before), rows(after))

    def test_speedups_leave_the_worker_sweep_out(self):
        self.assertEqual(parse(doc("sweeps.json")).speedups(), parse(doc("hybrid.json")).speedups())


class StackSizeTest(unittest.TestCase):
    def test_parse_size(self):
        self.assertEqual([tables.parse_size(s) for s in ("8k", "64k", "256k", "8m", "4096", "x")],
                         [8192, 65536, 262144, 8388608, 4096, None])

    def test_tables(self):
        r = parse(doc("sweeps.json"))
        header, rows = tables.stack_table(r, "idle_memory", "pss_per_task", "bytes/task", per_tasks=True)
        self.assertEqual(header, ["runtime", "guard page", "tasks", "stack 8 KiB", "stack 64 KiB",
                                  "stack 256 KiB", "stack 8 MiB"])
        self.assertEqual(rows[0], ["threads", "yes", "1000", "–", "7.96 KiB", "8.35 KiB", "8.79 KiB"])
        header, rows = tables.stack_table(parse(doc("sweeps_limits.json")), "max_tasks", "max_tasks", stops=True)
        self.assertIn(["fibers", "no", "1,200,000 (budget)", "1,190,000 (budget)", "–", "–"], rows)

    def test_memory_chart_keeps_the_variants_apart(self):
        r = parse(doc("sweeps.json"))
        memory = charts.lines_panel("idle_memory", "pss_per_task", "tasks", "t", "x", "y",
                                    absent=("stack", "guard"))(r)
        self.assertIsNotNone(memory)
        self.assertEqual(r.series("idle_memory", "pss_per_task", "tasks", tables.NO_STACK)["threads"],
                         parse(doc("hybrid.json")).series("idle_memory", "pss_per_task", "tasks")["threads"])


class WorkerSweepTest(unittest.TestCase):
    def test_chart_data_has_the_ideal_line(self):
        r = parse(doc("sweeps.json"))
        for workload in ("cpu_bound", "skynet"):
            draw = charts.worker_panel(workload, workload)(r)
            w = draw.curves
            self.assertEqual(w["cpus"], 2)
            self.assertEqual(w["ideal"], [(1, 1), (2, 2), (4, 2), (8, 2)])
            self.assertEqual(w["curves"]["pool"][:2], [(1, 1.0), (2, 1.95 if workload == "cpu_bound" else 1.7)])
            self.assertIn("this machine has 2 CPUs, so the curve is short", " ".join(draw.notes))
        w = tables.worker_curves(r, "cpu_bound", task_workers=True)
        self.assertEqual(w["curves"]["threads (a worker a task: K = tasks)"][0], (1, 1.0))
        self.assertNotIn("coroutines", " ".join(w["curves"]), "one-core runtimes have no curve")

    def test_ideal_follows_the_default_workers(self):
        d = doc("sweeps.json")
        d["context"]["workers"]["default"] = 4
        w = tables.worker_curves(parse(d), "cpu_bound", task_workers=True)
        self.assertEqual(w["ideal"], [(1, 1), (2, 2), (4, 4), (8, 4)])
        del d["context"]["workers"]
        self.assertEqual(tables.worker_curves(parse(d), "cpu_bound", task_workers=True)["cpus"], 2)   # cpu_count

    def test_absent_without_sweep_entries(self):
        self.assertIsNone(tables.worker_curves(parse(doc("hybrid.json")), "cpu_bound", task_workers=True))
        self.assertIsNone(charts.worker_panel("skynet", "s")(parse(doc("hybrid.json"))))

    def test_other_skynet_charts_leave_the_sweep_out(self):
        r = parse(doc("sweeps.json"))
        before = parse(doc("hybrid.json"))
        for counter in ("spawn_ns", "speedup"):
            panel = charts.bars_panel("skynet", counter, None, "t", "y", group_fmt=None, absent=("workers",))
            self.assertIsNotNone(panel(r))
        self.assertEqual(charts.skynet_sizes(r), charts.skynet_sizes(before))
        f = lambda x: [e for e in next(c for c in claims.evaluate_all(x) if c.key == "f").evidence]
        self.assertEqual(f(r), f(before))


class PipelineTest(unittest.TestCase):
    def test_ratio(self):
        r = parse(doc("sweeps.json"))
        rows = {rt: (g, c, ratio) for rt, _, g, c, ratio in pipeline.pipeline_rows(r)}
        self.assertAlmostEqual(rows["coroutines"][2], 10.5)
        self.assertAlmostEqual(rows["threads"][2], 4100.0 / 2.1)
        text = pipeline.pipeline_sentence(r)
        self.assertIn("The generator is the cheapest hand-off: 2.00 ns per item (coroutines), against "
                      "21.0 ns for the cheapest channel (coroutines), 10.5× as much.", text)
        self.assertIn("a channel costs 10.5× to 1,950×", text)

    def test_the_two_ways_may_run_different_item_counts(self):
        # The binary sizes each way by the runtime's cost: a generator run of many
        # items beside a channel run of few must still make a row.
        d = doc("sweeps.json")
        for e in d["benchmarks"]:
            for key in ("name", "run_name"):
                if e.get(key, "").startswith("pipeline/coroutines/via:generator/"):
                    e[key] = e[key].replace("items:100000", "items:5000000")
        rows = {rt: (n, ratio) for rt, n, _, _, ratio in pipeline.pipeline_rows(parse(d))}
        self.assertEqual(rows["coroutines"][0], "5000000 / 100000")
        self.assertAlmostEqual(rows["coroutines"][1], 10.5)

    def test_a_cheaper_channel_is_said(self):
        d = doc("sweeps.json")
        for e in d["benchmarks"]:
            if e["run_name"] == "pipeline/coroutines/via:channel/items:100000":
                e["ns_per_item"] = 1.5
        text = pipeline.pipeline_sentence(parse(d))
        self.assertIn("is not dearer than the cheapest generator", text)
        self.assertIn("on coroutines the channel is the cheaper one", text)

    def test_section_and_chart(self):
        r = parse(doc("sweeps.json"))
        d = Doc()
        self.assertTrue(pipeline.pipeline_section(d, r, level=3))
        md = d.markdown(lambda c: "")
        self.assertIn("| coroutines | 100000 | 2.00 | 21.0 | 10.5× |", md)
        self.assertFalse(pipeline.pipeline_section(Doc(), parse(doc("hybrid.json"))))
        chart = next(c for c in charts.render_all(r)[0] if c.name == "pipeline")
        self.assertIn("10.5× as much", " ".join(chart.notes))


class SkippedChartsTest(unittest.TestCase):
    def test_absent_sweeps_noted_only_where_the_build_has_them(self):
        names = ("stack_sizes", "worker_sweep", "pipeline")
        d = doc("sweeps.json")
        d["benchmarks"] = [e for e in d["benchmarks"] if e["run_name"].startswith("echo/")]
        skipped = [name for name, _, _ in charts.render_all(parse(d))[1]]
        self.assertTrue(set(names) <= set(skipped), skipped)
        d = doc("hybrid.json")   # a file from before the sweeps: no sized_* traits
        d["benchmarks"] = [e for e in d["benchmarks"] if e["run_name"].startswith("echo/")]
        skipped = [name for name, _, _ in charts.render_all(parse(d))[1]]
        self.assertFalse(set(names) & set(skipped), skipped)

    def test_a_limits_file_notes_no_other_chart(self):
        rendered, skipped = charts.render_all(parse(doc("sweeps_limits.json")))
        self.assertEqual([c.name for c in rendered], ["max_tasks", "stack_sizes", "overview"])
        self.assertEqual(skipped, [])
        d = doc("sweeps_limits.json")
        d["benchmarks"] = [e for e in d["benchmarks"] if "/stack:" not in e["run_name"]]
        self.assertEqual([name for name, _, _ in charts.render_all(parse(d))[1]], ["stack_sizes"])


class LimitsReportTest(unittest.TestCase):
    def test_a_limits_only_file_gives_a_report(self):
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            proc = subprocess.run([sys.executable, str(REPORT_PY), str(FIXTURES / "sweeps_limits.json"),
                                   "--out-dir", str(tmp / "charts"), "--report", str(tmp / "report.md")],
                                  capture_output=True, text=True)
            self.assertEqual(proc.returncode, 0, proc.stderr)
            self.assertTrue((tmp / "charts" / "max_tasks.svg").exists())
            self.assertTrue((tmp / "charts" / "stack_sizes.svg").exists())
            self.assertIn("claims: (a) not measured, (b) confirmed", proc.stdout)

    def test_every_section_on_every_fixture(self):
        for name in ("sweeps.json", "sweeps_limits.json", "good.json", "hybrid.json", "good_schema1.json"):
            r = parse(doc(name))
            d = Doc()
            written = [s.__name__ for s in (capacity.walls_section, capacity.stack_sizes_section,
                                            capacity.worker_sweep_section, pipeline.pipeline_section)
                       if s(d, r)]
            expect = {"sweeps.json": ["walls_section", "stack_sizes_section", "worker_sweep_section",
                                      "pipeline_section"],
                      "sweeps_limits.json": ["walls_section", "stack_sizes_section"]}.get(name, [])
            self.assertEqual(written, expect, name)
            md = d.markdown(lambda c: "")
            if name not in ("sweeps.json", "sweeps_limits.json"):
                self.assertIsNone(re.search(r"\bwalls?\b", md, re.IGNORECASE), name)


if __name__ == "__main__":
    unittest.main()


class OversubscribedTest(unittest.TestCase):
    def test_a_curve_that_falls_beyond_the_cpus_says_so(self):
        import capacity
        pts = [(1, 1.0), (2, 1.98), (4, 1.9), (8, 1.47)]
        self.assertEqual(capacity._oversubscribed(pts, 2),
                         "; oversubscribed (K = 8) it keeps 74% of its K = 2 speed-up")

    def test_a_flat_or_short_curve_says_nothing(self):
        import capacity
        self.assertEqual(capacity._oversubscribed([(1, 1.0), (2, 2.0), (8, 1.95)], 2), "")
        self.assertEqual(capacity._oversubscribed([(1, 1.0), (2, 2.0)], 2), "")
        self.assertEqual(capacity._oversubscribed([(1, 1.0), (4, 1.0)], 2), "")
