"""Benchmark names: `workload/runtime/key:value/...` (results/README.md)."""

# Name elements Google Benchmark appends to run_name (they are not our params).
_GB_NAME_FLAGS = {"real_time", "manual_time", "process_time"}
_GB_NAME_KEYS = {"repeats", "iterations", "min_time", "min_warmup_time"}


def _param_value(text):
    for conv in (int, float):
        try:
            return conv(text)
        except ValueError:
            pass
    return text


def parse_name(run_name):
    """(workload, runtime, params); Google Benchmark's own trailing elements are dropped.

    Param values that look numeric become int or float, the rest stay strings.
    Raises ValueError for a name that is not workload/runtime/key:value...
    """
    parts = run_name.split("/")
    if len(parts) < 2 or not parts[0] or not parts[1]:
        raise ValueError(f"benchmark name {run_name!r} is not workload/runtime/...")
    params = {}
    for part in parts[2:]:
        if part in _GB_NAME_FLAGS:
            continue
        key, sep, value = part.partition(":")
        if not sep or not key:
            raise ValueError(f"benchmark name {run_name!r}: element {part!r} is not key:value")
        if key in _GB_NAME_KEYS:
            continue
        params[key] = _param_value(value)
    return parts[0], parts[1], params
