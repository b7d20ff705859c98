#!/usr/bin/env bash
# The deterministic regression gate: counts instructions of the
# deterministic benchmarks under callgrind and compares them with the
# committed baseline. Instruction counts do not drift with machine load, so
# the threshold can be tight (3%) without false alarms.
# Arguments go to compare.py (e.g. --instr-threshold 5).
# COBENCH_BIN=PATH uses that binary (no build); COBENCH_BASELINE=FILE compares
# against another baseline (default results/baseline/instructions.json).
#
# Exit status:
#   0  no regression
#   1  a regression, or the build or the instruction-count run failed
#   2  bad input: the baseline is missing or malformed, or was made with a
#      different toolchain (the message says how to regenerate it)
#   3  compared, but some benchmarks or runtime families of the run failed
#   4  internal error of compare.py
#   128+N  stopped by signal N
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
build=${COBENCH_TEST_BUILD:-build-test}
baseline=${COBENCH_BASELINE:-results/baseline/instructions.json}

if [ -n "${COBENCH_BIN:-}" ]; then
  bin=$COBENCH_BIN
  mkdir -p "$build" || exit 1
else
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null || { echo "gate.sh: cmake could not configure $build" >&2; exit 1; }
  cmake --build "$build" -j"$(nproc)" --target cobench || { echo "gate.sh: the build failed" >&2; exit 1; }
  bin=$build/cobench
fi
out="$build/instructions.json"
rc=0
"$bin" --instructions --out "$out" || rc=$?
case $rc in
  0 | 3) ;;  # 3: written, some family failed; compare.py reports it and exits 3
  *)
    echo "gate.sh: the instruction-count run failed (status $rc)" >&2
    [ "$rc" -ge 128 ] && exit "$rc"
    exit 1
    ;;
esac
status=0
plots/python.sh --need scipy,numpy bench/compare/compare.py "$baseline" "$out" \
  --markdown "$build/gate.md" --regen-command "bash bench/baseline.sh" "$@" || status=$?
# A family that failed before recording anything leaves no trace compare.py can see.
if [ "$status" = 0 ] && [ "$rc" = 3 ]; then status=3; fi
exit "$status"
