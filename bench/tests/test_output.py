"""--out under faults: targets that are not regular files, folders that cannot
be used, planted links at temporary names, concurrent runs, runs where
benchmarks fail. Each test drives the real binary in a subprocess."""

import json
import os
import stat
import subprocess
import time
import unittest

from cobench_util import (BIN, SMALL, TempDirCase, load, make_old_results, needs_bin, read_bytes, run,
                          unprivileged_prefix, with_nproc)


@needs_bin
class RefusedTargets(TempDirCase):
    """Refused up front (exit 2, before any family starts), and left alone."""

    def refused(self, out, *extra):
        t0 = time.monotonic()
        r = run(*SMALL, "--out", out, *extra, timeout=60)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertNothingRan(r)
        self.assertLess(time.monotonic() - t0, 20)
        return r

    def test_symlink_is_refused_and_its_target_untouched(self):
        victim, before = make_old_results(self.dir, "victim.json")
        link = self.path("results.json")
        os.symlink(victim, link)
        r = self.refused(link)
        self.assertIn("symbolic link", r.stderr)
        self.assertTrue(os.path.islink(link))
        self.assertEqual(read_bytes(victim), before)
        self.assertOnly(self.dir, ["victim.json", "results.json"])

    def test_dangling_symlink_is_refused(self):
        link = self.path("results.json")
        os.symlink(self.path("nowhere.json"), link)
        self.refused(link)
        self.assertTrue(os.path.islink(link))
        self.assertFalse(os.path.exists(self.path("nowhere.json")))

    def test_fifo_is_refused_and_stays_a_fifo(self):
        fifo = self.path("results.json")
        os.mkfifo(fifo)
        r = self.refused(fifo)
        self.assertIn("FIFO", r.stderr)
        self.assertTrue(stat.S_ISFIFO(os.lstat(fifo).st_mode))
        self.assertOnly(self.dir, ["results.json"])

    @unittest.skipUnless(os.geteuid() == 0, "creating a device node needs root")
    def test_device_is_refused_and_stays_a_device(self):
        # A private copy of /dev/null (char 1:3): the old binary, as root,
        # replaced the device node with a regular file.
        dev = self.path("null")
        os.mknod(dev, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
        r = self.refused(dev)
        self.assertIn("device", r.stderr)
        self.assertTrue(stat.S_ISCHR(os.lstat(dev).st_mode))
        self.assertOnly(self.dir, ["null"])

    def test_directory_is_refused_before_anything_runs(self):
        d = self.path("results")
        os.mkdir(d)
        with open(os.path.join(d, "keep"), "w") as f:
            f.write("x")
        self.refused(d)
        self.refused(d + "/")
        self.assertEqual(os.listdir(d), ["keep"])
        self.assertOnly(self.dir, ["results"])

    def test_missing_folder_is_refused(self):
        r = self.refused(self.path("no", "such", "results.json"))
        self.assertIn("does not exist", r.stderr)
        self.assertOnly(self.dir, [])

    def test_unwritable_folder_is_refused(self):
        prefix = unprivileged_prefix(65000 + os.getpid() % 500)
        if prefix is None:
            self.skipTest("cannot run as an unprivileged user here")
        ro = self.path("ro")
        os.mkdir(ro, 0o555)
        os.chmod(self.dir, 0o755)
        r = run(*SMALL, "--out", os.path.join(ro, "results.json"), prefix=prefix, timeout=60)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertNothingRan(r)
        self.assertEqual(os.listdir(ro), [])


@needs_bin
class Writing(TempDirCase):
    def test_planted_links_at_temporary_names_are_never_followed(self):
        # The old binary wrote OUT.<family>.part and OUT.tmp.<pid>: names
        # anyone could predict and plant a link at.
        out, _ = make_old_results(self.dir)
        victim, before = make_old_results(self.dir, "victim.json")
        planted = [f"results.json.{fam}.part" for fam in ("processes", "threads", "pool", "fibers", "coroutines")]
        for name in planted:
            os.symlink(victim, self.path(name))
        r = run(*SMALL, "--out", out)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(read_bytes(victim), before)
        for name in planted:
            self.assertTrue(os.path.islink(self.path(name)), name)
        self.assertGreater(len(load(out)["benchmarks"]), 0)
        self.assertOnly(self.dir, ["results.json", "victim.json", *planted])

    def test_new_file_gets_the_usual_permissions(self):
        out = self.path("results.json")
        old = os.umask(0o022)
        try:
            r = run(*SMALL, "--out", out)
        finally:
            os.umask(old)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(stat.S_IMODE(os.stat(out).st_mode), 0o644)

    def test_concurrent_runs_with_one_out_do_not_collide(self):
        out, _ = make_old_results(self.dir)
        args = [BIN, "--profile", "test", "--runtimes", "threads,coroutines", "--out", out]
        procs = [subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
                 for _ in range(3)]
        results = []
        for p in procs:
            _, err = p.communicate(timeout=300)
            results.append((p.returncode, err))
        for rc, err in results:
            self.assertEqual(rc, 0, err)
        doc = load(out)
        names = {b["name"] for b in doc["benchmarks"]}
        self.assertTrue(any("/threads/" in n for n in names) and any("/coroutines/" in n for n in names))
        self.assertEqual([f["status"] for f in doc["families"]], ["ok", "ok"])
        self.assertOnly(self.dir, ["results.json"])

    def test_results_document(self):
        out = self.path("results.json")
        r = run(*SMALL, "--out", out)
        self.assertEqual(r.returncode, 0, r.stderr)
        doc = load(out)
        ctx = doc["context"]
        self.assertEqual(ctx["cobench_schema"], 2)
        self.assertIn("runtimes", ctx)   # cb::results_metadata(), merged
        self.assertIn("counters", ctx)
        self.assertEqual([(f["runtime"], f["status"], f["errors"]) for f in doc["families"]], [("coroutines", "ok", 0)])
        self.assertIn("ok: all", r.stderr.strip().splitlines()[-1])


@needs_bin
class FailingBenchmarks(TempDirCase):
    """RLIMIT_NPROC (ulimit -u) as the fault: thread creation fails inside
    the benchmarks, which Google Benchmark records as error_occurred."""

    def limited(self, n):
        # RLIMIT_NPROC counts every process of the user: only a user of its
        # own, which needs root to switch to, gives a deterministic count.
        if os.geteuid() != 0:
            self.skipTest("needs root to run as a user of its own")
        prefix = unprivileged_prefix(65000 + os.getpid() % 500)
        prefix = None if prefix is None else with_nproc(prefix, n)
        if prefix is None:
            self.skipTest("cannot run as an unprivileged user with prlimit here")
        os.chmod(self.dir, 0o777)
        return prefix

    def test_no_successful_benchmark_never_replaces_results(self):
        prefix = self.limited(2)
        out, before = make_old_results(self.dir)
        os.chmod(out, 0o666)
        r = run("--profile", "test", "--runtimes", "threads", "--filter", "^(ping_pong|spawn)/threads/",
                "--out", out, prefix=prefix)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("no benchmark succeeded", r.stderr)
        self.assertEqual(read_bytes(out), before)
        self.assertOnly(self.dir, ["results.json"])

    def test_some_errored_writes_results_and_exits_3(self):
        prefix = self.limited(4)
        out, before = make_old_results(self.dir)
        r = run("--profile", "test", "--runtimes", "threads", "--filter", "^(ping_pong|spawn)/threads/",
                "--out", out, prefix=prefix)
        self.assertEqual(r.returncode, 3, r.stderr)
        summary = r.stderr.strip().splitlines()[-1]
        self.assertRegex(summary, r"\b1 of 3 benchmarks errored")
        self.assertNotRegex(summary, r"\bok\b")
        doc = load(out)
        errored = [b for b in doc["benchmarks"] if b.get("error_occurred")]
        self.assertEqual(len(errored), 1)
        self.assertTrue(errored[0]["name"].startswith("spawn/threads/"))
        self.assertEqual(doc["families"][0]["errors"], 1)
        self.assertOnly(self.dir, ["results.json"])


if __name__ == "__main__":
    unittest.main()
