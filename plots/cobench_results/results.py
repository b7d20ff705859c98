"""One results file in memory: entries, the runtimes' traits, the counters' meaning,
and the two views the tools need (folded points for charts and claims; raw
samples per repetition for the regression gate)."""

import contextlib
import statistics
from dataclasses import dataclass, field

from . import counters as _counters
from . import other_load as _other_load
from .verdict_n import Reads
from .counters import INSTRUCTIONS

_TIME_TO_NS = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}


@dataclass(frozen=True)
class Entry:
    """One benchmark entry as written."""
    name: str
    run_name: str
    workload: str
    runtime: str
    params: dict
    counters: dict                # user counters (finite numbers); real_time/cpu_time are apart
    run_type: str                 # "iteration" or "aggregate"
    aggregate: str = None         # "mean", "median", "stddev", "cv", ... or None
    repetition: int = None
    label: str = ""
    error: str = None             # error_message when error_occurred
    real_time_ns: float = None
    cpu_time_ns: float = None


# Warm-up rule (stated in the report): with at least WARMUP_MIN_N repetitions, the first one is
# a warm-up outlier for a counter when it is worse than the others' median, in the counter's own
# direction (`better`), by more than WARMUP_MAD_FACTOR x their median absolute deviation (MAD) and
# more than WARMUP_MIN_REL of that median. It is then left out of that counter's median and
# min-max, and flagged. A warm-up makes a run slower, never faster: a first repetition better than
# the rest is kept, and a counter without a direction (better = none, or unknown) keeps it too.
WARMUP_MIN_N = 3
WARMUP_MAD_FACTOR = 3.0
WARMUP_MIN_REL = 0.1
WARMUP_RULE = (f"with n >= {WARMUP_MIN_N} repetitions, the first repetition is a warm-up outlier for "
               f"a counter when it is worse than the median of the other repetitions, in that counter's "
               f"own direction (higher or lower is better), by more than {WARMUP_MAD_FACTOR:g} x their "
               f"median absolute deviation and more than {WARMUP_MIN_REL:.0%} of that median; it is then "
               f"left out of that counter's median and min-max, and flagged. A first repetition better "
               f"than the others, or of a counter with no direction, is always kept")


def warmup_outlier(values, better):
    """True when values[0] (the first repetition) is a warm-up outlier by WARMUP_RULE; better is
    the counter's direction ("lower", "higher", or "none"/None: never an outlier)."""
    if len(values) < WARMUP_MIN_N or better not in ("lower", "higher"):
        return False
    first, rest = values[0], values[1:]
    med = statistics.median(rest)
    mad = statistics.median(abs(v - med) for v in rest)
    worse_by = first - med if better == "lower" else med - first
    return worse_by > WARMUP_MAD_FACTOR * mad and worse_by > WARMUP_MIN_REL * abs(med)


@dataclass
class Point:
    """One benchmark (workload, runtime, params) with repetitions folded into one value per counter:
    the median of the repetitions (a warm-up outlier left out, see WARMUP_RULE), with their
    min-max in lo/hi and how many went in (n); from Google Benchmark's median (else mean)
    aggregate where the file has no repetitions."""
    workload: str
    runtime: str
    params: dict
    counters: dict
    spread: dict = field(default_factory=dict)   # stddev per counter, where aggregates gave one
    repetitions: int = 1
    label: str = ""
    lo: dict = field(default_factory=dict)       # min over the repetitions used, per counter
    hi: dict = field(default_factory=dict)       # max over the repetitions used, per counter
    n: dict = field(default_factory=dict)        # repetitions used, per counter
    warmup: dict = field(default_factory=dict)   # counter -> the first repetition's value, left out

    def range(self, counter):
        """(lo, hi) of the repetitions, or None with fewer than two."""
        if self.n.get(counter, 1) < 2 or counter not in self.lo:
            return None
        return self.lo[counter], self.hi[counter]

    def overlaps(self, other, counter):
        """True when both have a min-max range for counter and the two overlap."""
        a, b = self.range(counter), other.range(counter)
        return a is not None and b is not None and a[0] <= b[1] and b[0] <= a[1]


@dataclass
class Samples:
    """The regression gate's view: samples[run_name][metric] -> one value per repetition."""
    samples: dict
    errors: dict                  # run_name -> error message, for runs with no successful repetition
    from_aggregate: set           # run_names known only from an aggregate entry

    def medians(self):
        return {run: {m: statistics.median(v) for m, v in metrics.items()}
                for run, metrics in self.samples.items()}


def _params_key(params):
    return tuple(sorted((k, str(v)) for k, v in params.items()))


def _is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


@dataclass
class Results:
    source: str
    context: dict
    entries: list
    families: list
    declared: list
    schema: int = None            # context.cobench_schema, None for a plain Google Benchmark file
    runtime_list: list = field(default_factory=list)   # Runtime, display order
    loaded: list = field(default_factory=list)   # entries measured beside other work, not in entries
    _points: list = field(default=None, repr=False)
    _reading: list = field(default_factory=list, init=False, repr=False, compare=False)   # open Reads

    # ---- runtimes ---------------------------------------------------------

    @property
    def has_traits(self):
        return any(rt.has_traits for rt in self.runtime_list)

    def runtimes(self):
        """Runtime names in display order (the registry's order where the file has it)."""
        return [rt.name for rt in self.runtime_list]

    def runtimes_in_run(self):
        """Names, in display order, of the runtimes this run touched (entries, families, declared
        pairs); context.runtimes lists every registered runtime, also those not asked for."""
        touched = {e.runtime for e in self.entries + self.loaded}
        touched.update(r["runtime"] for r in self.families + self.declared)
        return [name for name in self.runtimes() if name in touched]

    def runtime(self, name):
        return next((rt for rt in self.runtime_list if rt.name == name), None)

    def order_key(self, name):
        rt = self.runtime(name)
        return (rt.position, "") if rt else (len(self.runtime_list), name)

    def runtimes_where(self, **traits):
        """Names, in display order, of the runtimes whose traits match every keyword."""
        return [rt.name for rt in self.runtime_list
                if rt.has_traits and all(getattr(rt, k) == v for k, v in traits.items())]

    # ---- counters ---------------------------------------------------------

    def counter(self, name):
        """CounterInfo from context.counters, else from the naming rules of older files."""
        meta = self.context.get("counters")
        if isinstance(meta, dict) and name in meta:
            return _counters.from_map(name, meta[name])
        return _counters.by_rule(name)

    # ---- what kind of file ------------------------------------------------

    @property
    def is_instruction_counts(self):
        return (self.context.get("cobench_profile") == "instructions"
                or any(INSTRUCTIONS in e.counters for e in self.entries))

    def failed(self):
        return [e for e in self.entries if e.error is not None]

    def successful(self):
        return [e for e in self.entries if e.error is None]

    def lost_to_load(self, workload, runtime, params=None):
        """Entries of (workload, runtime[, params]) left out as measured beside other work
        (other_load.py); empty for files without the other_load_frac counter."""
        return _other_load.lost(self.loaded, workload, runtime, params)

    def failed_families(self):
        return [f for f in self.families if f.get("status") != "ok"]

    def cpu_count(self):
        for key in ("cpu_count", "num_cpus"):
            try:
                n = int(self.context.get(key))
            except (TypeError, ValueError):
                continue
            if n > 0:
                return n
        return None

    # ---- folded points (charts, claims, report) ----------------------------

    def _fold(self):
        groups = {}
        for e in self.successful():
            groups.setdefault((e.workload, e.runtime, _params_key(e.params)), []).append(e)
        points = []
        for (workload, runtime, _), group in groups.items():
            aggs = {e.aggregate: e for e in group if e.run_type == "aggregate"}
            iters = sorted((e for e in group if e.run_type == "iteration"),
                           key=lambda e: -1 if e.repetition is None else e.repetition)
            counters, lo, hi, n, warm = {}, {}, {}, {}, {}
            if iters:
                # The median resists one disturbed repetition better than the mean.
                for name in dict.fromkeys(c for e in iters for c in e.counters):
                    vals = [e.counters[name] for e in iters if name in e.counters]
                    if warmup_outlier(vals, self.counter(name).better):
                        warm[name], vals = vals[0], vals[1:]
                    counters[name] = statistics.median(vals)
                    lo[name], hi[name], n[name] = min(vals), max(vals), len(vals)
            else:
                chosen = aggs.get("median") or aggs.get("mean")
                if chosen is None:
                    continue  # e.g. only BigO/RMS aggregates: nothing to show
                counters = dict(chosen.counters)
            spread = dict(aggs["stddev"].counters) if "stddev" in aggs else {}
            label = next((e.label for e in iters + list(aggs.values()) if e.label), "")
            points.append(Point(workload, runtime, dict(group[0].params), counters,
                                spread, len(iters) or 1, label, lo, hi, n, warm))
        points.sort(key=lambda p: (p.workload, self.order_key(p.runtime),
                                   sorted(p.params.items(), key=str)))
        return points

    def _all(self, workload=None, runtime=None):
        if self._points is None:
            self._points = self._fold()
        return [p for p in self._points
                if (workload is None or p.workload == workload)
                and (runtime is None or p.runtime == runtime)]

    def _noted(self, points):
        for reads in self._reading:
            reads.note(points)
        return points

    def points(self, workload=None, runtime=None, where=None):
        """The folded points of a workload and/or runtime (and where(point) true, if given); each one
        returned is noted by every open reads()."""
        pts = self._all(workload, runtime)
        return self._noted([p for p in pts if where(p)] if where is not None else pts)

    @contextlib.contextmanager
    def reads(self):
        """with r.reads() as seen: the points handed out inside the block (points(), value(),
        series(), speedups()) are in seen.points, the smallest n over them in seen.n (verdict_n.py)."""
        seen = Reads()
        self._reading.append(seen)
        try:
            yield seen
        finally:
            self._reading.remove(seen)

    def series(self, workload, counter, x_param, where=None):
        """{runtime: [(x, y, (min, max) or None)]} sorted by x, runtimes in display order;
        `where` filters params."""
        out = {}
        for p in self.points(workload):
            if counter not in p.counters or not _is_number(p.params.get(x_param)):
                continue
            if where and any(p.params.get(k) != v for k, v in where.items()):
                continue
            out.setdefault(p.runtime, []).append(
                (p.params[x_param], p.counters[counter], p.range(counter)))
        for pts in out.values():
            pts.sort(key=lambda t: t[0])
        return dict(sorted(out.items(), key=lambda kv: self.order_key(kv[0])))

    def value(self, workload, runtime, counter, **params):
        for p in self._all(workload, runtime):
            if all(p.params.get(k) == v for k, v in params.items()):   # v None: param absent
                if counter in p.counters:
                    self._noted([p])
                    return p.counters[counter]
        return None

    def worker_cpus(self):
        """The CPUs the runtimes' workers default to: context.workers.default (what the worker
        sweep's ideal line bends at), else the machine's CPU count; None when neither is known."""
        workers = self.context.get("workers")
        if isinstance(workers, dict):
            n = workers.get("default")
            if _is_number(n) and n > 0:
                return int(n)
        return self.cpu_count()

    def speedups(self):
        """{runtime: {tasks: speedup}} for cpu_bound; from items_per_second vs tasks:1
        where the speedup counter is absent. Entries of the worker sweep (a workers param) are
        left out: their speed-up is against workers:1, not tasks:1."""
        out = {}
        for p in self._all("cpu_bound"):
            tasks = p.params.get("tasks")
            if not _is_number(tasks) or "workers" in p.params:
                continue
            self._noted([p])   # the worker sweep's points are not read here
            s = p.counters.get("speedup")
            if s is None:
                base = self.value("cpu_bound", p.runtime, "items_per_second", tasks=1)
                ips = p.counters.get("items_per_second")
                if base and ips is not None:
                    s = ips / base
            if s is not None:
                out.setdefault(p.runtime, {})[tasks] = s
        return {r: dict(sorted(v.items())) for r, v in
                sorted(out.items(), key=lambda kv: self.order_key(kv[0]))}

    # ---- raw samples (regression gate, history) ----------------------------

    def samples(self):
        samples, errors, aggregates = {}, {}, {}
        for e in self.entries:
            if e.error is not None:
                errors[e.run_name] = e.error
                continue
            metrics = _metrics(e)
            if e.run_type == "aggregate":
                # Only needed when the run was made with --benchmark_report_aggregates_only.
                if e.aggregate in ("median", "mean"):
                    aggregates.setdefault(e.run_name, {})[e.aggregate] = metrics
                continue
            per_run = samples.setdefault(e.run_name, {})
            for metric, value in metrics.items():
                per_run.setdefault(metric, []).append(value)
        from_aggregate = set()
        for run, by_kind in aggregates.items():
            if run not in samples:
                chosen = by_kind.get("median", by_kind.get("mean"))
                samples[run] = {m: [v] for m, v in chosen.items()}
                from_aggregate.add(run)
        for run in list(errors):
            if run in samples:  # some repetitions succeeded; use those
                del errors[run]
        return Samples(samples, errors, from_aggregate)


def _metrics(entry):
    out = dict(entry.counters)
    if INSTRUCTIONS in out:
        # Under callgrind every timing and rate is of the instrumented run and means nothing.
        return {INSTRUCTIONS: out[INSTRUCTIONS]}
    for key, value in (("real_time", entry.real_time_ns), ("cpu_time", entry.cpu_time_ns)):
        if value is not None:
            out[key] = value
    return out


def time_scale(unit):
    """Factor from a Google Benchmark time_unit to ns, or None for an unknown unit."""
    return _TIME_TO_NS.get(unit)
