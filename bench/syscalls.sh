#!/usr/bin/env bash
# System calls per request of Asio's echo server and our coroutine loop,
# counted with perf stat or strace at saturation, added to a run's results file as
# echo_syscalls/<asio|coroutines>/conns:C entries (bench/syscalls.py says
# how and what). bench/run.sh calls it after the benchmarks, before the
# report; by hand:
#
#   bash bench/syscalls.sh RESULTS.json [--profile quick|full|test] [--bin-dir DIR]
#
# Where neither perf nor strace can count, the entries are declared with
# the reason and the exit status is 0; 2 if the results file cannot be read
# or written (it is then left as it was).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
exec "$here/../plots/python.sh" --need json "$here/syscalls.py" "$@"
