#!/usr/bin/env bash
# The README's test command: installs what is missing, builds with warnings as
# errors, and runs every test (C++ through ctest, Python through unittest).
#   bash bench/test.sh              Release build in build-test/
#   bash bench/test.sh --sanitize   the same tests under AddressSanitizer and
#                                   UBSan (-O0 -g), in build-asan/; CI runs both
set -euo pipefail
cd "$(dirname "$0")/.."
mode=release
case "${1:-}" in
  "") ;;
  --sanitize) mode=sanitize ;;
  -h|--help) sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) echo "test.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
esac
bash bench/setup.sh
if [ "$mode" = sanitize ]; then
  build=${COBENCH_TEST_BUILD:-build-asan}
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Debug -DCOBENCH_SANITIZE=ON -DCOBENCH_WERROR=ON >/dev/null
else
  build=${COBENCH_TEST_BUILD:-build-test}
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DCOBENCH_WERROR=ON >/dev/null
fi
cmake --build "$build" -j"$(nproc)"
(cd "$build" && ctest --output-on-failure -j"$(nproc)" --timeout 600)
