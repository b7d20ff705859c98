"""A presentation entry (Presentation) and a row of the headline table it brings (HeadlineRow).
The registry (presentation/__init__.py) holds the entries; this module holds only their shape,
so an entry's module imports it without importing the registry.
"""

from dataclasses import dataclass, field


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
