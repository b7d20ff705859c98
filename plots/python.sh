#!/usr/bin/env bash
# Runs a Python script with an interpreter that can import the suite's Python
# dependencies. `python3` on PATH may be a private interpreter (pyenv, venv) that
# cannot see Debian's packages, so Debian's /usr/bin/python3 is tried first.
# It also puts the suite's own modules on PYTHONPATH (plots/: the cobench_results
# package, charts, claims, report; bench/compare/: compare, history), so the
# scripts and their tests import each other normally.
# Usage: plots/python.sh [--need mod1,mod2] script.py [args...]
# Exit status: the script's own; 4 when no interpreter imports the needed
# packages (the message names the Debian packages to install).
set -u
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PYTHONPATH="$root/plots:$root/bench/compare${PYTHONPATH:+:$PYTHONPATH}"
need="matplotlib,numpy"
if [ "${1:-}" = "--need" ]; then need="$2"; shift 2; fi
declare -A pkg=([matplotlib]=python3-matplotlib [numpy]=python3-numpy [scipy]=python3-scipy)
for py in ${COBENCH_PYTHON:-} /usr/bin/python3 python3; do
  command -v "$py" >/dev/null 2>&1 || continue
  if "$py" -c "import ${need}" >/dev/null 2>&1; then exec "$py" "$@"; fi
done
missing=()
for m in ${need//,/ }; do
  ok=0
  for py in ${COBENCH_PYTHON:-} /usr/bin/python3 python3; do
    command -v "$py" >/dev/null 2>&1 && "$py" -c "import $m" >/dev/null 2>&1 && ok=1 && break
  done
  [ $ok = 1 ] || missing+=("${pkg[$m]:-python3-$m}")
done
echo "error: no Python interpreter here imports ${need}; install the Debian package(s): ${missing[*]} (apt-get install ${missing[*]})" >&2
exit 4
