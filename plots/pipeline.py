"""The generator pipeline: the cost of handing one item from a producer to a consumer, pulled
from a C++20 generator or passed through the runtime's channel (pipeline/<runtime>/via:.../items:N).

pipeline_rows(r)       per runtime: generator and channel ns per item, channel / generator
pipeline_table(r)      those rows as a table; pipeline_sentence(r) the computed summary
pipeline_section(doc, r, level)
                       the workload's section in the report (instead of a table per counter);
                       charts.pipeline_panel draws the same rows
"""

from cobench_results import fmt


def pipeline_rows(r):
    """[(runtime, items text, generator ns/item, channel ns/item, channel / generator)], per
    runtime at the largest items value measured each way. The two ways run different item
    counts (a generator resume costs nanoseconds, a channel hand-off up to microseconds, so
    each is sized by the runtime's cost); a per-item cost does not depend on the count."""
    by = {}
    for p in r.points("pipeline"):
        via = p.params.get("via")
        if "ns_per_item" in p.counters and via in ("generator", "channel"):
            by.setdefault(p.runtime, {}).setdefault(via, []).append((p.params.get("items"), p.counters["ns_per_item"]))

    def largest(pairs):
        return max(pairs, key=lambda t: (isinstance(t[0], (int, float)), t[0] if isinstance(t[0], (int, float)) else 0))

    out = []
    for rt in sorted(by, key=r.order_key):
        if len(by[rt]) != 2:
            continue
        (ng, g), (nc, c) = largest(by[rt]["generator"]), largest(by[rt]["channel"])
        items = str(ng) if ng == nc else f"{ng} / {nc}"
        out.append((rt, items, g, c, c / g if g > 0 else None))
    return out


def pipeline_table(r):
    rows = pipeline_rows(r)
    if not rows:
        return None
    return (["runtime", "items (generator / channel)", "generator (ns/item)", "channel (ns/item)",
             "channel / generator"],
            [[rt, str(n), fmt(g), fmt(c), f"{fmt(ratio)}×" if ratio is not None else "–"]
             for rt, n, g, c, ratio in rows])


def pipeline_sentence(r):
    """The computed summary: which hand-off is cheapest and by how much."""
    rows = [row for row in pipeline_rows(r) if row[4] is not None]
    if not rows:
        return None
    best_g = min(rows, key=lambda t: t[2])
    best_c = min(rows, key=lambda t: t[3])
    ratios = [t[4] for t in rows]
    cheaper = [t[0] for t in rows if t[4] < 1]
    if best_g[2] < best_c[3]:
        text = (f"The generator is the cheapest hand-off: {fmt(best_g[2])} ns per item ({best_g[0]}), "
                f"against {fmt(best_c[3])} ns for the cheapest channel ({best_c[0]}), "
                f"{fmt(best_c[3] / best_g[2])}× as much.")
    else:
        text = (f"In this run the cheapest channel ({best_c[0]}, {fmt(best_c[3])} ns per item) is not "
                f"dearer than the cheapest generator ({best_g[0]}, {fmt(best_g[2])} ns per item).")
    text += (f" Runtime by runtime, a channel costs {fmt(min(ratios))}×"
             + (f" to {fmt(max(ratios))}×" if len(ratios) > 1 and fmt(max(ratios)) != fmt(min(ratios)) else "")
             + " what the generator costs on the same runtime")
    if cheaper:
        text += f"; on {', '.join(cheaper)} the channel is the cheaper one"
    return text + "."


def pipeline_section(doc, r, level=2):
    """ns per item handed from producer to consumer, by generator and by channel, per runtime: the
    pipeline workload's section, instead of the generic table per counter."""
    header_rows = pipeline_table(r)
    if not header_rows:
        return False
    doc.h(level, "pipeline")
    doc.p("A consumer pulls items from a producer. via:generator: the producer is a C++20 generator "
          "(co_yield), resumed by the consumer in the same task, no scheduler involved. via:channel: "
          "a producer task and a consumer task hand items through the runtime's own channel.")
    sentence = pipeline_sentence(r)
    if sentence:
        doc.p(sentence)
    doc.table(*header_rows, ["Each runtime at the largest items value it measured each way (the two ways are sized "
                   "apart: a hand-off costs nanoseconds to microseconds; the cost per item does not depend "
                   "on the count); channel / generator is how many times the generator's cost per item "
                   "the channel's is."])
    return True
