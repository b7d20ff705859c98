#!/usr/bin/python3
"""cobench_py: the CPython yardstick rows of cobench.

The same workloads as the C++ runtimes (workloads/*.hpp: names, params,
counters, each with a verify of its result), written the way Python's own
documentation writes them, on Debian 12's python3 (3.11) with the standard
library, python3-gevent and python3-uvloop. No C extension of ours, nothing
from the Python package index. A reader who thinks a row is slow can read
its short files: runtimes/<runtime>_rt.py and workloads/<workload>.py.

Runtimes (runtimes/): py_multiprocessing (a Process a task, fork),
py_threading (a Thread a task), py_threadpool (ThreadPoolExecutor),
py_gevent (greenlets), py_asyncio (asyncio's default loop), py_uvloop
(asyncio on uvloop). A runtime whose module is missing is declared with the
reason; COBENCH_PY_HIDE=gevent,uvloop treats those modules as missing.
Every runtime's traits carry interpreter_lock (the GIL) and yardstick.

Usage (run with /usr/bin/python3; progress on stderr):
  cobench_py.py list --profile P [--filter RE] [--runtimes a,b]
      one JSON object: interpreter, runtimes (traits, availability), entries,
      declared pairs with reasons, counters (unit, better)
  cobench_py.py run --profile P [--filter RE] [--runtimes a,b] [--repetitions N]
      one JSON object a line, a repetition of an entry, shaped as the C++
      suite's Google Benchmark entries ("reference": true), or
      {"name", "error_occurred": true, "error_message"} for an entry that failed.
      Each runtime runs in a process of its own (as the C++ families do).
  cobench_py.py serve RUNTIME REQUEST_BYTES UPSTREAM_US
      the runtime's echo server on fd 3 (listener), 4 (control), 5 (report):
      echo_server.py and workloads/io/server_program.hpp say the protocol.
Profiles: test (tiny, for the tests), quick (fits its budget), full; ci is
quick, limits has no entries. --filter is re.search on WORKLOAD/RUNTIME/PARAMS.

Echo servers (`serve`), each a runtime's idiomatic one: py_threading, a
thread a connection (socketserver.ThreadingTCPServer's model);
py_threadpool, each connection submitted to a ThreadPoolExecutor sized past
the connections (a blocking handler holds its worker for the connection's
life); py_multiprocessing, a process forked a connection
(ForkingTCPServer's model: the rig opens every connection before it sends,
so a fixed pool of one-connection workers would leave some unserved), the
children's CPU in the report; py_gevent, gevent.server.StreamServer;
py_asyncio and py_uvloop, asyncio.start_server with streams (readexactly,
write, drain), as the asyncio docs' echo server. UPSTREAM_US waits in the
runtime's own sleep.

Exit status: 0 ok (every entry succeeded); 1 a failure (an entry errored,
or a runtime's process failed, or `serve` could not serve); 2 bad usage.

Files: harness.py (plan, measure, rows), runtimes/ (one a runtime, base.py
the interface), workloads/ (one a workload), echo_server.py (the protocol).
"""

import argparse
import json
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
import runtimes  # noqa: E402
from runtimes.base import interpreter  # noqa: E402

PROFILES = ("test", "quick", "full", "ci", "limits")


class Usage(Exception):
    pass


class Parser(argparse.ArgumentParser):
    def error(self, message):
        raise Usage(message)


def parse(argv):
    ap = Parser(prog="cobench_py.py", description="The CPython yardstick rows of cobench.")
    sub = ap.add_subparsers(dest="command", required=True)
    for cmd in ("list", "run"):
        c = sub.add_parser(cmd)
        c.add_argument("--profile", required=True, choices=PROFILES)
        c.add_argument("--filter", default="")
        c.add_argument("--runtimes", default="")
        if cmd == "run":
            c.add_argument("--repetitions", type=int, default=1)
            c.add_argument("--in-process", action="store_true", help=argparse.SUPPRESS)
    s = sub.add_parser("serve")
    s.add_argument("runtime")
    s.add_argument("request_bytes", type=int)
    s.add_argument("upstream_us", type=int)
    a = ap.parse_args(argv)
    if a.command == "serve":
        if a.runtime not in runtimes.BY_NAME:
            raise Usage(f"unknown runtime '{a.runtime}' (known: {', '.join(runtimes.BY_NAME)})")
        if not 1 <= a.request_bytes <= 1 << 20 or not 0 <= a.upstream_us <= 100_000_000:
            raise Usage("REQUEST_BYTES must be 1..1048576 and UPSTREAM_US 0..100000000")
        return a
    try:
        a.selects = harness.name_filter(a.filter)
    except re.error as e:
        raise Usage(f"--filter '{a.filter}' is not a regular expression: {e}")
    names = [n for n in a.runtimes.split(",")] if a.runtimes else list(runtimes.BY_NAME)
    for n in names:
        if n not in runtimes.BY_NAME:
            raise Usage(f"--runtimes: unknown runtime '{n}' (known: {', '.join(runtimes.BY_NAME)})")
    a.rts = [rt for rt in runtimes.ALL if rt.name in names]
    if a.command == "run" and a.repetitions < 1:
        raise Usage("--repetitions must be at least 1")
    return a


def do_list(a):
    rts = []
    for rt in a.rts:
        ok, info = rt.available()
        d = {"name": rt.name, "label": rt.label, "available": ok, "module_version": info if ok else "",
             "traits": rt.traits()}
        if not ok:
            d["reason"] = info
        rts.append(d)
    entries, declared = harness.plan(a.profile, a.rts, a.selects)
    out = {"interpreter": interpreter(), "profile": a.profile, "runtimes": rts,
           "entries": [{"name": harness.entry_name(w, rt, p), "workload": w.NAME, "runtime": rt.name,
                        "params": p.label()} for w, rt, p in entries],
           "declared": declared, "counters": harness.counters_meta()}
    json.dump(out, sys.stdout, indent=1)
    sys.stdout.write("\n")
    return 0


def do_run(a):
    available = []
    for rt in a.rts:
        ok, why = rt.available()
        if ok:
            available.append(rt)
        else:
            print(f"cobench_py: {rt.name}: declared: {why}", file=sys.stderr)
    if a.in_process or len(available) == 1:
        return 0 if all(harness.run_runtime(rt, a.profile, a.selects, a.repetitions) for rt in available) else 1
    status = 0
    for rt in available:  # a process a runtime: no pool, loop or child of one is left for the next
        entries, _ = harness.plan(a.profile, [rt], a.selects)
        if not entries:
            continue
        seen = set()
        with subprocess.Popen([sys.executable, os.path.abspath(__file__), "run", "--profile", a.profile, "--filter",
                               a.filter, "--runtimes", rt.name, "--repetitions", str(a.repetitions), "--in-process"],
                              stdout=subprocess.PIPE, text=True) as child:
            for line in child.stdout:
                sys.stdout.write(line)
                sys.stdout.flush()
                seen.add(json.loads(line)["name"])
        if child.returncode != 0:
            print(f"cobench_py: {rt.name}: exit status {child.returncode}", file=sys.stderr)
            status = 1
            for w, _, p in entries:  # what a crash left unrun is an error, not a gap
                name = harness.entry_name(w, rt, p)
                if name not in seen:
                    sys.stdout.write(harness.json_line(harness.error_row(
                        name, f"the runtime's process exited with status {child.returncode} before this entry ran")))
    return status


def do_serve(a):
    rt = runtimes.BY_NAME[a.runtime]
    ok, why = rt.available()
    if not ok:
        print(f"cobench_py: {rt.name} cannot serve: {why}", file=sys.stderr)
        return 1
    return rt.serve(a.request_bytes, a.upstream_us / 1e6, 4)


def main(argv):
    try:
        a = parse(argv)
    except Usage as e:
        print(f"cobench_py: {e}\n(cobench_py.py list|run --profile P ..., or serve RUNTIME REQUEST_BYTES "
              f"UPSTREAM_US; see the head of {__file__})", file=sys.stderr)
        return 2
    try:
        return {"list": do_list, "run": do_run, "serve": do_serve}[a.command](a)
    except BrokenPipeError:  # stdout closed (`| head`): nobody reads the rest
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
