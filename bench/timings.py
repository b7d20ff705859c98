#!/usr/bin/env python3
"""Keeps bench/timings.json, what cobench estimates a run's length from (bench/estimate.hpp).

    python3 bench/timings.py RESULTS.json [--into bench/timings.json]

Takes a run's results file and stores, for its profile, each entry's wall time per
repetition: families[].entry_walls (the family child's time from one benchmark's report to the
next: set-up, warm-up and every repetition) divided by its repetitions; for an entry that has none
(a reference: the Asio server, the CPython rows, the kernel's benchmark), the timed part of its
repetitions (iterations x real_time), which leaves out their start-up. Each family's own start-up
(its wall time less its entries') is kept apart. Entries and families the file does not have keep
their earlier timings (a filtered run refines only its own); other profiles stay as they were.
The file is replaced atomically. Exit 2 on bad input (a missing or unreadable file, or one without
a profile).
"""

import json
import os
import statistics
import sys
import tempfile

_UNIT_S = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}


def base_name(entry):
    """Our name (workload/runtime/params), without Google Benchmark's suffixes."""
    name = entry.get("run_name", entry["name"])
    for suffix in ("/min_time:", "/min_warmup_time:", "/iterations:", "/repeats:", "/manual_time", "/real_time"):
        i = name.find(suffix)
        if i >= 0:
            name = name[:i]
    return name


def timings(doc):
    ctx = doc.get("context", {})
    walls, starts = {}, {}
    for fam in doc.get("families", []):
        ew = fam.get("entry_walls") or {}
        for name, w in ew.items():
            walls[name] = w["wall_s"] / max(1, w.get("repetitions", 1))
        if fam.get("status") == "ok" and ew:
            starts[fam["runtime"]] = round(max(0.0, fam["wall_s"] - sum(w["wall_s"] for w in ew.values())), 3)
    timed = {}
    for b in doc.get("benchmarks", []):
        if b.get("run_type", "iteration") != "iteration" or b.get("error_occurred"):
            continue
        name = base_name(b)
        if name not in walls:
            timed.setdefault(name, []).append(b["real_time"] * _UNIT_S[b.get("time_unit", "ns")] * b["iterations"])
    per_rep = dict(walls)
    per_rep.update({n: statistics.median(v) for n, v in timed.items()})
    commit = str(ctx.get("git_commit", "?"))[:7]
    measured = (f"a {ctx.get('cobench_profile', '?')} run at {commit} on {ctx.get('date', '?')} "
                f"({ctx.get('num_cpus', '?')} CPUs)")
    return {"measured": measured, "entries": len(per_rep), "family_start_s": starts,
            "per_repetition_s": {n: round(v, 4) for n, v in sorted(per_rep.items())}}


def main(argv):
    args = argv[1:]
    into = os.path.join(os.path.dirname(os.path.abspath(__file__)), "timings.json")
    if "--into" in args:
        i = args.index("--into")
        if i + 1 >= len(args):
            print("timings.py: --into needs a file name", file=sys.stderr)
            return 2
        into = args[i + 1]
        del args[i:i + 2]
    if len(args) != 1:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    try:
        with open(args[0]) as f:
            doc = json.load(f)
    except (OSError, ValueError) as e:
        print(f"timings.py: cannot read {args[0]}: {e}", file=sys.stderr)
        return 2
    ctx = doc.get("context", {})
    profile = ctx.get("cobench_profile")
    if not profile:
        print(f"timings.py: {args[0]} names no profile (context.cobench_profile): not a cobench results file",
              file=sys.stderr)
        return 2
    try:
        with open(into) as f:
            out = json.load(f)
    except FileNotFoundError:
        out = {}
    except ValueError as e:
        print(f"timings.py: {into} is not JSON ({e}); remove it to start anew", file=sys.stderr)
        return 2
    out.setdefault("about", "per profile, each entry's wall time per repetition, from a whole run: "
                            "made by bench/timings.py, read by cobench for its estimate (bench/estimate.hpp)")
    new, old = timings(doc), out.setdefault("profiles", {}).get(profile, {})
    kept = {n: v for n, v in old.get("per_repetition_s", {}).items() if n not in new["per_repetition_s"]}
    new["per_repetition_s"] = dict(sorted({**kept, **new["per_repetition_s"]}.items()))
    new["family_start_s"] = {**old.get("family_start_s", {}), **new["family_start_s"]}
    if kept:
        new["measured"] += f" and earlier runs ({len(kept)} entries)"
    new["entries"] = len(new["per_repetition_s"])
    out["profiles"][profile] = new
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(into)), prefix=".timings.")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(out, f, indent=1, sort_keys=True)
            f.write("\n")
        os.replace(tmp, into)
    except BaseException:
        os.unlink(tmp)
        raise
    t = out["profiles"][profile]
    print(f"timings.py: {profile}: {t['entries']} entries from {t['measured']} -> {into}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
