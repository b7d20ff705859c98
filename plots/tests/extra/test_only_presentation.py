"""A presentation entry that lives outside the registry's own files, as one for a workload
registered only from the C++ test tree would: report.py loads it when this file is named in
COBENCH_PRESENTATION_EXTRA (test_presentation.py does). It adds a note, a headline row and a
report section, and touches no module of plots/.
"""

from cobench_results import fmt
from presentation.entry import HeadlineRow, Presentation

WORKLOAD = "test_only_probe"


def _notes(r, points):
    return [f"test_only_probe: {len(points)} point(s), presented by an extra file."]


def _section(doc, r, level=2):
    pts = [p for p in r.points(WORKLOAD) if "hops_ns" in p.counters]
    if not pts:
        return False
    doc.h(level, "Test-only probe: hops against the fastest runtime")
    best = min(p.counters["hops_ns"] for p in pts)
    doc.table(["runtime", "hops_ns", "× fastest"],
              [[p.runtime, fmt(p.counters["hops_ns"]), fmt(p.counters["hops_ns"] / best)] for p in pts])
    return True


PRESENTATIONS = [
    Presentation(WORKLOAD, notes=_notes, headline=(HeadlineRow("test-only hop", "hops_ns"),),
                 sections=(_section,)),
]
