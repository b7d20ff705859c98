"""Tests of the regression gate and the history tool on synthetic results files.

From the repository root:
    plots/python.sh --need scipy,numpy,matplotlib -m unittest discover -s bench/compare/tests -v
"""

import contextlib
import io
import json
import os
import random
import subprocess
import sys
import tempfile
import unittest

import cobench_results as cr
import compare
import history

HERE = os.path.dirname(os.path.abspath(__file__))
COMPARE_DIR = os.path.dirname(HERE)
COMPARE_PY = os.path.join(COMPARE_DIR, "compare.py")

CONTEXT = {
    "date": "2024-05-01T12:00:00+00:00", "host_name": "ci", "num_cpus": 2,
    "cobench_schema": 1, "cobench_profile": "ci", "cobench_build_type": "Release",
    "git_commit": "0123456789abcdef0123456789abcdef01234567", "git_dirty": "false",
    "compiler": "g++ 12.2.0", "cxx_flags": "-O2", "boost_version": "1.74.0",
    "tbb_version": "2021.8.0", "benchmark_version": "1.7.1", "liburing_version": "2.3",
    "fingerprint": "fp-1",
}


def entries(run, values_by_metric, time_unit="ns", aggregates=True):
    """Google Benchmark entries for one run: one iteration entry per repetition, then aggregates."""
    reps = len(next(iter(values_by_metric.values())))
    name = run if reps == 1 else f"{run}/repeats:{reps}"
    base = {"family_index": 0, "per_family_instance_index": 0, "run_name": run,
            "repetitions": reps, "threads": 1, "iterations": 1000, "time_unit": time_unit}
    out = []
    for i in range(reps):
        e = dict(base, name=name, run_type="iteration", repetition_index=i)
        e.update({m: v[i] for m, v in values_by_metric.items()})
        e.setdefault("real_time", 100.0)
        e.setdefault("cpu_time", 100.0)
        out.append(e)
    if reps > 1 and aggregates:
        # Deliberately absurd values: the gate must use the repetitions, not the aggregates.
        for agg in ("mean", "median", "stddev", "cv"):
            e = dict(base, name=f"{name}_{agg}", run_type="aggregate", aggregate_name=agg)
            e.update({m: 1e9 for m in values_by_metric})
            e.update(real_time=1e9, cpu_time=1e9)
            out.append(e)
    return out


def results(benchmarks, **context):
    return {"context": dict(CONTEXT, **context), "benchmarks": benchmarks,
            "families": [{"runtime": "threads", "status": "ok", "message": "", "wall_s": 1.0}],
            "declared": []}


def noisy(rng, center, spread, n):
    return [center * (1 + rng.uniform(-spread, spread)) for _ in range(n)]


class Base(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory()
        self.tmp = self._tmp.name

    def tearDown(self):
        self._tmp.cleanup()

    def write(self, name, doc):
        path = os.path.join(self.tmp, name)
        with open(path, "w", encoding="utf-8") as f:
            f.write(doc if isinstance(doc, str) else json.dumps(doc))
        return path

    def run_compare(self, base_doc, cand_doc, *options):
        """(exit status, stdout, stderr, rows) of an in-process compare.py run."""
        b, c = self.write("base.json", base_doc), self.write("cand.json", cand_doc)
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = compare.main([b, c, *options])
            except SystemExit as e:  # argparse
                code = e.code
        rows = {}
        if code in (0, 1, 3):
            opts = compare.parse_args([b, c, *options])
            found, _ = compare.compare(compare.Side(cr.load(b)), compare.Side(cr.load(c)), opts)
            rows = {(r.run, r.metric): r for r in found}
        return code, out.getvalue(), err.getvalue(), rows

    def run_cli(self, *args, **kwargs):
        """compare.py as CI runs it: a separate process, so the exit status is the real one."""
        return subprocess.run([sys.executable, COMPARE_PY, *args], capture_output=True, text=True,
                              timeout=120, **kwargs)


class NoFalseAlarms(Base):
    def test_same_distribution_with_repetitions(self):
        for seed in range(20):
            rng = random.Random(seed)

            def side():
                return results(
                    entries("ping_pong/coroutines/pin:same",
                            {"real_time": noisy(rng, 300, 0.15, 10), "switch_ns": noisy(rng, 150, 0.15, 10)})
                    + entries("echo/threads/conns:64",
                              {"req_per_s": noisy(rng, 5e4, 0.15, 10), "p99_us": noisy(rng, 80, 0.15, 10)})
                    + entries("idle_memory/fibers/tasks:1000",
                              {"rss_per_task": noisy(rng, 9000, 0.15, 10)}))

            base, cand = side(), side()
            for gate in ((), ("--gate-wallclock",)):
                code, out, _, rows = self.run_compare(base, cand, *gate)
                self.assertEqual(code, 0, f"seed {seed} {gate}:\n{out}")
                bad = [k for k, r in rows.items() if r.verdict in ("regressed", "warning")]
                self.assertEqual(bad, [], f"seed {seed}:\n{out}")
                self.assertTrue(all(r.p is not None for r in rows.values()), "the U test should run")

    def test_instruction_counts_within_one_percent(self):
        for seed in range(20):
            rng = random.Random(seed)
            names = ["spawn/coroutines/tasks:1000", "yield_ring/fibers/tasks:64", "skynet/pool/leaves:1000"]
            base = results([e for n in names for e in entries(n, {"instructions_per_op": [1000.0]})])
            cand = results([e for n in names
                            for e in entries(n, {"instructions_per_op": [1000.0 * (1 + rng.uniform(-0.0099, 0.0099))]})])
            code, out, _, rows = self.run_compare(base, cand)
            self.assertEqual(code, 0, out)
            self.assertEqual({r.verdict for r in rows.values()}, {"ok"})
            self.assertIn("no statistical test was possible", out)


class Catches(Base):
    def test_instructions_plus_ten_percent_fails(self):
        base = results(entries("spawn/coroutines/tasks:1000", {"instructions_per_op": [2000.0]}))
        cand = results(entries("spawn/coroutines/tasks:1000", {"instructions_per_op": [2200.0]}))
        code, out, _, rows = self.run_compare(base, cand)
        self.assertEqual(code, 1, out)
        row = rows[("spawn/coroutines/tasks:1000", "instructions_per_op")]
        self.assertEqual(row.verdict, "regressed")
        self.assertAlmostEqual(row.change, 0.10)
        self.assertIn("n=1", out)
        self.assertIn("FAIL", out)

    def test_instructions_improvement_passes(self):
        base = results(entries("spawn/coroutines/tasks:1000", {"instructions_per_op": [2000.0]}))
        cand = results(entries("spawn/coroutines/tasks:1000", {"instructions_per_op": [1800.0]}))
        code, _, _, rows = self.run_compare(base, cand)
        self.assertEqual(code, 0)
        self.assertEqual(rows[("spawn/coroutines/tasks:1000", "instructions_per_op")].verdict, "improved")

    def test_instruction_entries_ignore_their_timings(self):
        base = results(entries("spawn/coroutines/tasks:1000", {"instructions_per_op": [2000.0], "real_time": [10.0]}))
        cand = results(entries("spawn/coroutines/tasks:1000", {"instructions_per_op": [2000.0], "real_time": [99.0]}))
        _, _, _, rows = self.run_compare(base, cand)
        self.assertEqual(list(rows), [("spawn/coroutines/tasks:1000", "instructions_per_op")])

    def test_entries_measured_beside_other_work(self):
        """Instruction counts do not depend on other load: a loaded entry is still compared. A
        wall-clock file whose entries were all measured beside other work is compared on them,
        and the output says so, rather than refused as having no benchmark."""
        name = "spawn/coroutines/tasks:1000"
        base = results(entries(name, {"instructions_per_op": [2000.0], "other_load_frac": [0.5]}))
        cand = results(entries(name, {"instructions_per_op": [2200.0], "other_load_frac": [0.5]}))
        code, out, _, rows = self.run_compare(base, cand)
        self.assertEqual(code, 1, out)
        self.assertEqual(rows[(name, "instructions_per_op")].verdict, "regressed")
        self.assertNotIn("beside other work", out)
        rng = random.Random(7)
        key = ("ping_pong/threads/pin:cross", "switch_ns")
        base = results(entries(key[0], {"switch_ns": noisy(rng, 2000, 0.10, 10), "other_load_frac": [0.0] * 10}))
        cand = results(entries(key[0], {"switch_ns": noisy(rng, 2600, 0.10, 10), "other_load_frac": [0.6] * 10}))
        code, out, _, rows = self.run_compare(base, cand)
        self.assertEqual(code, 0, out)
        self.assertEqual(rows[key].verdict, "warning", out)
        self.assertIn("every entry was measured beside other work", out)

    def test_wallclock_plus_thirty_percent(self):
        for seed in range(5):
            rng = random.Random(100 + seed)
            base = results(entries("ping_pong/threads/pin:cross", {"switch_ns": noisy(rng, 2000, 0.10, 10)}))
            cand = results(entries("ping_pong/threads/pin:cross", {"switch_ns": noisy(rng, 2600, 0.10, 10)}))
            key = ("ping_pong/threads/pin:cross", "switch_ns")

            code, out, _, rows = self.run_compare(base, cand)
            self.assertEqual(code, 0, out)
            self.assertEqual(rows[key].verdict, "warning", out)
            self.assertLess(rows[key].p, 0.05)
            self.assertIn("warning", out)

            code, out, _, rows = self.run_compare(base, cand, "--gate-wallclock")
            self.assertEqual(code, 1, out)
            self.assertEqual(rows[key].verdict, "regressed")

    def test_effect_below_threshold_is_not_flagged_even_if_significant(self):
        base = results(entries("spawn/threads/tasks:100", {"spawn_ns": [1000.0 + i for i in range(10)]}))
        cand = results(entries("spawn/threads/tasks:100", {"spawn_ns": [1100.0 + i for i in range(10)]}))
        code, _, _, rows = self.run_compare(base, cand, "--gate-wallclock")
        row = rows[("spawn/threads/tasks:100", "spawn_ns")]
        self.assertLess(row.p, 0.05)
        self.assertEqual((code, row.verdict), (0, "ok"))
        code, _, _, rows = self.run_compare(base, cand, "--gate-wallclock", "--wall-threshold", "5")
        self.assertEqual((code, rows[("spawn/threads/tasks:100", "spawn_ns")].verdict), (1, "regressed"))

    def test_large_effect_without_significance_is_not_flagged(self):
        # Medians differ by 50% but the samples overlap completely: noise, not a regression.
        base = results(entries("echo/fibers/conns:8", {"p50_us": [10, 11, 30, 31, 32, 12, 33, 13, 34, 14]}))
        cand = results(entries("echo/fibers/conns:8", {"p50_us": [10, 11, 30, 31, 32, 33, 34, 13, 35, 14]}))
        code, _, _, rows = self.run_compare(base, cand, "--gate-wallclock")
        row = rows[("echo/fibers/conns:8", "p50_us")]
        self.assertGreater(row.change, 0.2)
        self.assertGreater(row.p, 0.05)
        self.assertEqual((code, row.verdict), (0, "ok"))


class Direction(Base):
    def check(self, before, after, expected_verdict, expected_code):
        rng = random.Random(7)
        base = results(entries("echo/coroutines/conns:64", {"req_per_s": noisy(rng, before, 0.05, 10)}))
        cand = results(entries("echo/coroutines/conns:64", {"req_per_s": noisy(rng, after, 0.05, 10)}))
        code, out, _, rows = self.run_compare(base, cand, "--gate-wallclock")
        self.assertEqual(rows[("echo/coroutines/conns:64", "req_per_s")].verdict, expected_verdict, out)
        self.assertEqual(code, expected_code)

    def test_throughput_drop_is_a_regression(self):
        self.check(50000, 30000, "regressed", 1)

    def test_throughput_rise_is_an_improvement(self):
        self.check(30000, 50000, "improved", 0)

    def test_direction_rules(self):
        def d(name):
            return cr.counter_by_rule(name).better
        for lower in ("switch_ns", "spawn_ns", "p99_us", "total_ms", "rss_per_task", "cpu_sys_ns_per_op",
                      "ivcsw_per_op", "lost_fraction", "real_time", "instructions_per_op",
                      "overhead_us_per_task"):
            self.assertEqual(d(lower), "lower", lower)
        for higher in ("req_per_s", "msgs_per_s", "items_per_second", "speedup", "max_tasks"):
            self.assertEqual(d(higher), "higher", higher)
        self.assertIsNone(d("sum"))
        self.assertEqual(d("ops"), "none")

    def test_metadata_in_the_file_beats_the_naming_rules(self):
        # "switch_ns" would be lower-is-better by its name; the file says otherwise.
        meta = {"switch_ns": {"unit": "ns", "better": "higher"}, "sum": {"unit": "n", "better": "lower"},
                "client_cpu_frac": {"unit": "fraction", "better": "none"}}
        base = results(entries("skynet/threads/leaves:10", {"switch_ns": [10.0], "sum": [5.0],
                                                            "client_cpu_frac": [0.5]}), counters=meta)
        cand = results(entries("skynet/threads/leaves:10", {"switch_ns": [5.0], "sum": [50.0],
                                                            "client_cpu_frac": [0.9]}), counters=meta)
        code, out, _, rows = self.run_compare(base, cand, "--gate-wallclock")
        self.assertEqual(rows[("skynet/threads/leaves:10", "switch_ns")].verdict, "regressed")
        self.assertEqual(rows[("skynet/threads/leaves:10", "sum")].unit, "n")
        self.assertNotIn(("skynet/threads/leaves:10", "client_cpu_frac"), rows)
        self.assertIn("not compared (descriptive, better = none): client_cpu_frac", out)
        self.assertEqual(code, 1)

    def test_unknown_counter_skipped_unless_listed(self):
        base = results(entries("skynet/threads/leaves:1000", {"spawn_ns": [10.0], "sum": [499500.0]}))
        cand = results(entries("skynet/threads/leaves:1000", {"spawn_ns": [10.0], "sum": [1.0]}))
        code, out, _, rows = self.run_compare(base, cand)
        self.assertNotIn(("skynet/threads/leaves:1000", "sum"), rows)
        self.assertIn("skipped counter 'sum'", out)
        code, out, _, rows = self.run_compare(base, cand, "--direction", "sum=higher", "--gate-wallclock")
        self.assertEqual(rows[("skynet/threads/leaves:1000", "sum")].verdict, "regressed")
        self.assertEqual(code, 1)

    def test_time_units_are_normalised(self):
        base = results(entries("bounded_fanout/pool/tasks:10/limit:2", {"real_time": [2.0]}, time_unit="ms"))
        cand = results(entries("bounded_fanout/pool/tasks:10/limit:2", {"real_time": [2000.0]}, time_unit="us"))
        _, _, _, rows = self.run_compare(base, cand)
        self.assertEqual(rows[("bounded_fanout/pool/tasks:10/limit:2", "real_time")].change, 0.0)


class NewMissingAndErrors(Base):
    def test_new_missing_and_failed(self):
        base = results(entries("spawn/threads/tasks:10", {"spawn_ns": [5.0]})
                       + entries("spawn/pool/tasks:10", {"spawn_ns": [5.0]}))
        failed = dict(entries("spawn/pool/tasks:10", {"spawn_ns": [0.0]})[0],
                      error_occurred=True, error_message="EAGAIN")
        cand = results(entries("spawn/fibers/tasks:10", {"spawn_ns": [5.0]}) + [failed])
        code, out, _, rows = self.run_compare(base, cand)
        self.assertEqual(code, 3, "a candidate with an errored benchmark exits 3")
        self.assertIn("1 failure(s) in the candidate", out)
        self.assertEqual(rows[("spawn/threads/tasks:10", "spawn_ns")].verdict, "missing")
        self.assertEqual(rows[("spawn/fibers/tasks:10", "spawn_ns")].verdict, "new")
        self.assertIn("candidate error: EAGAIN", rows[("spawn/pool/tasks:10", "spawn_ns")].note)

    def test_aggregates_only(self):
        agg = [dict(e, run_type="aggregate", aggregate_name="median", real_time=100.0)
               for e in entries("spawn/threads/tasks:10", {"spawn_ns": [5.0]})]
        agg_c = [dict(e, real_time=300.0) for e in agg]
        code, out, _, rows = self.run_compare(results(agg), results(agg_c))
        self.assertEqual(rows[("spawn/threads/tasks:10", "real_time")].verdict, "warning")
        self.assertIn("only had aggregate entries", out)


class Fingerprint(Base):
    def test_mismatch_is_bad_input_with_regen_command(self):
        base = results(entries("spawn/threads/tasks:10", {"instructions_per_op": [5.0]}))
        cand = results(entries("spawn/threads/tasks:10", {"instructions_per_op": [50.0]}),
                       fingerprint="fp-2", compiler="g++ 13.2.0")
        md = os.path.join(self.tmp, "summary.md")
        gab = os.path.join(self.tmp, "gab.json")
        code, out, err, _ = self.run_compare(base, cand, "--markdown", md, "--export-gab", gab)
        self.assertEqual(code, 2)
        self.assertEqual(out, "")
        self.assertIn("error: not comparable: baseline fingerprint fp-1 != candidate fingerprint fp-2; "
                      "regenerate the baseline with: bash bench/baseline.sh", err)
        self.assertIn("compiler differs: baseline 'g++ 12.2.0', candidate 'g++ 13.2.0'", err)
        self.assertNotIn("boost_version", err)
        self.assertFalse(os.path.exists(gab), "no export from incomparable inputs")
        with open(md, encoding="utf-8") as f:
            self.assertIn("not comparable", f.read())

        code, _, err, _ = self.run_compare(base, cand, "--regen-command", "make baseline")
        self.assertIn("regenerate the baseline with: make baseline", err)

        code, out, _, _ = self.run_compare(base, cand, "--ignore-fingerprint")
        self.assertEqual(code, 1)
        self.assertIn("compared anyway", out)

    def test_missing_fingerprint_is_not_comparable(self):
        doc = results(entries("spawn/threads/tasks:10", {"spawn_ns": [5.0]}))
        bare = json.loads(json.dumps(doc))
        del bare["context"]["fingerprint"]
        code, _, err, _ = self.run_compare(doc, bare)
        self.assertEqual(code, 2)
        self.assertIn("candidate fingerprint (none)", err)


class BadInput(Base):
    def setUp(self):
        super().setUp()
        self.good = results(entries("spawn/threads/tasks:10", {"spawn_ns": [5.0]}))
        self.outputs = {name: os.path.join(self.tmp, name)
                        for name in ("summary.md", "gab.json", "gab.bigger.json", "bmf.json")}
        for i, path in enumerate(self.outputs.values()):
            with open(path, "wb") as f:
                f.write(b"previous content %d\n" % i)
        self.before = {}
        for path in self.outputs.values():
            with open(path, "rb") as f:
                self.before[path] = f.read()

    def assert_rejected(self, cand, expected):
        code, out, err, _ = self.run_compare(
            self.good, cand, "--markdown", self.outputs["summary.md"],
            "--export-gab", self.outputs["gab.json"], "--export-bencher", self.outputs["bmf.json"])
        self.assertEqual(code, 2)
        self.assertEqual(len(err.strip().splitlines()), 1, err)
        self.assertIn(expected, err)
        self.assertEqual(out, "")
        for path, content in self.before.items():
            with open(path, "rb") as f:
                self.assertEqual(f.read(), content, path)
        self.assertEqual(sorted(os.listdir(self.tmp)),
                         sorted(["base.json", "cand.json", *self.outputs]), "no temporary files left")

    def test_malformed_json(self):
        self.assert_rejected('{"benchmarks": [', "malformed JSON")

    def test_no_benchmarks_list(self):
        self.assert_rejected({"context": {}}, "no 'benchmarks' list")
        self.assert_rejected({"benchmarks": {}}, "no 'benchmarks' list")
        self.assert_rejected([], "top level is not a JSON object")

    def test_bad_entry(self):
        self.assert_rejected({"benchmarks": [42]}, "benchmarks[0] is not a JSON object")

    def test_schema_from_the_future(self):
        self.assert_rejected(results(entries("spawn/threads/tasks:10", {"spawn_ns": [5.0]}),
                                     cobench_schema=99), "results schema 99 is newer than these tools")

    def test_empty_candidate(self):
        self.assert_rejected(results([]), "the candidate has no successful benchmark (it has no benchmark entries)")

    def test_all_errored_candidate(self):
        failed = [dict(e, error_occurred=True, error_message="EAGAIN")
                  for e in entries("spawn/threads/tasks:10", {"spawn_ns": [5.0]})
                  + entries("spawn/pool/tasks:10", {"spawn_ns": [5.0]})]
        self.assert_rejected(results(failed), "no successful benchmark (all 2 benchmark(s) errored)")

    def test_missing_file_via_cli(self):
        # Through a real process: the exit status is what CI sees.
        md = self.outputs["summary.md"]
        proc = self.run_cli(os.path.join(self.tmp, "nope.json"), self.write("cand.json", self.good),
                            "--markdown", md)
        self.assertEqual(proc.returncode, 2)
        self.assertEqual(proc.stderr.strip(), f"error: {os.path.join(self.tmp, 'nope.json')}: no such file")
        with open(md, "rb") as f:
            self.assertEqual(f.read(), self.before[md])

    def test_regression_exit_status_via_cli(self):
        base = self.write("b.json", results(entries("spawn/threads/tasks:10", {"instructions_per_op": [100.0]})))
        cand = self.write("c.json", results(entries("spawn/threads/tasks:10", {"instructions_per_op": [120.0]})))
        proc = self.run_cli(base, cand)
        self.assertEqual(proc.returncode, 1, proc.stdout + proc.stderr)


class ExitStatus(Base):
    """Every status through a real process: 0 ok, 1 regression, 2 bad input, 3 errored, 4 internal."""

    def test_each_status(self):
        good = results(entries("spawn/threads/tasks:10", {"instructions_per_op": [100.0]})
                       + entries("spawn/pool/tasks:10", {"instructions_per_op": [100.0]}))
        slower = json.loads(json.dumps(good))
        slower["benchmarks"][0]["instructions_per_op"] = 120.0
        errored = json.loads(json.dumps(good))
        errored["benchmarks"][1].update(error_occurred=True, error_message="EAGAIN")
        crashed = json.loads(json.dumps(good))
        crashed["families"] = [{"runtime": "pool", "status": "crashed", "message": "signal 11"}]
        b = self.write("b.json", good)
        for doc, status in ((good, 0), (slower, 1), ({"benchmarks": 1}, 2), (errored, 3), (crashed, 3)):
            with self.subTest(status=status):
                proc = self.run_cli(b, self.write("c.json", doc))
                self.assertEqual(proc.returncode, status, proc.stdout + proc.stderr)

    def test_unexpected_exception_is_not_a_regression(self):
        doc = self.write("b.json", results(entries("spawn/threads/tasks:10", {"spawn_ns": [5.0]})))
        # The real entry point in a fresh interpreter, with compare() sabotaged.
        code = ("import sys, compare\n"
                "def boom(*a): raise KeyError('sabotaged')\n"
                "compare.compare = boom\n"
                f"sys.exit(compare.main([{doc!r}, {doc!r}]))\n")
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
        self.assertEqual(proc.returncode, 4, proc.stderr)
        self.assertEqual(proc.stderr.strip(), "compare.py: internal error: KeyError: 'sabotaged'")

    def test_help_documents_the_statuses(self):
        text = self.run_cli("--help").stdout
        for phrase in ("0 no gated regression", "1 a gated regression", "2 bad input",
                       "3 compared, but", "4 internal error"):
            self.assertIn(phrase, " ".join(text.split()))


class NoiseFloor(Base):
    """A change within a counter's resolution (one accounting step / ops) is noise."""
    RUN = "cpu_bound/coroutines/tasks:1"
    META = {"cpu_sys_ns_per_op": {"unit": "ns/op", "better": "lower", "quantum": 1e7, "per": "ops"},
            "ivcsw_per_op": {"unit": "switches/op", "better": "lower", "quantum": 1, "per": "ops"},
            "ops": {"unit": "ops", "better": "none"}}
    OPS = 400000.0          # one 10 ms tick over 400,000 ops: 25 ns/op

    def side(self, sys_ns, **context):
        n = len(sys_ns)
        return results(entries(self.RUN, {"cpu_sys_ns_per_op": sys_ns, "ops": [self.OPS] * n,
                                          "real_time": [184e6] * n}), **context)

    def test_zero_to_tiny_is_noise(self):
        # The flaky CI case: 0 -> 0.0025 ns/op (1 us of system time), p = 0.03.
        base = self.side([0.0] * 7, counters=self.META)
        cand = self.side([0.0025, 0.0025, 0.005, 0.0025, 0.0, 0.0025, 0.0075], counters=self.META)
        code, out, _, rows = self.run_compare(base, cand, "--gate-wallclock")
        row = rows[(self.RUN, "cpu_sys_ns_per_op")]
        self.assertLess(row.p, 0.05, "significant, yet below resolution")
        self.assertEqual((code, row.verdict), (0, "ok"), out)
        self.assertIn("within the counter's resolution 25", row.note)

    def test_one_tick_either_way_is_noise(self):
        base = self.side([25.0] * 7, counters=self.META)
        cand = self.side([50.0] * 7, counters=self.META)
        code, _, _, rows = self.run_compare(base, cand, "--gate-wallclock")
        self.assertEqual((code, rows[(self.RUN, "cpu_sys_ns_per_op")].verdict), (0, "ok"))

    def test_real_change_above_the_floor_is_flagged(self):
        base = self.side([0.0] * 7, counters=self.META)
        cand = self.side([250.0, 275.0, 250.0, 300.0, 250.0, 275.0, 250.0], counters=self.META)  # 10+ ticks
        code, out, _, rows = self.run_compare(base, cand, "--gate-wallclock")
        row = rows[(self.RUN, "cpu_sys_ns_per_op")]
        self.assertEqual((code, row.verdict), (1, "regressed"), out)
        self.assertEqual(row.note, "")
        base = self.side([100.0] * 7, counters=self.META)
        cand = self.side([200.0] * 7, counters=self.META)            # 4 ticks more, +100%
        self.assertEqual(self.run_compare(base, cand, "--gate-wallclock")[0], 1)

    def test_old_files_without_ops_treat_zero_readings_as_resolution(self):
        # Schema 1: no counter map and no ops; the cpu_* rule still knows the counter is quantised.
        base = results(entries(self.RUN, {"cpu_sys_ns_per_op": [0.0] * 7}))
        cand = results(entries(self.RUN, {"cpu_sys_ns_per_op": [0.0025, 0.0025, 0.005, 0.0025, 0.0, 0.0025, 0.0025]}))
        code, _, _, rows = self.run_compare(base, cand, "--gate-wallclock")
        row = rows[(self.RUN, "cpu_sys_ns_per_op")]
        self.assertEqual((code, row.verdict), (0, "ok"))
        self.assertIn("a repetition read 0", row.note)
        # Without zero readings the usual test applies, so a real change is still caught.
        base = results(entries(self.RUN, {"cpu_sys_ns_per_op": [1000.0 + i for i in range(7)]}))
        cand = results(entries(self.RUN, {"cpu_sys_ns_per_op": [2000.0 + i for i in range(7)]}))
        self.assertEqual(self.run_compare(base, cand, "--gate-wallclock")[0], 1)

    def test_counters_without_a_quantum_have_no_floor(self):
        base = results(entries("lost_updates/threads/tasks:2", {"lost_updates": [0.0] * 7}))
        cand = results(entries("lost_updates/threads/tasks:2", {"lost_updates": [3.0] * 7}))
        self.assertEqual(self.run_compare(base, cand, "--gate-wallclock")[0], 1)

    def test_load_dependent_counter_warns_but_never_gates(self):
        def side(values):
            return results(entries(self.RUN, {"ivcsw_per_op": values, "ops": [self.OPS] * 7}),
                           counters=self.META)
        # 40 -> 400 involuntary switches per run: far above one switch / ops, and significant.
        code, out, _, rows = self.run_compare(side([1e-4] * 7), side([1e-3] * 7), "--gate-wallclock")
        row = rows[(self.RUN, "ivcsw_per_op")]
        self.assertEqual((code, row.verdict), (0, "warning"), out)
        self.assertIn("load-dependent", row.note)


class Exports(Base):
    def test_shapes(self):
        rng = random.Random(3)
        base = results(entries("echo/threads/conns:8", {"req_per_s": noisy(rng, 1e4, 0.1, 5),
                                                         "p99_us": noisy(rng, 50, 0.1, 5)})
                       + entries("spawn/coroutines/tasks:1000", {"instructions_per_op": [900.0]}))
        cand = results(entries("echo/threads/conns:8", {"req_per_s": noisy(rng, 1e4, 0.1, 5),
                                                         "p99_us": noisy(rng, 50, 0.1, 5)})
                       + entries("spawn/coroutines/tasks:1000", {"instructions_per_op": [905.0]}))
        gab, bmf, md = (os.path.join(self.tmp, n) for n in ("gab.json", "bmf.json", "summary.md"))
        code, _, _, _ = self.run_compare(base, cand, "--export-gab", gab, "--export-bencher", bmf,
                                         "--markdown", md)
        self.assertEqual(code, 0)

        with open(gab, encoding="utf-8") as f:
            smaller = json.load(f)
        with open(os.path.join(self.tmp, "gab.bigger.json"), encoding="utf-8") as f:
            bigger = json.load(f)
        for entry in smaller + bigger:
            self.assertLessEqual({"name", "unit", "value"}, set(entry))
            self.assertLessEqual(set(entry), {"name", "unit", "value", "range", "extra"})
            self.assertIsInstance(entry["value"], float)
            self.assertIsInstance(entry["name"], str)
        self.assertEqual([e["name"] for e in bigger], ["echo/threads/conns:8:req_per_s"])
        names = {e["name"]: e for e in smaller}
        self.assertEqual(names["spawn/coroutines/tasks:1000:instructions_per_op"]["value"], 905.0)
        self.assertEqual(names["spawn/coroutines/tasks:1000:instructions_per_op"]["unit"], "instructions/op")
        self.assertEqual(names["echo/threads/conns:8:p99_us"]["unit"], "us")
        self.assertTrue(names["echo/threads/conns:8:p99_us"]["range"].startswith("± "))

        with open(bmf, encoding="utf-8") as f:
            bencher = json.load(f)
        self.assertEqual(set(bencher), {"echo/threads/conns:8", "spawn/coroutines/tasks:1000"})
        echo = bencher["echo/threads/conns:8"]
        self.assertLessEqual({"req-per-s", "p99-us", "real-time", "cpu-time"}, set(echo))
        m = echo["req-per-s"]
        self.assertLessEqual(m["lower_value"], m["value"])
        self.assertLessEqual(m["value"], m["upper_value"])
        self.assertEqual(bencher["spawn/coroutines/tasks:1000"], {"instructions-per-op": {"value": 905.0}})

        with open(md, encoding="utf-8") as f:
            text = f.read()
        self.assertIn("| benchmark | metric |", text)
        self.assertIn("PASS", text)


class History(Base):
    RUN = "ping_pong/coroutines/pin:same"

    def history(self, *argv):
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = history.main(list(argv))
        return code, out.getvalue(), err.getvalue()

    def append(self, hist, commit, value, fingerprint="fp-1"):
        doc = results(entries(self.RUN, {"switch_ns": [value, value * 1.1, value * 0.9]}),
                      git_commit=commit, fingerprint=fingerprint)
        return self.history("append", hist, self.write(f"r-{commit}.json", doc))

    def test_append_list_chart(self):
        hist = os.path.join(self.tmp, "history.jsonl")
        for i, (commit, value) in enumerate([("aaaaaaa1", 150.0), ("bbbbbbb2", 160.0), ("ccccccc3", 140.0)]):
            code, _, err = self.append(hist, commit, value, fingerprint="fp-1" if i < 2 else "fp-2")
            self.assertEqual(code, 0, err)
        with open(hist, encoding="utf-8") as f:
            lines = [json.loads(line) for line in f]
        self.assertEqual([r["git_commit"] for r in lines], ["aaaaaaa1", "bbbbbbb2", "ccccccc3"])
        self.assertEqual(lines[1]["medians"][self.RUN]["switch_ns"], 160.0)
        self.assertEqual(lines[0]["fingerprint"], "fp-1")
        self.assertIn("date", lines[0])
        self.assertEqual(lines[0]["better"]["switch_ns"], "lower")   # by the name rule: no map here

        code, out, _ = self.history("list", hist)
        self.assertEqual(code, 0)
        self.assertIn(f"{self.RUN}:switch_ns\tns\t3 point(s)", out)

        for selector in (["--metric", f"{self.RUN}:switch_ns"], ["--bench", self.RUN, "--metric", "switch_ns"]):
            png = os.path.join(self.tmp, "trend.png")
            code, _, err = self.history("chart", hist, *selector, "--out", png)
            self.assertEqual(code, 0, err)
            with open(png, "rb") as f:
                self.assertEqual(f.read(8), b"\x89PNG\r\n\x1a\n")
            os.unlink(png)

        code, _, err = self.history("chart", hist, "--metric", f"{self.RUN}:swich_ns", "--out", png)
        self.assertEqual(code, 2)
        self.assertIn("did you mean", err)
        self.assertFalse(os.path.exists(png))

    def test_malformed_line_names_line_number(self):
        hist = os.path.join(self.tmp, "history.jsonl")
        self.append(hist, "aaaaaaa1", 150.0)
        with open(hist, "a", encoding="utf-8") as f:
            f.write("{not json\n")
        with open(hist, "rb") as f:
            before = f.read()
        for argv in (["list", hist], ["chart", hist, "--metric", f"{self.RUN}:switch_ns",
                                      "--out", os.path.join(self.tmp, "x.png")]):
            code, _, err = self.history(*argv)
            self.assertEqual(code, 2)
            self.assertIn("line 2: malformed history line", err)
        code, _, err = self.append(hist, "bbbbbbb2", 150.0)
        self.assertEqual(code, 2)
        self.assertIn("line 2", err)
        with open(hist, "rb") as f:
            self.assertEqual(f.read(), before, "a damaged history is not extended")

        with open(hist, "w", encoding="utf-8") as f:
            f.write('{"git_commit": "x"}\n')
        code, _, err = self.history("list", hist)
        self.assertEqual(code, 2)
        self.assertIn("line 1: malformed history line: no 'medians' object", err)

    def test_append_takes_units_and_directions_from_the_file(self):
        hist = os.path.join(self.tmp, "history.jsonl")
        doc = results(entries(self.RUN, {"switch_ns": [1.0], "ops": [10.0]}),
                      counters={"switch_ns": {"unit": "µs", "better": "higher"}})
        code, _, err = self.history("append", hist, self.write("r.json", doc))
        self.assertEqual(code, 0, err)
        with open(hist, encoding="utf-8") as f:
            line = json.loads(f.readline())
        self.assertEqual((line["units"]["switch_ns"], line["better"]["switch_ns"]), ("µs", "higher"))
        self.assertEqual(line["better"]["ops"], "none")

    def test_append_rejects_bad_results(self):
        hist = os.path.join(self.tmp, "history.jsonl")
        code, _, err = self.history("append", hist, self.write("bad.json", "[]"))
        self.assertEqual(code, 2)
        self.assertIn("top level is not a JSON object", err)
        self.assertFalse(os.path.exists(hist))


if __name__ == "__main__":
    unittest.main()
