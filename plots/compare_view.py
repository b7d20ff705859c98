"""The compare view: a results file against a baseline, as a report section and a CI comment.

compare_doc(base, cand) -> doc.Doc section "Compared with the baseline"
Rows come from bench/compare/compare.py (the regression gate's own comparison: medians, a
two-sided Mann-Whitney U test where the repetitions allow it, and the noise floor of counters
with a quantum); this module only groups them. Each row's factor is oriented by the counter's
`better` direction from the file's metadata: factor = new/old for lower-is-better counters and
old/new for higher-is-better ones, so a factor above 1 is always worse. A change within the
counter's resolution (the gate's noise floor) counts as a factor of 1.
"""

import math
import types

import compare
import cobench_results as cr
from cobench_results import fmt

ALPHA = 0.05
# The gate's default minimum effect for wall-clock metrics (percent); verdict words follow it.
OPTIONS = types.SimpleNamespace(direction={}, gate_wallclock=False, instr_threshold=3.0,
                                wall_threshold=20.0, alpha=ALPHA)


def _factor(row):
    b, c = row.base_median, row.cand_median
    if not b or not c or b <= 0 or c <= 0:
        return None
    if row.note.startswith("noise"):
        return 1.0
    return c / b if row.direction == "lower" else b / c


def _geomean(values):
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else None


def rows(base, cand):
    """[(workload, runtime, params text, Row, factor)], worst first; notes from the gate."""
    out = []
    got, notes = compare.compare(compare.Side(base), compare.Side(cand), OPTIONS)
    for row in got:
        if row.metric in ("real_time", "cpu_time"):
            continue    # the counters say the same in their own units
        try:
            workload, runtime, params = cr.parse_name(row.run)
        except ValueError:
            continue
        out.append((workload, runtime, "/".join(f"{k}:{v}" for k, v in params.items()), row, _factor(row)))
    out.sort(key=lambda t: -(t[4] if t[4] is not None else 0))
    return out, notes


def _significance(row):
    n = f"n = {len(row.base)}/{len(row.cand)}"
    if row.p is not None:
        return f"p = {row.p:.2g} ({n})"
    floor = compare.min_two_sided_p(len(row.base), len(row.cand)) if row.base and row.cand else 1
    return f"no test possible: {n}, smallest p {floor:.2g}"


def _group(items, key, results):
    """(name, geometric-mean factor, metrics, worse significant, better significant), worst first."""
    groups = {}
    for item in items:
        if item[4] is not None and item[3].metric_primary:
            groups.setdefault(key(item), []).append(item)
    out = []
    for name, its in groups.items():
        worse = sum(1 for it in its if it[3].p is not None and it[3].p < ALPHA and it[4] > 1)
        better = sum(1 for it in its if it[3].p is not None and it[3].p < ALPHA and it[4] < 1)
        out.append((name, _geomean([it[4] for it in its]), len(its), worse, better))
    return sorted(out, key=lambda g: -g[1])


def compare_doc(base, cand, doc, top=15):
    """Adds the section to `doc` (a doc.Doc) and returns it."""
    items, notes = rows(base, cand)
    for it in items:
        # Geometric means take the results, not the CPU and switch counters every entry carries.
        it[3].metric_primary = cand.counter(it[3].metric).per != "ops"
    ns = sorted({len(it[3].cand) for it in items} | {len(it[3].base) for it in items})
    doc.h(2, "Compared with the baseline")
    doc.p(f"New `{cand.source}` (commit {str(cand.context.get('git_commit', '?'))[:10]}) against old "
          f"`{base.source}` (commit {str(base.context.get('git_commit', '?'))[:10]}). Factor: new/old "
          f"for lower-is-better counters, old/new for higher-is-better ones (direction from the files' "
          f"counter metadata), so **above 1 is worse**; a change within a counter's resolution (the "
          f"gate's noise floor, quantum / ops) counts as 1. Significance: two-sided Mann-Whitney U "
          f"test, α = {ALPHA:g}, where the repetitions allow it (n = {'/'.join(map(str, ns)) or '?'} "
          f"per side here; 3 against 3 cannot go below p = 0.1, 5 against 5 reaches "
          f"{compare.min_two_sided_p(5, 5):.2g}).")
    for title, key in (("Per workload", lambda it: it[0]), ("Per runtime", lambda it: it[1])):
        groups = _group(items, key, cand)
        doc.p(f"**{title}** (geometric mean of the factors of its result counters; CPU and switch "
              f"counters left out), worst first:")
        doc.table([title.split()[-1], "geometric-mean factor", "metrics", "significantly worse",
                   "significantly better"],
                  [[name, f"{g:.3f}", str(m), str(w), str(b)] for name, g, m, w, b in groups])
    changed = [it for it in items if it[4] is not None and abs(it[4] - 1.0) > 1e-9]
    worst = changed[:top]
    doc.p(f"**Largest changes** ({len(worst)} shown of {len(changed)} changed, {len(items)} compared; "
          f"worst first, factor 1 rows left out):")
    doc.table(["benchmark", "metric", "old", "new", "factor", "significance", "gate"],
              [[f"{w}/{rt}" + (f"/{p}" if p else ""), row.metric, fmt(row.base_median), fmt(row.cand_median),
                f"{f:.3f}", _significance(row), row.verdict + (f" ({row.note})" if row.note else "")]
               for w, rt, p, row, f in worst])
    doc.bullets(notes)
    return doc
