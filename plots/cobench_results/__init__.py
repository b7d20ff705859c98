"""cobench_results: load, validate and atomically write cobench results files.

One package for every Python tool (plots/ and bench/compare/), standard library
only, so the gate does not pull in matplotlib. It lives in plots/ because
plots/python.sh, the launcher every Python entry point already goes through,
is there and puts this folder on PYTHONPATH; tools import it normally.

Loading
    load(path, require_cobench=False) -> Results; parse(doc, source, require_cobench)
        Raises ResultsError (one line naming the file and the problem) for a
        missing or unreadable file, malformed JSON, a wrong shape, an entry with
        missing fields, malformed runtime or counter metadata, or a schema newer
        than SCHEMA_VERSION. require_cobench also refuses a plain Google
        Benchmark file (no context.cobench_schema).
    parse_name(run_name) -> (workload, runtime, params)

Results (see results.py)
    .source .context .entries .families .declared .schema
    runtimes: .runtime_list (Runtime objects in display order: context.runtimes,
        then names only seen in entries), .runtimes(), .runtimes_in_run(), .runtime(name),
        .order_key(name), .runtimes_where(kind=..., multi_core=...), .has_traits
    counters: .counter(name) -> CounterInfo (unit, better, quantum, per,
        .resolution(ops)) from context.counters, else the naming rules of old
        files, which counter_by_rule(name) applies alone
    other load (other_load.py): .loaded, the entries measured beside other work (other_load_frac
        above LOADED_THRESHOLD), left out of .entries and so of every view below;
        .lost_to_load(workload, runtime, params=None); other_load.rows/summary for the report
    verdicts (verdict_n.py): VERDICT_MIN_N repetitions a verdict needs, LIMIT_PROBES that do not count,
        .reads() records the points a rule reads; not_judged(n), smallest_n(points), thin(n)
    views: .points() .series() .value() .speedups() .cpu_count() .failed()
        .successful() .failed_families() .is_instruction_counts, and .samples()
        (one value per repetition, for the gate)

Writing
    write_atomic(path, data), publish(files, remove) (all-or-nothing swap of
    several files), check_writable(path); OutputError for unwritable outputs.

Text (text.py): one formatter per kind of cell
    fmt (3 significant figures), fmt_range (min–max), human (a readable unit),
    si (k/M/G), count (a whole number, exact), held (a count of tasks held).
"""

from .atomic import OutputError, check_writable, publish, write_atomic
from .counters import INSTRUCTIONS, OPS, TICK_NS, CounterInfo
from .counters import by_rule as counter_by_rule
from .load import SCHEMA_VERSION, ResultsError, load, parse, read_json
from .names import parse_name
from . import other_load
from .other_load import LOADED_RULE, LOADED_THRESHOLD, OTHER_LOAD
from .results import WARMUP_RULE, Entry, Point, Results, Samples, warmup_outlier
from .runtimes import Runtime
from . import verdict_n
from .verdict_n import LIMIT_PROBES, VERDICT_MIN_N, VERDICT_N_RULE, not_judged, smallest_n, thin
from .text import count, fmt, fmt_range, held, human, si

__all__ = [
    "OutputError", "check_writable", "publish", "write_atomic",
    "INSTRUCTIONS", "OPS", "TICK_NS", "CounterInfo", "counter_by_rule",
    "SCHEMA_VERSION", "ResultsError", "load", "parse", "read_json",
    "parse_name", "Entry", "Point", "Results", "Samples", "Runtime", "count", "fmt", "fmt_range", "held", "human", "si",
    "WARMUP_RULE", "warmup_outlier", "other_load", "LOADED_RULE", "LOADED_THRESHOLD", "OTHER_LOAD",
    "verdict_n", "LIMIT_PROBES", "VERDICT_MIN_N", "VERDICT_N_RULE", "not_judged", "smallest_n", "thin",
]
