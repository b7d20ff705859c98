"""Merges the reports of several load generators that drove one server (each
on a host of its own, `cobench_echo_client ... --report-out FILE`) into one
entry, exactly: requests and rates summed, every phase's latency histogram
merged bucket by bucket (the generator's log-linear histogram,
workloads/io/histogram.hpp: percentiles within 0.8%, max exact), validity
the worst of them.

    plots/python.sh bench/merge_generators.py [--name NAME] [--out FILE] REPORT.json...

It prints the entry's counters, one "key: value" a line, and with --out
writes a cobench results file of that one entry, which plots/report.py reads.
The counters have the echo workloads' names: the closed phase's req_per_s,
p50_us ... p999_us, max_us; the open phase's open_req_per_s, open_p50_us ...
(open_rate the offered rates summed); gen_valid (0 if any generator's phase,
or any of its threads', was not valid), gen_late_frac, gen_threads and
generators. A rate is each generator's requests over its own phase time,
summed: the generators run at once, each timing its own phase.

Standard library only. Exit status 0; 1 if the merged entry is not valid
(gen_valid 0: it measured a generator, not the server); 2 for a report it
cannot read, or reports whose phases do not line up (each must have the
same phases).
"""

import argparse
import json
import sys

FORMAT = "cobench-generator-report"
SUB_BITS = 6
SUB_COUNT = 1 << SUB_BITS


def lower(i):
    if i < SUB_COUNT:
        return i
    k = (i - SUB_COUNT) // SUB_COUNT + SUB_BITS
    sub = (i - SUB_COUNT) % SUB_COUNT
    return (SUB_COUNT + sub) << (k - SUB_BITS)


def width(i):
    return 1 if i < SUB_COUNT else 1 << ((i - SUB_COUNT) // SUB_COUNT)


class Histogram:
    """The generator's histogram: bucket index -> count, with the exact min and max."""

    def __init__(self, buckets=None, count=0, lo=None, hi=0):
        self.buckets = dict(buckets or {})
        self.count = count
        self.min = lo
        self.max = hi

    @classmethod
    def from_json(cls, h):
        if h.get("sub_bits") != SUB_BITS:
            raise ValueError(f"histogram with sub_bits {h.get('sub_bits')}, this script reads {SUB_BITS}")
        buckets = {int(i): int(c) for i, c in h["buckets"]}
        if sum(buckets.values()) != h["count"]:
            raise ValueError("histogram: bucket counts do not add up to its count")
        return cls(buckets, h["count"], h["min"] if h["count"] else None, h["max"])

    def merge(self, o):
        for i, c in o.buckets.items():
            self.buckets[i] = self.buckets.get(i, 0) + c
        if o.count:
            self.min = o.min if self.min is None else min(self.min, o.min)
            self.max = max(self.max, o.max)
        self.count += o.count

    def percentile(self, q):
        """As log_histogram::percentile: the nearest-rank value, bucket midpoint clamped to [min, max]."""
        if self.count == 0:
            return 0
        q = min(max(q, 0.0), 1.0)
        want = q * self.count
        rank = int(want)
        if rank < want:
            rank += 1
        rank = min(max(rank, 1), self.count)
        if rank == self.count:
            return self.max
        seen = 0
        for i in sorted(self.buckets):
            seen += self.buckets[i]
            if seen >= rank:
                return min(max(lower(i) + width(i) // 2, self.min), self.max)
        return self.max


def load(path):
    with open(path) as f:
        d = json.load(f)
    if d.get("format") != FORMAT or d.get("version") != 1:
        raise ValueError(f"{path}: not a generator report (--report-out) of version 1")
    return d


def is_open(fields):
    return fields["schedule_ns"] > 0


def merge(reports):
    """One entry's counters from the generators' reports."""
    kinds = [[is_open(p["fields"]) for p in r["phases"]] for r in reports]
    if any(k != kinds[0] for k in kinds):
        raise ValueError("the reports' phases differ (closed/open): merge runs of the same command line")
    out = {"generators": len(reports), "gen_threads": sum(r["thread_count"] for r in reports)}
    valid = True
    for n, open_phase in enumerate(kinds[0]):
        pre = "open_" if open_phase else ""
        h = Histogram()
        rate = requests = errors = mismatches = sent = late = 0
        for r in reports:
            p = r["phases"][n]
            f = p["fields"]
            h.merge(Histogram.from_json(p["histogram"]))
            if f["elapsed_ns"] > 0:
                rate += f["requests"] / (f["elapsed_ns"] / 1e9)
            requests += f["requests"]
            errors += f["errors"]
            mismatches += f["mismatches"]
            sent += f["sent"]
            late += f["late"]
            valid = valid and bool(f["gen_valid"]) and f["threads_invalid"] == 0 and f["errors"] == 0 \
                and f["mismatches"] == 0 and all(t["fields"]["gen_valid"] for t in p["per_thread"])
        if h.count != requests:
            raise ValueError(f"phase {n}: the histograms hold {h.count} latencies for {requests} requests")
        out[pre + "req_per_s"] = rate
        out[pre + "requests"] = requests
        for key, q in (("p50_us", 0.5), ("p90_us", 0.9), ("p99_us", 0.99), ("p999_us", 0.999)):
            out[pre + key] = h.percentile(q) / 1e3
        out[pre + "max_us"] = h.max / 1e3
        out[pre + "errors"] = errors
        out[pre + "mismatches"] = mismatches
        if open_phase:
            out["open_rate"] = sum(r["phases"][n]["fields"]["sent"] * 1e9 / r["phases"][n]["fields"]["schedule_ns"]
                                   for r in reports)
            out["gen_late_frac"] = late / sent if sent else 0.0
    out["gen_valid"] = 1.0 if valid else 0.0
    return out


# Units and directions of the merged counters (as the echo workloads declare
# them); the counts and the validity flag are descriptive.
COUNTER_META = {
    "req_per_s": {"unit": "req/s", "better": "higher"}, "rate": {"unit": "req/s", "better": "none"},
    **{k: {"unit": "us", "better": "lower"} for k in ("p50_us", "p90_us", "p99_us", "p999_us", "max_us")},
    "gen_late_frac": {"unit": "fraction", "better": "none"},
}


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("reports", nargs="+", help="the generators' --report-out files")
    ap.add_argument("--name", default="echo/remote", help="the entry's name (default echo/remote)")
    ap.add_argument("--out", help="write a results-shaped JSON here")
    a = ap.parse_args(argv)
    try:
        reports = [load(p) for p in a.reports]
        counters = merge(reports)
    except (OSError, ValueError, KeyError, TypeError, json.JSONDecodeError) as e:
        print(f"merge_generators: {e}", file=sys.stderr)
        return 2
    name = f"{a.name}/generators:{len(reports)}"
    for k in sorted(counters):
        print(f"{k}: {counters[k]}")  # exact: the latencies are whole ns
    if a.out:
        # A cobench results file (results/README.md) of one entry, so that
        # plots/report.py draws it like any run: the counters' units and
        # directions in context.counters, the run's length as its time.
        elapsed_ms = max(sum(p["fields"]["elapsed_ns"] for p in r["phases"]) for r in reports) / 1e6
        entry = {"name": name, "run_name": name, "run_type": "iteration", "iterations": 1, "repetitions": 1,
                 "repetition_index": 0, "real_time": elapsed_ms, "cpu_time": elapsed_ms, "time_unit": "ms",
                 **{k: float(v) for k, v in counters.items()}}
        meta = {k: COUNTER_META[k.removeprefix("open_")] if k.removeprefix("open_") in COUNTER_META
                else {"unit": "", "better": "none"} for k in counters}
        doc = {"context": {"cobench_schema": 2, "counters": meta, "runtimes": [], "families": [],
                           "merged_from": [{"file": p, "host": r["host"], "port": r["port"],
                                            "thread_count": r["thread_count"]} for p, r in zip(a.reports, reports)]},
               "benchmarks": [entry], "families": [], "declared": []}
        with open(a.out, "w") as f:
            json.dump(doc, f, indent=1, sort_keys=True)
            f.write("\n")
    return 0 if counters["gen_valid"] == 1.0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
