#!/usr/bin/env bash
# The README's main command: installs what is missing, builds Release, runs the
# benchmarks (default: the quick profile) and then the charts and report.
# Extra arguments go to the benchmark binary, e.g. `bash bench/run.sh --profile full`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash bench/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)"
./build/cobench "$@"
