"""A verdict needs n ≥ VERDICT_MIN_N repetitions in every entry it reads (cobench_results.verdict_n):
below it a claim, a decision-map cell, a yardstick target point, the worker sweep's line against
its ideal, the pitfall and the io_uring target say "not judged: n = k" and keep their numbers;
max_tasks, a limit probe, does not count.

Each test builds the same fixture at n = 5, at n = 3, and mixed (n = 5 but for chosen entries),
from fixture_files.five (every run at five repetitions, folding to the same medians) cut to k.
"""

import copy
import re
import unittest

import capacity
import claims
import cobench_results
import io_workloads
import reactor_backends
import report
import yardstick
from doc import Doc
from fixture_files import five, maker, parse, read

MAKE_YARDSTICK = maker("make_yardstick")


def with_reps(doc, k, only=None):
    """The document with every run at five repetitions, then those whose run_name matches `only`
    (a regex; None: every run) cut to their first k. A cut keeps the first k of five() (the first
    repetition and the others' values), so n changes and the medians barely do."""
    d = five(doc)
    seen, out = {}, []
    for e in d["benchmarks"]:
        if e.get("run_type", "iteration") == "iteration" and (only is None or re.search(only, e["run_name"])):
            i = seen[e["run_name"]] = seen.get(e["run_name"], 0) + 1
            if i > k:
                continue
            e["repetitions"] = k
        out.append(e)
    d["benchmarks"] = out
    return d


def judged(doc):
    return {c.key: c for c in claims.evaluate_all(parse(doc))}


class ConstantTest(unittest.TestCase):
    def test_one_constant_stated_in_the_statistics(self):
        self.assertEqual(cobench_results.VERDICT_MIN_N, 5)
        lines = " ".join(report.statistics_lines(parse(read("good.json"))))
        self.assertIn("VERDICT_MIN_N = 5", lines)
        self.assertIn('"not judged: n = k"', lines)
        self.assertIn("max_tasks is a limit probe", lines)

    def test_reads_records_what_a_rule_is_handed(self):
        r = parse(read("good.json"))
        with r.reads() as seen:
            r.points("ping_pong", "threads")
        self.assertEqual({p.workload for p in seen.points}, {"ping_pong"})
        self.assertEqual(seen.n, 1)
        with r.reads() as seen:
            r.value("cpu_bound", "threads", "items_per_second", tasks=1)
        self.assertEqual([(p.workload, p.params) for p in seen.points], [("cpu_bound", {"tasks": 1})])
        self.assertEqual(r.points("ping_pong", "threads"), r.points("ping_pong", "threads"))   # outside: none


class ClaimTest(unittest.TestCase):
    def test_judged_at_five(self):
        a = judged(with_reps(read("good.json"), 5))["a"]
        self.assertEqual(a.verdict, claims.CONFIRMED)
        self.assertEqual(a.n, 5)
        self.assertEqual(a.verdict_text(), claims.CONFIRMED)

    def test_not_judged_at_three_with_its_numbers(self):
        a = judged(with_reps(read("good.json"), 3))["a"]
        self.assertEqual(a.verdict, claims.NOT_JUDGED)
        self.assertEqual(a.verdict_text(), "not judged: n = 3")
        self.assertEqual(a.reading, claims.CONFIRMED)
        text = "\n".join(a.evidence)
        self.assertIn("not judged: n = 3: the entries this verdict reads have fewer than 5 repetitions", text)
        self.assertIn("it would read confirmed, which is not a verdict", text)
        self.assertRegex(text, r"ping_pong pin:same: threads .* → factor")   # the numbers stay

    def test_mixed_the_smallest_n_among_what_it_reads(self):
        # One entry the claim reads at n = 3: not judged, and the evidence names it.
        a = judged(with_reps(read("good.json"), 3, only=r"^ping_pong/threads/pin:same"))["a"]
        self.assertEqual(a.verdict_text(), "not judged: n = 3")
        self.assertIn("ping_pong/threads/pin:same n=3", "\n".join(a.evidence))
        # Entries it does not read at n = 3: judged.
        a = judged(with_reps(read("good.json"), 3, only=r"^(spawn|echo|timer_fanout)/"))["a"]
        self.assertEqual(a.verdict, claims.CONFIRMED)

    def test_max_tasks_does_not_count(self):
        doc = read("good.json")
        b = judged(with_reps(doc, 1, only=r"^max_tasks/"))["b"]
        self.assertEqual(b.verdict, claims.CONFIRMED)   # max_tasks at n = 1, idle_memory at 5
        self.assertEqual(b.n, 5)
        b = judged(with_reps(doc, 3, only=r"^idle_memory/"))["b"]
        self.assertEqual(b.verdict_text(), "not judged: n = 3")
        # A limits file (max_tasks alone, n = 1) judges claim (b) on the probe.
        limits = judged(read("sweeps_limits.json"))["b"]
        self.assertEqual(limits.verdict, claims.CONFIRMED)
        self.assertIsNone(limits.n)

    def test_each_row_set_by_its_own_n(self):
        got = judged(with_reps(read("hybrid.json"), 3, only=r"^cpu_bound/"))
        self.assertEqual(got["d"].verdict_text(), "not judged: n = 3")
        self.assertEqual(got["a"].verdict, claims.CONFIRMED)


class DecisionMapTest(unittest.TestCase):
    def cells(self, doc):
        return io_workloads.decision_map(parse(doc))

    def test_cells_judged_at_five_not_at_three(self):
        five_cells = self.cells(with_reps(read("io.json"), 5))
        self.assertTrue(all(c.judged for c in five_cells.values() if c.ranked))
        three = self.cells(with_reps(read("io.json"), 3))
        cell = three[(1000.0, 1000)]
        self.assertFalse(cell.judged)
        self.assertEqual(cell.n, 3)
        self.assertEqual(cell.shown(), f"not judged: n = 3 (reading: {cell.text()})")
        _, rows, notes = io_workloads.map_table(parse(with_reps(read("io.json"), 3)), "req_per_s")
        self.assertTrue(all(cell.startswith("not judged: n = 3 (reading: ") for row in rows for cell in row[1:]
                            if cell != "– (not measured)"))
        self.assertTrue(any("names no winner" in n for n in notes))

    def test_claim_e_from_its_cells(self):
        e = judged(with_reps(read("io.json"), 5))["e"]
        self.assertEqual(e.verdict, claims.CONFIRMED)
        e = judged(with_reps(read("io.json"), 3))["e"]
        self.assertEqual(e.verdict_text(), "not judged: n = 3")
        self.assertEqual(e.reading, claims.CONFIRMED)
        self.assertIn("(not judged: n = 3; reading confirmed, not a verdict)", "\n".join(e.evidence))

    def test_some_cells_thin_the_rest_decide(self):
        # The many-slow cells at 100 ms thin (n = 3), the rest at 5: judged on the judged cells.
        e = judged(with_reps(read("io.json"), 3, only=r"^slow_io/.*upstream:100ms/"))["e"]
        self.assertEqual(e.verdict, claims.CONFIRMED)
        text = "\n".join(e.evidence)
        self.assertRegex(text, r"\d+ of \d+ deciding cells judged \(client-bound cells decide nothing\); "
                               r"\d+ not judged \(n < 5: as few as n = 3\)")
        # Every many-slow cell thin: that side, and so the claim, is not judged.
        e = judged(with_reps(read("io.json"), 3, only=r"^slow_io/.*upstream:(1|10|100)ms/conns:(1000|10000)"))["e"]
        self.assertEqual(e.verdict_text(), "not judged: n = 3")
        self.assertIn("many slow has no deciding cell with n ≥ 5", "\n".join(e.evidence))


class YardstickTest(unittest.TestCase):
    def rows(self, doc):
        r = parse(doc)
        return yardstick.cpu_rows(r, MAKE_YARDSTICK.OURS, MAKE_YARDSTICK.ASIO)

    def test_points_and_target(self):
        doc = MAKE_YARDSTICK.build()
        judged_rows = self.rows(with_reps(doc, 5))
        self.assertEqual([x.verdict.n for x in judged_rows], [None] * len(judged_rows))
        self.assertEqual(yardstick.overall([x.verdict for x in judged_rows]), yardstick.MISSED)
        thin_rows = self.rows(with_reps(doc, 3))
        measured = [x for x in thin_rows if x.verdict.ratio is not None]
        self.assertTrue(measured)
        for x in measured:
            self.assertEqual(x.verdict.word, yardstick.NOT_JUDGED)
            self.assertIn("**not judged**: n = 3", x.verdict.text())
            self.assertIn(f"×{x.verdict.ratio:.2f}", x.verdict.text())   # the number it would rest on
        where = [yardstick._where(x) for x in thin_rows]
        self.assertIn('"t": **not judged**: n = 3.', yardstick.summary("t", [x.verdict for x in thin_rows], where))

    def test_mixed_judged_on_the_rest(self):
        doc = with_reps(MAKE_YARDSTICK.build(), 3, only=r"^echo/[^/]+/conns:100$")
        rows = self.rows(doc)
        words = {yardstick._where(x): x.verdict for x in rows}
        self.assertEqual(words["saturation conns:100"].n, 3)   # the missed point is thin now
        self.assertEqual(words["saturation conns:10"].word, yardstick.MET)
        text = yardstick.summary("t", [x.verdict for x in rows], [yardstick._where(x) for x in rows])
        self.assertIn('"t": **met**', text)
        self.assertIn("for fewer than 5 repetitions (as few as n = 3), so the target rests on the other", text)

    def test_syscalls_target(self):
        # strace's counts are one entry per conns (bench/syscalls.py): not judged until repeated.
        r = parse(MAKE_YARDSTICK.build())
        rows = yardstick.syscall_rows(r, MAKE_YARDSTICK.OURS, MAKE_YARDSTICK.ASIO)
        self.assertTrue(all(v.n == 1 for _, _, _, v in rows))
        rows = yardstick.syscall_rows(parse(with_reps(MAKE_YARDSTICK.build(), 5)), MAKE_YARDSTICK.OURS,
                                      MAKE_YARDSTICK.ASIO)
        self.assertTrue(all(v.word == yardstick.MET for _, _, _, v in rows))


class CapacityTest(unittest.TestCase):
    def lines(self, doc):
        d = Doc()
        self.assertTrue(capacity.worker_sweep_section(d, parse(doc)))
        return [line for line in d.markdown(lambda c: "").splitlines() if "of the ideal" in line]

    def test_worker_line_against_the_ideal(self):
        doc = read("sweeps.json")
        five_lines = self.lines(with_reps(doc, 5))
        self.assertTrue(five_lines)
        self.assertFalse(any("not judged" in line for line in five_lines))
        three = self.lines(with_reps(doc, 3))
        self.assertTrue(all("not judged: n = 3 (from these numbers: best " in line for line in three), three)
        mixed = self.lines(with_reps(doc, 3, only=r"^skynet/pool/"))
        self.assertEqual([line for line in mixed if "not judged" in line],
                         [line for line in mixed if line.startswith("- pool: ")][-1:])


class BackendsTargetTest(unittest.TestCase):
    def target(self, doc):
        r = parse(doc)
        return reactor_backends.target(r, reactor_backends.families(r)[0])

    def test_judged_at_five_partly_and_not_at_three(self):
        doc = read("backends.json")
        self.assertEqual(self.target(with_reps(doc, 5))[0], "met")
        verdict, sentence = self.target(with_reps(doc, 3, only=r"^echo/[^/]+/conns:1000$"))
        self.assertEqual(verdict, "met")
        self.assertIn("conns:1000 ×0.70 (not judged: n = 3, reading met)", sentence)
        self.assertIn("Judged on 1 of 2 connection counts measured", sentence)
        verdict, sentence = self.target(with_reps(doc, 3))
        self.assertEqual(verdict, "not judged")
        self.assertIn("**not judged**: n = 3", sentence)


class PitfallTest(unittest.TestCase):
    def test_sentences_and_table(self):
        judged_text = " ".join(io_workloads.pitfall_sentences(parse(with_reps(read("io.json"), 5))))
        self.assertIn("offloading the call cut the timers' max lateness", judged_text)
        self.assertNotIn("not judged", judged_text)
        thin = " ".join(io_workloads.pitfall_sentences(parse(with_reps(read("io.json"), 3))))
        self.assertIn("not judged: n = 3 (fewer than 5 repetitions, no verdict on the pitfall) on ", thin)
        self.assertNotIn("offloading the call cut", thin)
        _, rows, _ = io_workloads.pitfall_table(parse(with_reps(read("io.json"), 3)))
        self.assertTrue(all(row[-1].endswith("(not judged: n = 3)") for row in rows if row[-1].startswith("×")))


class ReportTest(unittest.TestCase):
    def markdown(self, doc):
        r = parse(doc)
        return report.build_report(r, claims.evaluate_all(r), [], [], lambda c: "").markdown(lambda c: "")

    def test_a_thin_file_says_so_once_near_the_claims(self):
        md = self.markdown(read("good.json"))    # a quick run: one repetition (one entry at three)
        self.assertEqual(md.count("**Not judged at n ≤ 3:**"), 1)
        self.assertLess(md.index("## Claims"), md.index("**Not judged at n ≤ 3:**"))
        self.assertLess(md.index("**Not judged at n ≤ 3:**"), md.index("| claim | verdict |"))
        one = self.markdown(with_reps(read("good.json"), 1))
        self.assertIn("**Not judged at n = 1:** every entry of this file has at most 1 repetition (profile quick)", one)
        self.assertIn("The full profile (5 repetitions, `cobench --profile full`) judges them", md)
        self.assertIn("| (a) Switching between coroutines costs far less than switching between threads. "
                      "| **not judged**: n = 1 |", md)
        self.assertIn("Verdict: **not judged**: n = 1", md)

    def test_a_full_file_judges(self):
        md = self.markdown(five(read("good.json")))
        self.assertNotIn("Not judged at n =", md)
        self.assertIn("| (a) Switching between coroutines costs far less than switching between threads. "
                      "| **confirmed** |", md)

    def test_the_command_line_prints_the_not_judged_form(self):
        doc = read("good.json")
        c = claims.evaluate_all(parse(doc))
        self.assertIn("not judged: n = 1", [x.verdict_text() for x in c])
        self.assertEqual(report.verdicts_text(c[0]), "**not judged**: n = 1")
        copy.deepcopy(c)   # claims stay plain data


if __name__ == "__main__":
    unittest.main()
