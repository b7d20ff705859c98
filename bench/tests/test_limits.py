"""Resource limits that a runtime's own library does not report well: under a
low RLIMIT_AS oneTBB crashes (SIGSEGV in makecontext) when it cannot map a
suspended task's stack. The pool refuses such a run up front, so the result is
a clear error naming RLIMIT_AS, not a crashed family naming nothing."""

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
