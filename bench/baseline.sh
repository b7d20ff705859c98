#!/usr/bin/env bash
# Regenerates the committed regression baseline: instruction counts of the
# deterministic benchmarks under callgrind, with the toolchain fingerprint
# they were made with. Run it after a deliberate performance change or a
# toolchain/library update, then commit results/baseline/instructions.json.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${COBENCH_TEST_BUILD:-build-test}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j"$(nproc)" --target cobench
"$build/cobench" --instructions --out results/baseline/instructions.json
