"""Other load, measured per entry: a spinning child of this test (not of the run) shows up in
every long enough entry's other_load_frac and the loading layer leaves those entries out; the
run's own processes (the echo server's tasks, the load generator it spawns) do not; --quiet-wait
says what it waited for; a disturbed one-run repetition is measured again.

Behaviour, not speed, on a 2-core VM shared with other work: thresholds are generous, and the
quiet-machine test skips itself when the machine is not quiet before and after the run.
"""

import os
import signal
import subprocess
import sys
import time
import unittest

import cobench_results
from cobench_util import BIN, TempDirCase, needs_bin, run

# The echo workload's closed and open phases (100 ms at a fixed rate in the test profile): the
# longest entries of the test profile, with a server and a spawned load generator of our own.
ECHO = ["--profile", "test", "--runtimes", "threads,coroutines", "--filter", "^echo/[a-z]+/conns:2$",
        "--repetitions", "2"]


def busy_ticks():
    with open("/proc/stat", encoding="ascii") as f:
        v = [int(x) for x in f.readline().split()[1:9]]
    return v[0] + v[1] + v[2] + v[5] + v[6]


def machine_load(seconds=1.0):
    """The share of the machine busy over `seconds` while this test sleeps (its own CPU is nil)."""
    b0, t0 = busy_ticks(), time.monotonic()
    time.sleep(seconds)
    b1, t1 = busy_ticks(), time.monotonic()
    return (b1 - b0) / os.sysconf("SC_CLK_TCK") / ((t1 - t0) * os.cpu_count())


class Spinners:
    """Half the machine's CPUs spinning in children of this test: other work, to the run."""

    def __enter__(self):
        n = max(1, (os.cpu_count() or 2) // 2)
        self.procs = [subprocess.Popen([sys.executable, "-c", "while 1: pass"]) for _ in range(n)]
        time.sleep(0.3)  # running before the run starts
        return self

    def __exit__(self, *exc):
        for p in self.procs:
            p.send_signal(signal.SIGKILL)
            p.wait()


@needs_bin
class OtherLoad(TempDirCase):
    def echo_run(self, *extra):
        out = self.path("results.json")
        r = run(*ECHO, "--out", out, *extra, timeout=300)
        self.assertEqual(r.returncode, 0, r.stderr[-2000:])
        return cobench_results.load(out, require_cobench=True), r

    def test_load_beside_the_run_is_measured_and_its_entries_left_out(self):
        with Spinners():
            res, _ = self.echo_run()
        entries = [e for e in res.entries + res.loaded if e.run_type == "iteration"]
        self.assertEqual(len(entries), 4, [e.name for e in entries])
        for e in entries:
            # Half the machine spins; the tick margin and our own share of the CPUs take some off.
            self.assertGreater(e.counters["other_load_frac"], 0.15, e.name)
            self.assertIn("steal_frac", e.counters, e.name)
        self.assertEqual(res.entries, [], "entries measured beside other work stay out of every view")
        self.assertEqual(res.points("echo"), [])
        self.assertEqual(len(res.lost_to_load("echo", "threads", {"conns": 2})), 2)
        meta = res.context["counters"]
        self.assertEqual(meta["other_load_frac"], {"unit": "fraction", "better": "none"})
        self.assertEqual(meta["steal_frac"]["better"], "none")

    def test_own_processes_are_not_other_load_on_a_quiet_machine(self):
        before = machine_load()
        if before > 0.05:
            self.skipTest(f"the machine is not quiet ({before:.0%} busy before the run)")
        res, _ = self.echo_run()
        after = machine_load()
        if after > 0.05:
            self.skipTest(f"the machine was not quiet ({after:.0%} busy after the run)")
        self.assertEqual(res.loaded, [], [(e.name, e.counters["other_load_frac"]) for e in res.loaded])
        for e in (e for e in res.entries if e.run_type == "iteration"):
            self.assertLess(e.counters["other_load_frac"], cobench_results.LOADED_THRESHOLD, e.name)

    def test_quiet_wait_says_what_it_waited_for_and_that_the_bound_ran_out(self):
        with Spinners():
            _, r = self.echo_run("--quiet-wait", "1")
        self.assertRegex(r.stderr, r"before threads: other work uses \d+% of the machine; waiting up to 1 s")
        self.assertRegex(r.stderr, r"before threads: the machine was not quiet after 1\.\d s")
        # Before the family's own line, so that the family starts as soon as its line is out.
        self.assertLess(r.stderr.index("before threads:"), r.stderr.index("[1/2] threads:"))

    def test_a_disturbed_run_is_measured_again_until_the_family_gives_up(self):
        """A repetition that is one run (echo) and read other load is measured again, twice at most,
        each time after a wait for quiet (--quiet-wait bounds it). With the spinners never stopping,
        every wait runs out: after three a family measures nothing again (and says so), so a busy
        machine costs three short waits a family, not two a repetition. Every entry stays marked."""
        with Spinners():
            res, r = self.echo_run("--quiet-wait", "0.3")
        entries = [e for e in res.entries + res.loaded if e.run_type == "iteration"]
        self.assertEqual(len(entries), 4, [e.name for e in entries])
        for e in entries:
            self.assertGreater(e.counters["other_load_frac"], 0.15, e.name)
        for rt in ("threads", "coroutines"):
            mine = sorted((e.repetition, e.counters["remeasured"]) for e in entries if e.runtime == rt)
            self.assertEqual(mine, [(0, 2), (1, 1)], rt)
        self.assertRegex(r.stderr, r"before measuring again a run of echo/threads/conns:2 that other work disturbed")
        self.assertEqual(r.stderr.count("stayed busy through 3 waits; this family measures no run again"), 2)
        self.assertEqual(res.context["counters"]["remeasured"], {"unit": "runs", "better": "none"})

    def test_an_undisturbed_run_is_measured_once(self):
        before = machine_load()
        if before > 0.05:
            self.skipTest(f"the machine is not quiet ({before:.0%} busy before the run)")
        res, _ = self.echo_run("--quiet-wait", "0.3")
        if machine_load() > 0.05:
            self.skipTest("the machine was not quiet after the run")
        for e in (e for e in res.entries if e.run_type == "iteration"):
            self.assertEqual(e.counters["remeasured"], 0, e.name)

    def test_the_test_profile_does_not_wait(self):
        with Spinners():
            _, r = self.echo_run()
        self.assertNotIn("--quiet-wait", r.stderr)

    def test_a_bad_bound_is_refused(self):
        for bad in ("-1", "abc", "3601"):
            with self.subTest(bad=bad):
                r = run("--profile", "test", "--quiet-wait", bad, "--out", self.path("r.json"), timeout=60)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertIn("--quiet-wait wants seconds", r.stderr)


if __name__ == "__main__":
    unittest.main()
