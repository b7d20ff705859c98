"""The estimate a run prints before it starts (bench/estimate.hpp) and the timings it is made
from (bench/timings.py): the arithmetic (per-repetition times x repetitions + family start-up),
entries the timings lack, timings of another profile or unreadable ones (the run goes on, saying
why there is no estimate), and timings.py merging a run into the file without losing the rest.
"""

import json
import os
import re
import subprocess
import sys
import unittest

from cobench_util import SMALL, TempDirCase, needs_bin, run

HERE = os.path.dirname(os.path.abspath(__file__))
TIMINGS_PY = os.path.join(HERE, "..", "timings.py")


def estimate_line(stderr):
    return next((l for l in stderr.splitlines() if l.startswith("cobench: profile ")), "")


@needs_bin
class Estimate(TempDirCase):
    def names(self):
        r = run(*SMALL, "--list")
        self.assertEqual(r.returncode, 0, r.stderr)
        return [l.split()[0] for l in r.stdout.splitlines() if l and not l.startswith("declared")]

    def timings(self, per_rep, start=None, profile="test"):
        path = self.path("timings.json")
        with open(path, "w") as f:
            json.dump({"profiles": {profile: {"measured": "a hand-made table", "per_repetition_s": per_rep,
                                              "family_start_s": start or {}}}}, f)
        return path

    def small(self, timings, *extra):
        env = dict(os.environ, COBENCH_TIMINGS=timings)
        r = run(*SMALL, "--quiet-wait", "0", "--out", self.path("r.json"), *extra, env=env)
        self.assertEqual(r.returncode, 0, r.stderr[-2000:])
        return estimate_line(r.stderr)

    def test_per_repetition_times_repetitions_plus_start(self):
        names = self.names()
        self.assertGreaterEqual(len(names), 3)
        t = self.timings({n: 2.0 for n in names}, {"coroutines": 4.0})
        line = self.small(t, "--repetitions", "3")
        want = 2.0 * 3 * len(names) + 4.0
        self.assertIn(f"{len(names)} entries", line)
        self.assertIn(f"about {want:.0f} s of benchmarks, estimated from a hand-made table", line)
        self.assertNotIn("not in those timings", line)

    def test_missing_entries_count_at_their_workloads_median(self):
        names = sorted(self.names())
        by_workload = {}
        for n in names:
            by_workload.setdefault(n.split("/")[0], []).append(n)
        workload, members = next((w, m) for w, m in by_workload.items() if len(m) >= 2)
        table = {n: 1.0 for n in names}
        table[members[0]] = 10.0
        table[members[1]] = 10.0
        del table[members[-1]]
        line = self.small(self.timings(table))
        # The one left out counts at the same point's median on other runtimes (none here), else at
        # its workload's: 10 s if every other member is 10 s.
        others = [table[n] for n in members[:-1]]
        guess = sorted(others)[len(others) // 2] if len(others) % 2 else sum(sorted(others)[len(others) // 2 - 1:
                                                                                             len(others) // 2 + 1]) / 2
        want = sum(table.values()) + guess
        self.assertIn(f"about {want:.0f} s of benchmarks", line)
        self.assertIn(f"1 of its {len(names)} entries are not in those timings", line)

    def test_no_timings_for_this_profile_or_unreadable_still_runs(self):
        line = self.small(self.timings({"x/y/z": 1.0}, profile="full"))
        self.assertRegex(line, r"no estimate of its length \(.* has no timings of the test profile\)")
        bad = self.path("bad.json")
        with open(bad, "w") as f:
            f.write("{not json")
        self.assertRegex(self.small(bad), r"no estimate of its length \(timings .* unreadable")
        self.assertRegex(self.small(self.path("absent.json")), r"no estimate of its length \(no timings at ")

    def test_timings_py_round_trip_keeps_other_entries_and_profiles(self):
        out = self.path("r.json")
        r = run(*SMALL, "--quiet-wait", "0", "--out", out)
        self.assertEqual(r.returncode, 0, r.stderr[-2000:])
        into = self.path("t.json")
        with open(into, "w") as f:
            json.dump({"profiles": {"test": {"per_repetition_s": {"gone/runtime/x:1": 7.0}},
                                    "full": {"per_repetition_s": {"a/b/c": 1.0}}}}, f)
        p = subprocess.run([sys.executable, TIMINGS_PY, out, "--into", into], capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        with open(into) as f:
            t = json.load(f)
        test = t["profiles"]["test"]
        self.assertEqual(t["profiles"]["full"]["per_repetition_s"], {"a/b/c": 1.0})
        self.assertEqual(test["per_repetition_s"]["gone/runtime/x:1"], 7.0)
        for n in self.names():
            self.assertIn(n, test["per_repetition_s"])
            self.assertGreater(test["per_repetition_s"][n], 0)
        self.assertIn("coroutines", test["family_start_s"])
        # And the run it made estimates itself from it.
        line = self.small(into)
        self.assertRegex(line, r"about \d+ s of benchmarks, estimated from a test run at [0-9a-f]{7}")

    def test_timings_py_refuses_bad_input(self):
        for args in ([self.path("absent.json")], [], [TIMINGS_PY]):
            p = subprocess.run([sys.executable, TIMINGS_PY, *args, "--into", self.path("t.json")],
                               capture_output=True, text=True)
            self.assertEqual(p.returncode, 2, (args, p.stderr))
            self.assertFalse(os.path.exists(self.path("t.json")))


if __name__ == "__main__":
    unittest.main()
