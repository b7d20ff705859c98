"""Number formatting shared by the report, the claims and the gate's tables.

Everything is rounded to significant figures (SIG), never to a fixed number of decimals, so a
median and its range read alike ("41,000 (40,900–41,200)", not "40,956 ± 0.00104").
"""

import math

SIG = 3

# Readable units: (unit as context.counters spells it) -> [(factor, suffix)], largest first.
_SCALES = {
    "ns": [(1e9, " s"), (1e6, " ms"), (1e3, " µs"), (1, " ns")],
    "us": [(1e6, " s"), (1e3, " ms"), (1, " µs")],
    "ms": [(1e3, " s"), (1, " ms")],
    "bytes": [(2 ** 30, " GiB"), (2 ** 20, " MiB"), (2 ** 10, " KiB"), (1, " B")],
}
_ALIASES = {"ns/op": "ns", "us/task": "us", "us/op": "us", "bytes/task": "bytes", "B": "bytes"}


def _round_sig(value, sig):
    if value == 0 or not math.isfinite(value):
        return value
    return round(value, sig - 1 - int(math.floor(math.log10(abs(value)))))


def fmt(value, sig=SIG):
    """Compact number: `sig` significant figures, thousands separated (40956 -> 41,000)."""
    if value is None:
        return "–"
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or not math.isfinite(value):
        return str(value)
    if value == 0:
        return "0"
    v = _round_sig(float(value), sig)
    a = abs(v)
    if a >= 10 ** (sig - 1):
        return f"{v:,.0f}"
    if a >= 1e-4:
        decimals = sig - 1 - int(math.floor(math.log10(a)))
        return f"{v:.{decimals}f}"
    return f"{v:.{sig - 1}e}"


def human(value, unit="", sig=SIG):
    """A value in a readable unit: 3208 ns -> "3.21 µs", 8704 bytes/task -> "8.50 KiB",
    41000 req/s -> "41.0k req/s", 2.01 x -> "2.01×", 0.12 fraction -> "12.0%"."""
    if value is None:
        return "–"
    if isinstance(value, str):
        return value
    base = _ALIASES.get(unit, unit)
    if base in _SCALES:
        for factor, suffix in _SCALES[base]:
            if abs(value) >= factor or factor == _SCALES[base][-1][0]:
                return fmt(value / factor, sig) + suffix
    if unit == "x":
        return fmt(value, sig) + "×"
    if unit == "fraction":
        return fmt(value * 100, sig) + "%"
    text = si(value, sig)
    return f"{text} {unit}" if unit else text


def si(value, sig=SIG):
    """k/M/G suffixes from 10,000 up: 41000 -> "41.0k"; below that as fmt."""
    if value is None:
        return "–"
    for div, suffix in ((1e9, "G"), (1e6, "M"), (1e4, "k")):
        if abs(value) >= div:
            div = 1e3 if div == 1e4 else div
            return fmt(value / div, sig) + suffix
    return fmt(value, sig)


def fmt_range(lo, hi, sig=SIG):
    """min–max at the same precision as the median."""
    return f"{fmt(lo, sig)}–{fmt(hi, sig)}"


def count(value):
    """A whole number exactly, thousands separated: a count is not a measurement to round
    (stuck_conns 9, not 9.00; 4,194,304 tasks, not 4,190,000); anything else as fmt does."""
    whole = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) \
        and float(value).is_integer()
    return f"{value:,.0f}" if whole else fmt(value)


def held(number, reason=None):
    """A count of tasks held (max_tasks), exact (count). 0 means the first group already failed:
    nothing was held, which is not a count. With a reason (what stopped the count), for prose:
    "41,000 (budget: ...)"."""
    text = "none held" if number == 0 else f"{number:,.0f}"
    return f"{text} ({reason})" if reason else text
