"""The headline table: one row per key figure, the runtimes as columns, each cell its median in a
readable unit and how many times the best runtime's value it is. README.md's medians table is the
same function's output (report.py --readme-table).

headline(r)            (header, rows, notes)
The rows are the presentation entries' `headline` rows (presentation/), in registry order; each
names its counter, the params held fixed (None: the param is absent, which keeps sweeps out) and
the size rule (HeadlineRow).

The yardstick part: where the file has an interpreter's yardsticks (rowsets.py: CPython's
threading, asyncio, ...), they follow the runtimes as columns of their own, at the size the row
chose for the runtimes; they are never the best and never move a runtime's ×k (the runtimes'
part is computed from the C++ rows alone). Other references (the Asio yardstick) are shown by
their own sections.
"""

import re

import rowsets
from presentation import registry
from cobench_results import fmt, held, human
from tables import LOWER_BOUNDS, STOP_KINDS, STOP_MEANING, missing, natural, params_text, stop_kind, stop_marker


def _matches(p, fixed):
    return all(p.params.get(k) == v for k, v in fixed.items())


def _choose(r, workload, counter, fixed, rule, cands):
    """{runtime: point} for one headline row."""
    by_key = {}
    for p in cands:
        by_key.setdefault(params_text({k: v for k, v in p.params.items() if k not in fixed}), {})[p.runtime] = p
    if not by_key:
        return {}, None
    if rule == "own":
        chosen = {}
        for key in sorted(by_key, key=natural):
            chosen.update(by_key[key])
        return chosen, None
    if rule == "fewest":
        key = min(by_key, key=lambda k: (-len(by_key[k]), natural(k)))
    elif rule == "cpus":
        cpus = r.cpu_count() or 2
        fits = [k for k in by_key if re.fullmatch(r"tasks:\d+", k) and int(k[6:]) <= cpus]
        key = max(fits or by_key, key=lambda k: (len(by_key[k]), natural(k)))
    else:
        key = max(by_key, key=lambda k: (len(by_key[k]), natural(k)))
    return by_key[key], key


def headline(r):
    """(header, rows, notes). Each cell: the median in a readable unit and, for counters with a
    direction, how many times the best runtime's value it is ("×1" is the best; "≈" where the two
    ranges of repetitions overlap: not a measurable difference). An interpreter's yardsticks follow
    as columns of their own (the yardstick part)."""
    sets = rowsets.split(r)
    header, rows, notes, made = _runtimes_part(sets[0].results)
    if len(sets) > 1:
        _yardstick_part(sets[1:], header, rows, notes, made)
    return header, rows, notes


def _runtimes_part(r):
    """(header, rows, notes, made): the table over the runtimes; made holds, per row, what the
    yardstick part needs (entry, row, size key, the best runtime's value, counter info)."""
    refs = r.context.get("references") if isinstance(r.context.get("references"), dict) else {}
    # A reference (the Asio yardstick) is not a runtime: the echo and slow I/O sections show it.
    runtimes = [rt for rt in r.runtimes_in_run() if r.points(runtime=rt) and rt not in refs]
    rows, notes, row_ns, made = [], [], [], []
    stops_seen = set()
    lost_cells = False
    for entry, row in registry.headline_rows():
        workload, counter, fixed, rule = entry.workload, row.counter, row.fixed, row.rule
        label = row.label
        pts = entry.points(r)
        cands = [p for p in pts if counter in p.counters and _matches(p, fixed)]
        chosen, key = _choose(r, workload, counter, fixed, rule, cands)
        if not chosen:
            continue
        info = r.counter(counter)
        kinds = {rt: stop_kind(p.label)[0] if entry.held else None for rt, p in chosen.items()}
        capped = {rt: kinds[rt] in LOWER_BOUNDS for rt in chosen}
        if entry.held:
            stops_seen.update(kinds[rt] for rt in runtimes if rt in kinds)
        chosen = {rt: p for rt, p in chosen.items() if rt not in refs}
        vals = {rt: p.counters[counter] for rt, p in chosen.items()}
        best = None
        if info.better in ("lower", "higher") and vals and min(vals.values()) > 0:
            pick = min if info.better == "lower" else max
            best = pick(vals, key=vals.get)
        cells, row_n = [], set()
        for rt in runtimes:
            p = chosen.get(rt)
            if p is None:
                tag, _ = missing(r, workload, rt, None)
                cells.append(f"– ({tag})")
                continue
            row_n.add(p.repetitions)
            v = vals[rt]
            if entry.held and v == 0:
                text = held(v)   # the first group already failed: not a count
            else:
                text = ("≥ " if capped[rt] else "") + (human(v, info.unit) if v >= 0 else
                                                      f"≤ 0 ({human(v, info.unit)} measured: noise)")
            if entry.held:
                text += stop_marker(kinds[rt]) or " (no reason given)"
            if counter in p.warmup:
                text += " †"
            if r.lost_to_load(workload, rt, p.params):
                text += " §"
                lost_cells = True
            if rule == "own" and p.params:
                text += f" at {params_text({k: v for k, v in p.params.items() if k not in fixed})}"
            if best is not None:
                bv = vals[best]
                if rt == best:
                    text += " · best"
                elif bv > 0 and v > 0:
                    ratio = v / bv if info.better == "lower" else bv / v
                    bound = capped.get(best) and not capped[rt]
                    if capped.get(best) and capped[rt]:
                        text += " · caps: not compared"
                    elif p.overlaps(chosen[best], counter):
                        text += f" · ≈ best (×{fmt(ratio, 2)}, ranges overlap)"
                    else:
                        # Against the best, a lower bound's factor is at most this much.
                        upper = capped[rt] and not capped.get(best)
                        text += f" · ×{'≥ ' if bound else '≤ ' if upper else ''}{fmt(ratio, 2)}"
            cells.append(text)
        where = "/".join([f"{k}:{v}" for k, v in fixed.items() if v is not None]
                         + ([key] if key and key != "—" else []))
        rows.append([f"{label}: `{workload}`{' ' + where if where else ''}", *cells])
        row_ns.append(row_n)
        made.append((entry, row, key, vals[best] if best is not None else None, info))
    ns = set().union(*row_ns) if row_ns else set()
    common = max(ns, key=lambda n: sum(n in s for s in row_ns)) if ns else None
    for row, row_n in zip(rows, row_ns):
        if row_n and row_n != {common}:
            row[0] += f" (n = {'/'.join(map(str, sorted(row_n)))})"
    if ns:
        notes.append(f"Medians of n = {common} repetitions (other counts named in the row); "
                     "their min–max is in each workload's section. ×k: k times the best runtime's "
                     "value (worse by that factor); ≈ best: the min–max ranges of the two overlap, so "
                     "the difference is inside the run-to-run spread. ≥: a count stopped by the "
                     "harness's own cap or time limit, a lower bound. †: the first repetition was left out as a warm-up "
                     "outlier. – (tag): why the cell is empty.")
    if lost_cells:
        notes.append("§: repetitions of this cell measured beside other work were left out; the median is of "
                     "the rest. – (other load): every repetition was. The list is under Problems in this run.")
    stops = [k for k in STOP_KINDS if k in stops_seen]
    if stops:
        notes.append("Most tasks held, what stopped each count: "
                     + "; ".join(f"{stop_marker(k).strip()} {STOP_MEANING[k]}" for k in stops)
                     + "." + (" Counts marked (cap) or (time limit) are lower bounds; `cobench "
                              "--profile limits` pushes every runtime to what the machine holds."
                              if set(LOWER_BOUNDS) & set(stops) else ""))
    return ["", *runtimes], rows, notes, made


def _yardstick_cell(rs, entry, row, key, best, info, name):
    """A yardstick's cell: its value at the size the runtimes' row chose (its own largest under the
    "own" rule) and ×k against the best runtime's value, never ranked."""
    cands = [p for p in entry.points(rs) if p.runtime == name and row.counter in p.counters
             and _matches(p, row.fixed)]
    if row.rule == "own":
        p = _choose(rs, entry.workload, row.counter, row.fixed, row.rule, cands)[0].get(name)
    else:
        p = next((p for p in cands if params_text({k: v for k, v in p.params.items()
                                                   if k not in row.fixed}) == key), None)
    if p is None:
        return f"– ({'other sizes' if cands else missing(rs, entry.workload, name, None)[0]})"
    v = p.counters[row.counter]
    kind = stop_kind(p.label)[0] if entry.held else None
    text = ("≥ " if kind in LOWER_BOUNDS else "") + human(v, info.unit)
    if entry.held:
        text += stop_marker(kind) or " (no reason given)"
    if row.counter in p.warmup:
        text += " †"
    if row.rule == "own" and p.params:
        text += f" at {params_text({k: x for k, x in p.params.items() if k not in row.fixed})}"
    if best is not None and best > 0 and v > 0:
        ratio = v / best if info.better == "lower" else best / v
        text += f" · ×{fmt(ratio, 2)} vs best runtime"
    return text


def _yardstick_part(sets, header, rows, notes, made):
    """The interpreters' yardsticks as columns after the runtimes, a note naming each language."""
    for s in sets:
        names = [name for name in s.runtimes if s.results.points(runtime=name)]
        header += [f"{name} ({s.label} yardstick)" for name in names]
        for cells, (entry, row, key, best, info) in zip(rows, made):
            cells += [_yardstick_cell(s.results, entry, row, key, best, info, name) for name in names]
        if names:
            notes.append(f"{s.label} yardstick columns: the same workloads, params and counters, written "
                         f"for {s.label.split()[0]} as its documentation would ({', '.join(names)}). They are "
                         f"never ranked: no yardstick is the best, and its ×k is k times the best C++ "
                         f"runtime's value at the same size (worse by that factor; below 1: better).")
