"""A real network path, not loopback: two network namespaces made for the
test and joined by a veth pair, `cobench serve` in one and the generator in
the other, every reply checked byte for byte (the generator compares each
with its request: mismatches 0, exit 0). It talks only to the addresses it
gives the pair, inside the namespaces it made (a private range, nothing on
the host is touched), and removes both namespaces, whatever happens.

Skipped, with the reason, where namespaces cannot be made: not root, no
CAP_NET_ADMIN, no `ip` (iproute2, in bench/setup.sh's packages)."""

import os
import shutil
import subprocess
import tempfile
import unittest

from generator_util import Server, generator, load_report, needs_bins, report_lines

IP = shutil.which("ip") or ("/usr/sbin/ip" if os.path.exists("/usr/sbin/ip") else None) or \
    ("/sbin/ip" if os.path.exists("/sbin/ip") else None)

# The pair's addresses: a /30 of the private 10/8 range, only ever inside the namespaces.
SERVER_ADDR, CLIENT_ADDR, PREFIX = "10.199.23.1", "10.199.23.2", "30"


def ip(*args, check=True):
    return subprocess.run([IP, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=30,
                          check=check)


def why_not():
    """'' or why this machine cannot make network namespaces."""
    if IP is None:
        return "no `ip` command (iproute2)"
    if os.geteuid() != 0:
        return "not root: network namespaces need CAP_NET_ADMIN"
    probe = f"cbprobe{os.getpid()}"
    r = ip("netns", "add", probe, check=False)
    if r.returncode != 0:
        return "cannot create a network namespace: " + r.stderr.strip()
    ip("netns", "del", probe, check=False)
    return ""


WHY = why_not()


@needs_bins
@unittest.skipIf(WHY, WHY)
class VethPath(unittest.TestCase):
    def setUp(self):
        tag = os.getpid() % 100000
        self.ns = (f"cbsrv{tag}", f"cbgen{tag}")
        self.made = []
        try:
            for n in self.ns:
                ip("netns", "add", n)
                self.made.append(n)
            srv, gen = self.ns
            # veth names at most 15 characters.
            ip("link", "add", f"cbs{tag}", "netns", srv, "type", "veth", "peer", "name", f"cbg{tag}", "netns", gen)
            for n, dev, addr in ((srv, f"cbs{tag}", SERVER_ADDR), (gen, f"cbg{tag}", CLIENT_ADDR)):
                ip("-n", n, "addr", "add", f"{addr}/{PREFIX}", "dev", dev)
                ip("-n", n, "link", "set", dev, "up")
                ip("-n", n, "link", "set", "lo", "up")
        except BaseException:
            self.tearDown()
            raise

    def tearDown(self):
        # Deleting a namespace deletes its end of the veth, and with it the pair.
        for n in self.made:
            ip("netns", "del", n, check=False)
        self.made = []

    def in_ns(self, n):
        return (IP, "netns", "exec", n)

    def test_echo_over_veth_every_byte(self):
        srv, gen = self.ns
        with Server("--address", SERVER_ADDR, prefix=self.in_ns(srv)) as s, tempfile.TemporaryDirectory() as d:
            self.assertEqual(s.address, SERVER_ADDR)
            out = os.path.join(d, "r.json")
            r = generator("--host", SERVER_ADDR, "--port", str(s.port), "--conns", "4", "--requests", "250",
                          "--size", "1000", "--threads", "2", "--rate", "500", "--duration-ms", "200",
                          "--closed-first", "--report-out", out, prefix=self.in_ns(gen))
            self.assertEqual(r.returncode, 0, r.stderr)
            closed, opened = report_lines(r.stdout)
            self.assertEqual((closed["requests"], closed["mismatches"], closed["errors"]), (1000, 0, 0))
            self.assertEqual((opened["sent"], opened["requests"], opened["mismatches"], opened["errors"]),
                             (100, 100, 0, 0))
            self.assertEqual(load_report(out)["host"], SERVER_ADDR)
        self.assertEqual(self.made, list(self.ns))


if __name__ == "__main__":
    unittest.main()
