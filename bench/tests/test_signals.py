"""Signals and closed pipes: a run interrupted mid-way leaves no process and
no temporary file behind and the previous results byte for byte; a run whose
parent is killed outright takes its children with it; a reader that goes
away (`| head -1`) costs output, never results."""

import os
import signal
import subprocess
import time
import unittest

from cobench_util import (BIN, SMALL, TempDirCase, default_signals, kill_session, load, make_old_results,
                          needs_bin, parent_of, processes_running, read_bytes, read_text, start, wait_for_line, wait_gone)

# Long enough to be interrupted mid-family: the quick profile's first family,
# processes, forks task processes of its own into the family's group.
LONG = ["--profile", "quick", "--runtimes", "processes,threads"]
# The hybrid whose workers are processes, each running many tasks on a loop.
HYBRID = ["--profile", "quick", "--runtimes", "process_loops"]


@needs_bin
class Interrupted(TempDirCase):
    def interrupt(self, sig, args=LONG, first="[1/2] processes:"):
        out, before = make_old_results(self.dir)
        p, err = self.start_logged(*args, "--out", out)
        wait_for_line(err, first, 60)
        time.sleep(1.5)  # well inside the family: task processes exist now
        family = [pid for pid in processes_running(BIN) if pid != p.pid and os.getsid(pid) == p.pid]
        self.assertTrue(family, "the family process should be running")
        p.send_signal(sig)
        rc = p.wait(timeout=30)
        # Killed by the same signal: a shell reports 128+N (130 for SIGINT).
        self.assertEqual(rc, -sig, read_text(err)[-2000:])
        self.assertEqual(wait_gone(p.pid, 5), [], "processes of the run survived it")
        self.assertEqual([q for q in processes_running(BIN) if q in family], [])
        self.assertEqual(read_bytes(out), before)
        self.assertOnly(self.dir, ["results.json"])
        self.assertIn("left as it was", read_text(err))

    def test_sigint(self):
        self.interrupt(signal.SIGINT)

    def test_sigterm(self):
        self.interrupt(signal.SIGTERM)

    def test_sighup(self):
        self.interrupt(signal.SIGHUP)

    def test_sigint_during_a_hybrid_with_worker_processes(self):
        self.interrupt(signal.SIGINT, HYBRID, "[1/1] process_loops:")

    def test_a_shell_reports_130(self):
        out, before = make_old_results(self.dir)
        err = self.path("..", os.path.basename(self.dir) + ".sh.stderr")
        self.addCleanup(lambda: os.path.exists(err) and os.unlink(err))
        with open(err, "w") as e:
            p = subprocess.Popen(["sh", "-c", '"$0" "$@"; echo "status=$?"', BIN, *LONG, "--out", out],
                                 stdout=subprocess.PIPE, stderr=e, text=True, start_new_session=True,
                                 preexec_fn=default_signals)
        self.addCleanup(kill_session, p.pid)
        wait_for_line(err, "[1/2] processes:", 60)
        cobench = [q for q in processes_running(BIN) if parent_of(q) == p.pid]
        self.assertEqual(len(cobench), 1)
        os.kill(cobench[0], signal.SIGINT)  # kill -INT, as from another terminal
        text = p.communicate(timeout=30)[0]
        self.assertEqual(text.strip().splitlines()[-1], f"status={128 + signal.SIGINT}")
        self.assertEqual(read_bytes(out), before)

    def test_parent_killed_outright_takes_its_children(self):
        # SIGKILL cannot be caught: the children go by PR_SET_PDEATHSIG, and
        # the family takes its process group (its forked tasks) with it.
        out, before = make_old_results(self.dir)
        p, err = self.start_logged(*LONG, "--out", out, tag="kill")
        wait_for_line(err, "[1/2] processes:", 60)
        time.sleep(1.5)
        p.kill()
        p.wait(timeout=10)
        self.assertEqual(wait_gone(p.pid, 10), [], "children outlived a parent killed by SIGKILL")
        self.assertEqual(read_bytes(out), before)


@needs_bin
class ClosedPipes(TempDirCase):
    def closed_early(self, which):
        out, before = make_old_results(self.dir)
        args = ["--profile", "test", "--runtimes", "processes,threads,coroutines", "--out", out]
        kw = {"stdout": subprocess.PIPE, "stderr": subprocess.DEVNULL} if which == "stdout" else \
             {"stdout": subprocess.DEVNULL, "stderr": subprocess.PIPE}
        p = start(*args, **kw)
        self.addCleanup(kill_session, p.pid)
        stream = p.stdout if which == "stdout" else p.stderr
        self.assertTrue(stream.readline())  # like `| head -1`
        stream.close()
        rc = p.wait(timeout=300)
        self.assertEqual(rc, 0)
        doc = load(out)
        self.assertNotEqual(read_bytes(out), before)
        self.assertEqual([f["status"] for f in doc["families"]], ["ok", "ok", "ok"])
        self.assertFalse([b for b in doc["benchmarks"] if b.get("error_occurred")])
        self.assertOnly(self.dir, ["results.json"])

    def test_stdout_closed_by_head(self):
        self.closed_early("stdout")

    def test_stderr_closed_by_head(self):
        self.closed_early("stderr")

    def test_shell_pipeline_into_head(self):
        out, _ = make_old_results(self.dir)
        r = subprocess.run(["sh", "-c", '"$0" "$@" | head -1 >/dev/null',
                            BIN, *SMALL, "--out", out], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, timeout=300)
        doc = load(out)
        self.assertGreater(len(doc["benchmarks"]), 0, r.stderr)
        self.assertIn("ok: all", r.stderr)


if __name__ == "__main__":
    unittest.main()
