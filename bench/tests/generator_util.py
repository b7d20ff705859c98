"""Shared by the generator tests: the real `cobench serve` and the real load
generator (cobench_echo_client, from COBENCH_ECHO_CLIENT_BIN), run by hand
as a user would, and the generator's --report-out JSON."""

import json
import os
import re
import signal
import subprocess
import unittest

from cobench_util import BIN, default_signals

GEN = os.environ.get("COBENCH_ECHO_CLIENT_BIN", "")

needs_bins = unittest.skipUnless(BIN and os.path.exists(BIN) and GEN and os.path.exists(GEN),
                                 "COBENCH_BIN / COBENCH_ECHO_CLIENT_BIN not set: run through ctest")


class Server:
    """`cobench serve` in a session of its own; stopped (SIGTERM, then SIGKILL) on exit."""

    def __init__(self, *args, prefix=(), runtime="coroutines"):
        self.proc = subprocess.Popen([*prefix, BIN, "serve", "--runtime", runtime, *args], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, start_new_session=True,
                                     preexec_fn=default_signals)
        line = self.proc.stdout.readline()
        m = re.match(r"listening (.+):(\d+)$", line.strip())
        if not m:
            self.stop()
            raise AssertionError(f"serve did not say where it listens: {line!r} {self.proc.stderr.read()!r}")
        self.address, self.port = m.group(1), int(m.group(2))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        out = self.proc.stdout.read()
        self.proc.stdout.close()
        self.proc.stderr.close()
        return out

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def generator(*args, prefix=(), timeout=120):
    """Runs the generator by hand to its end."""
    return subprocess.run([*prefix, GEN, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          timeout=timeout)


def report_lines(stdout):
    """The report lines (name=value ...) as dicts of ints."""
    return [{k: int(v) for k, v in (kv.split("=") for kv in line.split())} for line in stdout.splitlines() if line]


def load_report(path):
    with open(path) as f:
        return json.load(f)


def buckets(h):
    return {i: c for i, c in h["buckets"]}


def summed_buckets(hists):
    out = {}
    for h in hists:
        for i, c in h["buckets"]:
            out[i] = out.get(i, 0) + c
    return out
