"""The claims engine: each claim is a record (rule, runtimes by traits, entries, thresholds) that
one engine judges. Verdicts on particular numbers are tested in test_report, test_io, test_hybrid
and test_trust; these tests are about the records and the engine.

Run from the repository root: plots/python.sh -m unittest discover -s plots/tests -v
"""

import copy
import json
import re
import string
import unittest
from pathlib import Path

import claims
import cobench_results
from fixture_files import five_load, five_parse
from claims import engine, records, rules

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def fixture(name):
    with open(FIXTURES / name, encoding="utf-8") as f:
        return json.load(f)


def judged(doc):
    """The claims of a document at five repetitions (fixture_files.five: the same medians)."""
    return claims.evaluate_all(five_parse(doc))


def renamed(doc, names):
    """The document with every runtime name replaced (names: old -> new), wherever it stands."""
    def walk(v):
        if isinstance(v, dict):
            return {names.get(k, k): walk(x) for k, x in v.items()}
        if isinstance(v, list):
            return [walk(x) for x in v]
        if isinstance(v, str):
            return "/".join(names.get(part, part) for part in v.split("/"))
        return v
    return walk(doc)


class TraitsNotNamesTest(unittest.TestCase):
    def test_renamed_runtimes_get_the_same_verdicts_and_evidence(self):
        # The records choose runtimes by traits: names that say nothing change no verdict.
        for name in ("hybrid.json", "io.json", "good.json"):
            doc = fixture(name)
            old = [rt["name"] for rt in doc["context"]["runtimes"]] + list(doc["context"].get("references", {}))
            names = {n: f"rt{i}" for i, n in enumerate(old)}
            back = {v: k for k, v in names.items()}
            before, after = judged(doc), judged(renamed(doc, names))
            self.assertEqual([(c.key, c.verdict) for c in before], [(c.key, c.verdict) for c in after], name)
            for b, a in zip(before, after):
                self.assertEqual(b.evidence, [re.sub(r"\brt\d+\b", lambda m: back[m.group()], e)
                                              for e in a.evidence], f"{name} ({b.key})")


class RecordsTest(unittest.TestCase):
    def test_one_claim_per_key_in_order(self):
        self.assertEqual([c.key for c in judged(fixture("good.json"))], list("abcdefg"))
        self.assertEqual(sorted({r.key for r in claims.CLAIMS}), list("abcdefg"))

    def test_every_text_names_only_its_thresholds_and_roles(self):
        for rec in claims.CLAIMS:
            fields = {f for _, f, _, _ in string.Formatter().parse(rec.text) if f}
            self.assertLessEqual(fields, set(rec.thresholds) | set(rec.kinds), rec.key)

    def test_every_threshold_is_listed_for_the_report(self):
        listed = {v for _, v, _ in claims.THRESHOLDS}
        import io_workloads
        listed |= {v for _, v, _ in io_workloads.THRESHOLDS}
        for rec in claims.CLAIMS:
            for name, value in rec.thresholds.items():
                self.assertIn(value, listed, f"({rec.key}) {name}")

    def test_the_slow_io_record_judges_e_where_the_file_has_slow_io(self):
        io = next(c for c in judged(fixture("io.json")) if c.key == "e")
        self.assertTrue(io.rule.startswith("from the slow I/O decision map"))
        good = next(c for c in judged(fixture("good.json")) if c.key == "e")
        self.assertTrue(good.rule.startswith("echo, the thread runtime vs the coroutine runtime"))
        self.assertTrue(good.evidence[0].startswith("no slow_io entries in this file"))

    def test_a_file_without_traits_is_not_judged_where_a_record_compares_kinds(self):
        got = {c.key: c.verdict for c in judged(fixture("good_schema1.json"))}
        for rec in claims.CLAIMS:
            if rec.kinds:
                self.assertEqual(got[rec.key], claims.NOT_JUDGED, rec.key)
        self.assertNotEqual(got["c"], claims.NOT_JUDGED)   # (c) compares every runtime, by no trait


class EngineTest(unittest.TestCase):
    def test_a_new_claim_is_one_record(self):
        cross = claims.Record(
            "z", "Cross-core switching costs threads far more than coroutines.", rules.factors,
            kinds=records.THREAD_VS_COROUTINE,
            entries=(rules.Factor("ping_pong", "switch_ns", {"pin": "cross"}, unit="ns"),),
            thresholds={"confirm": 1000.0, "refute": 1.0},
            text="ping_pong pin:cross; confirmed at ≥ {confirm:g}, refuted below {refute:g}")
        (c,) = engine.evaluate_all(five_load(FIXTURES / "good.json"), (cross,))
        self.assertEqual(c.rule, "ping_pong pin:cross; confirmed at ≥ 1000, refuted below 1")
        self.assertEqual(c.evidence[0], "compared: threads (kind thread) vs coroutines (kind coroutine)")
        self.assertTrue(c.evidence[1].startswith("ping_pong pin:cross: threads "), c.evidence)
        self.assertEqual(c.verdict, claims.MIXED)

    def test_a_missing_kind_is_said_and_not_measured(self):
        doc = fixture("good.json")
        doc["context"]["runtimes"] = [rt for rt in doc["context"]["runtimes"] if rt["kind"] != "coroutine"]
        doc["benchmarks"] = [e for e in doc["benchmarks"] if "/coroutines" not in e["name"]]
        a = judged(doc)[0]
        self.assertEqual(a.verdict, claims.NOT_MEASURED)
        self.assertEqual(a.evidence, ["no runtime of kind coroutine in this file"])

    def test_kinds_select_by_traits(self):
        r = cobench_results.load(FIXTURES / "io.json")
        self.assertEqual(claims.Kinds({"kind": ("thread", "process")}).select(r), ["processes", "threads"])
        self.assertEqual(claims.Kinds({"kind": "thread"}, first=True).select(r), ["threads"])
        self.assertNotIn("asio", claims.Kinds({"stack": claims.LIGHT_STACKS}, references=False).select(r))
        self.assertNotIn("process_loops", claims.Kinds({}, unlike={"kind": "hybrid"}).select(r))

    def test_entries_select_by_params(self):
        r = five_load(FIXTURES / "good.json")
        same = claims.Entries("ping_pong", "switch_ns", {"pin": "same"})
        self.assertTrue(same.points(r))
        self.assertTrue(all(p.params["pin"] == "same" for p in same.points(r)))
        self.assertEqual(same.where(), "ping_pong pin:same")
        self.assertEqual(claims.Entries("idle_memory", over="tasks", params={"stack": None}).where(64),
                         "idle_memory tasks:64")


if __name__ == "__main__":
    unittest.main()
