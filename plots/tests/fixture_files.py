"""What the test suites share to reach their fixtures (not a test module itself):

read(name)         a committed results file of fixtures/ as a dict
parse(d)           a copy of it as cobench_results.Results
maker(name)        a fixture script (fixtures/make_*.py) as a module, to build variants of its file
run_report(*args)  plots/report.py in a child interpreter
snapshot(folder)   every file below a folder with its bytes (to prove outputs untouched)
PreviousOutputs    a test case whose setUp writes earlier outputs into a temporary folder
WrittenReport      a test case whose setUpClass runs the report once, for its tests to read
"""

import copy
import importlib.util
import json
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

import cobench_results

HERE = Path(__file__).resolve().parent
FIXTURES = HERE / "fixtures"
PLOTS = HERE.parent
REPORT_PY = PLOTS / "report.py"


def read(name):
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def parse(d, source="test"):
    return cobench_results.parse(copy.deepcopy(d), source)


def maker(name):
    spec = importlib.util.spec_from_file_location(name, FIXTURES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_report(*args, timeout=180):
    return subprocess.run([sys.executable, str(REPORT_PY), *map(str, args)],
                          capture_output=True, text=True, timeout=timeout)


def snapshot(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in Path(folder).rglob("*") if p.is_file()}


class PreviousOutputs(unittest.TestCase):
    """self.dir: a temporary folder holding PREVIOUS ({relative path: bytes}); self.before its
    snapshot, for a test that the outputs of a refused run stay byte-identical."""
    PREVIOUS = {}

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = Path(self.tmp.name)
        for rel, data in self.PREVIOUS.items():
            (self.dir / rel).parent.mkdir(parents=True, exist_ok=True)
            (self.dir / rel).write_bytes(data)
        self.before = snapshot(self.dir)

    def tearDown(self):
        self.tmp.cleanup()


class WrittenReport(unittest.TestCase):
    """setUpClass runs report.py once on FILES into a temporary folder, after writing PREVIOUS
    there: cls.proc, cls.md and cls.html (REPORT beside "rep/"), cls.out the charts folder."""
    FILES = ()
    REPORT = "report.md"
    PREVIOUS = {}

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.dir = Path(cls.tmp.name)
        cls.out = cls.dir / "out"
        for rel, data in cls.PREVIOUS.items():
            (cls.dir / rel).parent.mkdir(parents=True, exist_ok=True)
            (cls.dir / rel).write_bytes(data)
        md = cls.dir / "rep" / cls.REPORT
        cls.proc = run_report(*cls.FILES, "--out-dir", cls.out, "--report", md)
        cls.md = md.read_text(encoding="utf-8")
        cls.html = md.with_suffix(".html").read_text(encoding="utf-8")

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()
