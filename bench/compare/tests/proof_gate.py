"""End-to-end proof that the regression gate is neither flaky nor blind.

Runs the real benchmark binary (COBENCH_BIN) and the real compare tool:
  - the same build against itself raises no alarm, in instruction counts and
    in wall-clock with repetitions;
  - extra work injected through COBENCH_INJECT_WORK, calibrated to about 10%
    of a benchmark's instructions, is caught by the deterministic gate, on the
    coroutine switch path and on the cpu_bound kernel;
  - about 30% injected into the kernel is caught in wall-clock mode with
    repetitions.
The injection sizes are not guessed: each is computed from measured
instruction counts at two injection levels, and the test checks that what it
injected really is in the intended range before judging the gate.

Wall clock under load. ctest runs this beside other tests, so the machine's
load changes while it runs. Running 7 repetitions of A, then of B, then of the
slow build let A and B see different loads, and the A/A comparison flagged
the difference. Here every repetition is a cobench invocation of its own, and
the three builds take turns in rounds (A, B, slow in a shuffled order each
round): a load change hits all three alike, which is what a Mann-Whitney test
assumes. Each side's repetitions are then merged into one results file. The
comparisons use alpha = WALL_ALPHA: with the three builds exchangeable, the
A/A check then fails by chance in at most about 1 run in 100 (at the gate's
default 0.05 it would be 1 in 20 by construction, which is a flaky test, not a
proof), while 9 well-separated repetitions still reach p < 0.001.

Run by ctest (see CMakeLists.txt), which sets COBENCH_BIN, and
COBENCH_SANITIZED=1 in a sanitizer build, where it is skipped: instruction
counts and timings of an instrumented binary say nothing about the release build.
"""

import json
import math
import os
import random
import subprocess
import sys
import tempfile
import unittest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
COMPARE = os.path.join(ROOT, "bench", "compare", "compare.py")
SWITCH = "yield_ring/coroutines/tasks:16"
KERNEL = "cpu_bound/coroutines/tasks:1"
WALL_REPETITIONS = 9
WALL_ALPHA = "0.01"


def cobench(out, *args, inject=0):
    env = dict(os.environ, COBENCH_INJECT_WORK=str(inject))
    r = subprocess.run([os.environ["COBENCH_BIN"], "--out", out, *args], env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=600)
    if r.returncode != 0:
        raise AssertionError(f"cobench {args} failed ({r.returncode}): {r.stderr[-2000:]}")
    with open(out) as f:
        return json.load(f)


def compare(base, cand, *extra):
    r = subprocess.run([sys.executable, COMPARE, base, cand, *extra],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=300)
    return r.returncode, r.stdout + r.stderr


def merge_repetitions(docs, out):
    """One results file from single-repetition runs of the same build, as if made with --repetitions."""
    merged = dict(docs[0], benchmarks=[])
    for i, doc in enumerate(docs):
        for entry in doc["benchmarks"]:
            if entry.get("run_type", "iteration") == "iteration":
                merged["benchmarks"].append(dict(entry, repetition_index=i, repetitions=len(docs)))
    with open(out, "w") as f:
        json.dump(merged, f)
    return out


def per_op(doc, name):
    for b in doc["benchmarks"]:
        if b["name"] == name:
            return b["instructions_per_op"]
    raise AssertionError(f"{name} missing from {[b['name'] for b in doc['benchmarks']]}")


@unittest.skipIf(os.environ.get("COBENCH_SANITIZED") == "1",
                 "sanitizer build: its instruction counts and timings are not the release build's, "
                 "so they prove nothing about the gate")
@unittest.skipUnless(os.environ.get("COBENCH_BIN"), "COBENCH_BIN not set: run through ctest")
class GateProof(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.filter = f"^({SWITCH}|{KERNEL})$"
        cls.base = os.path.join(cls.tmp.name, "base.json")
        cls.base_doc = cobench(cls.base, "--instructions", "--filter", cls.filter)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def path(self, name):
        return os.path.join(self.tmp.name, name)

    def calibrate(self, name, target):
        """Smallest injection that adds at least `target` (a fraction) to name's instructions."""
        probe = 8
        doc = cobench(self.path(f"probe-{probe}.json"), "--instructions", "--filter", self.filter, inject=probe)
        base = per_op(self.base_doc, name)
        slope = (per_op(doc, name) - base) / probe
        self.assertGreater(slope, 0, f"injection adds no instructions to {name}")
        return max(1, math.ceil(target * base / slope))

    def test_same_build_raises_no_alarm_in_instructions(self):
        again = self.path("again.json")
        cobench(again, "--instructions", "--filter", self.filter)
        rc, out = compare(self.base, again)
        self.assertEqual(rc, 0, out)
        self.assertIn("PASS", out)

    def test_ten_percent_is_caught_by_instruction_counts(self):
        for name in (SWITCH, KERNEL):
            with self.subTest(benchmark=name):
                n = self.calibrate(name, 0.10)
                cand = self.path(f"inject-{n}.json")
                doc = cobench(cand, "--instructions", "--filter", self.filter, inject=n)
                change = per_op(doc, name) / per_op(self.base_doc, name) - 1
                self.assertGreaterEqual(change, 0.10)
                self.assertLess(change, 0.20, f"calibration overshot: {change:.1%}")
                rc, out = compare(self.base, cand)
                self.assertEqual(rc, 1, out)
                line = next(l for l in out.splitlines() if name in l and "instructions_per_op" in l)
                self.assertIn("regressed", line)

    def interleaved_runs(self, inject):
        """{side: merged results path} for sides a, b (same build) and slow (injected work),
        run in rounds so that every side sees the same load."""
        args = ["--profile", "quick", "--filter", f"^{KERNEL}$", "--repetitions", "1"]
        seed = int(os.environ.get("COBENCH_PROOF_SEED", random.randrange(1 << 30)))
        rng = random.Random(seed)
        docs = {"a": [], "b": [], "slow": []}
        for r in range(WALL_REPETITIONS):
            for side in rng.sample(sorted(docs), len(docs)):
                docs[side].append(cobench(self.path(f"wall-{side}-{r}.json"), *args,
                                          inject=inject if side == "slow" else 0))
        self.seed_note = f"(rounds shuffled with COBENCH_PROOF_SEED={seed})"
        return {side: merge_repetitions(d, self.path(f"wall-{side}.json")) for side, d in docs.items()}

    def test_wall_clock_thirty_percent_is_caught_with_repetitions(self):
        n = self.calibrate(KERNEL, 0.35)
        runs = self.interleaved_runs(n)
        a, b, slow = runs["a"], runs["b"], runs["slow"]
        alpha = ("--alpha", WALL_ALPHA)
        rc, out = compare(a, b, "--gate-wallclock", *alpha)
        self.assertEqual(rc, 0, f"same build flagged {self.seed_note}:\n{out}")
        rc, out = compare(a, slow, *alpha)
        self.assertEqual(rc, 0, f"wall-clock must only warn without --gate-wallclock {self.seed_note}:\n{out}")
        self.assertIn("warning", out)
        rc, out = compare(a, slow, "--gate-wallclock", *alpha)
        self.assertEqual(rc, 1, f"{self.seed_note}\n{out}")


if __name__ == "__main__":
    unittest.main()
