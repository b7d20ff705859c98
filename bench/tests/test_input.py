"""Bad input is refused before anything runs (exit 2), with the results file
untouched: harness flags the library rejects, filters that match nothing or
could hang, loose numbers, repeated runtimes. Plus --list, --help and the
build information in the results."""

import os
import re
import subprocess
import time
import unittest

from cobench_util import BIN, SMALL, TempDirCase, load, make_old_results, needs_bin, read_bytes, run


@needs_bin
class RefusedUpFront(TempDirCase):
    def refused(self, *args, timeout=60):
        out, before = make_old_results(self.dir)
        t0 = time.monotonic()
        r = run(*args, "--out", out, timeout=timeout, cwd=self.dir)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertNothingRan(r)
        self.assertLess(time.monotonic() - t0, 20, "refusing should be immediate")
        self.assertEqual(read_bytes(out), before)
        self.assertOnly(self.dir, ["results.json"])
        return r

    def test_min_time_with_a_unit_is_rejected_by_this_library(self):
        # Google Benchmark 1.7.1 (Debian 12) wants plain seconds; newer ones take "0.1s".
        v = subprocess.run(["pkg-config", "--modversion", "benchmark"], stdout=subprocess.PIPE, text=True)
        if v.returncode != 0 or tuple(int(x) for x in v.stdout.split(".")[:2]) >= (1, 8):
            self.skipTest("the installed Google Benchmark may accept '0.1s'")
        r = self.refused(*SMALL, "--benchmark_min_time=0.1s")
        self.assertIn("plain seconds", r.stderr)

    def test_unknown_harness_flag(self):
        r = self.refused(*SMALL, "--benchmark_no_such_flag=1")
        self.assertIn("--benchmark_no_such_flag", r.stderr)

    def test_harness_flag_value_the_library_exits_on(self):
        # Initialize() prints its usage and exits for an unknown format.
        r = self.refused(*SMALL, "--benchmark_format=xml")
        self.assertIn("--benchmark_format", r.stderr)

    def test_harness_flags_cobench_owns(self):
        for flag in ("--benchmark_out=x.json", "--benchmark_out_format=csv", "--benchmark_filter=spawn",
                     "--benchmark_repetitions=3", "--benchmark_list_tests=true"):
            with self.subTest(flag=flag):
                self.refused(*SMALL, flag)

    def test_accepted_harness_flag_runs(self):
        out = self.path("ok.json")
        r = run(*SMALL, "--benchmark_min_time=0.01", "--out", out)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertGreater(len(load(out)["benchmarks"]), 0)

    def test_filter_matching_nothing(self):
        r = self.refused("--profile", "test", "--filter", "no_such_benchmark")
        self.assertIn("matches none", r.stderr)
        self.assertIn("ping_pong/", r.stderr)  # an excerpt of the names there are
        self.assertIn("--list", r.stderr)       # and how to see them all

    def test_filter_matching_only_declared_pairs(self):
        r = self.refused("--profile", "test", "--runtimes", "fibers", "--filter", "pin:cross")
        self.assertIn("declared", r.stderr)

    def test_filter_that_backtracks_forever_under_std_regex(self):
        r = self.refused("--profile", "test", "--filter", "(.|.)*zzz", timeout=30)
        self.assertIn("matches none", r.stderr)

    def test_backtracking_branch_beside_a_match_still_runs_promptly(self):
        out = self.path("ok.json")
        t0 = time.monotonic()
        r = run("--profile", "test", "--runtimes", "coroutines", "--filter", "^(.|.)*zzz|^spawn/", "--out", out,
                timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertLess(time.monotonic() - t0, 30)
        self.assertEqual({b["name"].split("/")[0] for b in load(out)["benchmarks"]}, {"spawn"})

    def test_bad_regular_expression(self):
        r = self.refused("--profile", "test", "--filter", "(")
        self.assertIn("missing )", r.stderr)  # RE2's own message

    def test_unknown_option_and_positional(self):
        self.refused(*SMALL, "--no-such-option")
        self.refused(*SMALL, "stray")

    def test_instructions_with_harness_flags(self):
        self.refused("--instructions", "--benchmark_min_time=0.1")


@needs_bin
class StrictValues(unittest.TestCase):
    """Checked through --list, which parses everything and runs nothing."""

    def rc(self, *args):
        r = run("--list", "--profile", "test", *args, timeout=60)
        return r.returncode, r.stderr

    def test_repetitions(self):
        for bad in ("1.9", "0x10", "-1", "0", "101", " 3", "3 ", "", "1e1", "+2", "010x", "99999999999999999999"):
            with self.subTest(value=bad):
                rc, err = self.rc("--repetitions", bad)
                self.assertEqual(rc, 2, err)
                self.assertIn("--repetitions", err)
        for good in ("1", "3", "100"):
            with self.subTest(value=good):
                self.assertEqual(self.rc("--repetitions", good)[0], 0)

    def test_family_timeout(self):
        for bad in ("0x10", "inf", "nan", "1e3", "0", "0.5", "86401", "-5", ".5", "5.", "", "10s"):
            with self.subTest(value=bad):
                rc, err = self.rc("--family-timeout", bad)
                self.assertEqual(rc, 2, err)
        for good in ("1", "2.5", "600", "86400"):
            with self.subTest(value=good):
                self.assertEqual(self.rc(f"--family-timeout={good}")[0], 0)

    def test_runtimes(self):
        for bad in ("threads,threads", "coroutines,threads,coroutines", "nosuch", "threads,", ",threads", ""):
            with self.subTest(value=bad):
                rc, err = self.rc("--runtimes", bad)
                self.assertEqual(rc, 2, err)
        rc, err = self.rc("--runtimes", "threads,threads")
        self.assertIn("twice", err)
        self.assertEqual(self.rc("--runtimes", "threads,coroutines")[0], 0)

    def test_workers(self):
        for bad in ("0", "-1", "1.5", "4097", "", "two"):
            with self.subTest(value=bad):
                rc, err = self.rc("--workers", bad)
                self.assertEqual(rc, 2, err)
                self.assertIn("--workers", err)
        self.assertEqual(self.rc("--workers", "3")[0], 0)
        r = run("--list", "--profile", "test", timeout=60, env={**os.environ, "COBENCH_WORKERS": "0"})
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("COBENCH_WORKERS", r.stderr)

    def test_flags_that_take_no_value(self):
        self.assertEqual(self.rc("--list=yes")[0], 2)

    def test_profile(self):
        self.assertEqual(self.rc("--profile", "fast")[0], 2)


@needs_bin
class Listing(unittest.TestCase):
    def test_each_pair_once(self):
        for profile in ("test", "quick", "full"):
            with self.subTest(profile=profile):
                r = run("--list", "--profile", profile, timeout=60)
                self.assertEqual(r.returncode, 0, r.stderr)
                lines = r.stdout.splitlines()
                self.assertEqual(len(lines), len(set(lines)), "a line printed twice")
                declared = {l.split()[1].rstrip(":") for l in lines if l.startswith("declared ")}
                planned = [l.split()[0] for l in lines if not l.startswith("declared ")]
                self.assertEqual(len(planned), len(set(planned)), "a benchmark listed twice")
                self.assertFalse(declared & set(planned), "a pair listed as planned and declared")
                self.assertTrue(declared)

    def test_list_through_a_pipe_prints_each_line_once(self):
        # stdout a pipe: fully buffered, where a fork before the flush would
        # print the buffer twice.
        r = subprocess.run(["sh", "-c", '"$0" --list --profile quick | cat', BIN], stdout=subprocess.PIPE,
                           text=True, timeout=60)
        lines = r.stdout.splitlines()
        self.assertEqual(len(lines), len(set(lines)))

    def test_help_documents_the_exit_statuses(self):
        r = run("--help")
        self.assertEqual(r.returncode, 0)
        for status in ("0", "1", "2", "3", "128+N"):
            self.assertRegex(r.stdout, rf"(?m)^\s+{re.escape(status)}\s+\S")


ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


@needs_bin
class BuildInformation(TempDirCase):
    @unittest.skipUnless(os.path.exists(os.path.join(ROOT, ".git")), "not built from a git checkout")
    def test_commit_is_embedded_at_build_time(self):
        # No git on PATH and a working directory outside any repository: the
        # commit comes from the binary, not from whatever tree is around.
        out = self.path("r.json")
        env = dict(os.environ, PATH="/nonexistent")
        r = run(*SMALL, "--out", out, env=env, cwd=self.dir)
        self.assertEqual(r.returncode, 0, r.stderr)
        ctx = load(out)["context"]
        self.assertRegex(ctx["git_commit"], r"^[0-9a-f]{40}$")
        self.assertIn(ctx["git_dirty"], ("true", "false"))


@needs_bin
class WorkerCount(TempDirCase):
    def test_workers_are_recorded_and_never_more_than_tasks(self):
        out = self.path("r.json")
        r = run("--profile", "test", "--runtimes", "thread_loops", "--filter", "^(skynet|cpu_bound)/", "--workers", "3",
                "--out", out, cwd=self.dir)
        self.assertEqual(r.returncode, 0, r.stderr)
        d = load(out)
        self.assertEqual(d["context"]["workers"]["asked"], 3)
        if d["context"]["workers"]["cpus_online"] < 3:
            self.assertIn("more than the", r.stderr)
        used = {b["name"].split("/iterations")[0]: b["workers"] for b in d["benchmarks"]}
        self.assertEqual(used["skynet/thread_loops/leaves:100"], 1)  # one root: one task
        self.assertEqual(used["skynet/thread_loops/leaves:100/roots:10"], 3)
        self.assertEqual(used["cpu_bound/thread_loops/tasks:2"], 2)


if __name__ == "__main__":
    unittest.main()
