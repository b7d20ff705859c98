#!/usr/bin/env bash
# The README's test command: installs what is missing, builds with warnings as
# errors, and runs every test (C++ through ctest, Python through unittest).
set -euo pipefail
cd "$(dirname "$0")/.."
bash bench/setup.sh
build=${COBENCH_TEST_BUILD:-build-test}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DCOBENCH_WERROR=ON >/dev/null
cmake --build "$build" -j"$(nproc)"
(cd "$build" && ctest --output-on-failure -j"$(nproc)" --timeout 300)
