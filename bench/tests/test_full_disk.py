"""--out where the output cannot be written: a full filesystem (a small tmpfs,
filled up before the run) and a file size limit (RLIMIT_FSIZE). Either way
the run exits non-zero, names the real cause (ENOSPC, EFBIG) rather than the
unreadable file that follows from it, keeps the previous results byte for
byte, and leaves no temporary file. The faults are made before the run
starts, so nothing depends on timing."""

import errno
import os
import resource
import shutil
import signal
import subprocess
import tempfile
import unittest

from cobench_util import BIN, TempDirCase, make_old_results, needs_bin, read_bytes


def fill(path):
    """Writes a file at path until the filesystem is full."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        chunk = b"x" * 4096
        while True:
            try:
                os.write(fd, chunk)
            except OSError as e:
                if e.errno != errno.ENOSPC:
                    raise
                break
    finally:
        os.close(fd)


def run_limited(args, fsize=None):
    """The binary with SIGXFSZ ignored (a write past the limit fails with
    EFBIG instead of killing the writer; its children inherit both)."""
    def setup():
        for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(s, signal.SIG_DFL)
        if fsize is not None:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
    return subprocess.run([BIN, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=300,
                          preexec_fn=setup)


@needs_bin
class FullFilesystem(unittest.TestCase):
    def test_full_tmpfs_names_enospc_and_keeps_the_previous_file(self):
        if not shutil.which("mount"):
            self.skipTest("no mount command")
        folder = tempfile.mkdtemp(prefix="cobench-full-")
        self.addCleanup(os.rmdir, folder)
        m = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", folder], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
        if m.returncode != 0:
            self.skipTest(f"cannot mount a tmpfs here (needs root): {m.stdout.strip()}")
        try:
            old, before = make_old_results(folder)
            fill(os.path.join(folder, "filler"))
            r = run_limited(["--profile", "test", "--filter", "^ping_pong/", "--out", old])
            self.assertNotEqual(r.returncode, 0, r.stderr)
            self.assertIn("could not write family output", r.stderr)
            self.assertIn("No space left on device (ENOSPC)", r.stderr)
            self.assertNotIn("parse error", r.stderr)
            self.assertIn("left as it was", r.stderr)
            self.assertEqual(read_bytes(old), before)
            self.assertEqual(sorted(os.listdir(folder)), ["filler", "results.json"], "temporary files left behind")
        finally:
            subprocess.run(["umount", folder], check=False)


@needs_bin
class FileSizeLimit(TempDirCase):
    # One family, one benchmark: its own output is a few KiB at most, the
    # results file (with the machine and metadata context) several times that.
    ARGS = ["--profile", "test", "--runtimes", "coroutines", "--filter", "^ping_pong/"]

    def check(self, r, old, before, says, kept=()):
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(says, r.stderr)
        self.assertIn("File too large (EFBIG)", r.stderr)
        self.assertNotIn("parse error", r.stderr)
        self.assertEqual(read_bytes(old), before)
        self.assertOnly(self.dir, ["results.json", *kept])

    def test_family_output_too_large_names_efbig(self):
        old, before = make_old_results(self.dir)
        r = run_limited([*self.ARGS, "--out", old], fsize=512)
        self.check(r, old, before, "could not write family output")

    def test_results_file_too_large_names_efbig(self):
        old, before = make_old_results(self.dir)
        r = run_limited([*self.ARGS, "--out", old], fsize=6144)
        self.assertIn("coroutines: ok", r.stderr)  # the family's output fitted; the results file did not
        # The family that finished stays kept for --resume, and the last line says how.
        self.check(r, old, before, "could not write the results", kept=["results.json.resume"])
        self.assertIn("--resume", r.stderr.strip().splitlines()[-1])


if __name__ == "__main__":
    unittest.main()
