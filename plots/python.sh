#!/usr/bin/env bash
# Runs a Python script with an interpreter that can import the suite's Python
# dependencies. `python3` on PATH may be a private interpreter (pyenv, venv) that
# cannot see Debian's packages, so Debian's /usr/bin/python3 is tried first.
# Usage: plots/python.sh [--need mod1,mod2] script.py [args...]
set -u
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
exit 3
