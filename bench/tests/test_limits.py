"""Resource limits that a runtime's own library does not report well: under a
low RLIMIT_AS oneTBB crashes (SIGSEGV in makecontext) when it cannot map a
suspended task's stack. The pool refuses such a run up front, so the result is
a clear error naming RLIMIT_AS, not a crashed family naming nothing.

And the limits profile's memory budget: a tiny one stops the probe early,
with the reason "budget"; impossible budgets are refused before anything runs."""

import json
import os
import resource
import subprocess
import tempfile
import unittest

from cobench_util import BIN, default_signals, needs_bin, run


def address_space(limit):
    def apply():
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    return apply


@needs_bin
@unittest.skipIf(os.environ.get("COBENCH_SANITIZED"),
                 "AddressSanitizer reserves terabytes of shadow address space at start: "
                 "a binary built with it cannot run under a low RLIMIT_AS at all")
class AddressSpaceLimit(unittest.TestCase):
    def test_pool_under_low_rlimit_as_is_a_clear_error_not_a_crash(self):
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "r.json")
            r = run("--profile", "quick", "--runtimes", "pool", "--filter", "^idle_memory/pool/tasks:1000$",
                    "--out", out, timeout=300)
            # The same run again, under 600 MiB of address space: 1000 suspended
            # 4 MiB oneTBB stacks cannot fit.
            limited = subprocess.run([BIN, "--profile", "quick", "--runtimes", "pool", "--filter",
                                      "^idle_memory/pool/tasks:1000$", "--out", out],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=300,
                                     preexec_fn=lambda: (default_signals(), address_space(600 << 20)()))
        self.assertEqual(r.returncode, 0, r.stderr[-2000:])
        self.assertEqual(limited.returncode, 1, limited.stderr[-2000:])
        self.assertIn("RLIMIT_AS", limited.stderr)
        self.assertNotIn("signal 11", limited.stderr)
        self.assertNotIn("crashed", limited.stderr)


if __name__ == "__main__":
    unittest.main()


@needs_bin
class MemoryBudget(unittest.TestCase):
    """--profile limits grows each runtime's tasks until a wall or the memory
    budget; the budget is checked before every step."""

    def test_a_tiny_budget_stops_early_with_the_reason_budget(self):
        # Under AddressSanitizer a coroutine frame carries redzones and its
        # allocator's memory moves in larger steps: a first group of 1000
        # tasks measured 2 MiB there, so the tiny budget is 8 MiB in that build.
        mib = 8 if os.environ.get("COBENCH_SANITIZED") else 2
        budget = mib << 20
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "r.json")
            r = run("--profile", "limits", "--runtimes", "coroutines", "--filter", "^max_tasks/coroutines$",
                    "--memory-budget", f"{mib}M", "--out", out, timeout=300)
            self.assertEqual(r.returncode, 0, r.stderr[-2000:])
            with open(out) as f:
                doc = json.load(f)
        (entry,) = [b for b in doc["benchmarks"] if b["name"].startswith("max_tasks/coroutines")]
        self.assertTrue(entry["label"].startswith("budget: "), entry["label"])
        self.assertIn(f"{mib} MiB (--memory-budget)", entry["label"])
        self.assertEqual(entry["budget_bytes"], budget)
        self.assertGreater(entry["max_tasks"], 0)
        # What was held fits the budget by the probe's own measure.
        self.assertLessEqual(entry["max_tasks"] * entry["bytes_per_task"], budget)
        self.assertEqual(doc["context"]["cobench_profile"], "limits")

    def test_bad_budgets_are_refused_before_anything_runs(self):
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "r.json")
            for bad in ("0", "abc", "10X", "0%", "101%", "512K", "-5M", "1.5G", "", "100000000T"):
                r = run("--profile", "limits", "--runtimes", "coroutines", "--memory-budget", bad, "--out", out,
                        timeout=60)
                self.assertEqual(r.returncode, 2, (bad, r.stderr[-2000:]))
                self.assertIn("--memory-budget", r.stderr, bad)
                self.assertFalse(os.path.exists(out), bad)

    def test_the_limits_profile_lists_only_probes(self):
        r = run("--list", "--profile", "limits")
        self.assertEqual(r.returncode, 0, r.stderr[-2000:])
        lines = r.stdout.splitlines()
        names = [l.split()[0] for l in lines if not l.startswith("declared ")]
        declared = [l.split()[1] for l in lines if l.startswith("declared ")]
        self.assertTrue(names)
        self.assertTrue(all(n.startswith("max_tasks/") for n in names + declared), lines)
        # Runtimes that take a stack size are probed per stack size too.
        self.assertTrue(any("/stack:" in n and "/guard:" in n for n in names), names)

    def test_instruction_counting_has_nothing_to_count_in_the_limits_profile(self):
        r = run("--instructions", "--profile", "limits", timeout=60)
        self.assertEqual(r.returncode, 2, r.stderr[-2000:])
        self.assertIn("limits", r.stderr)
