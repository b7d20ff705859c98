#!/usr/bin/env bash
# The deterministic regression gate: counts instructions of the
# deterministic benchmarks under callgrind and compares them with the
# committed baseline. Instruction counts do not drift with machine load, so
# the threshold can be tight (3%) without false alarms. Exit 0: no regression;
# 1: a regression; 2: bad input; 3: not comparable (different toolchain: the
# message says how to regenerate the baseline).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${COBENCH_TEST_BUILD:-build-test}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j"$(nproc)" --target cobench
out="$build/instructions.json"
"$build/cobench" --instructions --out "$out"
plots/python.sh --need scipy,numpy bench/compare/compare.py results/baseline/instructions.json "$out" \
  --markdown "$build/gate.md" --regen-command "bash bench/baseline.sh" "$@"
