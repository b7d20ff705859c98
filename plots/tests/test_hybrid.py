"""Hybrid runtimes in the claims, charts and report.

fixtures/hybrid.json is fixtures/good.json as a clean 2-CPU run plus process_loops (kind hybrid,
no shared memory), thread_loops (kind hybrid, shared memory) and fibers_mt (kind fiber,
multi-core), with echo_accept and skynet roots:10 entries; make_hybrid.py writes it. Tests that
need other numbers change a copy in memory.
"""

import copy
import json
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

import charts
import claims
import cobench_results
import report
from fixture_files import five_parse, maker

HERE = Path(__file__).resolve().parent
FIXTURE = HERE / "fixtures" / "hybrid.json"
REFERENCE = HERE.parent.parent / "results" / "reference" / "cobench.json"


def doc():
    return json.loads(FIXTURE.read_text(encoding="utf-8"))


def change(d, workload, runtime, counter, fn, **params):
    """counter := fn(counter) on every entry of workload/runtime whose params match."""
    hits = 0
    for e in d["benchmarks"]:
        w, rt, p = cobench_results.parse_name(e["run_name"])
        if (w, rt) == (workload, runtime) and all(p.get(k) == v for k, v in params.items()):
            e[counter] = fn(e.get(counter))
            hits += 1
    assert hits, (workload, runtime, params)


def drop_runtime(d, name):
    d["context"]["runtimes"] = [rt for rt in d["context"]["runtimes"] if rt["name"] != name]
    d["benchmarks"] = [e for e in d["benchmarks"] if e["run_name"].split("/")[1] != name]
    d["families"] = [f for f in d["families"] if f["runtime"] != name]
    d["declared"] = [x for x in d["declared"] if x["runtime"] != name]


def claim_f(d):
    results = five_parse(d)   # at five repetitions (the same medians): judged
    c = next(c for c in claims.evaluate_all(results) if c.key == "f")
    return c, "\n".join(c.evidence)


class FixtureTest(unittest.TestCase):
    def test_committed_fixture_is_what_the_script_builds(self):
        self.assertEqual(maker("make_hybrid").build(), doc(), "run plots/tests/fixtures/make_hybrid.py")


class ClaimFTest(unittest.TestCase):
    def test_computed_with_the_numbers(self):
        c, text = claim_f(doc())
        self.assertEqual(c.verdict, claims.CONFIRMED)
        for line in (
                "echo conns:1, req_per_s: process_loops 44,000, thread_loops 44,500, best single-kind "
                "threads 45,500 → process_loops 0.97× the req/s (level)",
                "echo conns:16, req_per_s: process_loops 248,000, thread_loops 236,000, best single-kind "
                "fibers_mt 175,000 → process_loops 1.42× the req/s (ahead)",
                "cpu_bound tasks:2, speed-up: process_loops 1.96, thread_loops 1.95, best single-kind "
                "threads 1.97 → 0.99× (as strong as the best or stronger)",
                "skynet leaves:1000000/roots:10, speed-up: process_loops 1.90, thread_loops 1.86, best "
                "single-kind pool 1.78 → 1.07× (as strong as the best or stronger)",
                "process_loops: echo confirmed, cpu_bound confirmed, skynet confirmed → confirmed"):
            self.assertIn(line, c.evidence)
        self.assertIn("this machine has 2 CPUs (context cpu_count), so the gain from more cores is at "
                      "most 2×; a run on a larger machine is the reference for scaling", text)

    def test_not_measured_without_a_process_hybrid(self):
        d = doc()
        drop_runtime(d, "process_loops")   # thread_loops shares memory: not the claim's setup
        c, text = claim_f(d)
        self.assertEqual(c.verdict, claims.NOT_MEASURED)
        self.assertIn("not measured yet", text)
        del d["context"]["runtimes"]   # no traits at all: not judged rather than guessed from names
        self.assertEqual(claim_f(d)[0].verdict, claims.NOT_JUDGED)

    def test_verdict_flips_when_the_hybrid_is_worse(self):
        d = doc()
        change(d, "echo", "process_loops", "req_per_s", lambda v: v * 0.55)
        c, text = claim_f(d)
        self.assertEqual(c.verdict, claims.MIXED)            # echo refuted, speed-ups still confirmed
        self.assertIn("process_loops: echo refuted, cpu_bound confirmed, skynet confirmed → mixed", text)
        self.assertIn("(behind)", text)
        change(d, "cpu_bound", "process_loops", "speedup", lambda v: 1.2 if v > 1 else v, tasks=2)
        change(d, "skynet", "process_loops", "speedup", lambda v: 1.1, roots=10)
        c, text = claim_f(d)
        self.assertEqual(c.verdict, claims.REFUTED)
        self.assertIn("cpu_bound tasks:2, speed-up: process_loops 1.20, thread_loops 1.95, best single-kind "
                      "threads 1.97 → 0.61× (below 1.5: does not use the cores)", c.evidence)
        change(d, "cpu_bound", "process_loops", "speedup", lambda v: 1.6 if v > 1 else v, tasks=2)
        self.assertIn("less well than the best", claim_f(d)[1])

    def test_client_saturation_is_said(self):
        d = doc()
        _, text = claim_f(d)   # coroutines, best at conns:256, ran its client at 0.86
        self.assertIn("process_loops 1.73× the req/s (undecided: client-bound); client near saturation: "
                      "client_cpu_frac coroutines 0.86", text)
        self.assertIn("client near saturation (client_cpu_frac ≥ 0.8) at conns:256: the client, not the "
                      "server, set req_per_s there", text)
        change(d, "echo", "coroutines", "client_cpu_frac", lambda v: 0.7)
        c, text = claim_f(d)
        self.assertNotIn("saturation", text)
        self.assertIn("best single-kind coroutines 171,000 → process_loops 1.73× the req/s (ahead)", text)
        # The hybrid's own client saturated while it leads: a lower bound that still leads counts.
        change(d, "echo", "process_loops", "client_cpu_frac", lambda v: 0.85, conns=16)
        c, text = claim_f(d)
        self.assertIn("(ahead); client near saturation: client_cpu_frac process_loops 0.85", text)
        self.assertEqual(c.verdict, claims.CONFIRMED)
        # ... while it trails, it may only be the client that holds it back: undecided, not refuted.
        change(d, "echo", "process_loops", "req_per_s", lambda v: v * 0.5, conns=16)
        c, text = claim_f(d)
        self.assertIn("(undecided: client-bound); client near saturation: client_cpu_frac process_loops", text)

    def test_server_cpu_per_request_is_preferred(self):
        d = doc()
        for rt, ns in (("process_loops", 9000.0), ("threads", 16000.0), ("coroutines", 10000.0),
                       ("fibers_mt", 12000.0)):
            change(d, "echo", rt, "server_cpu_ns_per_req", lambda v, ns=ns: ns)
        c, text = claim_f(d)
        self.assertIn("echo conns:256, server_cpu_ns_per_req: process_loops 9,000, best single-kind "
                      "coroutines 10,000 → process_loops 0.90× the CPU per request (ahead)", text)
        self.assertNotIn("req_per_s:", text)
        self.assertNotIn("undecided: client-bound", text)   # the client does not bound server CPU

    def test_echo_accept_stands_in_for_missing_echo(self):
        d = doc()
        d["benchmarks"] = [e for e in d["benchmarks"] if not e["run_name"].startswith("echo/process_loops/")]
        _, text = claim_f(d)
        self.assertIn("echo conns:16, req_per_s: process_loops 246,000 (echo_accept accept:reuseport/"
                      "workers:2)", text)

    def test_condition_follows_the_cpu_count(self):
        d = doc()
        d["context"]["cpu_count"], d["context"]["num_cpus"] = "16", 16
        _, text = claim_f(d)
        self.assertIn("this machine has 16 CPUs (context cpu_count), so the gain from more cores is at "
                      "most 16×", text)
        self.assertNotIn("larger machine", text)
        d["context"]["cpu_count"], d["context"]["num_cpus"] = "1", 1
        c, text = claim_f(d)
        self.assertIn("core use cannot be decided on fewer than 2 CPUs", text)
        self.assertIn("cpu_bound undecided", text)


def render(d):
    return charts.render_all(cobench_results.parse(copy.deepcopy(d), "test"))


class HybridChartsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.doc = doc()
        cls.rendered, cls.skipped = render(cls.doc)
        cls.by_name = {c.name: c for c in cls.rendered}

    def test_worker_count_chart_from_echo_accept(self):
        svg = self.by_name["echo_workers"].svg
        for text in (b"echo_accept, conns:16", b"echo_accept, conns:256", b"workers K",
                     b"<!-- process_loops, accept:reuseport -->", b"<!-- thread_loops, accept:shared -->"):
            self.assertIn(text, svg)
        self.assertNotIn(b"stall", svg)   # the stall variants are the report's table

    def test_worker_chart_skipped_with_reason_without_echo_accept(self):
        d = copy.deepcopy(self.doc)   # echo only, to draw little
        d["benchmarks"] = [e for e in d["benchmarks"] if e["run_name"].startswith("echo/")]
        rendered, skipped = render(d)
        self.assertNotIn("echo_workers", [c.name for c in rendered])
        self.assertIn(("echo_workers", "Echo across K workers: throughput by worker count",
                       "no echo_accept entries in this run; only runtimes of kind hybrid run it"), skipped)

    def test_every_runtime_is_in_the_legends(self):
        self.assertEqual(self.skipped, [])
        names = [rt["name"] for rt in self.doc["context"]["runtimes"]]
        for name in names:
            self.assertIn(f"<!-- {name} -->".encode(), self.by_name["overview"].svg, name)
        # The hybrids in every chart where they have data (process_loops declares lost_updates).
        for chart in self.rendered:
            for name in ("process_loops", "thread_loops", "fibers_mt"):
                if chart.name in ("overview", "echo_workers") or (chart.name, name) in (
                        ("lost_updates", "process_loops"),):
                    continue
                self.assertIn(f"<!-- {name} -->".encode(), chart.svg, f"{name} in {chart.name}")

    def test_distinct_looks(self):
        r = cobench_results.parse(copy.deepcopy(self.doc), "test")
        styles = charts.Styles(r)
        looks = [(styles.colour(n), styles.marker(n)) for n in r.runtimes()]
        self.assertEqual(len(set(looks)), len(looks))

    def test_every_chart_says_how_to_read_it(self):
        for chart in self.rendered:
            self.assertTrue(chart.how and "\n" not in chart.how, chart.name)


    def test_report_tables_and_verdict(self):
        r = five_parse(self.doc)   # at five repetitions (the same medians): judged
        rendered, skipped = self.rendered, self.skipped
        md = report.build_report(r, claims.evaluate_all(r), rendered, skipped,
                                 lambda c: f"{c.name}.png").markdown(lambda c: f"{c.name}.png")
        for text in (
                "| runtime | accept | workers | conns:16 | conns:256 |",
                "| process_loops | reuseport | 2 | 1.25 / 1.31 | 1.06 / 1.08 |",
                "| thread_loops | shared | 2 | 1.12 / 1.15 | 1.03 / 1.05 |",
                "| runtime | conns | workers | stall_ms | p99_us reuseport | p99_us shared | max_us reuseport "
                "| max_us shared | stuck_conns reuseport | stuck_conns shared |",
                "| process_loops | 256 | 2 | 50 | 51,000 | 9,800 | 53,500 | 52,600 | 121 | 9 |",
                "| (f) Several processes, each running coroutines, are the strongest setup. | **confirmed** |",
                "**speedup** (x, higher is better; median (min–max), n = 5):",
                "spawn tree speed-up, 10 roots: `skynet` roots:10",
                "![Echo across K workers: throughput by worker count](echo_workers.png)"):
            self.assertIn(text, md)
        self.assertEqual(md.count("How to read: "), len(rendered))
        for name in r.runtimes():
            self.assertIn(f"| {name} |", md)


class ReferenceRunTest(unittest.TestCase):
    def test_report_script_on_the_reference_run(self):
        """The committed reference run (no hybrids when this was written) still gives a report."""
        text = REFERENCE.read_text(encoding="utf-8")
        with tempfile.TemporaryDirectory() as tmp:
            proc = subprocess.run([sys.executable, str(HERE.parent / "report.py"), str(REFERENCE),
                                   "--out-dir", tmp, "--report", f"{tmp}/report.md"],
                                  capture_output=True, text=True, timeout=300)
            self.assertEqual(proc.returncode, 0, proc.stderr)
            md = Path(tmp, "report.md").read_text(encoding="utf-8")
            self.assertIn("### (f) Several processes, each running coroutines, are the strongest setup.", md)
            has_accept = "echo_accept/" in text
            self.assertEqual(Path(tmp, "echo_workers.png").exists(), has_accept)
            if not has_accept:
                self.assertIn("**Not measured in this run** (no echo_accept entries in this run", md)


if __name__ == "__main__":
    unittest.main()
