"""io_thread_cpu_frac in a real results file: declared in context.counters (a fraction, no direction),
carried by the entries of a runtime that keeps an I/O thread of its own (the pool) and by no other.
Behaviour only: the value is a share, whatever its size.
"""

import unittest

from cobench_util import TempDirCase, load, needs_bin, run

COUNTER = "io_thread_cpu_frac"


@needs_bin
class IoThreadCpu(TempDirCase):
    def test_only_the_pool_carries_its_io_threads_share(self):
        out = self.path("results.json")
        r = run("--profile", "test", "--runtimes", "threads,pool", "--filter", "^pipe_pong/", "--out", out)
        self.assertEqual(r.returncode, 0, r.stderr)
        doc = load(out)
        self.assertEqual(doc["context"]["counters"][COUNTER], {"unit": "fraction", "better": "none"})
        by_runtime = {}
        for b in doc["benchmarks"]:
            by_runtime.setdefault(b["name"].split("/")[1], []).append(b)
        self.assertEqual(sorted(by_runtime), ["pool", "threads"])
        for b in by_runtime["pool"]:
            self.assertGreater(b[COUNTER], 0, b["name"])
            self.assertLessEqual(b[COUNTER], 1, b["name"])
        for b in by_runtime["threads"]:
            self.assertNotIn(COUNTER, b, b["name"])


if __name__ == "__main__":
    unittest.main()
