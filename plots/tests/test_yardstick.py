"""The report's "Our loop against Asio" (plots/yardstick.py): verdicts computed per point (met, missed,
tie inside the spread, not judged with why), the syscalls target, the section absent without its
data, and perf's summary beside a missed target (or why there is none); bench/where_time_goes.sh's
own parts that need no perf (its perf report parsing, no perf on PATH, profiles it skips).

The results files are built in memory by fixtures/make_yardstick.py (io.json with the target
points); each test changes the numbers it needs.
"""

import json
import os
import subprocess
import tempfile
import unittest
from pathlib import Path
from unittest import mock

import charts
import report
import yardstick
from doc import Doc
from fixture_files import five, maker, parse
from presentation import registry

MAKE = maker("make_yardstick")
OURS, ASIO = MAKE.OURS, MAKE.ASIO
REPO = Path(__file__).resolve().parent.parent.parent
SCRIPT = REPO / "bench" / "where_time_goes.sh"


def results(**changes):
    """The fixture at five repetitions (fixture_files.five: the same medians), so its points are judged."""
    return parse(five(MAKE.build(**changes)))


def words(r):
    """{'saturation conns:10': 'met', ...} of the CPU target."""
    return {yardstick._where(x): x.verdict.word for x in yardstick.cpu_rows(r, OURS, ASIO)}


def markdown(r):
    d = Doc()
    shown = yardstick.section(d, r)
    return shown, d.markdown(lambda chart: "")


class VerdictTest(unittest.TestCase):
    def test_each_point_judged_from_its_numbers(self):
        self.assertEqual(words(results()), {
            "saturation conns:10": "met", "saturation conns:100": "missed", "saturation conns:1000": "tie",
            "10.0k req/s conns:10": "met", "10.0k req/s conns:100": "met", "10.0k req/s conns:1000": "not judged",
            "50.0k req/s conns:10": "met", "50.0k req/s conns:100": "met", "50.0k req/s conns:1000": "not judged"})

    def test_loop_and_reference_from_traits_and_references(self):
        r = results()
        self.assertEqual((yardstick.our_loop(r), yardstick.reference(r)), (OURS, ASIO))

    def test_ratio_and_spread(self):
        row = next(x for x in yardstick.cpu_rows(results(), OURS, ASIO) if x.rate is None and x.conns == 100)
        self.assertAlmostEqual(row.verdict.ratio, 10900 / 8600)
        self.assertLess(row.verdict.lo, row.verdict.ratio)
        self.assertGreater(row.verdict.hi, row.verdict.ratio)
        self.assertIn("**missed**: ×1.27 (", row.verdict.text())
        # A point of one repetition is not judged; its ratio is still shown.
        raw = parse(MAKE.build())
        one = next(x for x in yardstick.cpu_rows(raw, OURS, ASIO) if x.rate == 50000 and x.conns == 10)
        self.assertEqual(one.verdict.word, yardstick.NOT_JUDGED)
        self.assertIn("**not judged**: n = 1, below the 5 repetitions", one.verdict.text())
        self.assertIn(f"×{one.verdict.ratio:.2f}", one.verdict.text())

    def test_overall_follows_the_numbers(self):
        self.assertEqual(yardstick.overall([x.verdict for x in yardstick.cpu_rows(results(), OURS, ASIO)]), "missed")
        sat = {**MAKE.SAT, 100: (8000.0, 8600.0)}
        r = results(sat=sat)
        self.assertEqual(words(r)["saturation conns:100"], "met")
        self.assertEqual(yardstick.overall([x.verdict for x in yardstick.cpu_rows(r, OURS, ASIO)]), "met")
        ties = {c: (v, v) for c, (v, _) in MAKE.SAT.items()}
        r = results(sat=ties, open_10k={}, rate_50k={})
        self.assertEqual(yardstick.overall([x.verdict for x in yardstick.cpu_rows(r, OURS, ASIO)]), "tie")

    def test_not_judged_says_why(self):
        rows = {yardstick._where(x): x.verdict for x in yardstick.cpu_rows(results(), OURS, ASIO)}
        self.assertIn("generator fell behind its schedule for coroutines", rows["10.0k req/s conns:1000"].why)
        self.assertIn("the rate was not offered on this machine", rows["10.0k req/s conns:1000"].why)
        self.assertIn("not measured at open loop, 50.0k req/s, conns:1000", rows["50.0k req/s conns:1000"].why)
        r = results(sat={}, open_10k={}, rate_50k={})
        self.assertEqual(yardstick.overall([x.verdict for x in yardstick.cpu_rows(r, OURS, ASIO)]), "not judged")

    def test_syscalls_target(self):
        rows = yardstick.syscall_rows(results(), OURS, ASIO)
        self.assertEqual([(c, v.word) for c, _, _, v in rows], [(10, "met"), (100, "met"), (1000, "met")])
        more = {**MAKE.SYSCALLS, 100: (3.0, 2.6)}
        rows = yardstick.syscall_rows(results(syscalls=more), OURS, ASIO)
        self.assertEqual(yardstick.overall([v for *_, v in rows]), "missed")
        self.assertEqual(yardstick.syscall_rows(results(syscalls={}), OURS, ASIO), [])


class SectionTest(unittest.TestCase):
    def test_section_shows_both_targets_and_the_counts(self):
        shown, md = markdown(results())
        self.assertTrue(shown)
        self.assertIn("## Our loop against Asio", md)
        self.assertIn('Target "server CPU/request ≤ 1.0× asio": **missed**', md)
        self.assertIn('Target "syscalls/request ≤ asio": **met**', md)
        self.assertIn("epoll_ctl / req", md)
        self.assertIn(f"| {MAKE.IN_PROCESS:g} |", md)   # the loop's own count, beside strace's

    def test_absent_without_its_data(self):
        d = MAKE.build()
        d["benchmarks"] = [e for e in d["benchmarks"] if e["run_name"].split("/")[1] != ASIO]
        r = parse(d)
        self.assertFalse(yardstick.has_yardstick(r))
        shown, md = markdown(r)
        self.assertFalse(shown)
        self.assertNotIn("Our loop against", md)
        del d["context"]["references"]
        self.assertFalse(yardstick.section(Doc(), parse(d)))

    def test_without_syscall_entries_the_target_is_not_judged(self):
        _, md = markdown(results(syscalls={}))
        self.assertIn('Target "syscalls/request ≤ asio": **not judged**: no echo_syscalls entries', md)

    def test_perf_beside_a_missed_target(self):
        _, md = markdown(results())
        self.assertIn("### Where the time goes (perf)", md)
        self.assertIn("**Missed at conns:100**", md)
        self.assertIn("`do_epoll_ctl` (kernel)", md)
        self.assertIn("95.0% of coroutines' samples in the kernel against 80.0% of asio's", md)

    def test_no_perf_section_when_nothing_is_missed(self):
        _, md = markdown(results(sat={**MAKE.SAT, 100: (8000.0, 8600.0)}))
        self.assertNotIn("Where the time goes", md)

    def test_perf_missing_is_said(self):
        _, md = markdown(results(profile_error="perf (Debian package linux-perf) is not installed"))
        self.assertIn("coroutines (conns:100): not profiled: perf (Debian package linux-perf) is not installed", md)
        _, md = markdown(results(profiles=False))
        self.assertIn("No perf profile in this file", md)

    def test_in_the_report(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "r.json"
            path.write_text(json.dumps(MAKE.build()), encoding="utf-8")
            # No charts: they take a minute to draw from this file and test_io draws them.
            with mock.patch("sys.stdout"), mock.patch.object(charts, "CHARTS", []), \
                    mock.patch.object(registry, "charts", lambda: []):
                status = report.main([str(path), "--out-dir", str(Path(tmp) / "out"),
                                      "--report", str(Path(tmp) / "report.md")])
            md = (Path(tmp) / "report.md").read_text(encoding="utf-8")
        self.assertEqual(status, report.EXIT_OK)
        self.assertIn("## Our loop against Asio", md)
        self.assertIn("yardstick.ASIO_TARGET", md)
        self.assertLess(md.index("## Our loop against Asio"), md.index("## Latency against offered load"))


def script_part(name):
    """A function of the Python inside bench/where_time_goes.sh, without running its main()."""
    source = SCRIPT.read_text(encoding="utf-8").split("<<'PY'\n", 1)[1].rsplit("\nPY\n", 1)[0]
    namespace = {"__name__": "where_time_goes"}
    exec(compile(source.replace("sys.exit(main())", ""), str(SCRIPT), "exec"), namespace)
    return namespace[name]


class WhereTimeGoesScriptTest(unittest.TestCase):
    def test_perf_report_parsed_into_shares(self):
        text = ("# Samples: 3  of event 'cpu-clock'\n#\n"
                "    50.00%  \t[k] do_epoll_ctl   \t[kernel.kallsyms]\n"
                "    30.00%  \t[.] cb::loop<cb::epoll_reactor>::run<false>   \tcobench\n"
                "    20.00%  \t[k] tcp_sendmsg   \t[kernel.kallsyms]\n")
        rows, kernel, user, epoll = script_part("parse_report")(text)
        self.assertEqual([(s, w) for _, w, s, _ in rows],
                         [("do_epoll_ctl", "kernel"), ("cb::loop<…>::run<…>", "user"), ("tcp_sendmsg", "kernel")])
        self.assertAlmostEqual(kernel, 0.7)
        self.assertAlmostEqual(user, 0.3)
        self.assertAlmostEqual(epoll, 0.5)

    def run_script(self, doc, *args, path=None):
        with tempfile.TemporaryDirectory() as tmp:
            results_path = Path(tmp) / "r.json"
            results_path.write_text(json.dumps(doc), encoding="utf-8")
            env = dict(os.environ)
            if path is not None:
                env["PATH"] = path
            proc = subprocess.run(["/bin/bash", str(SCRIPT), str(results_path), *args], env=env,
                                  capture_output=True, text=True, timeout=120)
            return proc, json.loads(results_path.read_text(encoding="utf-8"))

    def test_no_perf_is_recorded_for_each_profile(self):
        with tempfile.TemporaryDirectory() as bin_dir:
            for tool in ("bash", "dirname"):   # what the scripts need, and no perf
                os.symlink(f"/usr/bin/{tool}", Path(bin_dir) / tool)
            proc, doc = self.run_script(MAKE.build(profiles=False), "--profile", "quick", path=bin_dir)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        profs = doc["context"]["profiles"]
        self.assertEqual(sorted(profs), [f"echo/{ASIO}/conns:100", f"echo/{OURS}/conns:100"])
        self.assertTrue(all("perf" in p["error"] and "not installed" in p["error"] for p in profs.values()))

    def test_nothing_to_profile(self):
        for doc, args in ((MAKE.build(profiles=False), ("--profile", "test")),
                          ({**MAKE.build(profiles=False), "benchmarks": []}, ("--profile", "quick"))):
            proc, after = self.run_script(doc, *args)
            self.assertEqual(proc.returncode, 0, proc.stderr)
            self.assertNotIn("profiles", after["context"])
            self.assertIn("nothing to profile", proc.stderr)


if __name__ == "__main__":
    unittest.main()
