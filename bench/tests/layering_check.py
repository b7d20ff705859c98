"""Architecture rules that a grep can check (run by ctest as layering_check).

1. Layers point one way: runtimes/ <- workloads/ <- bench/. No file under
   runtimes/ or workloads/ includes a header from bench/, and none under
   runtimes/ includes one from workloads/.
2. Runtimes are known by their traits, not their names: the registered
   runtimes' names (asked of the binary: COBENCH_BIN --list) appear as string
   literals in bench/, workloads/, plots/ and bench/compare/ only in tests and
   fixtures. Their definitions live under runtimes/.
3. A program of its own (a folder under bench/programs/ with a main(): the
   load generator, the Asio server) builds from its folder, workloads/ and
   runtimes/ alone: it includes nothing else, and nothing outside its folder
   includes its headers.
"""

import os
import re
import subprocess
import unittest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SOURCE = (".hpp", ".cpp", ".h", ".py", ".sh")


def files(top):
    for folder, dirs, names in os.walk(os.path.join(ROOT, top)):
        dirs[:] = [d for d in dirs if d not in ("__pycache__", "reference", "out")]
        for n in names:
            if n.endswith(SOURCE):
                yield os.path.join(folder, n)


def rel(path):
    return os.path.relpath(path, ROOT)


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def in_tests(path):
    parts = rel(path).split(os.sep)
    return "tests" in parts or "fixtures" in parts


class Layering(unittest.TestCase):
    def test_includes_point_one_way(self):
        include = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
        bad = []
        for top, forbidden in (("runtimes", ("bench/", "workloads/")), ("workloads", ("bench/",))):
            for path in files(top):
                with open(path, encoding="utf-8") as f:
                    for target in include.findall(f.read()):
                        if target.startswith(forbidden):
                            bad.append(f"{rel(path)} includes {target}")
        self.assertEqual(bad, [], "layers must point runtimes <- workloads <- bench")

    def test_programs_stand_alone(self):
        programs = os.path.join(ROOT, "bench", "programs")
        own = []
        for name in sorted(os.listdir(programs)) if os.path.isdir(programs) else []:
            folder = os.path.join(programs, name)
            sources = list(files(rel(folder)))
            if any(re.search(r"^int main\(", read(p), re.M) for p in sources):
                own.append((name, sources))
        self.assertTrue(own, "no program of its own found under bench/programs/")
        include = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
        bad = []
        for name, sources in own:
            for path in sources:
                for target in include.findall(read(path)):
                    if "/" in target and not target.startswith(("runtimes/", "workloads/")):
                        bad.append(f"{rel(path)} includes {target}")
            for top in ("runtimes", "workloads", "bench"):
                for path in files(top):
                    if path not in sources:
                        bad += [f"{rel(path)} includes {t}" for t in include.findall(read(path)) if f"programs/{name}/" in t]
        self.assertEqual(bad, [], "a program of its own builds from its folder, workloads/ and runtimes/ alone")

    @unittest.skipUnless(os.environ.get("COBENCH_BIN"), "COBENCH_BIN not set: run through ctest")
    def test_no_runtime_is_known_by_name_outside_its_folder(self):
        out = subprocess.run([os.environ["COBENCH_BIN"], "--list", "--profile", "test"], check=True,
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, timeout=60).stdout
        names = sorted(set(re.findall(r"^max_tasks/(\S+)", out, re.M)))
        self.assertGreaterEqual(len(names), 5, f"could not read the runtimes from --list: {out[:300]}")
        literal = re.compile(r"""["'](%s)["']""" % "|".join(map(re.escape, names)))
        # Google Benchmark's entries have a field named "threads" (threads per
        # benchmark); a line that also names its sibling fields means that one.
        gbench_fields = re.compile(r"""["'](repetitions|repetition_index|iterations)["']""")
        bad = []
        for top in ("bench", "workloads", "plots"):
            for path in files(top):
                if in_tests(path):
                    continue
                with open(path, encoding="utf-8") as f:
                    for no, line in enumerate(f, 1):
                        if literal.search(line) and not gbench_fields.search(line):
                            bad.append(f"{rel(path)}:{no}: {line.strip()}")
        self.assertEqual(bad, [], "runtime names as literals outside runtimes/, tests and fixtures:\n" + "\n".join(bad))


if __name__ == "__main__":
    unittest.main()
