"""Report section "Our loop against Asio": the single-threaded coroutine loop judged against the
reference server (context.references, the Boost.Asio yardstick) from one results file, on two
targets, and where a target is missed, where the time goes (perf).

Targets (the named constants below; every verdict computed from the numbers):
- server CPU per request at most ASIO_TARGET × the reference's, at saturation (the closed loop of
  echo/RT/conns:C, server_cpu_ns_per_req) and at each of TARGET_RATES offered (the open loop,
  open_server_cpu_ns_per_req: the echo entries' fixed rate where it is that rate, else the rate
  sweep's echo/RT/conns:C/rate:R), at each of TARGET_CONNS;
- system calls per request at most the reference's: echo_syscalls/RT/conns:C (syscalls_per_req,
  counted by strace on the server alone, bench/syscalls.sh), the loop's in-process count
  (syscalls_per_req on its echo entries) shown beside, not judged against a count of another method.

Per point: met (ratio ≤ target, ranges apart), missed (above), tie (the min–max ranges of the
repetitions overlap: inside the run-to-run spread), not judged (a side not measured, the
generator behind its schedule, so the rate was not offered, or rates that differ, or fewer than
VERDICT_MIN_N repetitions on a side: "n = k", with the ratio it would rest on), each with why.

Where the time goes: context.profiles["echo/RT/conns:C"] (bench/where_time_goes.sh: perf on the
server at saturation; its top symbols by self time, kernel and user shares), shown for the loop and
the reference beside a missed target, or why there is none.

Which runtime is "our loop" is read from the traits: kind coroutine on one thread (multi_core
false), not a reference, the base I/O backend (epoll) first where the file names backends.
section(doc, r, level) is echo's presentation entry's section; has_yardstick(r) says whether the
file has its data.
"""

import math
from dataclasses import dataclass

import io_workloads
import reactor_backends
import rowsets
from cobench_results import VERDICT_MIN_N, fmt, human, smallest_n, thin
from tables import natural, params_text

ASIO_TARGET = 1.0             # our loop's server CPU per request over the reference's: at most this
SYSCALLS_TARGET = 1.0         # our loop's system calls per request over the reference's: at most this
RATE_MATCH = 0.01             # two offered rates within 1% are the same load
TARGET_RATES = (10000, 50000)   # offered loads (req/s) judged besides saturation
TARGET_CONNS = (10, 100, 1000)
THRESHOLDS = [
    ("ASIO_TARGET", ASIO_TARGET, "yardstick: target for our loop's server CPU per request over Asio's, at "
                                 "saturation and at each offered rate of TARGET_RATES"),
    ("SYSCALLS_TARGET", SYSCALLS_TARGET, "yardstick: target for our loop's system calls per request over "
                                         "Asio's (both counted by strace on the server)"),
    ("RATE_MATCH", RATE_MATCH, "yardstick: two offered rates this close (as a fraction) are the same load"),
]

MET, MISSED, TIE, NOT_JUDGED = "met", "missed", "tie", "not judged"
CLOSED = "server_cpu_ns_per_req"
OPEN = io_workloads.OPEN
SYSCALLS = "syscalls_per_req"
SYSCALL_WORKLOAD = "echo_syscalls"
SYSCALL_DETAIL = (("epoll_ctl_per_req", "epoll_ctl"), ("epoll_wait_per_req", "epoll_wait"),
                  ("io_per_req", "read/write"))
SATURATION = "closed loop (saturation)"
TOP_SHOWN = 8                 # symbols of each profile shown


# ---- who is compared -------------------------------------------------------------------------------

def our_loop(r):
    """The coroutine loop on one thread (by traits), the base backend first; None without one."""
    names = [rt for rt in r.runtimes_where(kind="coroutine", multi_core=False) if not io_workloads.is_reference(r, rt)]
    names.sort(key=lambda rt: reactor_backends.backend_of(r, rt) not in (None, reactor_backends.BASE))
    return names[0] if names else None


def reference(r):
    """The first reference with echo or echo_syscalls entries, or None. An interpreter's
    yardsticks (the CPython rows) are left out: the targets compare our loop with a
    compiled event loop of the same design, not with another language's."""
    skip = rowsets.interpreted(r)
    return next((rt for rt in io_workloads.references(r) if rt not in skip
                 and (r.points("echo", rt) or r.points(SYSCALL_WORKLOAD, rt))), None)


def possessive(name):
    """The name with an apostrophe, and an s unless it ends in one."""
    return name + ("'" if name.endswith("s") else "'s")


def display(name):
    """'asio' -> 'Asio': a yardstick's name as a section title says it."""
    return name[:1].upper() + name[1:]


# ---- points and verdicts ---------------------------------------------------------------------------

@dataclass
class Verdict:
    word: str           # MET, MISSED, TIE, NOT_JUDGED
    ratio: float = None
    lo: float = None    # the ratio's range over the repetitions: ours lo / theirs hi ...
    hi: float = None    # ... ours hi / theirs lo
    why: str = ""
    n: int = None       # where not judged for too few repetitions: the smallest n of the two points

    def text(self):
        if self.word == NOT_JUDGED:
            return f"**{NOT_JUDGED}**: {self.why}"
        spread = f" ({self.lo:.2f}–{self.hi:.2f})" if self.lo is not None else ", no spread (n=1)"
        return f"**{self.word}**: ×{self.ratio:.2f}{spread}" + (", ranges overlap" if self.word == TIE else "")


def judge(a, b, counter, target):
    """Verdict of a (ours) over b (the reference) on one counter, lower is better."""
    va, vb = a.counters.get(counter), b.counters.get(counter)
    if va is None or vb is None:
        return Verdict(NOT_JUDGED, why=f"no {counter} in " + " and ".join(
            side for side, v in (("ours", va), ("the reference's", vb)) if v is None) + " entry")
    if vb <= 0:
        return Verdict(NOT_JUDGED, why=f"the reference's {counter} is {fmt(vb)}")
    ra, rb = a.range(counter), b.range(counter)
    lo, hi = (ra[0] / rb[1], ra[1] / rb[0]) if ra and rb and rb[0] > 0 else (None, None)
    ratio = va / vb
    word = TIE if a.overlaps(b, counter) else MET if ratio <= target else MISSED
    n = smallest_n([a, b])
    if thin(n):
        spread = f" ({lo:.2f}–{hi:.2f})" if lo is not None else ""
        return Verdict(NOT_JUDGED, ratio, lo, hi, n=n,
                       why=f"n = {n}, below the {VERDICT_MIN_N} repetitions a target point needs; from these "
                           f"numbers: ×{ratio:.2f}{spread}, {word}: not a verdict")
    return Verdict(word, ratio, lo, hi)


@dataclass
class Row:
    load: str           # SATURATION or "open loop, 10.0k req/s"
    rate: float         # None at saturation
    conns: int
    ours: object        # Point or None
    ref: object         # Point or None
    counter: str
    verdict: Verdict


def _conns(p):
    c = p.params.get("conns")
    return c if isinstance(c, (int, float)) and not isinstance(c, bool) else None


def _same_rate(a, b):
    return a is not None and b is not None and abs(a - b) <= RATE_MATCH * max(a, b)


def at_load(r, runtime, conns, rate):
    """(point, counter) of a runtime at conns and an offered rate (None: saturation), or (None, None).
    An open rate is the echo entry's fixed one where it matches (more repetitions), else the sweep's."""
    pts = [p for p in r.points("echo", runtime) if _conns(p) == conns]
    if rate is None:
        p = next((p for p in pts if "rate" not in p.params and CLOSED in p.counters), None)
        return (p, CLOSED) if p else (None, None)
    fixed = [p for p in pts if "rate" not in p.params and _same_rate(p.counters.get("open_rate"), rate)]
    sweep = [p for p in pts if "rate" in p.params and _same_rate(p.counters.get("open_rate", p.params["rate"]), rate)]
    p = next((p for p in fixed + sweep if OPEN in p.counters), None)
    return (p, OPEN) if p else (None, None)


def _missing(runtime, load):
    return f"{runtime} was not measured at {load} in this run"


def _invalid(r, p, who):
    late = p.counters.get("gen_late_frac")
    return (f"the generator fell behind its schedule for {who}"
            + (f" (late {late:.1%})" if late is not None else "")
            + f": the rate was not offered on this machine ({r.cpu_count() or '?'} CPUs), so the point "
              "measures the generator, not the server")


def cpu_rows(r, ours, ref):
    """Row per load (saturation, then TARGET_RATES) × TARGET_CONNS."""
    rows = []
    for rate in (None, *TARGET_RATES):
        load = SATURATION if rate is None else f"open loop, {human(rate, 'req/s')}"
        for c in TARGET_CONNS:
            a, ca = at_load(r, ours, c, rate)
            b, cb = at_load(r, ref, c, rate)
            if a is None or b is None:
                why = "; ".join(_missing(rt, f"{load}, conns:{c}") for rt, p in ((ours, a), (ref, b)) if p is None)
                v = Verdict(NOT_JUDGED, why=why)
            elif rate is not None and not (io_workloads.is_valid(a) and io_workloads.is_valid(b)):
                v = Verdict(NOT_JUDGED, why="; ".join(_invalid(r, p, rt) for rt, p in ((ours, a), (ref, b))
                                                      if not io_workloads.is_valid(p)))
            else:
                v = judge(a, b, ca, ASIO_TARGET)
            rows.append(Row(load, rate, c, a, b, ca or cb or (CLOSED if rate is None else OPEN), v))
    return rows


def syscall_rows(r, ours, ref):
    """[(conns, ours Point, ref Point, Verdict)] from echo_syscalls at every conns either measured."""
    mine = {_conns(p): p for p in r.points(SYSCALL_WORKLOAD, ours) if SYSCALLS in p.counters}
    theirs = {_conns(p): p for p in r.points(SYSCALL_WORKLOAD, ref) if SYSCALLS in p.counters}
    out = []
    for c in sorted(set(mine) | set(theirs), key=lambda c: (c is None, c or 0)):
        a, b = mine.get(c), theirs.get(c)
        if a is None or b is None:
            v = Verdict(NOT_JUDGED, why=f"{ours if a is None else ref} has no {SYSCALL_WORKLOAD} entry at conns:{c}")
        else:
            v = judge(a, b, SYSCALLS, SYSCALLS_TARGET)
        out.append((c, a, b, v))
    return out


def overall(verdicts):
    """One word for a target over its points: missed anywhere → missed; else met where something
    was met; tie where every judged point is a tie; not judged where nothing was judged."""
    words = [v.word for v in verdicts]
    if MISSED in words:
        return MISSED
    if MET in words:
        return MET
    return TIE if TIE in words else NOT_JUDGED


def _where(row):
    return f"{'saturation' if row.rate is None else human(row.rate, 'req/s')} conns:{row.conns}"


def summary(name, verdicts, where):
    """One sentence: the target's verdict and how many points each way. A point with too few
    repetitions (Verdict.n) is not judged; the target is judged on the others, and where every
    measured point is so, says "not judged: n = k"."""
    word = overall(verdicts)
    thin_ns = [v.n for v in verdicts if v.n is not None]
    said = f"**{word}**" + (f": n = {min(thin_ns)}" if word == NOT_JUDGED and thin_ns else "")
    counts = {w: [where[i] for i, v in enumerate(verdicts) if v.word == w] for w in (MET, MISSED, TIE, NOT_JUDGED)}
    parts = [f"{w} at {len(counts[w])}" + (f" ({', '.join(counts[w])})" if w != MET else "")
             for w in (MISSED, MET, TIE, NOT_JUDGED) if counts[w]]
    if thin_ns:
        rest = len(verdicts) - len(counts[NOT_JUDGED])
        parts.append(f"{len(thin_ns)} of those not judged for fewer than {VERDICT_MIN_N} repetitions (as few "
                     f"as n = {min(thin_ns)})" + (f", so the target rests on the other {rest}" if rest else ""))
    return f"Target \"{name}\": {said}. Of {len(verdicts)} points: " + "; ".join(parts) + "."


# ---- where the time goes --------------------------------------------------------------------------

def profiles(r):
    """{(runtime, conns): profile dict} from context.profiles (bench/where_time_goes.sh)."""
    raw = r.context.get("profiles")
    out = {}
    for key, p in (raw.items() if isinstance(raw, dict) else ()):
        if not isinstance(p, dict):
            continue
        parts = key.split("/")
        rt = p.get("runtime") or (parts[1] if len(parts) > 1 else None)
        params = str(p.get("params") or "/".join(parts[2:]))
        conns = next((int(x[6:]) for x in params.split("/") if x.startswith("conns:") and x[6:].isdigit()), None)
        if rt is not None:
            out[(rt, conns)] = p
    return out


def nearest_profile(profs, runtime, conns):
    """(the profile of runtime nearest to conns on a log scale, its conns), or (None, None)."""
    mine = [(c, p) for (rt, c), p in profs.items() if rt == runtime]
    if not mine:
        return None, None
    c, p = min(mine, key=lambda cp: (abs(math.log((cp[0] or 1) / conns)), cp[0] or 0))
    return p, c


def _short(symbol, most=90):
    """A symbol cut to `most` characters (bench/where_time_goes.sh already folds template arguments)."""
    symbol = str(symbol)
    return symbol if len(symbol) <= most else symbol[:most - 1] + "…"


def _pct(v):
    return "–" if v is None else f"{v:.1%}"


def profile_line(runtime, p, c):
    if p is None:
        return f"{runtime}: no profile in this file"
    if "error" in p:
        return f"{runtime} (conns:{c}): not profiled: {p['error']}"
    return (f"{runtime} (conns:{c}, {p.get('load', SATURATION)}, {p.get('samples', '?')} samples over "
            f"{fmt(p.get('seconds'))} s, server busy {_pct(p.get('server_cpu_frac'))} of a CPU): kernel "
            f"{_pct(p.get('kernel_frac'))}, user {_pct(p.get('user_frac'))}, in epoll symbols "
            f"{_pct(p.get('epoll_frac'))}")


def profile_table(ours, pa, ref, pb):
    """Top symbols side by side: rank, ours, theirs."""
    ta = (pa or {}).get("top") or []
    tb = (pb or {}).get("top") or []
    rows = []
    for i in range(min(TOP_SHOWN, max(len(ta), len(tb)))):
        cells = [str(i + 1)]
        for top in (ta, tb):
            if i < len(top):
                s = top[i]
                cells += [f"`{_short(s.get('symbol', '?'))}` ({s.get('where', '?')})", _pct(s.get("self_frac"))]
            else:
                cells += ["", ""]
        rows.append(cells)
    return ["#", f"{ours}: symbol", "self", f"{ref}: symbol", "self"], rows


def contrast(ours, pa, ref, pb):
    """A computed sentence on the shares, or None when either profile is missing."""
    if not pa or not pb or "error" in pa or "error" in pb:
        return None
    parts = []
    for key, what in (("kernel_frac", "in the kernel"), ("user_frac", "in user space"),
                      ("epoll_frac", "in epoll symbols")):
        a, b = pa.get(key), pb.get(key)
        if a is not None and b is not None:
            parts.append(f"{_pct(a)} of {possessive(ours)} samples {what} against {_pct(b)} of {possessive(ref)}")
    names_a = {s.get("symbol") for s in pa.get("top") or []}
    names_b = {s.get("symbol") for s in pb.get("top") or []}
    only = [s for s in (pa.get("top") or [])[:TOP_SHOWN] if s.get("symbol") not in names_b]
    text = "; ".join(parts)
    if only and names_b:
        text += (f". In {possessive(ours)} top symbols and not in {possessive(ref)}: "
                 + ", ".join(f"`{_short(s['symbol'])}` {_pct(s.get('self_frac'))}" for s in only[:4]))
    return text + "." if text else None


def where_time_goes(doc, r, ours, ref, missed_conns, level):
    """perf of the loop and the reference at each conns where a target was missed."""
    doc.h(level, "Where the time goes (perf)")
    profs = profiles(r)
    if not profs:
        doc.p("No perf profile in this file: bench/where_time_goes.sh adds them (bench/run.sh runs it after "
              "the quick and full profiles; it needs perf, Debian package linux-perf, and the permission "
              "to use it). Without one the report cannot say where the time goes.")
        return
    doc.p("perf on the server process alone at saturation (closed loop), user and kernel, self time per "
          "symbol (bench/where_time_goes.sh). The profile shown is the one nearest each missed point's "
          "connection count; a profile is taken at saturation, so at an offered rate it shows where the "
          "loop's cost lies, not that rate's mix.")
    shown = set()
    for c in missed_conns:
        pa, ca = nearest_profile(profs, ours, c)
        pb, cb = nearest_profile(profs, ref, c)
        key = (ca, cb)
        if key in shown:
            continue
        shown.add(key)
        doc.p(f"**Missed at conns:{c}**" + (f" (profiles at conns:{ca})" if ca not in (None, c) else "") + ":")
        doc.bullets([profile_line(ours, pa, ca), profile_line(ref, pb, cb)])
        sentence = contrast(ours, pa, ref, pb)
        if sentence:
            doc.p(sentence)
        if (pa and pa.get("top")) or (pb and pb.get("top")):
            header, rows = profile_table(ours, pa, ref, pb)
            doc.table(header, rows, [pa.get("tool")] if pa and pa.get("tool") else [])


# ---- the section -----------------------------------------------------------------------------------

def has_yardstick(r):
    """True when the file has echo or echo_syscalls entries of both our loop and a reference."""
    ours, ref = our_loop(r), reference(r)
    return bool(ours and ref and any(r.points(w, ours) and r.points(w, ref) for w in ("echo", SYSCALL_WORKLOAD)))


def _value(p, counter):
    if p is None:
        return "– (not measured)"
    if counter not in p.counters:
        return "– (not reported)"
    text = human(p.counters[counter], "ns")
    rng = p.range(counter)
    if rng and rng[0] != rng[1]:
        text += f" ({human(rng[0], 'ns')}–{human(rng[1], 'ns')}, n={p.n.get(counter)})"
    if not io_workloads.is_valid(p) and counter == OPEN:
        text += f" ({io_workloads.INVALID})"
    return text


def _count(p, counter):
    if p is None:
        return "– (not measured)"
    v = p.counters.get(counter)
    if v is None:
        return "– (not counted)"
    rng = p.range(counter)
    return fmt(v) + (f" ({fmt(rng[0])}–{fmt(rng[1])})" if rng and rng[0] != rng[1] else "")


def section(doc, r, level=2):
    """Our loop against the reference: server CPU and system calls per request, verdicts, perf."""
    if not has_yardstick(r):
        return False
    ours, ref = our_loop(r), reference(r)
    label = io_workloads.references(r).get(ref, {}).get("label")
    doc.h(level, f"Our loop against {display(ref)}")
    doc.p(f"{ours} (the coroutine loop on one thread, by its traits) against {ref} "
          f"({label or 'a reference server'}), from this one run, on the same generator and counters. "
          f"Targets: server CPU per request at most {ASIO_TARGET:.1f}× {possessive(ref)} at saturation and at "
          + " and ".join(human(x, "req/s") for x in TARGET_RATES)
          + f" offered, at {', '.join(map(str, TARGET_CONNS))} connections; system calls per request at "
            f"most {possessive(ref)}. A point is **{MET}** or **{MISSED}** by its ratio, a **{TIE}** where the "
            f"min–max ranges of the repetitions overlap, **{NOT_JUDGED}** (with why) where a side was not "
            f"measured, the generator could not offer the rate, or a side has fewer than {VERDICT_MIN_N} "
            "repetitions (n = k).")
    rows = cpu_rows(r, ours, ref)
    syscalls = syscall_rows(r, ours, ref)
    doc.p(summary(f"server CPU/request ≤ {ASIO_TARGET:.1f}× {ref}", [x.verdict for x in rows],
                  [_where(x) for x in rows]))
    if syscalls:
        doc.p(summary(f"syscalls/request ≤ {ref}", [v for _, _, _, v in syscalls],
                      [f"conns:{c}" for c, _, _, _ in syscalls]))
    else:
        doc.p(f"Target \"syscalls/request ≤ {ref}\": **{NOT_JUDGED}**: no {SYSCALL_WORKLOAD} entries in this "
              "file (bench/syscalls.sh counts both servers' system calls with strace).")
    doc.table(["load", "conns", f"{ours} server CPU / req", f"{ref} server CPU / req",
               f"{ours} / {ref} (min–max)", f"{ours} syscalls / req (in-process)"],
              [[x.load, str(x.conns), _value(x.ours, x.counter), _value(x.ref, x.counter),
                x.verdict.text(), _count(x.ours, SYSCALLS)] for x in rows],
              [f"Server CPU per request: {CLOSED} at saturation, {OPEN} at an offered rate (the echo entry's "
               "fixed rate where it is that rate, else the rate sweep's entry). The ratio's range is ours "
               "min / theirs max to ours max / theirs min.",
               f"In-process: the loop's own count of its system calls ({SYSCALLS} on its echo entries), "
               "beside, not judged: strace's count below is the one both servers share."])
    if syscalls:
        detail = [(counter, what) for counter, what in SYSCALL_DETAIL
                  if any(counter in p.counters for _, a, b, _ in syscalls for p in (a, b) if p is not None)]
        params = sorted({params_text(rest) for _, a, b, _ in syscalls for p in (a, b) if p is not None
                         for rest in [{k: v for k, v in p.params.items() if k != "conns"}] if rest}, key=natural)
        doc.p(f"**System calls per request**, counted by strace on the server alone ({SYSCALL_WORKLOAD}"
              + (f", {', '.join(params)}" if params else "") + "), with the loop's in-process count at "
              "saturation beside:")
        body = []
        for c, a, b, v in syscalls:
            closed, _ = at_load(r, ours, c, None) if c is not None else (None, None)
            body.append([str(c), _count(a, SYSCALLS), _count(b, SYSCALLS)]
                        + [f"{_count(a, k)} · {_count(b, k)}" for k, _ in detail]
                        + [_count(closed, SYSCALLS), v.text()])
        doc.table(["conns", f"{ours}", f"{ref}"] + [f"{what} / req ({ours} · {ref})" for _, what in detail]
                  + [f"{ours} in-process", f"{ours} / {ref}"], body)
    missed = sorted({x.conns for x in rows if x.verdict.word == MISSED}
                    | {c for c, _, _, v in syscalls if v.word == MISSED and c is not None})
    if missed:
        where_time_goes(doc, r, ours, ref, missed, level + 1)
    return True
