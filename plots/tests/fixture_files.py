"""What the test suites share to reach their fixtures (not a test module itself):

read(name)         a committed results file of fixtures/ as a dict
parse(d)           a copy of it as cobench_results.Results
five(d)            a copy with every benchmark at VERDICT_MIN_N repetitions or more, folding to the
                   same medians, ranges and warm-up flags (a fixture of fewer repetitions is not
                   judged): five_parse(d), five_load(path), five_file(path, folder) build on it
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


def _mean_entry(a, b):
    """A copy of entry a whose numbers are the mean of a's and b's where both have them."""
    m = copy.deepcopy(a)
    for key in ("real_time", "cpu_time"):
        if isinstance(a.get(key), (int, float)) and isinstance(b.get(key), (int, float)):
            m[key] = (a[key] + b[key]) / 2
    for key, v in b.get("counters", {}).items():
        if key in a.get("counters", {}):
            m["counters"][key] = (a["counters"][key] + v) / 2
    for key, v in b.items():
        if key not in m and key not in ("repetition_index",):
            m[key] = v
        elif key in a and isinstance(v, (int, float)) and not isinstance(v, bool) and key not in (
                "repetition_index", "repetitions", "iterations", "family_index", "per_family_instance_index",
                "threads") and isinstance(a[key], (int, float)) and not isinstance(a[key], bool):
            m[key] = (a[key] + v) / 2
    return m


def _padded(reps):
    """reps (one run's repetitions, first first) grown to VERDICT_MIN_N or more so that the fold
    (cobench_results.results) gives the same median, min, max and warm-up flag per counter:
    [a] -> a ×5; [a, b] -> a, b, a, m, m (m their mean: the rest's median is m and its MAD half
    |a - m|, so a is never a warm-up outlier, and the median of all is m); [a, b, c] -> a, b, c, b, c
    (the rest doubled keeps its median and MAD, and the median of all stays the middle one);
    longer ones: the rest doubled (warm-up flag kept; the median can move)."""
    k = len(reps)
    if k >= cobench_results.VERDICT_MIN_N:
        return reps
    if k == 1:
        return reps * cobench_results.VERDICT_MIN_N
    if k == 2:
        m = _mean_entry(reps[0], reps[1])
        return [reps[0], reps[1], reps[0], m, m]
    return reps + reps[1:]


def five(d):
    """A copy of a results dict where every benchmark has at least VERDICT_MIN_N repetitions and
    folds to the same values (_padded); aggregates and everything else stay as they are."""
    d = copy.deepcopy(d)
    runs = {}
    for e in d.get("benchmarks", []):
        if e.get("run_type", "iteration") == "iteration":
            runs.setdefault(e.get("run_name", e.get("name")), []).append(e)
    out, done = [], set()
    for e in d.get("benchmarks", []):
        name = e.get("run_name", e.get("name"))
        if e.get("run_type", "iteration") != "iteration":
            out.append(e)
            continue
        if name in done:
            continue
        done.add(name)
        reps = sorted(runs[name], key=lambda x: x.get("repetition_index", 0) or 0)
        grown = [copy.deepcopy(x) for x in _padded(reps)]
        for i, x in enumerate(grown):
            if len(grown) > 1:
                x["repetition_index"] = i
                x["repetitions"] = len(grown)
        out += grown
    d["benchmarks"] = out
    return d


def five_parse(d, source="test"):
    return cobench_results.parse(five(d), source)


def five_load(path):
    return five_parse(json.loads(Path(path).read_text(encoding="utf-8")), str(path))


def five_file(path, folder):
    """five() of a results file, written into folder under the same name; its path."""
    out = Path(folder) / Path(path).name
    out.write_text(json.dumps(five(json.loads(Path(path).read_text(encoding="utf-8")))), encoding="utf-8")
    return out


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
    FIVE = False    # True: the report is drawn from five() copies of FILES (same medians, judged)

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.dir = Path(cls.tmp.name)
        cls.out = cls.dir / "out"
        for rel, data in cls.PREVIOUS.items():
            (cls.dir / rel).parent.mkdir(parents=True, exist_ok=True)
            (cls.dir / rel).write_bytes(data)
        md = cls.dir / "rep" / cls.REPORT
        files = cls.FILES
        if cls.FIVE:
            (cls.dir / "five").mkdir()
            files = [five_file(f, cls.dir / "five") for f in files]
        cls.proc = run_report(*files, "--out-dir", cls.out, "--report", md)
        cls.md = md.read_text(encoding="utf-8")
        cls.html = md.with_suffix(".html").read_text(encoding="utf-8")

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()
