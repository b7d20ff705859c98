#!/usr/bin/env bash
# The README's main command: installs what is missing, builds Release, runs
# the benchmarks (default: the quick profile, about 2 minutes on 2 cores) and
# then draws the charts and writes the report from the results.
# Arguments go to the benchmark binary, e.g. `bash bench/run.sh --profile full`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash bench/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)"
out=results/latest.json
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  case "${args[i]}" in
    --out) out="${args[i+1]:-$out}" ;;
    --out=*) out="${args[i]#--out=}" ;;
    --help|-h|--list|--instructions) exec ./build/cobench "$@" ;;
  esac
done
rc=0
./build/cobench "$@" || rc=$?
# 3: results were written but a runtime family failed; the report shows which.
if [ "$rc" != 0 ] && [ "$rc" != 3 ]; then exit "$rc"; fi
plots/python.sh plots/report.py "$out"
exit "$rc"
