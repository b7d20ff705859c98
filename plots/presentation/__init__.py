"""The presentation registry: the one place that knows workloads by name.

One Presentation entry per workload says how the report shows it: its place in the report, its
computed caveats (notes), tables of its own beside or instead of the generic ones, the report
sections and charts it brings, and its headline rows. Everything else in plots/ is written for
any workload and asks the registry; a workload without an entry still gets the generic section
(its parameters in a sentence and one table per declared counter: presentation.generic).

builtin.py             the entries of the workloads this repository ships, in report order
generic.py             the section any workload gets (and what an entry adds to it)

Adding a workload's presentation is one entry: in builtin.py, or in a file outside plots/ named
in the environment variable COBENCH_PRESENTATION_EXTRA (paths separated by os.pathsep), which
defines PRESENTATIONS, a list of Presentation. Such a file's entries follow the built-in ones;
one with the name of a built-in workload takes that entry's place.

registry()             [Presentation] in report order (built-in, then the extra files)
entry(workload)        its Presentation; a bare one (the generic section only) when none is registered
ordered(workloads)     the given workloads in report order: registered ones first, the others by name
sections()             the report sections of every entry, in registry order, each once
headline_rows()        [(Presentation, HeadlineRow)] in registry order
charts()               the Chart objects of every entry (drawn after charts.CHARTS)
"""

import importlib.util
import os
from dataclasses import dataclass, field
from pathlib import Path

EXTRA_ENV = "COBENCH_PRESENTATION_EXTRA"


class PresentationError(Exception):
    """An extra presentation file that cannot be loaded: one line naming the file."""


@dataclass(frozen=True)
class HeadlineRow:
    """One row of the headline table (headline.py). fixed: params held at a value (None: the param
    is absent, which keeps a sweep out). rule: which size each runtime's cell is taken at:
    "common", the largest params combination every runtime that ran the workload measured (else the
    one most runtimes did); "own", each runtime's own largest (the cell names it); "fewest", the
    smallest most runtimes measured; "cpus", the largest tasks:N with N at most the CPU count."""
    label: str
    counter: str
    fixed: dict = field(default_factory=dict)
    rule: str = "common"


@dataclass(frozen=True)
class Presentation:
    """How the report shows one workload. Every hook is optional.

    notes(r, points) -> [str]        computed caveats, listed under the parameters sentence
    section(doc, r, level) -> bool   the workload's whole section, instead of the generic one;
                                     False: nothing written, the generic section follows
    intro(doc, r, points)            blocks before the generic tables (points: without sweeps)
    tables(doc, r)                   blocks after them
    hidden(counter) -> bool          counters the generic tables leave out (shown elsewhere)
    counter_prefix                   words before each generic table's heading
    rusage                           also a table of CPU time and context switches per operation
    held                             its count of the same name is a count of tasks held, stopped
                                     by what its label says (tables.stop_kind): exact, ≥ for a cap
    fold(r, points) -> points        the points as its tables and headline read them (a counter
                                     computed from others, say)
    headline                         HeadlineRow(s) of the headline table
    sections                         report sections (doc, r, level=2) -> bool, after the charts
    charts                           charts.Chart objects, drawn after the built-in ones
    """
    workload: str
    notes: object = None
    section: object = None
    intro: object = None
    tables: object = None
    hidden: object = None
    counter_prefix: str = ""
    rusage: bool = False
    held: bool = False
    fold: object = None
    headline: tuple = ()
    sections: tuple = ()
    charts: tuple = ()

    def points(self, r):
        """The workload's points, folded."""
        pts = r.points(self.workload)
        return self.fold(r, pts) if self.fold else pts

    def shows(self, counter):
        """False for a counter the generic tables leave out."""
        return not (self.hidden and self.hidden(counter))


_loaded = {}   # the value of EXTRA_ENV -> the registry it gives


def load_extra(paths):
    """[Presentation] from the files named (each defines PRESENTATIONS); PresentationError when a
    file is missing, fails to run, or defines no list of Presentation."""
    out = []
    for i, path in enumerate(p for p in paths if p):
        path = Path(path)
        if not path.is_file():
            raise PresentationError(f"{EXTRA_ENV}: {path}: no such file")
        spec = importlib.util.spec_from_file_location(f"cobench_presentation_extra_{i}", path)
        module = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(module)
        except Exception as e:  # noqa: BLE001 - named, with the file, as a bad input
            raise PresentationError(f"{EXTRA_ENV}: {path}: {type(e).__name__}: {e}") from e
        entries = getattr(module, "PRESENTATIONS", None)
        if not isinstance(entries, (list, tuple)) or not all(isinstance(e, Presentation) for e in entries):
            raise PresentationError(f"{EXTRA_ENV}: {path}: defines no PRESENTATIONS list of "
                                    "presentation.Presentation")
        out += entries
    return out


def registry():
    """[Presentation] in report order: the built-in entries, then those of the extra files (an
    extra entry for a built-in workload takes its place)."""
    key = os.environ.get(EXTRA_ENV, "")
    if key not in _loaded:
        from presentation.builtin import ENTRIES
        by_name = {e.workload: e for e in ENTRIES}
        for e in load_extra(key.split(os.pathsep)):
            by_name[e.workload] = e
        _loaded[key] = list(by_name.values())
    return _loaded[key]


def entry(workload):
    return next((e for e in registry() if e.workload == workload), None) or Presentation(workload)


def ordered(workloads):
    present = set(workloads)
    known = [e.workload for e in registry() if e.workload in present]
    return known + sorted(present - set(known))


def sections():
    out = []
    for e in registry():
        out += [s for s in e.sections if s not in out]
    return out


def headline_rows():
    return [(e, row) for e in registry() for row in e.headline]


def charts():
    return [c for e in registry() for c in e.charts]
