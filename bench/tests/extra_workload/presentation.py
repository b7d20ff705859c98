"""The presentation entry of extra_tally, the test-only workload of extra_workload.hpp: what a
new workload adds on the Python side, and all it adds (report.py loads it when this file is
named in COBENCH_PRESENTATION_EXTRA; no module of plots/ is edited). A section of its own: the
time per step of each runtime against the fastest.
"""

from cobench_results import fmt
from presentation.entry import HeadlineRow, Presentation

WORKLOAD = "extra_tally"
SECTION = "extra_tally: time per step against the fastest runtime"


def _section(doc, r, level=2):
    pts = [p for p in r.points(WORKLOAD) if "tally_ns" in p.counters]
    if not pts:
        return False
    doc.h(level, SECTION)
    best = min(p.counters["tally_ns"] for p in pts)
    doc.table(["runtime", "tally_ns", "× fastest"],
              [[p.runtime, fmt(p.counters["tally_ns"]), fmt(p.counters["tally_ns"] / best)] for p in pts])
    return True


PRESENTATIONS = [
    Presentation(WORKLOAD, headline=(HeadlineRow("tally step", "tally_ns"),), sections=(_section,)),
]
