"""The load generator run by hand against the real `cobench serve`: --threads
(one merged, valid result equal to the sum of the threads'), any address
(IPv4, IPv6, a name), bad input (exit 2 with a clear message), and two
generator processes against one server merged by bench/merge_generators.py."""

import os
import socket
import subprocess
import sys
import tempfile
import unittest

from generator_util import GEN, Server, generator, load_report, needs_bins, report_lines, summed_buckets, buckets

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MERGE = os.path.join(ROOT, "bench", "merge_generators.py")

SUMMED = ("requests", "mismatches", "errors", "conns", "sent", "late", "threads_invalid")


@needs_bins
class Threads(unittest.TestCase):
    def check_merged(self, phase, threads):
        f, parts = phase["fields"], [t["fields"] for t in phase["per_thread"]]
        self.assertEqual(len(parts), threads)
        self.assertEqual(f["thread_count"], threads)
        for k in SUMMED:
            self.assertEqual(f[k], sum(p[k] for p in parts), k)
        self.assertEqual(f["elapsed_ns"], max(p["elapsed_ns"] for p in parts))
        # The histogram is the threads' added bucket by bucket, and holds every request.
        self.assertEqual(buckets(phase["histogram"]), summed_buckets(t["histogram"] for t in phase["per_thread"]))
        self.assertEqual(phase["histogram"]["count"], f["requests"])
        self.assertEqual(phase["histogram"]["max"], max(t["histogram"]["max"] for t in phase["per_thread"]))
        self.assertEqual(phase["histogram"]["max"], f["max_ns"])
        self.assertEqual(f["mismatches"], 0)
        self.assertEqual(f["errors"], 0)
        # Validity per thread and for the whole. Every reply is intact and
        # every send made; whether at most 1% of sends were late is up to a
        # machine shared with other work, so it is checked for consistency.
        self.assertEqual(f["threads_invalid"], sum(1 - p["gen_valid"] for p in parts))
        self.assertEqual(f["gen_valid"], int(f["threads_invalid"] == 0 and f["late"] * 100 <= f["sent"]))
        for p in parts:
            self.assertEqual(p["gen_valid"], int(p["late"] * 100 <= p["sent"] and p["requests"] == p["sent"]))

    def test_two_threads_closed_then_open_sum_exactly(self):
        with Server() as s, tempfile.TemporaryDirectory() as d:
            out = os.path.join(d, "r.json")
            r = generator("--port", str(s.port), "--conns", "4", "--requests", "200", "--threads", "2",
                          "--rate", "400", "--duration-ms", "250", "--closed-first", "--report-out", out)
            self.assertEqual(r.returncode, 0, r.stderr)
            rep = load_report(out)
            self.assertEqual(rep["thread_count"], 2)
            self.assertEqual(len(rep["phases"]), 2)
            closed, opened = rep["phases"]
            self.check_merged(closed, 2)
            self.assertEqual(closed["fields"]["gen_valid"], 1)  # the closed loop cannot be late
            self.check_merged(opened, 2)
            self.assertEqual(closed["fields"]["requests"], 4 * 200)
            self.assertEqual([t["fields"]["requests"] for t in closed["per_thread"]], [400, 400])
            self.assertEqual(opened["fields"]["sent"], 100)  # 400/s for 250 ms, split over the threads' connections
            self.assertEqual([t["fields"]["sent"] for t in opened["per_thread"]], [50, 50])
            self.assertEqual(opened["fields"]["requests"], 100)
            # The report lines on stdout are the merged phases.
            self.assertEqual(report_lines(r.stdout), [closed["fields"], opened["fields"]])

    def test_uneven_slices_keep_the_whole_schedule(self):
        with Server() as s, tempfile.TemporaryDirectory() as d:
            out = os.path.join(d, "r.json")
            r = generator("--port", str(s.port), "--conns", "5", "--threads", "3", "--rate", "300",
                          "--duration-ms", "100", "--report-out", out)
            self.assertEqual(r.returncode, 0, r.stderr)
            (phase,) = load_report(out)["phases"]
            self.check_merged(phase, 3)
            # 30 sends over 5 connections: threads of 1, 2 and 2 connections.
            self.assertEqual([t["fields"]["conns"] for t in phase["per_thread"]], [1, 2, 2])
            self.assertEqual([t["fields"]["sent"] for t in phase["per_thread"]], [6, 12, 12])

    def test_one_thread_report_is_its_only_part(self):
        with Server() as s, tempfile.TemporaryDirectory() as d:
            out = os.path.join(d, "r.json")
            r = generator("--port", str(s.port), "--conns", "2", "--requests", "50", "--report-out", out)
            self.assertEqual(r.returncode, 0, r.stderr)
            (phase,) = load_report(out)["phases"]
            self.assertEqual(phase["fields"]["thread_count"], 1)
            self.assertEqual(phase["per_thread"][0]["fields"], phase["fields"])


def ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as t:
            t.bind(("::1", 0))
        return True
    except OSError:
        return False


@needs_bins
class Addresses(unittest.TestCase):
    def run_against(self, s, host):
        r = generator("--host", host, "--port", str(s.port), "--conns", "3", "--requests", "20")
        self.assertEqual(r.returncode, 0, r.stderr)
        (line,) = report_lines(r.stdout)
        self.assertEqual(line["requests"], 60)
        self.assertEqual(line["mismatches"], 0)

    def test_ipv4_and_a_name(self):
        with Server("--address", "127.0.0.1") as s:
            self.assertEqual(s.address, "127.0.0.1")
            self.run_against(s, "127.0.0.1")
            self.run_against(s, "localhost")

    @unittest.skipUnless(ipv6_loopback(), "no IPv6 loopback (::1) here")
    def test_ipv6(self):
        with Server("--address", "::1") as s:
            self.assertEqual(s.address, "[::1]")
            self.run_against(s, "::1")
            self.run_against(s, "[::1]")  # as serve prints it

    def test_positional_form_still_takes_host(self):
        # The workloads' form (PORT CONNS REQUESTS SIZE GO_FD REPORT_FD): the go byte on a pipe.
        with Server() as s:
            go_r, go_w = os.pipe()
            rep_r, rep_w = os.pipe()
            p = subprocess.Popen([GEN, str(s.port), "2", "10", "64", str(go_r), str(rep_w), "--host", "127.0.0.1",
                                  "--threads", "2"], pass_fds=(go_r, rep_w), stderr=subprocess.PIPE, text=True)
            os.close(go_r)
            os.close(rep_w)
            os.write(go_w, b"g")
            os.close(go_w)
            with os.fdopen(rep_r) as f:
                text = f.read()
            _, err = p.communicate(timeout=60)
            self.assertEqual(p.returncode, 0, err)
            (line,) = report_lines(text)
            self.assertEqual((line["requests"], line["thread_count"]), (20, 2))


@needs_bins
class BadInput(unittest.TestCase):
    CASES = [
        (["--host", "no-such-host.invalid", "--port", "80", "--conns", "1"], "cannot resolve host 'no-such-host.invalid'"),
        (["--port", "0", "--conns", "1"], "the port must be 1 to 65535: 0"),
        (["--port", "65536", "--conns", "1"], "the port must be 1 to 65535: 65536"),
        (["--port", "80", "--conns", "2", "--threads", "0"], "--threads must be at least 1"),
        (["--port", "80", "--conns", "2", "--threads", "3"], "--threads 3 is more than the 2 connections"),
        (["--port", "80"], "--port and --conns are required"),
        (["--port", "80", "--conns", "1", "--threads"], "--threads needs a value"),
        (["70000", "1", "1", "64", "3", "4"], "the port must be 1 to 65535: 70000"),
        (["80", "2", "1", "64", "3", "4", "--threads=3"], "--threads 3 is more than the 2 connections"),
        (["80", "2", "1", "64", "3", "4", "--threads=2", "--reconnect=1"], "--threads cannot be combined"),
    ]

    def test_each_exits_2_with_its_message(self):
        for args, message in self.CASES:
            with self.subTest(args=args):
                r = generator(*args, timeout=60)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertIn(message, r.stderr)

    def test_serve_rejects_a_bad_address(self):
        from cobench_util import run
        for bad in ("1.2.3", "localhost", "::g"):
            with self.subTest(address=bad):
                r = run("serve", "--runtime", "coroutines", "--address", bad, timeout=60)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertIn("not an IPv4 or IPv6 address", r.stderr)


@needs_bins
class SeveralGenerators(unittest.TestCase):
    def test_two_generators_merge_into_one_entry(self):
        with Server() as s, tempfile.TemporaryDirectory() as d:
            outs = [os.path.join(d, f"g{i}.json") for i in range(2)]
            # Two generator processes at once, as two hosts would.
            procs = [subprocess.Popen([GEN, "--port", str(s.port), "--conns", "2", "--threads", "2", "--rate", "300",
                                       "--duration-ms", "200", "--report-out", o], stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True) for o in outs]
            for p in procs:
                _, err = p.communicate(timeout=120)
                self.assertEqual(p.returncode, 0, err)
            merged = os.path.join(d, "merged.json")
            r = subprocess.run([sys.executable, MERGE, "--name", "echo/test", "--out", merged, *outs],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)
            reports = [load_report(o) for o in outs]
            fields = [rep["phases"][0]["fields"] for rep in reports]
            # Validity is the worst of the generators' (whose lateness is up
            # to a shared machine); the exit status says it.
            valid = all(f["gen_valid"] for f in fields)
            self.assertEqual(r.returncode, 0 if valid else 1, r.stderr)
            doc = load_report(merged)
            (entry,) = doc["benchmarks"]
            self.assertEqual(entry["name"], "echo/test/generators:2")
            self.assertEqual(entry["generators"], 2)
            self.assertEqual(entry["gen_threads"], 4)
            self.assertEqual(entry["gen_valid"], 1.0 if valid else 0.0)
            self.assertEqual(entry["open_requests"], sum(f["requests"] for f in fields))
            self.assertEqual(entry["open_requests"], 120)
            rates = [f["requests"] / (f["elapsed_ns"] / 1e9) for f in fields]
            self.assertAlmostEqual(entry["open_req_per_s"], sum(rates), places=6)
            self.assertAlmostEqual(entry["open_rate"], 600.0, places=6)
            self.assertEqual(entry["open_max_us"], max(f["max_ns"] for f in fields) / 1e3)
            # The merged histogram's median lies within the generators' own medians.
            self.assertGreaterEqual(entry["open_p50_us"], min(f["p50_ns"] for f in fields) / 1e3)
            self.assertLessEqual(entry["open_p50_us"], max(f["p50_ns"] for f in fields) / 1e3)
            # The merged file is a results file: the report draws it like any run.
            md = os.path.join(d, "report.md")
            rep = subprocess.run([os.path.join(ROOT, "plots", "python.sh"), os.path.join(ROOT, "plots", "report.py"),
                                  merged, "--out-dir", os.path.join(d, "charts"), "--report", md],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=300)
            self.assertEqual(rep.returncode, 0, rep.stderr)
            with open(md, encoding="utf-8") as f:
                self.assertIn("Open loop", f.read())
            # Merging a report with itself keeps its median exactly (the same histogram, doubled).
            r = subprocess.run([sys.executable, MERGE, outs[0], outs[0]], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, timeout=60)
            self.assertEqual(r.returncode, 0 if fields[0]["gen_valid"] else 1, r.stderr)
            got = dict(line.split(": ") for line in r.stdout.splitlines())
            self.assertEqual(float(got["open_p50_us"]), fields[0]["p50_ns"] / 1e3)
            # The script's percentiles are the generator's own, from the same buckets.
            sys.path.insert(0, os.path.dirname(MERGE))
            import merge_generators
            h = merge_generators.Histogram.from_json(reports[0]["phases"][0]["histogram"])
            for key, q in (("p50_ns", 0.5), ("p90_ns", 0.9), ("p99_ns", 0.99), ("p999_ns", 0.999), ("max_ns", 1.0)):
                self.assertEqual(h.percentile(q), fields[0][key], key)

    def test_merge_rejects_what_is_not_a_report(self):
        with tempfile.TemporaryDirectory() as d:
            bad = os.path.join(d, "x.json")
            with open(bad, "w") as f:
                f.write('{"benchmarks": []}')
            r = subprocess.run([sys.executable, MERGE, bad], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, timeout=60)
            self.assertEqual(r.returncode, 2)
            self.assertIn("not a generator report", r.stderr)


if __name__ == "__main__":
    unittest.main()
