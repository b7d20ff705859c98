"""The claims in two languages: the C++ runtimes and CPython's yardsticks, judged apart.

The fixture is good.json (C++ rows) plus CPython rows built here the way the results file
carries them: entries named like the C++ ones with "reference": true, and one context.references
entry per Python runtime with its interpreter, lock and model kind; a runtime whose module is
missing is declared with the reason. The Python numbers are chosen to disagree with C++ where the
language should: CPU-bound threads stay at 1× (the interpreter lock), a switch costs about the
same on threads and coroutines (the interpreter's own overhead dominates both), and `x += 1` on
threads loses nothing (the interpreter switches threads only between bytecodes that do not split
that update, in this fixture).

Run from the repository root: plots/python.sh -m unittest discover -s plots/tests -v
"""

import copy
import json
import unittest
from pathlib import Path

import claims
import cobench_results
from fixture_files import five_parse
import headline
import io_workloads
import report
import rowsets

FIXTURES = Path(__file__).resolve().parent / "fixtures"
INTERPRETER = "CPython 3.11.2"
# name, model kind, stack, the C++ runtime whose rows it copies (None: declared). multi_core is
# true for processes only: the interpreter lock keeps every thread of one process on one core.
PYTHON = (("py_multiprocessing", "process", "process", "processes"),
          ("py_threading", "thread", "os_thread", "threads"),
          ("py_threadpool", "pooled", "os_thread", "pool"),
          ("py_gevent", "fiber", "per_suspended_task", "fibers"),
          ("py_asyncio", "coroutine", "stackless", "coroutines"),
          ("py_uvloop", "coroutine", "stackless", None))
MISSING = "python3-uvloop is not installed (apt-get install python3-uvloop)"
# (workload, params text, runtime) -> counters the Python rows report instead of the copied ones.
NUMBERS = {
    ("ping_pong", "pin:same", "py_threading"): {"switch_ns": 9000.0},
    ("ping_pong", "pin:same", "py_asyncio"): {"switch_ns": 4000.0},
    ("yield_ring", None, "py_threading"): {"switch_ns": 8000.0},
    ("yield_ring", None, "py_asyncio"): {"switch_ns": 3500.0},
    ("cpu_bound", "tasks:2", "py_threading"): {"speedup": 1.02},
    ("cpu_bound", "tasks:2", "py_threadpool"): {"speedup": 1.01},
    ("cpu_bound", "tasks:2", "py_multiprocessing"): {"speedup": 1.9},
    ("lost_updates", None, "py_threading"): {"lost_updates": 0.0, "lost_fraction": 0.0},
    ("lost_updates", None, "py_threadpool"): {"lost_updates": 0.0, "lost_fraction": 0.0},
}


def _good():
    with open(FIXTURES / "good.json", encoding="utf-8") as f:
        return json.load(f)


def with_python(doc=None, interpreter=INTERPRETER, lock=True, multi_core_threads=False):
    """The document with CPython rows beside its C++ ones. multi_core_threads: the thread runtimes
    declare multi_core true (their model's, the lock aside)."""
    doc = copy.deepcopy(doc or _good())
    refs, added = {}, []
    for name, kind, stack, source in PYTHON:
        multi = kind == "process" or (multi_core_threads and kind in ("thread", "pooled"))
        refs[name] = {"kind": "yardstick", "label": f"{interpreter} {name[3:]}", "runtime_label": name[3:],
                      "interpreter": interpreter, "interpreter_version": interpreter.split()[-1],
                      "interpreter_build": "main, Mar 13 2023, GCC 12.2.0", "interpreter_lock": lock,
                      "model_kind": kind, "multi_core": multi, "stack": stack, "shared_memory": kind != "process",
                      "cost": "medium", "yardstick": True, "available": source is not None,
                      "program": "bench/programs/cpython/cobench_py.py"}
        if source is None:
            refs[name]["reason"] = MISSING
            doc["declared"] += [{"workload": w, "runtime": name, "reason": MISSING}
                                for w in ("ping_pong", "echo")]
            continue
        for e in doc["benchmarks"]:
            workload, rt, *params = e["run_name"].split("/")
            if rt != source or workload in ("max_tasks", "skynet", "bounded_fanout"):
                continue
            e = copy.deepcopy(e)
            e["name"] = e["run_name"] = "/".join([workload, name, *params])
            e["reference"] = True
            e["interpreter"] = interpreter
            for (w, p, rt2), counters in NUMBERS.items():
                if w == workload and rt2 == name and (p is None or p in params):
                    e.update(counters)
            added.append(e)
    doc["benchmarks"] += added
    # The harness writes context.references as a JSON object with sorted keys.
    refs.update(doc["context"].get("references", {}))
    doc["context"]["references"] = dict(sorted(refs.items()))
    return doc


def parse(doc):
    """At five repetitions (fixture_files.five: the same medians), so that the claims are judged."""
    return five_parse(doc)


def by_key(results):
    return {c.key: c for c in claims.evaluate_all(results)}


class TwoVerdictsTest(unittest.TestCase):
    def setUp(self):
        self.cpp = by_key(parse(_good()))
        self.both = by_key(parse(with_python()))

    def test_each_claim_is_judged_on_each_languages_rows(self):
        for key, c in self.both.items():
            self.assertEqual(c.language, "C++", key)
            self.assertEqual([o.language for o in c.also], ["CPython 3.11"], key)

    def test_the_cpp_verdicts_and_evidence_are_those_of_the_cpp_rows_alone(self):
        for key, c in self.both.items():
            self.assertEqual((c.verdict, c.rule, c.evidence),
                             (self.cpp[key].verdict, self.cpp[key].rule, self.cpp[key].evidence), key)
            self.assertNotIn("py_", " ".join(c.evidence), key)

    def test_cpu_bound_threads_speed_up_in_cpp_and_stay_at_one_core_in_python(self):
        # As the interpreter declares them (the lock: one core), its threads are judged among the
        # one-core runtimes, and only processes speed up: the same verdict, for another reason.
        cpp, py = self.both["d"], self.both["d"].also[0]
        self.assertEqual(cpp.verdict, claims.CONFIRMED)
        self.assertIn("threads: speed-up 1.97 (≥ 1.5: agrees)", cpp.evidence)
        self.assertIn("multi_core true (processes, threads, pool)", cpp.rule)
        self.assertEqual(py.verdict, claims.CONFIRMED)
        self.assertIn("multi_core true (py_multiprocessing)", py.rule)
        self.assertIn("py_threading: speed-up 1.02 (≤ 1.2: agrees)", py.evidence)
        self.assertIn("py_multiprocessing: speed-up 1.90 (≥ 1.5: agrees)", py.evidence)

    def test_cpu_bound_differs_where_python_threads_are_declared_multi_core(self):
        d = by_key(parse(with_python(multi_core_threads=True)))["d"]
        self.assertEqual(d.verdict, claims.CONFIRMED)
        self.assertEqual(d.also[0].verdict, claims.MIXED)
        self.assertIn("py_threading: speed-up 1.02 (< 1.5: disagrees)", d.also[0].evidence)
        self.assertTrue(d.differs())

    def test_switch_cost_factor_from_each_languages_own_pair(self):
        py = self.both["a"].also[0]
        self.assertEqual(self.both["a"].verdict, claims.CONFIRMED)
        self.assertEqual(py.verdict, claims.MIXED)
        self.assertIn("compared: py_threading (kind thread) vs py_asyncio (kind coroutine)", py.evidence)
        self.assertTrue(any(e.startswith("ping_pong pin:same: py_threading 9,000 ns, py_asyncio 4,000 ns → "
                                         "factor 2.2") for e in py.evidence), py.evidence)

    def test_lost_updates_where_the_interpreter_does_not_switch_inside_the_update(self):
        py = self.both["g"].also[0]
        self.assertEqual(self.both["g"].verdict, claims.CONFIRMED)
        self.assertEqual(py.verdict, claims.UNDECIDED)
        self.assertTrue(any("py_threading lost no updates either" in e for e in py.evidence), py.evidence)

    def test_timer_fanout_reads_only_its_own_rows(self):
        py = self.both["c"].also[0]
        self.assertTrue(all(e.startswith(("py_", "1 of", "2 of", "3 of", "4 of", "5 of", "6 of", "7 of",
                                          "8 of", "9 of", "1")) for e in py.evidence[:-1]), py.evidence)
        self.assertFalse(any(e.startswith(("threads:", "coroutines:")) for e in py.evidence))

    def test_a_declared_runtime_never_stands_for_its_kind(self):
        # py_uvloop is declared (module missing): py_asyncio, which ran, is the coroutine runtime.
        for key in "aeg":
            self.assertIn("py_asyncio (kind coroutine)", " ".join(self.both[key].also[0].evidence), key)


class RowSetsTest(unittest.TestCase):
    def test_a_file_without_interpreter_yardsticks_is_one_row_set_itself(self):
        for name in ("good.json", "io.json", "hybrid.json", "sweeps.json"):
            r = cobench_results.load(FIXTURES / name)
            sets = rowsets.split(r)
            self.assertEqual(len(sets), 1, name)
            self.assertIs(sets[0].results, r, name)
            self.assertEqual(rowsets.interpreter_lines(r), [], name)

    def test_the_asio_yardstick_stays_a_reference_of_the_cpp_rows(self):
        with open(FIXTURES / "io.json", encoding="utf-8") as f:
            io = json.load(f)
        r = parse(with_python(io))
        native = rowsets.native(r)
        asio = [n for n in cobench_results.load(FIXTURES / "io.json").context["references"]]
        self.assertEqual(list(native.context["references"]), asio)
        self.assertFalse(any(e.runtime.startswith("py_") for e in native.entries))

    def test_python_runtimes_get_their_model_kind_as_traits(self):
        s = rowsets.split(parse(with_python()))[1]
        self.assertEqual(s.label, "CPython 3.11")
        kinds = {rt.name: rt.kind for rt in s.results.runtime_list}
        self.assertEqual(kinds["py_asyncio"], "coroutine")
        self.assertEqual(kinds["py_multiprocessing"], "process")
        # In the order of the C++ kinds, the declared one after the ones that ran.
        self.assertEqual(s.runtimes, ("py_multiprocessing", "py_threading", "py_threadpool", "py_gevent",
                                      "py_asyncio", "py_uvloop"))
        self.assertEqual(s.results.context.get("references"), None)

    def test_declared_python_runtimes_are_listed_with_the_reason(self):
        (label, line), = rowsets.interpreter_lines(parse(with_python()))
        self.assertEqual(label, "CPython 3.11")
        self.assertIn("CPython 3.11.2 (main, Mar 13 2023, GCC 12.2.0)", line)
        self.assertIn("interpreter lock held", line)
        self.assertIn(f"not run: py_uvloop (declared: {MISSING})", line)
        self.assertIn("py_asyncio (coroutine, one core)", line)
        self.assertIn("py_multiprocessing (process, multi-core)", line)


    def test_a_runtime_declared_only_in_its_reference_entry_gives_that_reason(self):
        doc = with_python()
        doc["declared"] = [d for d in doc["declared"] if d["runtime"] != "py_uvloop"]
        (_, line), = rowsets.interpreter_lines(parse(doc))
        self.assertIn(f"not run: py_uvloop ({MISSING})", line)


class NeverRankedTest(unittest.TestCase):
    def test_headline_runtimes_part_is_that_of_the_cpp_rows(self):
        h0, rows0, notes0 = headline.headline(parse(_good()))
        h1, rows1, notes1 = headline.headline(parse(with_python()))
        n = len(h0)
        self.assertEqual(h1[:n], h0)
        self.assertEqual([row[:n] for row in rows1], rows0)
        self.assertEqual(notes1[:len(notes0)], notes0)
        self.assertTrue(all(h.endswith("(CPython 3.11 yardstick)") for h in h1[n:]), h1)
        self.assertNotIn("py_uvloop (CPython 3.11 yardstick)", h1)   # declared: no column
        for row in rows1:
            for cell in row[n:]:
                self.assertNotIn("best ", cell.replace("vs best runtime", ""))

    def test_yardstick_cells_are_at_the_runtimes_size_against_the_best_runtime(self):
        h, rows, notes = headline.headline(parse(with_python()))
        row = next(r for r in rows if r[0].startswith("CPU-bound speed-up"))
        self.assertIn("tasks:2", row[0])
        self.assertTrue(row[h.index("py_threading (CPython 3.11 yardstick)")].startswith("1.02"), row)
        self.assertIn("vs best runtime", row[h.index("py_multiprocessing (CPython 3.11 yardstick)")])
        self.assertTrue(any(n.startswith("CPython 3.11 yardstick columns") for n in notes))

    def test_never_a_winner_of_the_decision_map(self):
        # CPython rows that would win every slow_io cell by far are shown beside it, never ranked.
        with open(FIXTURES / "io.json", encoding="utf-8") as f:
            doc = with_python(json.load(f))
        for e in doc["benchmarks"]:
            if e["run_name"].startswith("slow_io/py_") and "req_per_s" in e:
                e["req_per_s"] *= 100
        r = parse(doc)
        self.assertTrue(any(p.runtime.startswith("py_") for p in r.points("slow_io")))
        cells = io_workloads.decision_map(r)
        self.assertTrue(cells)
        for cell in cells.values():
            self.assertFalse(str(cell.winner).startswith("py_"))
            self.assertFalse(any(str(rt).startswith("py_") for rt in cell.tie))
        e = by_key(r)["e"]
        self.assertNotIn("py_", " ".join(e.evidence))

    def test_no_python_runtime_in_the_claims_of_the_cpp_rows(self):
        for c in claims.evaluate_all(parse(with_python())):
            self.assertNotIn("py_", c.rule + " ".join(c.evidence), c.key)


class ReportTest(unittest.TestCase):
    def _md(self, doc):
        r = parse(doc)
        built = report.build_report(r, claims.evaluate_all(r), [], [], lambda c: "")
        return built.markdown(lambda c: "")

    def test_the_report_shows_both_verdicts_and_the_interpreter(self):
        md = self._md(with_python())
        self.assertIn("| (a) Switching between coroutines costs far less than switching between threads. | "
                      "in C++: **confirmed**; in CPython 3.11: **mixed** (changes with the language) |", md)
        self.assertIn("in C++: **not measured**; in CPython 3.11: **not measured** |", md)   # (f)
        self.assertIn("#### (d) in CPython 3.11", md)
        self.assertIn("Rule: as in C++, on the CPython 3.11 rows alone.", md)
        self.assertIn("interpreter of the CPython 3.11 yardsticks", md)

    def test_without_python_rows_nothing_of_it_shows(self):
        md = self._md(_good())
        for text in ("CPython", "yardsticks", "in C++", "####"):
            self.assertNotIn(text, md)

    def test_same_report_as_before_where_the_claims_have_one_row_set(self):
        # The Claim's new fields are empty: the claims part renders as it did with one verdict.
        for c in claims.evaluate_all(parse(_good())):
            self.assertEqual((c.language, c.also), (None, []))
            self.assertEqual(report.verdicts_text(c), f"**{c.verdict}**")


if __name__ == "__main__":
    unittest.main()
