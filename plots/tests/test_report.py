"""Tests for plots/report.py, its modules and the cobench_results package.

Run from the repository root (the launcher puts plots/ on PYTHONPATH):
    plots/python.sh -m unittest discover -s plots/tests -v
The fixtures under fixtures/ are hand-written results files following
results/README.md: good.json and incomplete.json in schema 2 (with runtime
traits and counter metadata), good_schema1.json the same numbers in schema 1,
to prove that old files still load. Tests that need other numbers change a
copy in memory.
"""

import copy
import json
import os
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path
from unittest import mock

import charts
import claims
import cobench_results
import report
from cobench_results import atomic
from fixture_files import PreviousOutputs, WrittenReport, five_load, five_parse, run_report, snapshot
from presentation import builtin

HERE = Path(__file__).resolve().parent
PLOTS = HERE.parent
FIXTURES = HERE / "fixtures"
GOOD = FIXTURES / "good.json"
GOOD_SCHEMA1 = FIXTURES / "good_schema1.json"
INCOMPLETE = FIXTURES / "incomplete.json"
REPORT_PY = PLOTS / "report.py"
HYBRID = {"name": "proc_coroutines", "label": "K processes x a coroutine loop", "kind": "hybrid",
          "multi_core": True, "shared_memory": False, "stack": "stackless", "cost": "tiny"}


def good_doc():
    with open(GOOD, encoding="utf-8") as f:
        return json.load(f)


def set_counter(doc, workload, runtime, counter, value, label=None, **params):
    """Set `counter` (and with `label`, the label) on every entry (iterations and aggregates) of the
    matching benchmark."""
    hits = 0
    for e in doc["benchmarks"]:
        w, rt, p = cobench_results.parse_name(e["run_name"])
        if w == workload and rt == runtime and all(p.get(k) == v for k, v in params.items()):
            if value is None:
                e.pop(counter, None)
            else:
                e[counter] = value
            if label is not None:
                e["label"] = label
            hits += 1
    assert hits, f"fixture has no {workload}/{runtime} {params}"


def verdict(doc, key):
    results = five_parse(doc)   # at five repetitions (the same medians): judged
    return next(c for c in claims.evaluate_all(results) if c.key == key)


class ParsingTest(unittest.TestCase):
    def test_parse_name_drops_google_benchmark_suffixes(self):
        self.assertEqual(cobench_results.parse_name("ping_pong/threads/pin:same/repeats:3/real_time"),
                         ("ping_pong", "threads", {"pin": "same"}))
        self.assertEqual(cobench_results.parse_name("timer_fanout/coroutines/tasks:1000/wait_ms:2.5"),
                         ("timer_fanout", "coroutines", {"tasks": 1000, "wait_ms": 2.5}))
        with self.assertRaises(ValueError):
            cobench_results.parse_name("pingpong")
        with self.assertRaises(ValueError):
            cobench_results.parse_name("ping_pong/threads/same")

    def test_repetitions_fold_into_median_with_spread(self):
        r = cobench_results.load(GOOD)
        [p] = [p for p in r.points("ping_pong", "threads") if p.params == {"pin": "same"}]
        self.assertEqual(p.repetitions, 3)
        self.assertEqual(p.counters["switch_ns"], 2100.0)     # the median aggregate
        self.assertAlmostEqual(p.spread["switch_ns"], 70.946, places=2)

    def test_failed_entries_are_listed_not_plotted(self):
        r = cobench_results.load(GOOD)
        self.assertEqual([e.name for e in r.failed()], ["echo/processes/conns:256"])
        xs = [x for x, _, _ in r.series("echo", "req_per_s", "conns")["processes"]]
        self.assertNotIn(256, xs)

    def test_speedup_computed_when_counter_absent(self):
        r = cobench_results.load(GOOD)   # pool's entries carry no speedup counter
        self.assertAlmostEqual(r.speedups()["pool"][2], 1.96, places=6)

    def test_non_finite_counter_dropped(self):
        doc = good_doc()
        doc["benchmarks"][0]["switch_ns"] = float("nan")
        r = cobench_results.parse(doc)
        self.assertNotIn("switch_ns", r.entries[0].counters)


class ClaimsTest(unittest.TestCase):
    def test_good_fixture_verdicts(self):
        got = {c.key: c.verdict for c in claims.evaluate_all(five_load(GOOD))}
        self.assertEqual(got, {"a": "confirmed", "b": "confirmed", "c": "mixed", "d": "confirmed",
                               "e": "confirmed", "f": "not measured", "g": "confirmed"})

    def test_a_follows_switch_numbers(self):
        doc = good_doc()
        for pin in ("same", "cross"):
            set_counter(doc, "ping_pong", "coroutines", "switch_ns", 5000.0, pin=pin)
        for n in (2, 64, 1024):
            set_counter(doc, "yield_ring", "coroutines", "switch_ns", 4000.0, tasks=n)
        c = verdict(doc, "a")
        self.assertEqual(c.verdict, claims.REFUTED)
        self.assertIn("factor 0.4", " ".join(c.evidence))
        for n in (2, 64, 1024):
            set_counter(doc, "yield_ring", "coroutines", "switch_ns", 300.0, tasks=n)
        set_counter(doc, "ping_pong", "coroutines", "switch_ns", 420.0, pin="same")
        self.assertEqual(verdict(doc, "a").verdict, claims.MIXED)   # factors 3.9 to 6.5

    def test_b_refuted_when_coroutines_hold_no_more(self):
        doc = good_doc()
        set_counter(doc, "max_tasks", "coroutines", "max_tasks", 40000.0, label="ENOMEM: mmap")
        for n in (1000, 10000):
            set_counter(doc, "idle_memory", "coroutines", "rss_per_task", 11000.0, tasks=n)
        self.assertEqual(verdict(doc, "b").verdict, claims.REFUTED)

    def test_c_confirmed_when_every_runtime_waits_concurrently(self):
        doc = good_doc()
        for rt in ("processes", "threads", "pool"):
            for n in (10, 1000, 10000):
                try:
                    set_counter(doc, "timer_fanout", rt, "total_ms", 120.0, tasks=n)
                except AssertionError:
                    pass   # pool has no tasks:10000 entry
        c = verdict(doc, "c")
        self.assertEqual(c.verdict, claims.CONFIRMED)
        self.assertIn("14 of 14", c.evidence[-1])

    def test_d_depends_on_cpu_count_and_speedups(self):
        doc = good_doc()
        doc["context"]["cpu_count"] = "1"
        c = verdict(doc, "d")
        self.assertEqual(c.verdict, claims.UNDECIDED)
        self.assertIn("cannot be decided", " ".join(c.evidence))
        doc = good_doc()
        set_counter(doc, "cpu_bound", "fibers", "speedup", 1.9, tasks=2)
        self.assertEqual(verdict(doc, "d").verdict, claims.MIXED)

    def test_e_reports_crossing_or_its_absence(self):
        c = verdict(good_doc(), "e")
        self.assertIn("coroutines overtake threads between conns:16 and conns:256", " ".join(c.evidence))
        doc = good_doc()
        for conns in (1, 16, 256):
            set_counter(doc, "echo", "coroutines", "req_per_s", 400000.0, conns=conns)
            set_counter(doc, "echo", "coroutines", "p99_us", 10.0, conns=conns)
        c = verdict(doc, "e")
        self.assertEqual(c.verdict, claims.MIXED)   # threads not "fine" at conns:1 any more
        self.assertIn("req_per_s: no crossing between conns:1 and conns:256; coroutines lead throughout",
                      c.evidence)

    def test_f_needs_a_multi_process_coroutine_runtime(self):
        # With one, the claim is computed: test_hybrid.py, on fixtures/hybrid.json.
        c = verdict(good_doc(), "f")
        self.assertEqual(c.verdict, claims.NOT_MEASURED)
        self.assertIn("not measured yet", c.evidence[0])

    def test_g_follows_lost_updates(self):
        doc = good_doc()
        for n in (2, 64):
            set_counter(doc, "lost_updates", "threads", "lost_updates", 0.0, tasks=n)
            set_counter(doc, "lost_updates", "threads", "lost_fraction", 0.0, tasks=n)
        c = verdict(doc, "g")
        self.assertEqual(c.verdict, claims.UNDECIDED)
        self.assertIn("did not show", " ".join(c.evidence))
        set_counter(doc, "lost_updates", "coroutines", "lost_updates", 3.0, tasks=64)
        set_counter(doc, "lost_updates", "coroutines", "lost_fraction", 0.0001, tasks=64)
        self.assertEqual(verdict(doc, "g").verdict, claims.REFUTED)

    def test_report_text_carries_computed_verdict(self):
        doc = good_doc()
        for pin in ("same", "cross"):
            set_counter(doc, "ping_pong", "coroutines", "switch_ns", 5000.0, pin=pin)
        r = five_parse(doc)
        md = report.build_report(r, claims.evaluate_all(r), [], [], lambda c: "").markdown(lambda c: "")
        self.assertIn("| (a) Switching between coroutines costs far less than switching between threads. "
                      "| **mixed** |", md)   # ping_pong refuted, yield_ring still confirmed
        self.assertIn("SWITCH_CONFIRM_FACTOR | 10 |", md)


class ChartsTest(unittest.TestCase):
    def test_colours_follow_the_registry_order_in_the_file(self):
        doc = good_doc()
        r = cobench_results.parse(copy.deepcopy(doc), "test")
        styles = charts.Styles(r)
        order = [rt["name"] for rt in doc["context"]["runtimes"]]
        self.assertEqual([styles.colour(n) for n in order], list(charts.PALETTE[:len(order)]))
        # A runtime the registry lists first takes the first colour, whatever its name.
        doc["context"]["runtimes"].insert(0, dict(HYBRID, name="io_uring_loop"))
        styles = charts.Styles(cobench_results.parse(doc, "test"))
        self.assertEqual(styles.colour("io_uring_loop"), charts.PALETTE[0])
        self.assertEqual(styles.colour(order[0]), charts.PALETTE[1])

    def test_many_runtimes_keep_distinct_styles(self):
        doc = good_doc()
        doc["context"]["runtimes"] = [dict(HYBRID, name=f"rt{i}") for i in range(25)]
        styles = charts.Styles(cobench_results.parse(doc, "test"))
        looks = {(styles.colour(f"rt{i}"), styles.marker(f"rt{i}")) for i in range(25)}
        self.assertEqual(len(looks), 25)

    def test_odd_but_valid_data_does_not_break_charts(self):
        def entry(name, **counters):
            return {"name": name, "run_name": name, "run_type": "iteration", "real_time": 1.0,
                    "cpu_time": 1.0, "time_unit": "ns", **counters}
        doc = {"benchmarks": [
            entry("producer_consumer/threads", msgs_per_s=5.0),           # params missing
            entry("max_tasks/green_threads", max_tasks=0.0),              # a sixth runtime, zero
            entry("timer_fanout/threads/wait_ms:5", total_ms=6.0, longest_wait_ms=5.0),
            entry("idle_memory/proc_coroutines/tasks:10", rss_per_task=0.0, kernel_per_task=0.0),
            entry("echo/threads/conns:1", req_per_s=0.0, p99_us=0.0),
        ]}
        rendered, skipped = charts.render_all(cobench_results.parse(doc, "odd"))
        self.assertEqual([c.name for c in rendered],
                         ["memory_per_task", "max_tasks", "echo", "producer_consumer", "overview"])
        self.assertIn(("spawn_cost", "Spawn cost (create + join)", "no data for this chart"), skipped)

    def test_caption_names_the_machine(self):
        caption = charts.machine_caption(good_doc()["context"])
        for text in ("AMD EPYC 7B13", "2 CPUs", "Linux 6.1.0", "kvm", "g++ 12.2.0", "3f9c2a1d8e"):
            self.assertIn(text, caption)


class GoodRunTest(WrittenReport):
    FILES = (GOOD,)
    FIVE = True

    def test_exit_status(self):
        # The fixture records a failed benchmark and a crashed family: written, but status 3.
        self.assertEqual(self.proc.returncode, 3, self.proc.stderr)
        self.assertIn("record failed benchmarks or runtime families", self.proc.stderr)

    def test_every_chart_in_png_and_svg(self):
        names = ("switch_cost", "spawn_cost", "memory_per_task", "max_tasks", "echo", "timer_fanout",
                 "cpu_speedup", "producer_consumer", "bounded_fanout", "lost_updates", "overview")
        for name in names:
            self.assertTrue((self.dir / "out" / f"{name}.png").read_bytes().startswith(b"\x89PNG"), name)
            self.assertIn(b"<svg", (self.dir / "out" / f"{name}.svg").read_bytes()[:2000], name)
            self.assertIn(f"](../out/{name}.png)", self.md)
        leftovers = [p.name for p in self.dir.rglob("*.tmp")]
        self.assertEqual(leftovers, [])

    def test_report_sections(self):
        for text in ("## Run conditions", "AMD EPYC 7B13", "## Claims", "## Workloads", "## Headline",
                     "| fibers | crashed | killed by signal 11", "echo/processes/conns:256",
                     "| skynet | threads | all | 1,111,111 OS threads", "| threads | 5,200 | 2,100 (2,050–2,190) |",
                     "`max_tasks` on fibers: no data (its family: crashed)"):
            self.assertIn(text, self.md)
        self.assertIn("(a) Switching between coroutines costs far less than switching between threads. "
                      "| **confirmed**", self.md)

    def test_html_stands_alone(self):
        self.assertEqual(self.html.count('src="data:image/png;base64,'), 11)
        self.assertNotIn('src="../', self.html)
        self.assertIn('<strong class="v-mixed">mixed</strong>', self.html)


class IncompleteRunTest(unittest.TestCase):
    def test_missing_workloads_become_notes(self):
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "out"
            out.mkdir()
            (out / "echo.png").write_bytes(b"stale chart from an earlier run")
            proc = run_report(INCOMPLETE, "--out-dir", out, "--report", Path(tmp) / "report.md")
            self.assertEqual(proc.returncode, 0, proc.stderr)
            md = (Path(tmp) / "report.md").read_text(encoding="utf-8")
            self.assertTrue((out / "switch_cost.png").exists())
            self.assertFalse((out / "echo.png").exists())   # would contradict the report
            self.assertIn("### Echo server: throughput and tail latency\n\n"
                          "**Not measured in this run**", md)
            self.assertIn("- yield_ring: not measured in this run", md)
            self.assertIn("- Timer fan-out: concurrent waiting: not measured in this run", md)
            self.assertIn("Verdict: **not measured**", md)
            self.assertIn("None: no workload/runtime pair was declared impossible.", md)


class BadInputTest(PreviousOutputs):
    """Every bad input: exit 2, one clear line on stderr, earlier outputs byte-identical."""
    PREVIOUS = {"out/switch_cost.png": b"previous chart", "report.md": b"# previous report\n",
                "report.html": b"<p>previous report</p>\n"}

    def check_rejected(self, text, expect, name="input.json"):
        path = self.dir / name
        if text is not None:
            path.write_text(text, encoding="utf-8")
            self.before = snapshot(self.dir)
        proc = run_report(path, "--out-dir", self.dir / "out", "--report", self.dir / "report.md")
        self.assertEqual(proc.returncode, 2, proc.stdout + proc.stderr)
        lines = proc.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, proc.stderr)
        self.assertTrue(lines[0].startswith("report.py: error: "), lines[0])
        self.assertIn(expect, lines[0])
        self.assertEqual(snapshot(self.dir), self.before)

    def mutated(self, change):
        doc = good_doc()
        change(doc)
        return json.dumps(doc)

    def test_missing_file(self):
        self.check_rejected(None, "no such file", name="absent.json")

    def test_malformed_json(self):
        self.check_rejected(GOOD.read_text(encoding="utf-8")[:5000], "malformed JSON")

    def test_top_level_not_an_object(self):
        self.check_rejected("[1, 2]", "top level is not a JSON object")

    def test_no_benchmarks_list(self):
        self.check_rejected('{"context": {}, "families": []}', "no 'benchmarks' list")
        self.check_rejected('{"benchmarks": {"a": 1}}', "no 'benchmarks' list")

    def test_malformed_entries(self):
        # (what is wrong, how good.json is changed, what the one line says)
        for what, change, expect in (
                ("entry missing a field late in the file",
                 lambda d: d["benchmarks"][-1].pop("run_type"), "missing or non-string field 'run_type'"),
                ("entry without a time", lambda d: d["benchmarks"][5].pop("real_time"), "'real_time'"),
                ("entry with prose in its name",
                 lambda d: d["benchmarks"][3].update(run_name="ping_pong/threads/same core"), "is not key:value"),
                ("declared pair without a reason",
                 lambda d: d["declared"][0].pop("reason"), "declared[0] has no string field 'reason'")):
            with self.subTest(what):
                self.check_rejected(self.mutated(change), expect)

    def test_instruction_count_file(self):
        def instructions(doc):
            doc["context"]["cobench_profile"] = "instructions"
            doc["benchmarks"] = [dict(e, instructions_per_op=842.0) for e in doc["benchmarks"][:3]]
        self.check_rejected(self.mutated(instructions), "an instruction-count file")

    def test_committed_instruction_baseline(self):
        baseline = PLOTS.parent / "results" / "baseline" / "instructions.json"
        self.check_rejected(baseline.read_text(encoding="utf-8"), "an instruction-count file")

    def test_plain_google_benchmark_json(self):
        def plain(doc):
            doc["context"] = {k: v for k, v in doc["context"].items() if not k.startswith("cobench_")}
        self.check_rejected(self.mutated(plain), "not a cobench results file")

    def test_schema_from_the_future(self):
        def future(doc):
            doc["context"]["cobench_schema"] = 3
        self.check_rejected(self.mutated(future), "results schema 3 is newer than these tools")

    def test_malformed_runtime_traits(self):
        def bad(doc):
            doc["context"]["runtimes"][1]["multi_core"] = "yes"
        self.check_rejected(self.mutated(bad), "'multi_core' is not true or false")

    def test_malformed_counter_metadata(self):
        def bad(doc):
            doc["context"]["counters"]["switch_ns"]["better"] = "faster"
        self.check_rejected(self.mutated(bad), "'better' is 'faster'")

    def test_empty_run(self):
        def empty(doc):
            doc["benchmarks"] = []
        self.check_rejected(self.mutated(empty), "no successful benchmark (it has no benchmark entries)")

    def test_all_errored_run(self):
        def errored(doc):
            for e in doc["benchmarks"]:
                e.update(error_occurred=True, error_message="EAGAIN")
        self.check_rejected(self.mutated(errored), "no successful benchmark (all 127 benchmark(s) errored)")

    def test_results_path_is_a_folder(self):
        (self.dir / "folder.json").mkdir()
        self.before = snapshot(self.dir)
        self.check_rejected(None, "is a folder", name="folder.json")


class ExitStatusTest(unittest.TestCase):
    def test_internal_error_is_not_a_failure_code(self):
        with tempfile.TemporaryDirectory() as tmp:
            # The real entry point in a fresh interpreter, with the chart code sabotaged.
            code = ("import sys, charts, report\n"
                    "def boom(*args): raise ZeroDivisionError('sabotaged')\n"
                    "charts.render_all = boom\n"
                    f"sys.exit(report.main([{str(GOOD)!r}, '--out-dir', {tmp!r}, "
                    f"'--report', {tmp + '/r.md'!r}]))\n")
            proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
            self.assertEqual(proc.returncode, 4, proc.stderr)
            self.assertEqual(proc.stderr.strip(), "report.py: internal error: ZeroDivisionError: sabotaged")
            self.assertEqual(os.listdir(tmp), [])

    def test_clean_run_exits_0(self):
        with tempfile.TemporaryDirectory() as tmp:
            proc = run_report(INCOMPLETE, "--out-dir", Path(tmp) / "out", "--report", Path(tmp) / "r.md")
            self.assertEqual(proc.returncode, 0, proc.stderr)

    def test_help_documents_the_statuses(self):
        text = " ".join(run_report("--help").stdout.split())
        for phrase in ("0 report written", "1 failure", "2 bad input", "3 report written, but",
                       "4 internal error"):
            self.assertIn(phrase, text)


class SchemaOneTest(unittest.TestCase):
    """Files written before runtime traits and counter metadata still give a report."""

    def test_old_file_loads_with_first_appearance_order_and_no_traits(self):
        r = cobench_results.load(GOOD_SCHEMA1)
        self.assertEqual(r.schema, 1)
        self.assertFalse(r.has_traits)
        self.assertEqual(r.runtimes(), [rt["name"] for rt in good_doc()["context"]["runtimes"]])
        self.assertEqual(r.counter("cpu_sys_ns_per_op").better, "lower")      # the naming rules
        self.assertEqual(r.counter("cpu_sys_ns_per_op").quantum, cobench_results.TICK_NS)
        self.assertIsNone(r.counter("client_cpu_frac").better)

    def test_claims_needing_traits_say_so(self):
        got = {c.key: c for c in claims.evaluate_all(five_load(GOOD_SCHEMA1))}
        for key in "abdefg":
            self.assertEqual(got[key].verdict, claims.NOT_JUDGED, key)
            self.assertIn("declares no runtime traits", " ".join(got[key].evidence))
        self.assertEqual(got["c"].verdict, "mixed")   # needs no traits: judged as before

    def test_report_is_written(self):
        with tempfile.TemporaryDirectory() as tmp:
            proc = run_report(GOOD_SCHEMA1, "--out-dir", Path(tmp) / "out", "--report", Path(tmp) / "r.md")
            self.assertEqual(proc.returncode, 3, proc.stderr)   # the fixture records failures
            md = (Path(tmp) / "r.md").read_text(encoding="utf-8")
            self.assertIn("Verdict: **not judged**", md)
            self.assertIn("declares no runtime traits", md)

    def test_counter_metadata_comes_from_the_file(self):
        r = cobench_results.load(GOOD)
        info = r.counter("cpu_sys_ns_per_op")
        self.assertTrue(info.from_file)
        self.assertEqual(info.resolution(400000.0), 25.0)
        self.assertEqual(r.counter("client_cpu_frac").better, None)   # not in this fixture's map
        self.assertEqual(r.counter("longest_wait_ms").better, "none")  # the map says so; the rule would not


class RegisteredButNotRunTest(unittest.TestCase):
    def test_runtimes_the_run_did_not_ask_for_are_not_missing_data(self):
        # context.runtimes lists the whole registry, also runtimes left out with --runtimes.
        doc = good_doc()
        doc["context"]["runtimes"].append(dict(HYBRID, name="io_uring_loop"))
        r = cobench_results.parse(doc, "test")
        self.assertIn("io_uring_loop", r.runtimes())
        self.assertNotIn("io_uring_loop", r.runtimes_in_run())
        self.assertFalse([n for n in report.absent_runtimes(r) if "io_uring_loop" in n])
        self.assertIn("`max_tasks` on fibers: no data (its family: crashed)", report.absent_runtimes(r))


class LinksAndLabelsTest(unittest.TestCase):
    def test_paths_with_spaces_and_brackets_are_escaped(self):
        with tempfile.TemporaryDirectory() as tmp:
            out, rep = Path(tmp) / "my charts (v2)", Path(tmp) / "the report" / "r.md"
            proc = run_report(INCOMPLETE, "--out-dir", out, "--report", rep)
            self.assertEqual(proc.returncode, 0, proc.stderr)
            md = rep.read_text(encoding="utf-8")
            self.assertIn("](../my%20charts%20%28v2%29/switch_cost.png)", md)
            self.assertTrue((out / "switch_cost.png").exists())

    def test_max_tasks_zero_is_none_held(self):
        doc = good_doc()
        set_counter(doc, "max_tasks", "threads", "max_tasks", 0.0, label="EAGAIN: pthread_create")
        r = cobench_results.parse(doc, "test")
        md = report.build_report(r, claims.evaluate_all(r), [], [], lambda c: "").markdown(lambda c: "")
        self.assertIn("| threads | none held | EAGAIN: pthread_create |", md)
        b = next(c for c in claims.evaluate_all(r) if c.key == "b")
        self.assertIn("threads none held (EAGAIN: pthread_create)", " ".join(b.evidence))
        svg = next(c for c in charts.render_all(r)[0] if c.name == "max_tasks").svg
        self.assertIn(b"none held", svg)


class AtomicWriteTest(unittest.TestCase):
    def test_failure_while_staging_leaves_targets_and_no_temporaries(self):
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            (tmp / "a.png").write_bytes(b"old a")
            (tmp / "blocker").write_bytes(b"a file where a folder is needed")
            before = snapshot(tmp)
            files = [(tmp / "a.png", b"new a"), (tmp / "b.md", b"new b"),
                     (tmp / "blocker" / "c.html", b"cannot be written")]
            with self.assertRaises(OSError):
                cobench_results.publish(files)
            self.assertEqual(snapshot(tmp), before)
            self.assertEqual(sorted(p.name for p in tmp.iterdir()), ["a.png", "blocker"])

    def test_failure_during_the_swap_puts_everything_back(self):
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            for name in ("a.png", "b.png", "stale.png"):
                (tmp / "out" / name).parent.mkdir(exist_ok=True)
                (tmp / "out" / name).write_bytes(b"old " + name.encode())
            before = snapshot(tmp)
            real, calls = os.replace, []

            def flaky(src, dst):
                calls.append(dst)
                if len(calls) == 4:     # after a.png went in and b.png's old copy moved aside
                    raise OSError("disk on fire")
                return real(src, dst)
            files = [(tmp / "out" / "a.png", b"new a"), (tmp / "out" / "b.png", b"new b"),
                     (tmp / "new" / "c.md", b"new c")]
            with mock.patch.object(atomic.os, "replace", flaky), self.assertRaises(OSError):
                cobench_results.publish(files, remove=[tmp / "out" / "stale.png"])
            self.assertEqual(snapshot(tmp), before)
            self.assertFalse((tmp / "new").exists(), "a folder made for the outputs is removed again")

    def test_success_replaces_all(self):
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            (tmp / "a.png").write_bytes(b"old a")
            (tmp / "stale.svg").write_bytes(b"old chart")
            cobench_results.publish([(tmp / "a.png", b"new a"), (tmp / "sub" / "b.md", b"new b")],
                                    remove=[tmp / "stale.svg", tmp / "never-was.svg"])
            self.assertEqual(snapshot(tmp), {"a.png": b"new a", "sub/b.md": b"new b"})
            self.assertEqual(os.stat(tmp / "a.png").st_mode & 0o077, 0o066 & ~_umask())

    def test_write_atomic_keeps_the_old_file_on_failure(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "x.json"
            path.write_text("old")
            with mock.patch.object(atomic.os, "replace", side_effect=OSError("no")), \
                    self.assertRaises(OSError):
                cobench_results.write_atomic(path, "new")
            self.assertEqual(os.listdir(tmp), ["x.json"])
            self.assertEqual(path.read_text(), "old")


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


if __name__ == "__main__":
    unittest.main()


class KernelReferenceTest(unittest.TestCase):
    @staticmethod
    def entry(name, ns):
        return {"name": name, "run_name": name, "run_type": "iteration", "repetitions": 1, "repetition_index": 0,
                "iterations": 1, "real_time": 1.0, "cpu_time": 1.0, "time_unit": "ms", "switch_ns": ns}

    def test_ratio_of_pipe_pong_to_the_kernel_benchmark(self):
        doc = {"context": {}, "benchmarks": [self.entry("pipe_pong/processes/pin:same", 7000.0),
                                             self.entry("kernel_sched_pipe/processes/pin:same", 6500.0),
                                             self.entry("pipe_pong/threads/pin:same", 4000.0)]}
        rows = builtin.kernel_reference_rows(cobench_results.parse(doc, "test"))
        # threads has no kernel number in this file: no row rather than a made-up one
        self.assertEqual([row[0] for row in rows], ["processes"])
        self.assertEqual(rows[0][3], f"{7000 / 6500:.2f}")
