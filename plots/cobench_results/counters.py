"""What a counter means: unit, better direction and resolution.

Schema 2 files carry this in context.counters; older files get the rules
below, which are the ones results/README.md documented before the map existed.
"""

import re
from dataclasses import dataclass

INSTRUCTIONS = "instructions_per_op"
OPS = "ops"

# Linux reports CPU time in USER_HZ ticks' worth of accounting (USER_HZ is 100
# on every architecture's user ABI), so a CPU-time total moves in steps of 10 ms.
TICK_NS = 1e9 / 100

# Google Benchmark's own fields, which are not in any counter map.
_GB_TIMES = ("real_time", "cpu_time")

# Fallback direction rules. Exact names win over patterns; the higher-is-better
# patterns are tried first so that e.g. a future "cpu_ops_per_s" is not caught
# by the "cpu_*" rule.
_LOWER_EXACT = {"real_time", "cpu_time", INSTRUCTIONS}
_HIGHER_EXACT = {"items_per_second", "speedup", "max_tasks"}
_NONE_EXACT = {OPS}
_HIGHER_RE = re.compile(r"(_per_s|_per_second)$")
_LOWER_RE = re.compile(r"(_ns|_us|_ms|_per_task)$|^(ns|us|ms)_per_|^cpu_|csw|^lost_")
_CPU_PER_OP_RE = re.compile(r"^cpu_\w+_ns_per_op$")
_SWITCHES_PER_OP_RE = re.compile(r"csw_per_op$")

BETTER = ("lower", "higher", "none")


@dataclass(frozen=True)
class CounterInfo:
    name: str
    unit: str
    better: str          # "lower", "higher", "none" (descriptive), or None: nothing says
    quantum: float = None  # resolution of the underlying total, in the counter's unit x ops
    per: str = None      # "ops": the counter is a total divided by the entry's ops counter
    from_file: bool = False

    @property
    def compared(self):
        return self.better in ("lower", "higher")

    def resolution(self, ops):
        """Smallest change this counter can show in one entry, or None when unknown."""
        if self.quantum is None:
            return None
        if self.per == OPS:
            return self.quantum / ops if ops and ops > 0 else None
        return self.quantum


def direction_by_rule(name):
    if name in _LOWER_EXACT:
        return "lower"
    if name in _NONE_EXACT:
        return "none"
    if name in _HIGHER_EXACT or _HIGHER_RE.search(name):
        return "higher"
    if _LOWER_RE.search(name):
        return "lower"
    return None


def unit_by_rule(name):
    if name in _GB_TIMES:
        return "ns"  # normalised on load, whatever time_unit said
    if name == INSTRUCTIONS:
        return "instructions/op"
    m = re.search(r"(?:^|_)(ns|us|ms)_per_(\w+)$", name)
    if m:
        return f"{m.group(1)}/{m.group(2)}"
    m = re.search(r"_(ns|us|ms)$", name)
    if m:
        return m.group(1)
    if name.endswith("_per_task"):
        return "bytes/task"
    if "csw" in name:
        return "switches/op"
    m = re.match(r"(\w+?)_per_(s|second)$", name)
    if m:
        return f"{m.group(1)}/s"
    return {"speedup": "x", "max_tasks": "tasks", "lost_updates": "updates",
            "lost_fraction": "fraction", OPS: "ops"}.get(name, "")


def quantum_by_rule(name):
    """(quantum, per) for the rusage counters every entry carries, as schema 2 declares them."""
    if _CPU_PER_OP_RE.search(name):
        return TICK_NS, OPS
    if _SWITCHES_PER_OP_RE.search(name):
        return 1.0, OPS
    return None, None


def by_rule(name):
    quantum, per = quantum_by_rule(name)
    return CounterInfo(name, unit_by_rule(name), direction_by_rule(name), quantum, per)


def from_map(name, meta):
    """CounterInfo from one validated context.counters entry."""
    return CounterInfo(name, meta.get("unit", unit_by_rule(name)), meta.get("better"),
                       meta.get("quantum"), meta.get("per"), from_file=True)


def check_map(counters, where):
    """Error text for a malformed context.counters, or None."""
    if not isinstance(counters, dict):
        return f"{where} is not a JSON object"
    for name, meta in counters.items():
        if not isinstance(meta, dict):
            return f"{where}[{name!r}] is not a JSON object"
        if not isinstance(meta.get("unit"), str):
            return f"{where}[{name!r}] has no string 'unit'"
        if meta.get("better") not in BETTER:
            return f"{where}[{name!r}]: 'better' is {meta.get('better')!r}, not one of {', '.join(BETTER)}"
        q = meta.get("quantum")
        if q is not None and (isinstance(q, bool) or not isinstance(q, (int, float)) or not q > 0):
            return f"{where}[{name!r}]: 'quantum' is {q!r}, not a positive number"
        if meta.get("per") not in (None, OPS):
            return f"{where}[{name!r}]: 'per' is {meta.get('per')!r}; only 'ops' is known"
    return None
