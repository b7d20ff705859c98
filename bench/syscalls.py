"""System calls per request of the echo servers, counted by the kernel's
tracing: Boost.Asio's yardstick (cobench_asio_echo) and our coroutine loop
over epoll (`cobench serve --runtime NAME`, NAME the runtime whose traits in
the results' context.runtimes say io_backend "epoll": coroutines), served at
saturation (the echo
generator's closed loop, one 64-byte request outstanding a connection) at
conns 10, 100, 1000. A benchmark step, not a test: bench/run.sh runs it after
the benchmarks and before the report (bench/syscalls.sh), and it adds its
entries to that run's results file.

    plots/python.sh bench/syscalls.py RESULTS.json [--profile quick|full|test]
                    [--bin-dir DIR] [--conns C,C,..] [--requests N]
                    [--repetitions N] [--tracer auto|strace|perf]

Per server and connection count: the server starts, the generator (not
traced) connects every connection and waits for its go byte; once the server
holds them all, the tracer attaches to the server process (every thread),
the go byte starts the closed loop, and when the generator has reported, the
tracer detaches and writes its table. So the count spans the requests and
the connections' end (each connection's EOF read and close, which the
generator's exit causes before its report arrives), not the server's start
nor its accepts. Per request served:

    syscalls_per_req    every system call of the server
    epoll_ctl_per_req   epoll_ctl
    epoll_wait_per_req  epoll_wait, epoll_pwait, epoll_pwait2
    io_per_req          read, write, readv, writev, recv*, send*, pread/pwrite

as entries echo_syscalls/asio/conns:C ("reference": true, as the yardstick's
benchmark entries) and echo_syscalls/coroutines/conns:C, with the counters'
units and directions in context.counters and the tool in the entry's
"tracer" field, one a repetition (--repetitions: 5 in the full profile, where
the report's syscall target reads them and needs n >= 5; else 1), each
server and connection count measured anew. Entries of an earlier run of this
script are replaced.

The tracer: `perf stat` over the syscall tracepoints where perf may count
them here (root, or kernel.perf_event_paranoid and tracefs permissions that
allow it), else `strace -f -c` (--tracer picks one). perf counts in the
kernel and never stops the server. strace stops it twice a call, which makes
it several times slower: the untraced generator then keeps every connection's
next request waiting, so the server's reads almost never find a socket empty
and its waits cover many requests each. Under strace the two servers are
compared under the same handicap, not at their own speed; the coroutine
loop's own, untraced count is also in the echo entries' syscalls_per_req.

Where neither tool can count (strace missing; strace that cannot attach:
kernel.yama.ptrace_scope, a container without CAP_SYS_PTRACE), or a server
will not start, the entries are in the results' "declared" list with the
reason, and the exit status is still 0.

Exit status: 0 (entries or declarations written); 2 the results file cannot
be read or written (it is left as it was: the new file is written beside it
and renamed over it).
"""

import argparse
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

WORKLOAD = "echo_syscalls"
YARDSTICK = "asio"
REQUEST_SIZE = 64
WAITS = {"epoll_wait", "epoll_pwait", "epoll_pwait2"}
IO = {"read", "write", "readv", "writev", "recvfrom", "sendto", "recvmsg", "sendmsg", "recvmmsg", "sendmmsg",
      "pread64", "pwrite64", "preadv", "pwritev", "preadv2", "pwritev2"}
COUNTERS = {
    "syscalls_per_req": {"unit": "syscalls/req", "better": "lower"},
    "epoll_ctl_per_req": {"unit": "syscalls/req", "better": "lower"},
    "epoll_wait_per_req": {"unit": "syscalls/req", "better": "lower"},
    "io_per_req": {"unit": "syscalls/req", "better": "lower"},
}
# Requests per connection by profile and connection count: enough that a
# connection's end (two or three calls) is a small share of its requests;
# quick stays within about 20 s for the six points.
SIZES = {
    "test": {2: 20},
    "quick": {10: 300, 100: 40, 1000: 8},
    "full": {10: 3000, 100: 300, 1000: 40},
}
TRACERS = {"strace": "strace -f -c", "perf": "perf stat (syscall tracepoints)"}


class Skip(Exception):
    """A point that cannot be measured here: declared with this reason."""


def parse_strace(text):
    """strace -c's table: {syscall: calls}."""
    calls = {}
    for line in text.splitlines():
        f = line.split()
        if len(f) < 5 or f[-1] == "total" or not re.fullmatch(r"[\d.]+", f[0]):
            continue
        # % time, seconds, usecs/call, calls, [errors], syscall
        calls[f[-1]] = calls.get(f[-1], 0) + int(f[3])
    return calls


class Strace:
    """strace -f -c -p: every system call of every thread (and child), each
    stopping the server twice for the tracer."""
    name = "strace"

    def __init__(self, path):
        self.path = path

    def start(self, pid, table):
        tracer = subprocess.Popen([self.path, "-f", "-c", "-o", table, "-p", str(pid)], stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE)
        try:
            wait_until(lambda: traced(pid) or tracer.poll() is not None, 10, "strace to attach")
        except Skip:
            pass
        if tracer.poll() is not None or not traced(pid):
            finish(tracer, tracer.kill)
            err = tracer.stderr.read().decode(errors="replace").strip()
            raise Skip(f"strace could not attach to the server ({err or 'no tracer after 10 s'}); "
                       "ptrace may be restricted (kernel.yama.ptrace_scope, CAP_SYS_PTRACE)")
        return tracer

    parse = staticmethod(parse_strace)


def tracefs_syscalls():
    for d in ("/sys/kernel/tracing/events/syscalls", "/sys/kernel/debug/tracing/events/syscalls"):
        try:
            return {e.removeprefix("sys_enter_") for e in os.listdir(d) if e.startswith("sys_enter_")}
        except OSError:
            continue
    return set()


class PerfStat:
    """perf stat -p over the syscall tracepoints: counts in the kernel, no
    stop of the server, so the server runs at its own speed (strace's
    stops make it several times slower, and a slower server finds more
    requests ready per wait)."""
    name = "perf"

    def __init__(self, path, names):
        self.path = path
        self.names = sorted(names)

    @classmethod
    def usable(cls, path):
        """A PerfStat when perf may count syscall tracepoints here (root, or
        kernel.perf_event_paranoid and tracefs permissions allowing), else None."""
        names = tracefs_syscalls() & ({"epoll_ctl"} | WAITS | IO)
        if not path or "epoll_ctl" not in names:
            return None
        try:
            r = subprocess.run([path, "stat", "-x,", "-e", "raw_syscalls:sys_enter", "--", "true"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=30)
        except (OSError, subprocess.SubprocessError):
            return None
        return cls(path, names) if r.returncode == 0 and "raw_syscalls:sys_enter" in r.stderr else None

    def start(self, pid, table):
        events = ["raw_syscalls:sys_enter"] + [f"syscalls:sys_enter_{n}" for n in self.names]
        tracer = subprocess.Popen([self.path, "stat", "-x,", "-o", table, "-e", ",".join(events), "-p", str(pid)],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        wait_until(lambda: perf_counting(tracer.pid) or tracer.poll() is not None, 10, "perf to attach")
        if tracer.poll() is not None:
            raise Skip(f"perf stat could not attach: {tracer.stderr.read().decode(errors='replace').strip()}")
        return tracer

    @staticmethod
    def parse(text):
        """perf stat -x, lines COUNT,UNIT,EVENT,...: {syscall: calls}, with
        the calls no named event took under "other"."""
        counts = {}
        for line in text.splitlines():
            f = line.split(",")
            if len(f) < 3 or not f[0].strip().isdigit():
                continue
            counts[f[2].strip()] = int(f[0])
        total = counts.pop("raw_syscalls:sys_enter", None)
        if total is None:
            return {}
        calls = {k.removeprefix("syscalls:sys_enter_"): v for k, v in counts.items()}
        calls["other"] = max(0, total - sum(calls.values()))
        return calls


def perf_counting(pid):
    """perf has opened its counters (an fd on a perf_event)."""
    try:
        return any(os.readlink(f"/proc/{pid}/fd/{fd}") == "anon_inode:[perf_event]"
                   for fd in os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return False


def per_request(calls, requests):
    total = sum(calls.values())
    return {
        "syscalls_per_req": total / requests,
        "epoll_ctl_per_req": calls.get("epoll_ctl", 0) / requests,
        "epoll_wait_per_req": sum(v for k, v in calls.items() if k in WAITS) / requests,
        "io_per_req": sum(v for k, v in calls.items() if k in IO) / requests,
    }


def wait_until(pred, timeout, what):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return
        time.sleep(0.01)
    raise Skip(f"timed out waiting for {what}")


def sockets_of(pid):
    n = 0
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                n += os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:")
            except OSError:
                pass
    except OSError:
        pass
    return n


def finish(proc, ask, timeout=10):
    """Asks proc to end (ask()), and kills it if it has not after timeout seconds."""
    if proc.poll() is None:
        ask()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def traced(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            return any(line.startswith("TracerPid:") and line.split()[1] != "0" for line in f)
    except OSError:
        return False


class Server:
    """A running echo server: its process, port and how to stop it."""

    def __init__(self, which, bins, conns):
        self.which = which
        self.ctl_w = self.report_r = None
        if which == YARDSTICK:
            # fd 3 the listener, 4 the control pipe's read end, 5 the report
            # pipe's write end (bench/programs/asio_echo/main.cpp).
            lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            lsock.bind(("127.0.0.1", 0))
            lsock.listen(4096)
            self.port = lsock.getsockname()[1]
            ctl_r, self.ctl_w = os.pipe()
            rep_r, rep_w = os.pipe()
            high = [os.dup(lsock.fileno()), os.dup(ctl_r), os.dup(rep_w)]

            def fds():
                for i, fd in enumerate(high):
                    os.dup2(fd, 3 + i)
            self.proc = subprocess.Popen([bins["asio"], str(REQUEST_SIZE), "0"], preexec_fn=fds, pass_fds=(3, 4, 5),
                                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            for fd in high + [ctl_r, rep_w]:
                os.close(fd)
            lsock.close()
            self.report_r = rep_r
        else:
            self.proc = subprocess.Popen([bins["cobench"], "serve", "--runtime", which, "--tasks",
                                          str(max(conns, 1))], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            first = self.proc.stdout.readline().split()
            if len(first) != 2 or first[0] != "listening":
                raise Skip(f"cobench serve did not start: {self.stop_with_error()}")
            self.port = int(first[1].rsplit(":", 1)[1])

    def stop_with_error(self):
        self.stop()
        err = self.proc.stderr.read() if self.proc.stderr else ""
        return (err.strip() if isinstance(err, str) else err.decode(errors="replace").strip()) or f"exit {self.proc.returncode}"

    def stop(self):
        # EOF on its control pipe is the yardstick's way to stop; SIGTERM serve's.
        finish(self.proc, self.close_control if self.ctl_w is not None else
               lambda: self.proc.send_signal(signal.SIGTERM))
        self.close_control()
        if self.report_r is not None:
            os.close(self.report_r)
            self.report_r = None

    def close_control(self):
        if self.ctl_w is not None:
            os.close(self.ctl_w)
            self.ctl_w = None


def measure(which, conns, requests, bins, tracer_kind):
    """One point: {"requests", "seconds", "calls"}; raises Skip."""
    server = Server(which, bins, conns)
    gen = tracer = table = None
    go_r, go_w = os.pipe()
    rep_r, rep_w = os.pipe()
    try:
        gen = subprocess.Popen([bins["client"], str(server.port), str(conns), str(requests), str(REQUEST_SIZE),
                                str(go_r), str(rep_w)], pass_fds=(go_r, rep_w), stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
        os.close(go_r)
        os.close(rep_w)
        go_r = rep_w = None
        pid = server.proc.pid
        wait_until(lambda: sockets_of(pid) >= conns + 1 or server.proc.poll() is not None or gen.poll() is not None,
                   30, f"{conns} connections to {which}")
        if server.proc.poll() is not None:
            raise Skip(f"{which} server exited: {server.stop_with_error()}")
        if gen.poll() is not None:
            raise Skip(f"the generator exited {gen.returncode}: {gen.stderr.read().decode(errors='replace').strip()}")
        with tempfile.NamedTemporaryFile(prefix="cobench-syscalls-", suffix=".txt", delete=False) as t:
            table = t.name
        tracer = tracer_kind.start(pid, table)
        t0 = time.monotonic()
        os.write(go_w, b"g")
        report = b""
        while True:
            chunk = os.read(rep_r, 65536)
            if not chunk:
                break
            report += chunk
        seconds = time.monotonic() - t0
        finish(tracer, lambda: tracer.send_signal(signal.SIGINT), 30)  # detaches; the table is written on exit
        gen.wait(timeout=30)
        with open(table) as f:
            text = f.read()
        os.unlink(table)
        table = None
        lines = report.decode(errors="replace").splitlines()
        if not lines:
            raise Skip(f"the generator wrote no report (exit {gen.returncode}): "
                       f"{gen.stderr.read().decode(errors='replace').strip()}")
        fields = dict(kv.split("=", 1) for kv in lines[0].split() if "=" in kv)
        served = int(fields.get("requests", 0))
        if served == 0:
            raise Skip("the generator reports no request served")
        calls = tracer_kind.parse(text)
        if not calls:
            raise Skip(f"{tracer_kind.name}'s table is empty")
        return {"requests": served, "seconds": seconds, "calls": calls}
    finally:
        for fd in (go_r, go_w, rep_r, rep_w):
            if fd is not None:
                os.close(fd)
        if tracer is not None and tracer.poll() is None:
            tracer.kill()
            tracer.wait()
        if table is not None and os.path.exists(table):
            os.unlink(table)
        if gen is not None and gen.poll() is None:
            gen.kill()
            gen.wait()
        server.stop()


def entry(which, label, conns, m, tracer_kind, rep=0, reps=1):
    name = f"{WORKLOAD}/{which}/conns:{conns}"
    ms = m["seconds"] * 1e3
    e = {"name": name, "run_name": name, "run_type": "iteration", "iterations": 1, "repetitions": reps,
         "repetition_index": rep, "real_time": ms, "cpu_time": ms, "time_unit": "ms",
         "label": f"{label}, counted by {TRACERS[tracer_kind.name]}",
         **per_request(m["calls"], m["requests"])}
    e["tracer"] = tracer_kind.name
    if which == YARDSTICK:
        e["reference"] = True
    return e


def servers(doc):
    """(name, label) of the servers: the yardstick, and the single coroutine
    loop over epoll, found by its traits in the results' context.runtimes
    (io_backend "epoll"), or None with why not."""
    loops = [r for r in doc.get("context", {}).get("runtimes", [])
             if isinstance(r, dict) and r.get("io_backend") == "epoll" and not r.get("io_backend_variant")]
    ours = (loops[0]["name"], f"{loops[0].get('label', loops[0]['name'])} (cobench serve --runtime {loops[0]['name']})") \
        if loops else None
    return [(YARDSTICK, "Boost.Asio yardstick (cobench_asio_echo)"), ours]


def load(path):
    try:
        with open(path) as f:
            doc = json.load(f)
    except (OSError, ValueError) as e:
        raise SystemExit(f"syscalls: cannot read the results file {path}: {e}")
    if not isinstance(doc, dict) or not isinstance(doc.get("benchmarks"), list):
        raise SystemExit(f"syscalls: {path} is not a cobench results file (no benchmarks list)")
    return doc


def save(path, doc):
    """Written beside the results and renamed over them: a reader never sees half a file,
    and a failed write leaves the old file."""
    d = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".syscalls-", suffix=".json", dir=d)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(doc, f, indent=1)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise SystemExit(f"syscalls: cannot write {path}: {e.strerror or e} (the file is left as it was)")


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("results", help="the run's results file (entries are added to it)")
    ap.add_argument("--profile", default="quick", choices=sorted(SIZES))
    ap.add_argument("--bin-dir", help="where cobench, cobench_asio_echo and cobench_echo_client are "
                    "(default: beside $COBENCH_BIN, else build/)")
    ap.add_argument("--conns", help="connection counts, comma-separated (default by profile)")
    ap.add_argument("--requests", type=int, help="requests per connection (default by profile and count)")
    ap.add_argument("--repetitions", type=int, help="measurements of each server and count (default: 5 in "
                    "the full profile, else 1)")
    ap.add_argument("--tracer", default="auto", choices=("strace", "perf", "auto"),
                    help="auto (default: perf where it may count here, else strace), strace, or perf (perf stat "
                    "over the syscall tracepoints: the server is not stopped per call)")
    a = ap.parse_args(argv)
    reps = a.repetitions if a.repetitions is not None else (5 if a.profile == "full" else 1)
    if reps < 1:
        raise SystemExit(f"syscalls: --repetitions must be at least 1, not {reps}")
    sizes = dict(SIZES[a.profile])
    if a.conns:
        cs = [int(c) for c in a.conns.split(",")]
        sizes = {c: a.requests or sizes.get(c, max(8, 4000 // c)) for c in cs}
    elif a.requests:
        sizes = {c: a.requests for c in sizes}
    bin_dir = a.bin_dir or (os.path.dirname(os.path.abspath(os.environ["COBENCH_BIN"])) if os.environ.get("COBENCH_BIN")
                            else os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "build"))
    bins = {"cobench": os.path.join(bin_dir, "cobench"), "asio": os.path.join(bin_dir, "cobench_asio_echo"),
            "client": os.path.join(bin_dir, "cobench_echo_client")}
    doc = load(a.results)  # before measuring: an unreadable file fails at once

    tracer_kind, why_not = None, None
    if a.tracer in ("perf", "auto"):
        tracer_kind = PerfStat.usable(shutil.which("perf"))
        if tracer_kind is None and a.tracer == "perf":
            why_not = "perf stat cannot count syscall tracepoints here (perf missing, kernel.perf_event_paranoid, tracefs)"
    if tracer_kind is None and why_not is None:
        strace = shutil.which("strace")
        tracer_kind = Strace(strace) if strace else None
        why_not = None if strace else "strace is not installed (bench/setup.sh installs it)"
    missing = [p for p in bins.values() if not os.access(p, os.X_OK)]
    entries, declared = [], []
    for server in servers(doc):
        which, label = server or ("epoll_loop", None)
        for conns, requests in sizes.items():
            params = f"conns:{conns}"
            why = why_not or (f"not built: {', '.join(missing)}" if missing else None)
            if server is None:
                why = "the results' context.runtimes has no single coroutine loop over epoll (io_backend \"epoll\")"
            if why is None:
                try:
                    mine = []
                    for rep in range(reps):
                        m = measure(which, conns, requests, bins, tracer_kind)
                        mine.append(entry(which, label, conns, m, tracer_kind, rep, reps))
                        e = mine[-1]
                        print(f"syscalls: {e['name']}{f' ({rep + 1}/{reps})' if reps > 1 else ''}: "
                              f"{e['syscalls_per_req']:.2f} syscalls/req (epoll_ctl {e['epoll_ctl_per_req']:.2f}, "
                              f"epoll_wait {e['epoll_wait_per_req']:.2f}, io {e['io_per_req']:.2f}; "
                              f"{m['requests']} requests)", file=sys.stderr)
                    entries.extend(mine)
                    continue
                except (Skip, OSError, subprocess.SubprocessError, ValueError) as e:
                    why = f"{which}: {e}"
            print(f"syscalls: {WORKLOAD}/{which}/{params} declared: {why}", file=sys.stderr)
            declared.append({"workload": WORKLOAD, "runtime": which, "params": params, "reason": why})

    doc["benchmarks"] = [b for b in doc["benchmarks"] if not str(b.get("name", "")).startswith(WORKLOAD + "/")]
    doc["benchmarks"].extend(entries)
    doc["declared"] = [d for d in doc.get("declared", []) if d.get("workload") != WORKLOAD] + declared
    ctx = doc.setdefault("context", {})
    ctx.setdefault("counters", {}).update(COUNTERS)
    save(a.results, doc)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except SystemExit as e:
        if isinstance(e.code, str):
            print(e.code, file=sys.stderr)
            sys.exit(2)
        raise
