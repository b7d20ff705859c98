#!/usr/bin/env bash
# Regenerates the committed regression baseline: instruction counts of the
# deterministic benchmarks under callgrind, with the toolchain fingerprint
# they were made with. Run it after a deliberate performance change or a
# toolchain/library update, then commit results/baseline/instructions.json.
# COBENCH_BIN=PATH uses that binary (no build); COBENCH_BASELINE=FILE writes
# another file instead.
#
# Exit status:
#   0  baseline written
#   1  a failure: the build or the run failed, or some benchmarks or runtime
#      families failed; the previous baseline is kept, since a partial one
#      would hide regressions in whatever is missing
#   128+N  stopped by signal N
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
build=${COBENCH_TEST_BUILD:-build-test}
target=${COBENCH_BASELINE:-results/baseline/instructions.json}

if [ -n "${COBENCH_BIN:-}" ]; then
  bin=$COBENCH_BIN
else
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null || { echo "baseline.sh: cmake could not configure $build" >&2; exit 1; }
  cmake --build "$build" -j"$(nproc)" --target cobench || { echo "baseline.sh: the build failed" >&2; exit 1; }
  bin=$build/cobench
fi
# Written beside the target and renamed over it only when the run succeeded.
new="$(dirname "$target")/.$(basename "$target").new.$$"
trap 'rm -f "$new"' EXIT
rc=0
"$bin" --instructions --out "$new" || rc=$?
if [ "$rc" != 0 ]; then
  echo "baseline.sh: the instruction-count run failed (status $rc); $target kept as it was" >&2
  [ "$rc" -ge 128 ] && exit "$rc"
  exit 1
fi
if [ ! -s "$new" ]; then
  echo "baseline.sh: the run wrote no results; $target kept as it was" >&2
  exit 1
fi
mv -f "$new" "$target" || exit 1
echo "baseline.sh: wrote $target"
