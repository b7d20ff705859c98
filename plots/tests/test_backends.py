"""The reactor backends in the report: the section (epoll, poll, io_uring of one loop), its
verdicts, the unavailable io_uring, and the idle-connections chart.

fixtures/backends.json and backends_unavailable.json are written by fixtures/make_backends.py; tests
that need other numbers build them with make_backends.build_backends(uring_factor=...).
"""

import tempfile
import unittest
from pathlib import Path
from unittest import mock

import charts
import reactor_backends
import report
from doc import Doc
from fixture_files import FIXTURES, maker, parse, read
from fixture_files import five_parse as judged   # at five repetitions (the same medians): judged

MAKE = maker("make_backends")


def doc(name="backends.json"):
    return read(name)


def section_text(r):
    d = Doc()
    reactor_backends.backends_section(d, r)
    return d.markdown(lambda c: "")


class FixtureTest(unittest.TestCase):
    def test_committed_fixtures_are_what_the_script_builds(self):
        for name, built in MAKE.build().items():
            self.assertEqual(built, doc(name), f"{name}: run plots/tests/fixtures/make_backends.py")


class FamilyTest(unittest.TestCase):
    def test_backends_found_from_traits_and_labels(self):
        fams = reactor_backends.families(parse(doc()))
        self.assertEqual(len(fams), 1)
        self.assertEqual(fams[0].backends, {"epoll": MAKE.EPOLL, "poll": MAKE.POLL, "io_uring": MAKE.URING})

    def test_different_traits_are_not_one_loop(self):
        d = doc()
        for rt in d["context"]["runtimes"]:
            if rt["name"] == MAKE.URING:
                rt["multi_core"] = True
        fams = reactor_backends.families(parse(d))
        self.assertEqual(set(fams[0].variants), {"poll"})

    def test_io_backend_field_wins_over_the_label(self):
        d = doc()
        for rt in d["context"]["runtimes"]:
            if rt["name"] == MAKE.POLL:
                rt["label"] = "C++20 coroutines (own loop)"
                rt["io_backend"] = "poll"
        self.assertIn("poll", reactor_backends.families(parse(d))[0].variants)

    def test_no_family_no_section(self):
        d = doc()
        d["context"]["runtimes"] = [rt for rt in d["context"]["runtimes"] if rt["name"] not in (MAKE.POLL, MAKE.URING)]
        r = parse(d)
        self.assertFalse(reactor_backends.has_backends(r))
        self.assertFalse(reactor_backends.backends_section(Doc(), r))


class SectionTest(unittest.TestCase):
    def test_section_renders_every_workload_and_ratio(self):
        text = section_text(judged(doc()))
        self.assertIn("Reactor backends: epoll, poll, io_uring", text)
        for w in ("ping_pong", "pipe_pong", "echo", "idle_conns", "slow_io", "blocking_pitfall"):
            self.assertIn(f"### Backends: {w}", text)
        self.assertIn("×io_uring/epoll", text)
        self.assertIn("×poll/epoll", text)
        self.assertIn("syscalls_per_op: epoll · poll · io_uring", text)
        self.assertIn("open_server_cpu_ns_per_req", text)
        # ping_pong is declared for the variants: the reason shows
        self.assertIn("another I/O backend of the same loop", text)

    def test_ratio_and_spread(self):
        r = judged(doc())
        fam = reactor_backends.families(r)[0]
        rs = {reactor_backends.tables.params_text(x.params): x
              for x in reactor_backends.ratios(r, fam, "io_uring")["echo"] if x.counter == "server_cpu_ns_per_req"}
        self.assertAlmostEqual(rs["conns:100"].ratio, 0.7, places=2)
        self.assertEqual(rs["conns:100"].kind, "better")
        # req_per_s is higher-better: the oriented ratio inverts it
        x = next(x for x in reactor_backends.ratios(r, fam, "io_uring")["echo"]
                 if x.counter == "req_per_s" and x.params.get("conns") == 100)
        self.assertGreater(x.ratio, 1)
        self.assertLess(x.better, 1)
        poll = {reactor_backends.tables.params_text(x.params): x
                for x in reactor_backends.ratios(r, fam, "poll")["echo"] if x.counter == "server_cpu_ns_per_req"}
        self.assertEqual(poll["conns:10"].kind, "level")   # 0.98 with overlapping ranges

    def test_target_met(self):
        r = judged(doc())
        verdict, sentence = reactor_backends.target(r, reactor_backends.families(r)[0])
        self.assertEqual(verdict, "met")
        self.assertIn("**met**", section_text(r))
        self.assertNotIn("Where the time goes", section_text(r))
        self.assertIn("echo: io_uring **changes the picture**", section_text(r))

    def test_verdict_flips_when_the_numbers_flip(self):
        r = judged(MAKE.build_backends(uring_factor=1.6))    # io_uring 1.12× epoll at 100 and 1000
        verdict, _ = reactor_backends.target(r, reactor_backends.families(r)[0])
        self.assertEqual(verdict, "not met")
        text = section_text(r)
        self.assertIn("**not met**", text)
        self.assertIn("Where the time goes", text)      # the measured account, when the target is missed
        self.assertIn("system calls per request (the loop's count) 3.40 → 0.300", text)
        self.assertIn("Fewer system calls, yet as much or more system CPU", text)
        r = judged(MAKE.build_backends(uring_factor=1 / 0.7))   # io_uring = epoll at 100 and 1000
        verdict, _ = reactor_backends.target(r, reactor_backends.families(r)[0])
        self.assertEqual(verdict, "not met")
        text = section_text(r)
        self.assertNotIn("better at conns:100", text)
        self.assertIn("worse at conns:1, conns:10;", text)     # 1.05× and 0.9× of epoll scaled by 1/0.7

    def test_target_indistinguishable_inside_the_spread(self):
        # io_uring at 0.8× epoll: its range overlaps the target line's
        r = judged(MAKE.build_backends(uring_factor=0.8 / 0.7))
        verdict, _ = reactor_backends.target(r, reactor_backends.families(r)[0])
        self.assertEqual(verdict, "indistinguishable")

    def test_single_repetition_says_so(self):
        # One repetition: no target point is judged; the reading is shown, not as a verdict.
        d = doc()
        d["benchmarks"] = [e for e in d["benchmarks"] if e.get("repetition_index", 0) == 0]
        r = parse(d)
        verdict, sentence = reactor_backends.target(r, reactor_backends.families(r)[0])
        self.assertEqual(verdict, "not judged")
        self.assertIn("**not judged**: n = 1", sentence)
        self.assertIn("conns:100 ×0.70 (not judged: n = 1, reading met)", sentence)

    def test_unavailable_reason_shows(self):
        r = judged(doc("backends_unavailable.json"))
        self.assertEqual(reactor_backends.unavailable(r, MAKE.URING), MAKE.UNAVAILABLE)
        text = section_text(r)
        self.assertIn(MAKE.UNAVAILABLE, text)
        self.assertIn("was unavailable on this machine", text)
        self.assertIn("**not judged**", text)
        self.assertNotIn("×io_uring/epoll", text)       # no empty io_uring column
        self.assertIn("×poll/epoll", text)              # poll still compared
        verdict, _ = reactor_backends.target(r, reactor_backends.families(r)[0])
        self.assertEqual(verdict, "not judged")

    def test_poll_idle_verdict(self):
        text = section_text(judged(doc()))
        self.assertIn("idle_conns: poll **changes the picture**", text)
        self.assertIn("idle_conns: io_uring **does not change the picture**", text)


class ChartTest(unittest.TestCase):
    def render(self, r):
        with mock.patch.object(charts, "CHARTS", [c for c in charts.CHARTS if c.name == "idle_conns"]):
            return charts.render_all(r)

    def test_idle_chart_drawn_with_the_three_backends(self):
        r = parse(doc())
        draw = charts.idle_conns_panel(r)
        self.assertEqual(set(draw.curves), set(MAKE.IDLE_RUNTIMES))
        self.assertEqual([n for n, _, _ in draw.curves[MAKE.POLL]], list(MAKE.IDLE))
        rendered, skipped = self.render(r)
        self.assertEqual([c.name for c in rendered], ["idle_conns", "overview"])
        self.assertTrue(rendered[0].png.startswith(b"\x89PNG"))
        svg = rendered[0].svg.decode()
        for name in (f"{MAKE.EPOLL} (epoll)", f"{MAKE.POLL} (poll)", f"{MAKE.URING} (io_uring)"):
            self.assertIn(name, svg)
        self.assertIn("poll", rendered[0].how)

    def test_chart_absent_is_noted(self):
        d = doc()
        d["benchmarks"] = [e for e in d["benchmarks"] if not e["run_name"].startswith("idle_conns/")]
        rendered, skipped = self.render(parse(d))
        self.assertEqual(rendered, [])
        self.assertEqual([s[0] for s in skipped], ["idle_conns"])

    def test_whole_report_writes_the_chart_and_section(self):
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp)
            rc = report.main([str(FIXTURES / "backends.json"), "--out-dir", str(out / "charts"),
                              "--report", str(out / "report.md")])
            self.assertIn(rc, (report.EXIT_OK, report.EXIT_ERRORED))
            self.assertTrue((out / "charts" / "idle_conns.png").exists())
            self.assertTrue((out / "charts" / "idle_conns.svg").exists())
            md = (out / "report.md").read_text(encoding="utf-8")
            self.assertIn("## Reactor backends: epoll, poll, io_uring", md)
            self.assertIn("reactor_backends.TARGET", md)
            self.assertIn("Idle connections: server CPU per active request", md)


if __name__ == "__main__":
    unittest.main()
