#!/usr/bin/env bash
# The README's main command: installs what is missing, builds Release (only
# the binaries a run starts), runs the benchmarks (default: the quick
# profile, about 3 minutes on 2 cores) and
# then draws the charts and writes the report from the results.
#
# Arguments go to the benchmark binary, e.g. `bash bench/run.sh --profile full`.
# `--profile limits` writes results/limits.json, results/limits.md and
# plots/out/limits/ instead, so the main report stays.
# A relative --out is taken from the directory you run this from; without
# --out the results go to results/latest.json in the repository.
# COBENCH_BIN=PATH runs that binary instead, with no setup and no build.
#
# Exit status (the same meanings as the binary's and the Python tools'):
#   0  all ok: results, charts and report written
#   1  a failure: setup, build or the run failed, or the run wrote no results
#   2  bad input: the binary refused its arguments, or the results hold nothing to report
#   3  results written, but some benchmarks or runtime families failed (the report lists them)
#   4  internal error of the report script
#   128+N  stopped by signal N (Ctrl-C: 130)
# Whenever the run fails or writes nothing, the previous results, charts and
# report are left as they were.
set -uo pipefail
caller=$PWD
cd "$(dirname "$0")/.." || exit 1
repo=$PWD

die() {
  echo "run.sh: $2" >&2
  exit "$1"
}

# A path as the user meant it: relative to where run.sh was started.
from_caller() {
  case "$1" in
    /*) printf '%s\n' "$1" ;;
    *) printf '%s\n' "$caller/$1" ;;
  esac
}

# Identity of the results file, to tell whether the run replaced it (the binary
# writes a new file and renames it, so a written file has a new inode).
identity() {
  stat -c '%i %y %s' -- "$1" 2>/dev/null || echo absent
}

out=
passthrough=0
profile=quick
filtered=0
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --profile)
      [ $# -ge 2 ] && profile=$2
      args+=("$1")
      ;;
    --profile=*)
      profile=${1#--profile=}
      args+=("$1")
      ;;
    --out)
      [ $# -ge 2 ] || die 2 "--out needs a file name"
      out=$(from_caller "$2")
      args+=(--out "$out")
      shift
      ;;
    --out=*)
      out=$(from_caller "${1#--out=}")
      args+=("--out=$out")
      ;;
    --filter | --filter=*)
      filtered=1
      args+=("$1")
      ;;
    # These print or write something other than a results file for the charts.
    --help | -h | --list | --instructions)
      passthrough=1
      args+=("$1")
      ;;
    *) args+=("$1") ;;
  esac
  shift
done

if [ -n "${COBENCH_BIN:-}" ]; then
  bin=$COBENCH_BIN
else
  bash bench/setup.sh || die 1 "setup failed"
  cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null || die 1 "cmake could not configure the build"
  # Only what a run starts: cobench and the programs it spawns (the load
  # generator, the Asio yardstick); bench/test.sh builds the test binaries.
  cmake --build build -j"$(nproc)" --target cobench cobench_echo_client cobench_asio_echo ||
    die 1 "the build failed"
  bin=./build/cobench
fi
if [ "$passthrough" = 1 ]; then
  exec "$bin" "${args[@]}"
fi
# The limits profile holds only max_tasks probes: its results, charts and
# report go beside the main ones (results/limits.json, results/limits.md,
# plots/out/limits), so a limits run never replaces the main report.
report_args=()
if [ "$profile" = limits ]; then
  report_args=(--report "$repo/results/limits.md" --out-dir "$repo/plots/out/limits")
fi
if [ -z "$out" ]; then
  if [ "$profile" = limits ]; then out=$repo/results/limits.json; else out=$repo/results/latest.json; fi
  args+=(--out "$out")
fi

before=$(identity "$out")
rc=0
"$bin" "${args[@]}" || rc=$?
case $rc in
  0 | 3) ;;
  *) die "$rc" "the benchmark run failed (status $rc); previous results, charts and report kept" ;;
esac
if [ "$(identity "$out")" = "$before" ]; then
  die 1 "the run exited $rc but wrote no results to $out; previous charts and report kept"
fi

# Two measurements made beside the benchmarks, added to the same results file
# (quick and full, not a filtered run, which asked for some entries only; a
# failure here costs the report nothing, it goes on without them):
# - system calls per request of Asio's echo server and ours (bench/syscalls.sh,
#   counted with perf, or strace where perf cannot; without either the entries
#   are declared);
# - where the two servers' CPU goes, under perf (bench/where_time_goes.sh).
if [ "$filtered" = 0 ] && { [ "$profile" = quick ] || [ "$profile" = full ]; }; then
  bash bench/syscalls.sh "$out" --profile "$profile" --bin-dir "$(dirname "$bin")" ||
    echo "run.sh: bench/syscalls.sh failed; the report goes on without its entries" >&2
  COBENCH_BIN="$bin" bash bench/where_time_goes.sh "$out" --profile "$profile" ||
    echo "run.sh: bench/where_time_goes.sh failed; no perf profiles added" >&2
fi

report=0
plots/python.sh plots/report.py "$out" "${report_args[@]}" || report=$?
case $report in
  0) exit "$rc" ;;  # 3 from the run: the report shows which family failed
  *) exit "$report" ;;
esac
