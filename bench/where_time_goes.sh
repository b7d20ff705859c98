#!/usr/bin/env bash
# Where the echo server's time goes: perf samples the server process of our
# coroutine loop and of the Asio yardstick at saturation (a closed loop, one
# request outstanding a connection), user and kernel alike, and a small
# summary of each profile goes into the results file, so the report can show
# it beside a target the loop misses ("Our loop against Asio", plots/yardstick.py).
#
#   bash bench/where_time_goes.sh RESULTS_JSON [--profile quick|full] [--seconds S]
#
# Called by bench/run.sh after the benchmarks. Which runtimes it profiles is
# read from RESULTS_JSON, never named here: the loop is the runtime whose
# traits say a coroutine loop on one thread over the base backend (epoll), the
# yardstick the first of context.references; each only when the run has its
# echo entries. quick profiles conns:100 (about 10 s in all), full conns 10,
# 100 and 1000; any other profile (test, limits) profiles nothing.
#
# How: the server alone, started for this (ours: `cobench serve --runtime NAME
# --tasks C`, the same loop and reactor as the echo entries; Asio's:
# cobench_asio_echo with the listening socket, control and report pipes the
# harness gives it), loaded by the suite's generator by hand (C connections,
# closed loop, no go byte), and `perf record -F 999 -p SERVER` for S seconds
# once the load runs (the generator keeps going past the window, so every
# sample is at saturation). perf's default event on a VM is cpu-clock: self
# time per symbol, kernel symbols included, no call graphs (perf report stays
# well under a second). What it costs: the server shares the machine with the
# generator as in the benchmarks; the sampling itself takes about 1% of a CPU.
#
# Written to RESULTS_JSON (atomically): context.profiles["echo/RT/conns:C"] =
#   {workload, runtime, params, load, tool, server, seconds, samples,
#    server_cpu_frac (the server's CPU seconds per second of the window),
#    kernel_frac, user_frac, epoll_frac (self time in symbols of epoll),
#    top: [{symbol, where: kernel|user, dso, self_frac}] (the 12 largest)}
# or, where a profile could not be taken, {workload, runtime, params, error}:
# perf missing, perf not permitted (kernel.perf_event_paranoid), a server that
# did not start. Syscall counts by name are bench/syscalls.sh's.
#
# Exit status: 0 written (also with errors recorded, or nothing to profile);
# 1 the results file could not be read or written; 2 bad arguments.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
exec plots/python.sh --need json - "$@" <<'PY'
import argparse
import fcntl
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cobench_results.atomic import write_atomic

CONNS = {"quick": (100,), "full": (10, 100, 1000)}
SECONDS = {"quick": 1.5, "full": 4.0}
WARMUP_S = 0.3            # the generator's connections up and the load steady before sampling
FREQ = 999                # samples per second (an odd rate: no lock-step with timer ticks)
TOP = 12
REQUEST = 64              # workloads/echo.hpp's request size
PERF = "perf (Debian package linux-perf)"


def say(msg):
    print(f"where_time_goes: {msg}", file=sys.stderr)


def args_():
    ap = argparse.ArgumentParser(prog="bench/where_time_goes.sh")
    ap.add_argument("results", type=Path)
    ap.add_argument("--profile", default="quick")
    ap.add_argument("--seconds", type=float)
    a = ap.parse_args()
    if a.seconds is not None and not 0.1 <= a.seconds <= 60:
        ap.error("--seconds: 0.1 to 60")
    return a


def subjects(doc):
    """[(runtime, how to start its server)] from the file: our loop, then the yardstick."""
    ctx = doc.get("context", {})
    names = {str(b.get("name", "")).split("/")[1] for b in doc.get("benchmarks", [])
             if str(b.get("name", "")).startswith("echo/") and not b.get("error_occurred")}
    refs = ctx.get("references") if isinstance(ctx.get("references"), dict) else {}
    loops = [rt for rt in ctx.get("runtimes") or [] if isinstance(rt, dict) and rt.get("kind") == "coroutine"
             and rt.get("multi_core") is False and rt.get("name") not in refs]
    loops.sort(key=lambda rt: rt.get("io_backend") != "epoll")   # the base backend first
    out = [(loops[0]["name"], "serve")] if loops and loops[0]["name"] in names else []
    out += [(name, "yardstick") for name in list(refs)[:1] if name in names]
    return out


def binaries():
    cobench = Path(os.environ.get("COBENCH_BIN") or "build/cobench").resolve()
    asio = os.environ.get("COBENCH_ASIO_ECHO_BIN") or str(cobench.parent / "cobench_asio_echo")
    return {"cobench": str(cobench), "client": str(cobench.parent / "cobench_echo_client"), "asio": asio}


def perf_problem(tmp):
    """None, or why perf cannot profile here."""
    if shutil.which("perf") is None:
        return f"{PERF} is not installed"
    r = subprocess.run(["perf", "record", "-q", "-o", str(tmp / "probe.data"), "--", "true"],
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                       timeout=30)
    if r.returncode != 0:
        paranoid = Path("/proc/sys/kernel/perf_event_paranoid")
        level = paranoid.read_text().strip() if paranoid.exists() else "?"
        last = (r.stderr.strip().splitlines() or ["no message"])[-1]
        return f"perf record is not permitted here (kernel.perf_event_paranoid = {level}; run as root): {last}"
    return None


def cpu_seconds(pid):
    """utime + stime of a live process, in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Server:
    """One echo server process, stopped and reaped on exit however the profile went."""

    def __init__(self, kind, runtime, conns, bins):
        self.proc, self.control, self.report = None, None, None
        if kind == "serve":
            self.command = f"cobench serve --runtime {runtime} --tasks {conns}"
            self.proc = subprocess.Popen([bins["cobench"], "serve", "--runtime", runtime, "--tasks", str(conns)],
                                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                         stderr=subprocess.DEVNULL, text=True)
            line = self.proc.stdout.readline()   # "listening 127.0.0.1:PORT"
            m = re.search(r":(\d+)\s*$", line)
            if not m:
                raise RuntimeError(f"cobench serve printed no port ({line.strip() or 'nothing'})")
            self.port = int(m.group(1))
            return
        # The yardstick as the harness starts it (bench/programs/asio_echo/main.cpp): fd 3 the
        # listening socket, fd 4 the control pipe (EOF stops it), fd 5 the report pipe.
        self.command = "cobench_asio_echo"
        if not os.access(bins["asio"], os.X_OK):
            raise RuntimeError(f"the Asio echo server {bins['asio']} is not an executable file")
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.bind(("127.0.0.1", 0))
        listener.listen(4096)
        self.port = listener.getsockname()[1]
        control_r, self.control = os.pipe()
        self.report, report_w = os.pipe()   # open until it exits: its last line must not meet EPIPE
        # Copies above fd 5 first (close-on-exec, as every fd Python makes), so that no dup2 in the
        # child is a no-op that keeps close-on-exec; the child's dup2 makes 3, 4, 5 inheritable.
        high = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10) for fd in (listener.fileno(), control_r, report_w)]

        def fds():
            for i, fd in enumerate(high):
                os.dup2(fd, 3 + i)
        try:
            self.proc = subprocess.Popen([bins["asio"], str(REQUEST), "0"], stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                         preexec_fn=fds, close_fds=False)
        finally:
            for fd in high + [control_r, report_w]:
                os.close(fd)
            listener.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.control is not None:
            os.close(self.control)   # EOF on its control pipe: the yardstick stops
        elif self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        if self.proc is not None:
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            if self.proc.stdout is not None:
                self.proc.stdout.close()
        if self.report is not None:
            os.close(self.report)
        return False


def fold_templates(symbol):
    """C++ template arguments folded to <…> (Asio's handler types run to thousands of characters);
    operator< and operator<< are left alone."""
    out, depth, i = [], 0, 0
    while i < len(symbol):
        ch = symbol[i]
        if symbol.startswith("operator<", i) or symbol.startswith("operator>", i):
            op = re.match(r"operator(<<=|>>=|<<|>>|<=|>=|<|>)", symbol[i:]).group(0)
            if depth == 0:
                out.append(op)
            i += len(op)
            continue
        if ch == "<":
            if depth == 0:
                out.append("<…>")
            depth += 1
        elif ch == ">" and depth > 0:
            depth -= 1
        elif depth == 0:
            out.append(ch)
        i += 1
    return "".join(out)


def parse_report(text):
    """(rows [(self fraction, where, symbol, dso)], kernel, user, epoll) from perf report -t TAB."""
    rows = []
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        parts = [p.strip() for p in line.split("\t")]
        if len(parts) < 2 or not parts[0].endswith("%"):
            continue
        m = re.match(r"\[(.)\]\s*(.*)", parts[1])
        if not m:
            continue
        rows.append((float(parts[0][:-1]) / 100, "kernel" if m.group(1) == "k" else "user", fold_templates(m.group(2)),
                     parts[2] if len(parts) > 2 else ""))
    kernel = sum(f for f, w, _, _ in rows if w == "kernel")
    user = sum(f for f, w, _, _ in rows if w == "user")
    epoll = sum(f for f, _, s, _ in rows if "epoll" in s or s.startswith("ep_"))
    return rows, kernel, user, epoll


def profile(runtime, kind, conns, seconds, bins, tmp):
    data = tmp / f"{runtime}-{conns}.data"
    with Server(kind, runtime, conns, bins) as server:
        gen = subprocess.Popen([bins["client"], "--port", str(server.port), "--conns", str(conns),
                                "--requests", str(10 ** 9 // conns)],
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               text=True)
        try:
            time.sleep(WARMUP_S)
            if gen.poll() is not None:
                raise RuntimeError(f"the generator stopped: {(gen.stderr.read() or '').strip()[:200]}")
            cpu0, t0 = cpu_seconds(server.proc.pid), time.monotonic()
            rec = subprocess.run(["perf", "record", "-q", "-F", str(FREQ), "-p", str(server.proc.pid),
                                  "-o", str(data), "--", "sleep", f"{seconds:g}"],
                                 stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                 text=True, timeout=seconds + 60)
            cpu_frac = (cpu_seconds(server.proc.pid) - cpu0) / (time.monotonic() - t0)
        finally:
            gen.terminate()
            try:
                gen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                gen.kill()
                gen.wait()
    if rec.returncode != 0:
        raise RuntimeError(f"perf record failed: {(rec.stderr.strip().splitlines() or ['no message'])[-1]}")
    rep = subprocess.run(["perf", "report", "-i", str(data), "--stdio", "--sort", "sym,dso", "-t", "\t"],
                         stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)
    # perf prints the count rounded with a suffix ("# Samples: 1K of event ..."), not exactly.
    m = re.search(r"^# Samples: (\d+(?:\.\d+)?)([KMG]?)\b", rep.stdout, re.M)
    rows, kernel, user, epoll = parse_report(rep.stdout)
    if not rows:
        raise RuntimeError(f"perf report found no samples ({(rep.stderr.strip().splitlines() or [''])[-1]})")
    version = subprocess.run(["perf", "--version"], capture_output=True, text=True).stdout.strip()
    return {"load": "closed loop (saturation)", "server": server.command, "seconds": seconds,
            "tool": f"{version}: record -F {FREQ} -p SERVER (cpu-clock where the VM has no PMU), "
                    "report --sort sym,dso (self time)",
            "samples": round(float(m.group(1)) * {"": 1, "K": 1e3, "M": 1e6, "G": 1e9}[m.group(2)]) if m
            else len(rows), "server_cpu_frac": round(cpu_frac, 3),
            "kernel_frac": round(kernel, 4), "user_frac": round(user, 4), "epoll_frac": round(epoll, 4),
            "top": [{"symbol": s, "where": w, "dso": d, "self_frac": round(f, 4)}
                    for f, w, s, d in sorted(rows, key=lambda r: -r[0])[:TOP]]}


def main():
    a = args_()
    if a.profile not in CONNS:
        say(f"profile {a.profile}: nothing to profile (quick and full only)")
        return 0
    try:
        doc = json.loads(a.results.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        say(f"cannot read {a.results}: {e}")
        return 1
    todo = subjects(doc)
    if not todo:
        say("the run has no echo entries of the coroutine loop or the yardstick: nothing to profile")
        return 0
    seconds = a.seconds or SECONDS[a.profile]
    bins = binaries()
    profiles = {}
    t_all = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="cobench-perf-") as tmp:
        tmp = Path(tmp)
        problem = perf_problem(tmp)
        for runtime, kind in todo:
            for conns in CONNS[a.profile]:
                name = f"echo/{runtime}/conns:{conns}"
                head = {"workload": "echo", "runtime": runtime, "params": f"conns:{conns}"}
                try:
                    if problem:
                        raise RuntimeError(problem)
                    profiles[name] = {**head, **profile(runtime, kind, conns, seconds, bins, tmp)}
                    say(f"{name}: {profiles[name]['samples']} samples, kernel "
                        f"{profiles[name]['kernel_frac']:.0%}")
                except (RuntimeError, OSError, subprocess.SubprocessError) as e:
                    profiles[name] = {**head, "error": str(e)}
                    say(f"{name}: not profiled: {e}")
    ctx = doc.setdefault("context", {})
    ctx["profiles"] = {**(ctx.get("profiles") if isinstance(ctx.get("profiles"), dict) else {}), **profiles}
    try:
        write_atomic(a.results, json.dumps(doc, indent=2) + "\n")
    except OSError as e:
        say(f"cannot write {a.results}: {e}")
        return 1
    say(f"{len(profiles)} profile(s) written to {a.results} in {time.monotonic() - t_all:.1f} s")
    return 0


sys.exit(main())
PY
