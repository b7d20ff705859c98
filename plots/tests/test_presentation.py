"""The presentation registry (plots/presentation/): a workload's presentation is one entry, and an
entry can live outside plots/ (COBENCH_PRESENTATION_EXTRA), so that a workload registered only from
the test tree gets its report section with no edit to plots/.

Without an entry, a workload is still reported: the generic section (its parameters in a sentence
and one table per declared counter) under "Workloads", after the registered workloads, by name.
"""

import ast
import copy
import json
import os
import re
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path
from unittest import mock

import claims
import cobench_results
import headline
import report
from presentation import registry

HERE = Path(__file__).resolve().parent
PLOTS = HERE.parent
EXTRA = HERE / "extra" / "test_only_presentation.py"
WORKLOAD = "test_only_probe"


def with_test_only_workload():
    """good.json plus a workload no built-in entry knows, with a declared counter."""
    doc = json.loads((HERE / "fixtures" / "good.json").read_text(encoding="utf-8"))
    doc["context"]["counters"]["hops_ns"] = {"unit": "ns", "better": "lower"}
    for rt, v in (("threads", 900.0), ("coroutines", 45.0)):
        name = f"{WORKLOAD}/{rt}/hops:64"
        doc["benchmarks"].append({"name": name, "run_name": name, "run_type": "iteration",
                                  "repetitions": 1, "repetition_index": 0, "threads": 1,
                                  "iterations": 100, "real_time": v, "cpu_time": v, "time_unit": "ns",
                                  "hops_ns": v, "family_index": 0, "per_family_instance_index": 0})
    return doc


def markdown(doc):
    r = cobench_results.parse(copy.deepcopy(doc), "test")
    return report.build_report(r, claims.evaluate_all(r), [], [], lambda c: "").markdown(lambda c: "")


class ExtraPresentationTest(unittest.TestCase):
    def test_the_extra_file_gives_the_workload_its_section(self):
        with mock.patch.dict(os.environ, {registry.EXTRA_ENV: str(EXTRA)}):
            md = markdown(with_test_only_workload())
            self.assertEqual(registry.ordered(["echo", WORKLOAD, "zzz", "ping_pong"]),
                             ["ping_pong", "echo", WORKLOAD, "zzz"])
        self.assertIn("## Test-only probe: hops against the fastest runtime", md)
        self.assertIn("| coroutines | 45.0 | 1.00 |", md)
        self.assertIn("| threads | 900 | 20.0 |", md)
        self.assertIn("- test_only_probe: 2 point(s), presented by an extra file.", md)
        self.assertRegex(md, r"\| test-only hop: `test_only_probe` hops:64 \|")
        # Its section sits with the others, before the workloads; its workload section among them.
        self.assertLess(md.index("## Test-only probe"), md.index("## Workloads"))
        self.assertLess(md.index("## Workloads"), md.index("### test_only_probe"))

    def test_without_it_the_numbers_still_appear_in_the_generic_section(self):
        with mock.patch.dict(os.environ, {registry.EXTRA_ENV: ""}):
            md = markdown(with_test_only_workload())
            rows = [row[0] for row in headline.headline(cobench_results.parse(with_test_only_workload(), "t"))[1]]
        self.assertNotIn("Test-only probe", md)
        self.assertFalse([row for row in rows if WORKLOAD in row])
        section = md[md.index("### test_only_probe"):]
        self.assertIn("`test_only_probe` ran at hops = 64.", section)
        self.assertIn("**hops_ns** (ns, lower is better", section)
        self.assertRegex(section, r"\| threads \| 900 \|")
        self.assertRegex(section, r"\| coroutines \| 45.0 \|")

    def test_a_missing_extra_file_is_a_bad_input(self):
        with tempfile.TemporaryDirectory() as tmp:
            env = dict(os.environ, **{registry.EXTRA_ENV: os.pathsep.join([str(EXTRA), f"{tmp}/none.py"])})
            proc = subprocess.run([sys.executable, str(PLOTS / "report.py"), str(HERE / "fixtures" / "good.json"),
                                   "--out-dir", f"{tmp}/out", "--report", f"{tmp}/report.md"],
                                  capture_output=True, text=True, timeout=120, env=env)
            self.assertEqual(proc.returncode, report.EXIT_INPUT, proc.stderr)
            self.assertEqual(proc.stderr.strip(),
                             f"report.py: error: {registry.EXTRA_ENV}: {tmp}/none.py: no such file")
            self.assertFalse(Path(tmp, "report.md").exists())


def module_imports():
    """{module: {modules of plots/ it imports}}, function-level imports included, read from the source."""
    files = {p: ".".join(p.relative_to(PLOTS).with_suffix("").parts)
             for p in [*PLOTS.glob("*.py"), *PLOTS.glob("presentation/*.py")]}
    names = {name.removesuffix(".__init__") for name in files.values()} | {"cobench_results"}
    graph = {}
    for path, name in files.items():
        edges = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                edges |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                edges.add(node.module)
                edges |= {f"{node.module}.{a.name}" for a in node.names}
        graph[name.removesuffix(".__init__")] = {e for e in edges if e in names}
    return graph


class OneRegistryTest(unittest.TestCase):
    def test_no_import_cycle(self):
        graph = module_imports()

        def reaches(start, goal, seen):
            for nxt in graph.get(start, ()):
                if nxt == goal or (nxt not in seen and not seen.add(nxt) and reaches(nxt, goal, seen)):
                    return True
            return False
        self.assertEqual([m for m in sorted(graph) if reaches(m, m, set())], [])
        self.assertIn("presentation.builtin", graph["presentation.registry"])   # the graph is read


    def test_only_the_registry_branches_on_a_workload_name(self):
        names = "|".join(e.workload for e in registry.entries())
        branch = re.compile(rf"(==|!=) *['\"]({names})['\"]|['\"]({names})['\"] *(==|!=)")
        modules = [p for p in sorted(PLOTS.rglob("*.py"))
                   if not {"presentation", "tests"} & set(p.relative_to(PLOTS).parts)]
        hits = [f"{p.relative_to(PLOTS)}:{i}" for p in modules
                for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1) if branch.search(line)]
        self.assertEqual(hits, [])

    def test_every_workload_of_the_reference_run_has_an_entry(self):
        r = cobench_results.load(PLOTS.parent / "results" / "reference" / "cobench.json")
        known = {e.workload for e in registry.entries()}
        self.assertEqual({p.workload for p in r.points()} - known, set())


if __name__ == "__main__":
    unittest.main()
