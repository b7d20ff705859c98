#!/usr/bin/env bash
# Installs the Debian packages the suite needs, only those missing.
# Everything comes from Debian's archive: no pip, no downloads at build time.
set -euo pipefail
pkgs=(g++ cmake make pkg-config git libbenchmark-dev libgtest-dev libboost-fiber-dev libboost-context-dev
      libtbb-dev liburing-dev nlohmann-json3-dev libre2-dev python3 python3-matplotlib python3-numpy python3-scipy valgrind
      python3-gevent python3-uvloop linux-perf iproute2 strace)
# gevent, uvloop: the CPython yardsticks (bench/reference_python.hpp); iproute2:
# `ip netns` for the veth test (bench/tests/test_netns.py); linux-perf, strace:
# bench/syscalls.sh and bench/where_time_goes.sh
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#pkgs[@]} packages present"
  exit 0
fi
echo "setup: installing ${missing[*]}"
sudo=""
if [ "$(id -u)" != 0 ]; then
  command -v sudo >/dev/null || { echo "setup: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
