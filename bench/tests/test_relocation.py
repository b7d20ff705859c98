"""A build directory moved elsewhere keeps working: the echo workload finds
cobench_echo_client beside the running binary, not at a path baked in at
build time (which made every echo benchmark error after a move)."""

import os
import shutil
import subprocess
import tempfile
import unittest

from cobench_util import BIN, default_signals, needs_bin

CLIENT = os.environ.get("COBENCH_ECHO_CLIENT_BIN", "")


@needs_bin
@unittest.skipUnless(CLIENT and os.path.exists(CLIENT), "COBENCH_ECHO_CLIENT_BIN not set: run through ctest")
class MovedBuild(unittest.TestCase):
    def run_echo(self, folder, env):
        out = os.path.join(folder, "r.json")
        return subprocess.run([os.path.join(folder, "cobench"), "--profile", "test", "--runtimes", "coroutines",
                               "--filter", "^echo/", "--out", out], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, timeout=300, env=env, preexec_fn=default_signals)

    def test_echo_runs_from_a_copied_build(self):
        env = {k: v for k, v in os.environ.items() if k != "COBENCH_ECHO_CLIENT_BIN"}
        with tempfile.TemporaryDirectory() as moved:
            shutil.copy2(BIN, os.path.join(moved, "cobench"))
            shutil.copy2(CLIENT, os.path.join(moved, "cobench_echo_client"))
            r = self.run_echo(moved, env)
        self.assertEqual(r.returncode, 0, r.stderr[-2000:])

    def test_a_missing_client_is_declared_with_the_path_it_looked_for(self):
        env = {k: v for k, v in os.environ.items() if k != "COBENCH_ECHO_CLIENT_BIN"}
        with tempfile.TemporaryDirectory() as moved:
            shutil.copy2(BIN, os.path.join(moved, "cobench"))
            r = self.run_echo(moved, env)
            listed = subprocess.run([os.path.join(moved, "cobench"), "--list", "--profile", "test"],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60, env=env)
        # Every echo pair is then declared unable to run, with the reason; a
        # filter that only matches declared pairs is bad input.
        self.assertEqual(r.returncode, 2, r.stderr[-2000:])
        self.assertIn("cobench_echo_client", listed.stdout)
        self.assertIn(os.path.join(moved, "cobench_echo_client"), listed.stdout)


if __name__ == "__main__":
    unittest.main()
