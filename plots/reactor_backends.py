"""Report section and chart data for the reactor backends: one loop over several backends (epoll,
poll(2), io_uring), compared from one run. backends_section is idle_conns's presentation entry's
section (it compares every workload of GROUPS); charts.idle_conns_panel draws idle_curves.

Which runtimes are backends of one loop is read from the results, never from their names:
context.runtimes lists each runtime's traits; runtimes whose traits are all equal (kind, stack,
cost, multi_core, shared_memory, sized_*) are the same loop, and the backend is the runtime's
`io_backend` field where the file has one, else the backend its label names ("own epoll loop",
"own poll() loop", "own io_uring loop"). A group holding an epoll runtime and at least one other
backend is a backend family; epoll is the base every ratio is against.

A backend the machine could not run (io_uring under a seccomp filter, say) is declared by the
harness as "<runtime> unavailable: <why>" for every pair: the section says so with that reason,
and the target is not judged.

Every verdict is computed: a ratio variant / epoll per point (the counter's direction from the
file), indistinguishable when the min–max ranges overlap (as elsewhere in the report). A point with
fewer than VERDICT_MIN_N repetitions on a side decides nothing ("not judged: n = k", its reading shown).
"""

import re
import statistics
from dataclasses import dataclass, field

import io_workloads
import tables
from cobench_results import VERDICT_MIN_N, fmt, not_judged, smallest_n, thin
from tables import natural, params_text

BASE = "epoll"
# (backend, pattern in the label), first match wins: io_uring before epoll before poll.
LABEL_BACKENDS = (("io_uring", re.compile(r"io_uring|\buring\b", re.I)),
                  ("epoll", re.compile(r"\bepoll\b", re.I)),
                  ("poll", re.compile(r"\bpoll\b", re.I)))
SAME_LOOP_TRAITS = ("kind", "multi_core", "shared_memory", "stack", "cost", "sized_stacks", "sized_workers")

TARGET = 0.8               # io_uring's server CPU per request at most this × epoll's ...
TARGET_CONNS = (100, 1000)  # ... at these connection counts (echo, closed loop)
PICTURE_FACTOR = 1.25      # a backend changes the picture where it differs from epoll by this factor
                           # (either way: ×0.8 or ×1.25) outside the run-to-run spread
THRESHOLDS = [
    ("TARGET", TARGET, "reactor backends: io_uring's echo server CPU per request over epoll's, at most this "
                       "(at conns " + ", ".join(map(str, TARGET_CONNS)) + ")"),
    ("PICTURE_FACTOR", PICTURE_FACTOR, "reactor backends: a backend changes the picture of a workload where "
                                       "its ratio to epoll is beyond this factor either way, outside the spread"),
]

SYSCALLS = "syscalls_per_op"
NOT_JUDGED = "not judged"
# The workloads compared, in report order, with the counters shown (the first one decides the verdict).
GROUPS = (
    ("ping_pong", ("switch_ns",)),
    ("pipe_pong", ("switch_ns",)),
    ("echo", ("server_cpu_ns_per_req", "req_per_s", io_workloads.OPEN)),
    ("idle_conns", ("server_cpu_ns_per_req", "req_per_s")),
    ("slow_io", ("server_cpu_ns_per_req", "req_per_s")),
    ("blocking_pitfall", ("timer_late_max_us",)),
)


# ---- which runtimes are backends of one loop ----------------------------------------------------

def backend_of(r, runtime):
    """'epoll', 'poll', 'io_uring' (or the file's own io_backend string), or None."""
    for raw in r.context.get("runtimes") or []:
        if isinstance(raw, dict) and raw.get("name") == runtime and isinstance(raw.get("io_backend"), str):
            return raw["io_backend"]
    rt = r.runtime(runtime)
    label = rt.label if rt is not None and rt.label else ""
    return next((name for name, pattern in LABEL_BACKENDS if pattern.search(label)), None)


@dataclass
class Family:
    base: str                                   # the epoll runtime
    variants: dict = field(default_factory=dict)   # backend -> runtime, display order

    @property
    def backends(self):
        return {BASE: self.base, **self.variants}


def families(r):
    """[Family] of the runtimes whose traits are equal and whose backends differ, one with epoll."""
    groups = {}
    for rt in r.runtime_list:
        if rt.has_traits and not io_workloads.is_reference(r, rt.name):
            groups.setdefault(tuple(getattr(rt, k) for k in SAME_LOOP_TRAITS), []).append(rt.name)
    out = []
    for names in groups.values():
        by_backend = {}
        for name in names:
            b = backend_of(r, name)
            if b is not None:
                by_backend.setdefault(b, name)   # the first in display order
        if BASE in by_backend and len(by_backend) > 1:
            out.append(Family(by_backend[BASE], {b: n for b, n in by_backend.items() if b != BASE}))
    return out


def unavailable(r, runtime):
    """The harness's reason this runtime could not run on this machine, or None."""
    prefix = f"{runtime} unavailable:"
    for d in r.declared:
        if d["runtime"] == runtime and str(d.get("reason", "")).startswith(prefix):
            return d["reason"][len(prefix):].strip()
    return None


def has_backends(r):
    return bool(families(r))


# ---- ratios ---------------------------------------------------------------------------------------

@dataclass
class Ratio:
    workload: str
    params: dict
    counter: str
    base: object        # Point
    other: object       # Point
    ratio: float        # other / base, as measured
    better: float       # oriented: below 1 the variant is better (cheaper, faster)
    overlap: bool
    n1: bool            # either side without a spread (fewer than 2 repetitions)

    @property
    def kind(self):
        if self.overlap:
            return "level"
        if self.better <= 1 / PICTURE_FACTOR:
            return "better"
        if self.better >= PICTURE_FACTOR:
            return "worse"
        return "small"

    def text(self):
        t = f"×{self.ratio:.2f}"
        if self.overlap:
            return t + " (≈, ranges overlap)"
        return t + {"better": " (better)", "worse": " (worse)", "small": ""}[self.kind]


def _points(r, workload, runtime):
    """A runtime's points of one workload, the rate sweep of echo left out, by params."""
    return {params_text(p.params): p for p in r.points(workload, runtime) if "rate" not in p.params}


def ratio(r, workload, counter, base, other):
    a, b = base.counters.get(counter), other.counters.get(counter)
    if a is None or b is None or a <= 0 or b <= 0:
        return None
    if counter == io_workloads.OPEN and not (io_workloads.is_valid(base) and io_workloads.is_valid(other)):
        return None
    x = b / a
    better = 1 / x if r.counter(counter).better == "higher" else x
    return Ratio(workload, base.params, counter, base, other, x, better, base.overlaps(other, counter),
                 base.range(counter) is None or other.range(counter) is None)


def ratios(r, fam, backend):
    """{workload: [Ratio]} of backend against epoll, every counter of GROUPS, params in natural order."""
    out = {}
    rt = fam.variants[backend]
    for workload, counters in GROUPS:
        mine, theirs = _points(r, workload, fam.base), _points(r, workload, rt)
        for key in sorted(set(mine) & set(theirs), key=natural):
            for c in counters:
                x = ratio(r, workload, c, mine[key], theirs[key])
                if x is not None:
                    out.setdefault(workload, []).append(x)
    return out


# ---- verdicts ------------------------------------------------------------------------------------

def picture(workload, rs, backend, judge_all=False):
    """(changes: bool or None, sentence) for one workload group on its first counter; points with
    fewer than VERDICT_MIN_N repetitions on a side are left out (judge_all: every point counts)."""
    main = next(c for w, cs in GROUPS if w == workload for c in cs[:1])
    rs = [x for x in rs if x.counter == main]
    if not rs:
        return None, f"{workload}: not compared on {main}"
    # Points with fewer than VERDICT_MIN_N repetitions on a side are not judged; the rest decide.
    short = [] if judge_all else [x for x in rs if thin(smallest_n([x.base, x.other]))]
    if short:
        n = min(smallest_n([x.base, x.other]) for x in short)
        if len(short) == len(rs):
            changes, said = picture(workload, rs, backend, judge_all=True)
            return None, (f"{workload}: {backend} **{NOT_JUDGED}**: n = {n} (fewer than {VERDICT_MIN_N} "
                          f"repetitions at every point; from these numbers: {said[len(workload) + 2:]} Not a "
                          "verdict.)")
        changes, said = picture(workload, [x for x in rs if x not in short], backend, judge_all=True)
        return changes, (said + f" Judged on {len(rs) - len(short)} of {len(rs)} point(s): the other "
                         f"{len(short)} have fewer than {VERDICT_MIN_N} repetitions (as few as n = {n}).")
    better = [params_text(x.params) for x in rs if x.kind == "better"]
    worse = [params_text(x.params) for x in rs if x.kind == "worse"]
    lo, hi = f"×{min(x.ratio for x in rs):.2f}", f"×{max(x.ratio for x in rs):.2f}"
    span = f"{lo}–{hi}" if lo != hi else lo
    n1 = " (n = 1: no spread measured, a single run decides)" if any(x.n1 for x in rs) else ""
    if better or worse:
        parts = ([f"better at {', '.join(better)}"] if better else []) \
            + ([f"worse at {', '.join(worse)}"] if worse else [])
        return True, (f"{workload}: {backend} **changes the picture** on {main} ({span} of epoll; "
                      f"{'; '.join(parts)}; beyond {PICTURE_FACTOR:g}× either way, outside the spread){n1}.")
    level = sum(x.kind == "level" for x in rs)
    inside = "" if all(x.n1 for x in rs) else f", {level} inside the spread"
    return False, (f"{workload}: {backend} **does not change the picture** on {main} ({span} of epoll over "
                   f"{len(rs)} point(s){inside}, none beyond {PICTURE_FACTOR:g}× either way){n1}.")


def target(r, fam, counter="server_cpu_ns_per_req"):
    """(verdict, sentence): the io_uring target on echo at TARGET_CONNS, judged per conns; verdict is
    'met', 'not met', 'indistinguishable' or 'not judged'."""
    rt = fam.variants.get("io_uring")
    if rt is None:
        return "not judged", "Target: **not judged**: no io_uring backend among this loop's runtimes."
    why = unavailable(r, rt)
    if why:
        return "not judged", (f"Target (server CPU per request at conns {', '.join(map(str, TARGET_CONNS))} at "
                              f"most {TARGET:g}× epoll's): **not judged**: {rt} was unavailable on this machine "
                              f"({why}).")
    mine, theirs = _points(r, "echo", fam.base), _points(r, "echo", rt)
    judged = []
    for conns in TARGET_CONNS:
        key = next((k for k in mine if mine[k].params.get("conns") == conns and k in theirs), None)
        if key is None:
            judged.append((conns, "not measured", None, None))
            continue
        a, b = mine[key], theirs[key]
        va, vb = a.counters.get(counter), b.counters.get(counter)
        if not va or vb is None:
            judged.append((conns, "not measured", None, None))
            continue
        x = vb / va
        ra, rb = a.range(counter), b.range(counter)
        # Indistinguishable: io_uring's range overlaps the target line's (TARGET × epoll's range).
        if ra and rb and rb[0] <= TARGET * ra[1] and TARGET * ra[0] <= rb[1]:
            verdict = "indistinguishable"
        else:
            verdict = "met" if x <= TARGET else "not met"
        n = smallest_n([a, b])
        if thin(n):   # too few repetitions: the reading is shown, the point decides nothing
            verdict = f"{not_judged(n)}, reading {verdict}"
        judged.append((conns, verdict, x, ra and rb))
    measured = [j for j in judged if j[2] is not None]
    done = [j for j in measured if not j[1].startswith(NOT_JUDGED)]
    detail = "; ".join(f"conns:{c} ×{x:.2f} ({v})" if x is not None else f"conns:{c} not measured"
                       for c, v, x, _ in judged)
    if measured and not done:
        n = min(smallest_n([mine[k], theirs[k]]) for k in mine if k in theirs
                and mine[k].params.get("conns") in TARGET_CONNS)
        return "not judged", (f"Target (server CPU per request at conns {', '.join(map(str, TARGET_CONNS))} at "
                              f"most {TARGET:g}× epoll's): **not judged**: n = {n}: every point measured has "
                              f"fewer than {VERDICT_MIN_N} repetitions ({rt} over {fam.base}, echo closed loop, "
                              f"from these numbers, not a verdict: {detail}).")
    if not done:
        return "not judged", (f"Target: **not judged**: echo at conns {', '.join(map(str, TARGET_CONNS))} was "
                              f"not measured on both {fam.base} and {rt}.")
    verdicts = {v for _, v, _, _ in done}
    overall = ("not met" if "not met" in verdicts else "indistinguishable" if "indistinguishable" in verdicts
               else "met")
    n1 = (" From n = 1 repetitions: no spread was measured, so a single run decides."
          if any(rng is None for _, _, _, rng in done) else "")
    if len(done) < len(measured):
        n1 += (f" Judged on {len(done)} of {len(measured)} connection counts measured: the others have fewer "
               f"than {VERDICT_MIN_N} repetitions.")
    return overall, (f"Target (server CPU per request at conns {', '.join(map(str, TARGET_CONNS))} at most "
                     f"{TARGET:g}× epoll's, from this run): **{overall}** ({rt} over {fam.base}, echo closed "
                     f"loop: {detail}). A connection count is indistinguishable when {rt}'s min–max range "
                     f"overlaps {TARGET:g}× {fam.base}'s.{n1}")


def where_the_time_goes(r, fam, counter="server_cpu_ns_per_req"):
    """Sentences (one per TARGET_CONNS measured on both): server CPU per request, the loop's system
    calls per request and the process's system and user CPU per operation, epoll beside io_uring:
    the measured account of where the time goes when the target is not met."""
    rt = fam.variants.get("io_uring")
    if rt is None or unavailable(r, rt):
        return []
    mine, theirs = _points(r, "echo", fam.base), _points(r, "echo", rt)
    out = []
    for conns in TARGET_CONNS:
        key = next((k for k in mine if mine[k].params.get("conns") == conns and k in theirs), None)
        if key is None:
            continue
        a, b = mine[key], theirs[key]
        parts = []
        for c, what in ((counter, "server CPU per request (ns)"),
                        (SYSCALLS, "system calls per request (the loop's count)"),
                        ("cpu_sys_ns_per_op", "system CPU per request (ns; rusage of this process and its "
                                              "children, the echo client included: the same client for both)"),
                        ("cpu_user_ns_per_op", "user CPU per request (ns; the same)")):
            if c in a.counters and c in b.counters:
                parts.append(f"{what} {fmt(a.counters[c])} → {fmt(b.counters[c])}")
        if not parts:
            continue
        why = ""
        sa, sb = a.counters.get(SYSCALLS), b.counters.get(SYSCALLS)
        ka, kb = a.counters.get("cpu_sys_ns_per_op"), b.counters.get("cpu_sys_ns_per_op")
        if None not in (sa, sb, ka, kb) and sb < sa and kb >= ka:
            why = (" Fewer system calls, yet as much or more system CPU: the kernel does the same work (or more) "
                   "inside fewer calls, so the calls saved did not make the request cheaper.")
        elif None not in (sa, sb, ka, kb) and sb < sa and kb < ka:
            why = " Fewer system calls and less system CPU: the saving is in the kernel."
        out.append(f"conns:{conns}, {fam.base} → {rt}: " + "; ".join(parts) + "." + why)
    return out


# ---- the tables ----------------------------------------------------------------------------------

def _value(p, counter):
    return tables.cell(p, counter) if counter in p.counters else io_workloads.NOT_REPORTED


def workload_table(r, fam, workload, counters):
    """(header, rows, notes) of one workload: a row per params × counter, a column per backend (the
    variants with their ratio to epoll), then syscalls_per_op per backend; None when epoll has none."""
    base = _points(r, workload, fam.base)
    if not base:
        return None
    variants = [(b, rt) for b, rt in fam.variants.items() if not unavailable(r, rt)]
    pts = {b: _points(r, workload, rt) for b, rt in variants}
    notes = tables.Notes()
    rows = []
    for key in sorted(base, key=natural):
        p = base[key]
        for c in counters:
            if c not in p.counters:
                continue
            info = r.counter(c)
            better = {"lower": ", lower is better", "higher": ", higher is better"}.get(info.better, "")
            row = [key, f"{c} ({info.unit or '?'}{better})", _value(p, c)]
            for b, rt in variants:
                q = pts[b].get(key)
                if q is None:
                    row.append(notes.cell(r, workload, rt, p.params, c) if c == counters[0] else
                               f"– ({tables.missing(r, workload, rt, p.params, c)[0]})")
                elif c not in q.counters:
                    row.append(io_workloads.NOT_REPORTED)
                else:
                    x = ratio(r, workload, c, p, q)
                    row.append(_value(q, c) + (f" · {x.text()}" if x else
                                               " · not compared (generator INVALID)" if c == io_workloads.OPEN else ""))
            if c == counters[0]:
                sc = [p] + [pts[b].get(key) for b, _ in variants]
                row.append(" · ".join(fmt(q.counters[SYSCALLS]) if q is not None and SYSCALLS in q.counters else "–"
                                      for q in sc))
            else:
                row.append("")
            rows.append(row)
    if not rows:
        return None
    header = ["params", "counter", f"{BASE} ({fam.base})"] + [f"{b} ({rt}), ×{b}/{BASE}" for b, rt in variants] \
        + [f"{SYSCALLS}: {' · '.join([BASE] + [b for b, _ in variants])}"]
    return header, rows, notes.lines()


def syscalls_sentence(r, fam):
    """The median system calls per operation of each backend over the points all of them measured."""
    per = {}
    for workload, _ in GROUPS:
        by = {b: _points(r, workload, rt) for b, rt in fam.backends.items()}
        common = set.intersection(*(set(k for k, p in v.items() if SYSCALLS in p.counters) for v in by.values()))
        for key in common:
            for b in by:
                per.setdefault(b, []).append(by[b][key].counters[SYSCALLS])
    if not per:
        return None
    n = len(next(iter(per.values())))
    return (f"System calls per operation, counted by the loop itself (its waits: epoll_wait, ppoll, "
            f"io_uring_enter; and the reads, writes and accepts its awaitables try): median over the {n} "
            f"point(s) every backend measured: "
            + ", ".join(f"{b} {fmt(statistics.median(v))}" for b, v in per.items())
            + ". Fewer calls are where a backend saves time; each call's cost differs, so read them beside "
              "the CPU per request.")


def backends_section(doc, r, level=2):
    fams = families(r)
    if not fams:
        return False
    doc.h(level, "Reactor backends: epoll, poll, io_uring")
    for fam in fams:
        names = ", ".join(f"{rt} ({b})" for b, rt in fam.backends.items())
        doc.p(f"One loop, several reactor backends: {names}. They declare the same traits (the same loop and "
              f"awaitables) and differ in the backend their label names; every ratio below is the backend's "
              f"value over {fam.base}'s (epoll) at the same params, from this one run, with the counter's "
              f"direction from the file. Indistinguishable (≈) when the min–max ranges overlap; 'better' or "
              f"'worse' beyond {PICTURE_FACTOR:g}× either way, outside the spread. Where a backend has no "
              f"value, the note under the table gives the harness's reason.")
        missing = {b: unavailable(r, rt) for b, rt in fam.variants.items()}
        for b, why in missing.items():
            if why:
                doc.p(f"**{fam.variants[b]} ({b}) was unavailable on this machine**: {why}. The harness declared "
                      f"every pair of it with that reason, so the tables below have no {b} column.")
            elif fam.variants[b] not in r.runtimes_in_run():
                doc.p(f"{fam.variants[b]} ({b}) was not in this run.")
        verdicts = []
        # io_uring first: the question users ask first; the target follows its verdicts.
        for b in sorted(fam.variants, key=lambda b: b != "io_uring"):
            if missing[b]:
                verdicts.append(f"{b}: **not measured**: {fam.variants[b]} was unavailable on this machine "
                                f"({missing[b]}); nothing of it is compared.")
            else:
                rs = ratios(r, fam, b)
                for workload, _ in GROUPS:
                    if rs.get(workload):
                        verdicts.append(picture(workload, rs[workload], b)[1])
            if b == "io_uring":
                verdicts.append(target(r, fam)[1])
        if "io_uring" not in fam.variants:
            verdicts.append(target(r, fam)[1])
        doc.p("**Verdicts** (computed from the ratios, whichever way they fall):")
        doc.bullets(verdicts)
        if target(r, fam)[0] in ("not met", "indistinguishable"):
            account = where_the_time_goes(r, fam)
            if account:
                doc.p("**Where the time goes** (the target not met: what was measured, epoll → io_uring):")
                doc.bullets(account)
        sentence = syscalls_sentence(r, fam)
        if sentence:
            doc.p(sentence)
        for workload, counters in GROUPS:
            t = workload_table(r, fam, workload, counters)
            if t is None:
                continue
            doc.h(level + 1, f"Backends: {workload}")
            doc.table(*t)
    return True


# ---- the idle-connections curve (charts.py draws it) ------------------------------------------

def idle_curves(r, counter="server_cpu_ns_per_req"):
    """{runtime: [(N idle, value, (min, max) or None)]} of idle_conns, by N."""
    out = {}
    for p in r.points("idle_conns"):
        n = p.params.get("idle")
        if isinstance(n, (int, float)) and counter in p.counters:
            out.setdefault(p.runtime, []).append((n, p.counters[counter], p.range(counter)))
    return {rt: sorted(v) for rt, v in sorted(out.items(), key=lambda kv: r.order_key(kv[0]))}


def idle_sentence(r):
    """poll's cost per request at the largest N over epoll's, and io_uring's, as a sentence, or None."""
    curves = idle_curves(r)
    out = []
    for fam in families(r):
        base = dict((n, v) for n, v, _ in curves.get(fam.base, []))
        for b, rt in fam.variants.items():
            mine = dict((n, v) for n, v, _ in curves.get(rt, []))
            common = sorted(set(base) & set(mine))
            if len(common) >= 1:
                lo, hi = common[0], common[-1]
                out.append(f"{b}: ×{mine[lo] / base[lo]:.2f} of epoll at idle:{lo}, ×{mine[hi] / base[hi]:.2f} "
                           f"at idle:{hi}")
    return "; ".join(out) if out else None
