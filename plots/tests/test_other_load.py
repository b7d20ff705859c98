"""Other load in the loading layer: entries whose other_load_frac is over the threshold are left
out of every view (points, claims, headline), listed in the report, and the headline cells that
lost them say so; files without the counter load as before. And the warm-up rule, which leaves
out only a first repetition worse than the rest in its counter's own direction.

Built in memory from fixtures/good.json (changed where a test needs other numbers), with
test_trust's helpers.
"""

import unittest

import claims
import cobench_results
import headline
from fixture_files import parse, read
from test_trust import markdown, repeat

LOADED = 0.5   # half the machine: well over the threshold
QUIET = 0.02


def good_doc():
    return read("good.json")


def with_load(doc, run_prefix, value, repetitions=None):
    """Sets other_load_frac on the iteration entries whose run_name starts with run_prefix
    (only those repetitions, where given); every other entry gets QUIET."""
    for e in doc["benchmarks"]:
        hit = e["run_name"].startswith(run_prefix) and e["run_type"] == "iteration" and (
            repetitions is None or e.get("repetition_index", 0) in repetitions)
        e["other_load_frac"] = value if hit else QUIET
        e.setdefault("steal_frac", 0.001)
    doc["context"]["counters"]["other_load_frac"] = {"unit": "fraction", "better": "none"}
    return doc


def verdicts(r):
    return [(c.key, c.verdict, tuple(c.evidence)) for c in claims.evaluate_all(r)]


def headline_cells(r):
    _, rows, notes = headline.headline(r)
    return rows, " ".join(notes)


class LoadedEntries(unittest.TestCase):
    def test_old_files_load_unchanged(self):
        r = parse(good_doc())
        self.assertEqual(r.loaded, [])
        self.assertEqual(len(r.entries), len(good_doc()["benchmarks"]))
        text = markdown(r)
        self.assertNotIn("Left out", text)
        self.assertNotIn("Other load:", text)
        self.assertNotIn("§", text)

    def test_quiet_entries_are_kept_and_the_run_says_how_quiet(self):
        doc = with_load(good_doc(), "", QUIET)
        r = parse(doc)
        self.assertEqual(r.loaded, [])
        self.assertEqual(verdicts(r), verdicts(parse(good_doc())))
        text = markdown(r)
        self.assertIn("Other load: the largest share of the machine other work used while an entry ran was 2%",
                      text)
        # A run condition, not a result: no table or chart of its own.
        self.assertNotIn("other_load_frac", text)
        self.assertNotIn("steal_frac", text)

    def test_loaded_entries_are_left_out_of_every_verdict_as_if_never_measured(self):
        # Every echo entry ran beside other work: the verdicts are those of a run without echo.
        loaded = parse(with_load(good_doc(), "echo/", LOADED))
        without = good_doc()
        without["benchmarks"] = [e for e in without["benchmarks"] if not e["run_name"].startswith("echo/")]
        self.assertEqual(loaded.points("echo"), [])
        self.assertTrue(loaded.loaded)
        self.assertTrue(all(e.workload == "echo" for e in loaded.loaded))
        self.assertEqual(verdicts(loaded), verdicts(parse(with_load(without, "", QUIET))))
        self.assertNotEqual(verdicts(loaded), verdicts(parse(good_doc())), "echo feeds some verdict")

    def test_the_report_lists_what_it_left_out(self):
        r = parse(with_load(good_doc(), "ping_pong/threads/", LOADED))
        text = markdown(r)
        self.assertIn("**Left out:** these repetitions ran beside other work", text)
        self.assertIn(f"more than {cobench_results.LOADED_THRESHOLD:.0%}", text)
        for e in r.loaded:
            self.assertIn(e.run_name, text)
        self.assertIn("| 50% |", text)

    def test_a_headline_cell_that_lost_every_repetition_says_other_load(self):
        r = parse(with_load(good_doc(), "ping_pong/threads/", LOADED))
        rows, _ = headline_cells(r)
        col = ["", *r.runtimes_in_run()].index("threads")
        cells = [row[col] for row in rows if "`ping_pong`" in row[0]]
        self.assertTrue(cells, "ping_pong is a headline row")
        self.assertTrue(all(c == "– (other load)" for c in cells), cells)

    def test_a_headline_cell_that_lost_some_repetitions_says_so(self):
        doc = good_doc()
        repeat(doc, "ping_pong/threads/pin:same/repeats:3",
               [{"switch_ns": v} for v in (2100.0, 2110.0, 9000.0)])
        with_load(doc, "ping_pong/threads/pin:same", LOADED, repetitions={2})
        r = parse(doc)
        [p] = [p for p in r.points("ping_pong", "threads") if p.params == {"pin": "same"}]
        self.assertEqual((p.n["switch_ns"], p.counters["switch_ns"]), (2, 2105.0))
        rows, notes = headline_cells(r)
        col = ["", *r.runtimes_in_run()].index("threads")
        self.assertTrue(any("§" in row[col] for row in rows if "`ping_pong`" in row[0]), rows)
        self.assertIn("§: repetitions of this cell measured beside other work were left out", notes)

    def test_a_run_known_only_from_aggregates_goes_by_its_median(self):
        doc = good_doc()
        aggs = [e for e in doc["benchmarks"] if e["run_type"] == "aggregate"]
        self.assertTrue(aggs)
        run = aggs[0]["run_name"]
        doc["benchmarks"] = [e for e in doc["benchmarks"] if e["run_name"] != run or e["run_type"] == "aggregate"]
        for e in doc["benchmarks"]:
            if e["run_name"] == run:
                e["other_load_frac"] = LOADED if e["aggregate_name"] in ("median", "mean") else 0.01
        r = parse(doc)
        self.assertFalse([e for e in r.entries if e.run_name == run])
        self.assertEqual({e.run_name for e in r.loaded}, {run})

    def test_a_loaded_repetition_takes_its_runs_aggregates_with_it(self):
        doc = good_doc()
        aggs = [e for e in doc["benchmarks"] if e["run_type"] == "aggregate"]
        run = aggs[0]["run_name"]
        repeat(doc, run, [{}, {}, {}])
        doc["benchmarks"] += aggs
        for e in doc["benchmarks"]:
            if e["run_name"] == run and e.get("repetition_index") == 1 and e["run_type"] == "iteration":
                e["other_load_frac"] = LOADED
        r = parse(doc)
        kept = [e for e in r.entries if e.run_name == run]
        self.assertEqual([e.run_type for e in kept], ["iteration", "iteration"])
        self.assertEqual(len(cobench_results.other_load.rows(r.loaded)), 1)


class WarmupRule(unittest.TestCase):
    def fold(self, counter, values):
        doc = good_doc()
        repeat(doc, "ping_pong/threads/pin:same/repeats:3", [{counter: v} for v in values])
        [p] = [p for p in parse(doc).points("ping_pong", "threads") if p.params == {"pin": "same"}]
        return p

    def test_a_slow_first_repetition_of_a_lower_is_better_counter_is_left_out(self):
        p = self.fold("switch_ns", [40000.0, 2100.0, 2110.0])
        self.assertEqual(p.warmup, {"switch_ns": 40000.0})
        self.assertEqual(p.counters["switch_ns"], 2105.0)

    def test_a_fast_first_repetition_is_kept(self):
        # The example the rule was wrong on: a first run of 960 kept beside 3,640-4,560.
        p = self.fold("switch_ns", [960.0, 3640.0, 4560.0, 4100.0])
        self.assertEqual(p.warmup, {})
        self.assertEqual(p.n["switch_ns"], 4)
        self.assertEqual(p.range("switch_ns"), (960.0, 4560.0))

    def test_higher_is_better_counters_go_the_other_way(self):
        low = self.fold("msgs_per_s", [1000.0, 50000.0, 50500.0])
        self.assertEqual(low.warmup, {"msgs_per_s": 1000.0})
        high = self.fold("msgs_per_s", [900000.0, 50000.0, 50500.0])
        self.assertEqual(high.warmup, {})

    def test_a_counter_without_direction_keeps_its_first_repetition(self):
        self.assertFalse(cobench_results.warmup_outlier([40000.0, 2100.0, 2110.0], "none"))
        self.assertFalse(cobench_results.warmup_outlier([40000.0, 2100.0, 2110.0], None))
        self.assertTrue(cobench_results.warmup_outlier([40000.0, 2100.0, 2110.0], "lower"))
        self.assertFalse(cobench_results.warmup_outlier([40.0, 2100.0, 2110.0], "lower"))
        self.assertTrue(cobench_results.warmup_outlier([40.0, 2100.0, 2110.0], "higher"))

    def test_the_report_states_the_direction(self):
        self.assertIn("in that counter's own direction", cobench_results.WARMUP_RULE)
        self.assertIn("better than the others", cobench_results.WARMUP_RULE)


if __name__ == "__main__":
    unittest.main()
