"""The I/O workloads in the report: echo's open loop (the generator's validity, the hiccup floor), latency
against offered load, the slow I/O decision map and claim (e) computed from it, the blocking-call
pitfall, and the Boost.Asio yardstick beside them (judged against our loop: test_yardstick.py).

fixtures/io.json (written by fixtures/make_io.py) is sweeps.json with the I/O entries; tests
that need other numbers change a copy in memory, or build the flipped grid with make_io.build_io.
"""

import contextlib
import copy
import io
import tempfile
import unittest
from pathlib import Path
from unittest import mock

import charts
import claims
import headline
import io_workloads
import report
from fixture_files import FIXTURES, maker, parse, read
from fixture_files import five_parse as judged   # at five repetitions (the same medians): judged

MAKE_IO = maker("make_io")


def doc(name="io.json"):
    return read(name)


def set_counters(d, run_name, reps=None, **counters):
    """Sets counters on the entries of run_name (all repetitions, or those in `reps`)."""
    hits = [e for e in d["benchmarks"] if e["run_name"] == run_name]
    assert hits, run_name
    for e in hits:
        if reps is None or e["repetition_index"] in reps:
            e.update(counters)


def render(r, *names):
    """charts.render_all with only the named charts (the whole set takes long to draw)."""
    with mock.patch.object(charts, "CHARTS", [c for c in charts.CHARTS if c.name in names]):
        return charts.render_all(r)


IO_CHARTS = ("decision_map", "echo_load", "blocking_pitfall")


def claim(r, key):
    return next(c for c in claims.evaluate_all(r) if c.key == key)


class FixtureTest(unittest.TestCase):
    def test_committed_fixture_is_what_the_script_builds(self):
        for name, built in MAKE_IO.build().items():
            self.assertEqual(built, doc(name), f"{name}: run plots/tests/fixtures/make_io.py")


class ReportTest(unittest.TestCase):
    """The whole report from io.json: every I/O section and chart is there."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        out = Path(cls.tmp.name)
        with contextlib.redirect_stdout(io.StringIO()):
            cls.status = report.main([str(FIXTURES / "io.json"), "--out-dir", str(out / "charts"),
                                      "--report", str(out / "report.md")])
        cls.md = (out / "report.md").read_text(encoding="utf-8")
        cls.html = (out / "report.html").read_text(encoding="utf-8")
        cls.charts = out / "charts"

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_written(self):
        self.assertEqual(self.status, report.EXIT_OK)

    def test_sections(self):
        for heading in ("## Echo: open loop at a fixed offered rate", "## Our loop against Asio",
                        "## Latency against offered load", "## Slow I/O: the decision map",
                        "## The blocking-call pitfall", "### slow_io", "### blocking_pitfall"):
            self.assertIn(heading, self.md)
        self.assertIn("cannot be told apart from the machine's own pauses", self.md)
        self.assertIn("**INVALID**", self.md)
        self.assertIn("Closed loop (peak throughput)", self.md)
        self.assertIn("io_workloads.MAP_TIE_FACTOR", self.md)

    def test_charts_written(self):
        for name in ("decision_map", "echo_load", "blocking_pitfall", "echo"):
            for ext in ("png", "svg"):
                path = self.charts / f"{name}.{ext}"
                self.assertTrue(path.is_file() and path.stat().st_size > 1000, path)
        self.assertIn("Slow I/O decision map", self.md)

    def test_open_loop_counters_are_not_generic_tables(self):
        self.assertNotIn("**open_p99_us**", self.md)
        self.assertNotIn("**gen_valid**", self.md)
        self.assertIn("closed loop (peak throughput): **req_per_s**", self.md)

    def test_reference_is_not_a_missing_runtime(self):
        self.assertNotIn("on asio: no data", self.md)

    def test_headline_leaves_out_the_reference_and_the_sweep(self):
        header, rows, _ = headline.headline(parse(doc()))
        self.assertNotIn("asio", header)
        echo_rows = [row[0] for row in rows if "`echo`" in row[0]]
        self.assertTrue(echo_rows)
        for label in echo_rows:
            self.assertNotIn("rate:", label)


class OpenLoopTest(unittest.TestCase):
    def row(self, t, runtime, params):
        header, rows, _ = t
        return next(dict(zip(header, row)) for row in rows if row[0] == runtime and row[1] == params)

    def test_invalid_row_never_wins(self):
        r = parse(doc())
        # processes at conns:1000 has the lowest server CPU per request of all, but its generator fell behind.
        p = next(p for p in r.points("echo", "processes") if p.params == {"conns": 1000})
        self.assertFalse(io_workloads.is_valid(p))
        self.assertLess(p.counters[io_workloads.OPEN], min(
            q.counters[io_workloads.OPEN] for q in io_workloads.open_points(r) if q is not p))
        t = io_workloads.open_table(r)
        row = self.row(t, "processes", "conns:1000")
        self.assertIn("INVALID", row["generator"])
        self.assertIn("not compared", row["server CPU / request"])
        self.assertNotIn("best", row["server CPU / request"])
        self.assertIn("best", self.row(t, "coroutines", "conns:1000")["server CPU / request"])
        self.assertTrue(any("processes conns:1000" in n and "INVALID" in n for n in t[2]))

    def test_one_invalid_repetition_makes_the_row_invalid(self):
        d = doc()
        set_counters(d, "echo/threads/conns:10", reps={2}, gen_valid=0.0)
        r = parse(d)
        row = self.row(io_workloads.open_table(r), "threads", "conns:10")
        self.assertIn("INVALID", row["generator"])
        self.assertIn("1 of 3 repetitions", row["generator"])

    def test_reference_is_compared_not_ranked(self):
        d = doc()
        set_counters(d, "echo/asio/conns:10", open_server_cpu_ns_per_req=100.0)
        t = io_workloads.open_table(parse(d))
        self.assertIn("best", self.row(t, "coroutines", "conns:10")["server CPU / request"])
        self.assertIn("not ranked", self.row(t, "asio (reference)", "conns:10")["server CPU / request"])

    def test_hiccup_floor_marks_tails(self):
        r = parse(doc())
        row = self.row(io_workloads.open_table(r), "coroutines", "conns:10")
        self.assertTrue(row["max"].endswith("‡"))
        self.assertFalse(self.row(io_workloads.open_table(r), "processes", "conns:1000")["max"].endswith("‡"))
        self.assertIn("5.20 ms", io_workloads.hiccup_sentence(io_workloads.open_points(r)))


class SweepTest(unittest.TestCase):
    def test_curves_and_knee(self):
        curves = io_workloads.sweep_curves(parse(doc()))
        self.assertEqual(list(curves), [10, 100, 1000])
        pts = curves[10]["coroutines"]
        self.assertEqual([s.rate for s in pts], [5000, 10000, 20000, 40000, 80000])
        last, after = io_workloads.knee(pts)
        self.assertEqual((last.rate, after.rate), (40000, 80000))
        self.assertFalse(curves[1000]["threads"][-1].valid)

    def test_invalid_point_is_never_sustained(self):
        d = doc()
        set_counters(d, "echo/coroutines/conns:10/rate:5000", gen_valid=0.0)
        pts = io_workloads.sweep_curves(parse(d))[10]["coroutines"]
        self.assertEqual(io_workloads.knee(pts)[0], None)
        header, rows, notes = io_workloads.sweep_table(parse(d))
        row = next(row for row in rows if row[0] == "coroutines")
        self.assertIn("sustained no rate", row[1])
        self.assertTrue(any("coroutines conns:10 rate:5,000" in n for n in notes))

    def test_chart_draws_invalid_points_hollow(self):
        rendered, _ = render(parse(doc()), "echo_load")
        chart = next(c for c in rendered if c.name == "echo_load")
        self.assertTrue(any("fell behind" in n and "threads" in n for n in chart.notes))


class DecisionMapTest(unittest.TestCase):
    def setUp(self):
        self.r = parse(doc())
        self.cells = io_workloads.decision_map(self.r, "req_per_s")

    def test_grid(self):
        ls, ns = io_workloads.map_axes(self.cells)
        self.assertEqual(ls, [0, 100, 1000, 10000, 100000])
        self.assertEqual(ns, [1, 10, 100, 1000, 10000])

    def test_reference_never_wins(self):
        self.assertTrue(all(c.winner != "asio" for c in self.cells.values()))
        # asio has the most throughput at upstream 0/conns:10000, and the cell says so.
        c = self.cells[(0, 10000)]
        self.assertEqual(c.winner, "coroutines")
        self.assertTrue(any(rt == "asio" and "would win" in t for rt, t in c.reference))

    def test_tie_cell(self):
        c = self.cells[(100000, 1000)]
        self.assertTrue(c.is_tie)
        self.assertIn("threads", c.tie)
        self.assertIn("coroutines", c.tie)
        self.assertTrue(c.text().startswith("tie: "))
        self.assertFalse(self.cells[(0, 10000)].is_tie)

    def test_unsupported_cell_lists_the_missing(self):
        c = self.cells[(1000, 10000)]
        missing = {rt: tag for rt, tag, _ in c.missing}
        self.assertEqual(missing, {"processes": "declared", "process_loops": "declared"})
        header, rows, notes = io_workloads.map_table(self.r, "req_per_s")
        self.assertTrue(any(n.startswith("processes absent from 5 cell(s)") for n in notes))

    def test_client_bound_cell_is_flagged(self):
        self.assertTrue(self.cells[(0, 1000)].client_bound)
        self.assertIn("client-bound", self.cells[(0, 1000)].text())
        self.assertFalse(self.cells[(1000, 1000)].client_bound)

    def test_cpu_map_ranks_lowest_first(self):
        cpu = io_workloads.decision_map(self.r, "server_cpu_ns_per_req")
        c = cpu[(1000, 10000)]
        values = [p.counters["server_cpu_ns_per_req"] for _, p in c.ranked]
        self.assertEqual(values, sorted(values))

    def test_chart_file(self):
        rendered, skipped = render(self.r, "decision_map")
        chart = next(c for c in rendered if c.name == "decision_map")
        self.assertTrue(chart.png.startswith(b"\x89PNG"))
        self.assertIn(b"<svg", chart.svg)
        self.assertNotIn("decision_map", [name for name, _, _ in skipped])

    def test_upstream_parsing(self):
        p = next(iter(self.r.points("slow_io")))
        for text, us in (("0us", 0), ("100us", 100), ("1ms", 1000), ("10ms", 10000), ("100ms", 100000),
                         ("2s", 2e6), ("500ns", 0.5)):
            q = copy.copy(p)
            q.params = {"upstream": text, "conns": 1}
            self.assertEqual(io_workloads.upstream_us(q), us, text)


class ClaimETest(unittest.TestCase):
    def test_confirmed_from_the_map(self):
        c = claim(judged(doc()), "e")
        self.assertEqual(c.verdict, claims.CONFIRMED)
        text = "\n".join(c.evidence)
        self.assertIn("few fast, upstream 0 µs/conns:10: threads wins", text)
        self.assertIn("many slow, upstream 100 ms/conns:1000: throughput a tie", text)
        self.assertIn("light runtimes: fibers, coroutines, fibers_mt, process_loops, thread_loops", text)

    def test_flips_with_the_numbers(self):
        c = claim(judged(MAKE_IO.build_io(flip=True)), "e")
        self.assertEqual(c.verdict, claims.REFUTED)
        text = "\n".join(c.evidence)
        self.assertIn("favours a thread per task", text)
        self.assertIn("not fine on threads", text)

    def test_one_side_flipped_is_mixed(self):
        d = doc()
        for label in ("0us", "100us"):
            for n in (1, 10):
                thr = next(e["req_per_s"] for e in d["benchmarks"]
                           if e["run_name"] == f"slow_io/coroutines/upstream:{label}/conns:{n}")
                set_counters(d, f"slow_io/threads/upstream:{label}/conns:{n}", req_per_s=thr * 0.3)
        self.assertEqual(claim(judged(d), "e").verdict, claims.MIXED)

    def test_client_bound_cells_decide_nothing(self):
        d = doc()
        for e in d["benchmarks"]:
            if e["run_name"].startswith("slow_io/") and "/conns:1000" in e["run_name"] \
                    and "/upstream:0us/" not in e["run_name"]:
                e["client_cpu_frac"] = 0.97
            if e["run_name"].startswith("slow_io/") and "/conns:10000" in e["run_name"]:
                e["client_cpu_frac"] = 0.97
        c = claim(judged(d), "e")
        self.assertEqual(c.verdict, claims.UNDECIDED)
        self.assertIn("client-bound", "\n".join(c.evidence))

    def test_a_grid_without_many_slow_cells_is_undecided(self):
        d = doc()
        d["benchmarks"] = [e for e in d["benchmarks"] if not e["run_name"].startswith("slow_io/")
                           or "/conns:1000" not in e["run_name"]]   # conns:1000 and conns:10000 gone
        c = claim(judged(d), "e")
        self.assertEqual(c.verdict, claims.UNDECIDED)
        self.assertIn("many slow: no cell", "\n".join(c.evidence))

    def test_without_slow_io_falls_back_to_echo(self):
        d = doc()
        d["benchmarks"] = [e for e in d["benchmarks"] if not e["run_name"].startswith("slow_io/")]
        c = claim(judged(d), "e")
        self.assertIn("no slow_io entries", c.evidence[0])
        self.assertIn("echo", c.rule)

    def test_reference_is_not_a_light_runtime(self):
        r = judged(doc())
        self.assertNotIn("asio", claims.light_runtimes(r))
        self.assertEqual(claims.per_task_runtimes(r), ["processes", "threads"])


class PitfallTest(unittest.TestCase):
    def test_table_and_sentences(self):
        r = judged(doc())
        header, rows, _ = io_workloads.pitfall_table(r)
        row = next(dict(zip(header, row)) for row in rows if row[:2] == ["coroutines", "block:read/timers:50"])
        self.assertEqual(row["late max, no offload"], "20.3 ms")
        self.assertEqual(row["late max, offload"], "2.60 ms")
        self.assertIn("the pitfall", row["max: no / yes"])
        hit = next(s for s in io_workloads.pitfall_sentences(r) if s.startswith("block:read/timers:50: offloading"))
        self.assertIn("coroutines", hit)
        self.assertNotIn("threads (", hit)
        self.assertNotIn("own thread", hit)

    def test_a_thread_per_task_that_looks_hit_is_called_the_machine(self):
        d = doc()
        set_counters(d, "blocking_pitfall/threads/block:read/offload:no/timers:50", timer_late_max_us=45000.0)
        hit = next(s for s in io_workloads.pitfall_sentences(judged(d))
                   if s.startswith("block:read/timers:50: offloading"))
        self.assertIn("threads (45.0 ms", hit)
        self.assertIn("threads give every task its own thread or process", hit)

    def test_unknown_params_and_missing_half(self):
        d = doc()
        d["benchmarks"] = [e for e in d["benchmarks"]
                           if e["run_name"] != "blocking_pitfall/threads/block:hog/offload:yes/timers:50"]
        for e in d["benchmarks"]:
            if e["run_name"] == "blocking_pitfall/fibers/block:read/offload:no/timers:50":
                e["run_name"] = e["name"] = "blocking_pitfall/fibers/block:read/offload:no/timers:50/burst:2"
        header, rows, notes = io_workloads.pitfall_table(judged(d))
        variants = {(row[0], row[1]) for row in rows}
        self.assertIn(("fibers", "block:read/timers:50/burst:2"), variants)
        self.assertTrue(any("burst" in n for n in notes))
        row = next(row for row in rows if row[:2] == ["threads", "block:hog/timers:50"])
        self.assertTrue(row[5].startswith("– ("))

    def test_chart(self):
        rendered, _ = render(judged(doc()), "blocking_pitfall")
        self.assertIn("blocking_pitfall", [c.name for c in rendered])


class OlderFilesTest(unittest.TestCase):
    def test_no_notes_for_files_without_io_entries(self):
        for name in ("sweeps.json", "good.json"):
            _, skipped = render(parse(doc(name)), *IO_CHARTS)
            names = [n for n, _, _ in skipped]
            for chart in ("decision_map", "echo_load", "blocking_pitfall"):
                self.assertNotIn(chart, names, name)

    def test_io_file_without_a_sweep_says_so(self):
        d = doc()
        d["benchmarks"] = [e for e in d["benchmarks"] if "/rate:" not in e["run_name"]]
        _, skipped = render(parse(d), *IO_CHARTS)
        self.assertIn("echo_load", [n for n, _, _ in skipped])

    def test_claim_f_ignores_the_sweep(self):
        pts = claims.echo_points(parse(doc()), "process_loops")
        self.assertEqual(sorted(pts), [10, 100, 1000])
        self.assertTrue(all("rate" not in p.params for p in pts.values()))


if __name__ == "__main__":
    unittest.main()
