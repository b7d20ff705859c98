"""The rows of one results file by the language their tasks run in: the C++ runtimes, and each
interpreter's yardsticks.

A yardstick that names an interpreter (a context.references entry with an "interpreter" string,
e.g. CPython's multiprocessing, threading, asyncio) stands for a concurrency model written in
that language: its entry declares the model (model_kind: process, thread, pooled, fiber,
coroutine) and the traits the claims group by (multi_core, shared_memory, stack), beside the
interpreter's version, build and lock (interpreter_build, interpreter_lock). Such rows are
never ranked among the C++ runtimes; in a row set of their own they are the runtimes, with
kind = model_kind, so every rule judges them unchanged, from their own rows only.

split(r)        [RowSet]: the C++ rows first (r itself when no yardstick names an interpreter,
                so such a file is judged and drawn exactly as before), then one per language
native(r)       the C++ rows: r without the interpreters' rows (other references, such as the
                Asio yardstick, stay references there)
interpreted(r)  {name: reference entry} of the yardsticks that name an interpreter
interpreter_lines(r)  [(language, line)]: version, build, lock, its runtimes and the ones
                declared (not run) with their reason

Nothing here knows a runtime's name.
"""

import dataclasses
import re
from dataclasses import dataclass, field

from cobench_results import Results
from cobench_results.runtimes import KINDS, build

NATIVE = "C++"
# Traits a yardstick's reference entry gives its runtime in its own row set: trait -> (key, type).
_TRAITS = {"label": ("label", str), "kind": ("model_kind", str), "stack": ("stack", str),
           "multi_core": ("multi_core", bool), "shared_memory": ("shared_memory", bool)}


@dataclass(frozen=True)
class RowSet:
    label: str                 # "C++", "CPython 3.11"
    results: Results           # this set's entries, families and declared pairs; runtimes with traits
    interpreter: dict = field(default_factory=dict)   # interpreter, interpreter_build, interpreter_lock
    runtimes: tuple = ()       # an interpreter set's runtimes, as its reference entries list them


def _references(r):
    refs = r.context.get("references")
    return refs if isinstance(refs, dict) else {}


def interpreted(r):
    """{name: reference entry} of the yardsticks that name an interpreter, in the file's order."""
    return {name: info for name, info in _references(r).items()
            if isinstance(info, dict) and isinstance(info.get("interpreter"), str) and info["interpreter"]}


def language(info):
    """'CPython 3.11' of 'CPython 3.11.2': the interpreter and its minor version, which is what
    changes its switch points and lock; the patch level is in the interpreter line."""
    m = re.match(r"^(.*?\d+\.\d+)(\.\d+\S*)?$", info["interpreter"].strip())
    return m.group(1) if m else info["interpreter"].strip()


def _subset(r, names, context, declared_runtimes):
    """r with only the entries, families and declared pairs whose runtime is in `names`, its
    runtimes those; whatever else r holds is carried over as it is."""
    entries = [e for e in r.entries if e.runtime in names]
    families = [f for f in r.families if f["runtime"] in names]
    declared = [d for d in r.declared if d["runtime"] in names]
    seen = dict.fromkeys([e.runtime for e in entries] + [x["runtime"] for x in families + declared])
    return dataclasses.replace(r, context=context, entries=entries, families=families, declared=declared,
                               runtime_list=build(declared_runtimes, seen), _points=None)


def _native(r, theirs):
    names = {name for name in r.runtimes() if name not in theirs}
    kept = {k: v for k, v in _references(r).items() if k not in theirs}
    context = {k: kept if k == "references" else v for k, v in r.context.items()
               if k != "references" or kept}
    declared = [rt for rt in r.context.get("runtimes", []) if rt["name"] not in theirs]
    if declared != r.context.get("runtimes", []):
        context["runtimes"] = declared
    return _subset(r, names, context, declared)


def _kind_order(kind):
    return KINDS.index(kind) if kind in KINDS else len(KINDS)


def _interpreter_set(r, label, refs):
    """One language's yardsticks as the runtimes of a row set, in the order of the C++ kinds
    (process, thread, pooled, fiber, coroutine), the ones that ran first: a runtime that stands
    for its kind is the first of that kind, and one that did not run never does."""
    ran = {e.runtime for e in r.successful()}
    order = sorted(refs, key=lambda name: (name not in ran, _kind_order(refs[name].get("model_kind"))))
    declared = [{"name": name, **{trait: refs[name][key] for trait, (key, kind) in _TRAITS.items()
                                  if isinstance(refs[name].get(key), kind)}}
                for name in order]
    context = {k: v for k, v in r.context.items() if k not in ("references", "runtimes")}
    context["runtimes"] = declared
    first = refs[order[0]]
    about = {k: first[k] for k in ("interpreter", "interpreter_build", "interpreter_lock") if k in first}
    return RowSet(label, _subset(r, set(refs), context, declared), about, tuple(order))


def split(r):
    """[RowSet]: the C++ rows, then one set per language of the yardsticks that name an interpreter."""
    theirs = interpreted(r)
    if not theirs:
        return [RowSet(NATIVE, r)]
    by_language = {}
    for name, info in theirs.items():
        by_language.setdefault(language(info), {})[name] = info
    return [RowSet(NATIVE, _native(r, theirs))] + [_interpreter_set(r, label, refs)
                                                   for label, refs in by_language.items()]


def native(r):
    return split(r)[0].results


def _lock(value):
    if value is True:
        return "held: one thread runs the interpreter's code at a time (a GIL), so its threads share one core"
    if value is False:
        return "none: its threads run the interpreter's code on several cores at once"
    return "not recorded"


def _model(rt):
    """'thread, one core': the model a yardstick stands for and whether its tasks use several cores."""
    cores = {True: ", multi-core", False: ", one core"}.get(rt.multi_core, "")
    return f"{rt.kind or 'no model_kind'}{cores}"


def interpreter_lines(r):
    """[(language, line)] for each language of the yardsticks that name an interpreter: version and
    build, the interpreter lock, the runtimes and the model each stands for, and those declared,
    not run, with the reason."""
    out = []
    for s in split(r)[1:]:
        rs = s.results
        ran = [name for name in s.runtimes if rs.points(runtime=name)]
        models = ", ".join(f"{name} ({_model(rs.runtime(name))})" for name in ran) or "none ran"
        reasons = {}
        for d in rs.declared:
            if d["runtime"] not in ran:
                reasons.setdefault(d["runtime"], []).append(d["reason"])
        gone = [f"{name} (declared: {'; '.join(dict.fromkeys(reasons[name]))})" for name in s.runtimes
                if name in reasons]
        for name in s.runtimes:
            if name not in ran and name not in reasons:
                why = interpreted(r)[name].get("reason")
                gone.append(f"{name} ({why if isinstance(why, str) and why else 'no entries'})")
        build_text = s.interpreter.get("interpreter_build")
        out.append((s.label, f"{s.interpreter.get('interpreter', s.label)}"
                   + (f" ({build_text})" if isinstance(build_text, str) and build_text else "")
                   + f"; interpreter lock {_lock(s.interpreter.get('interpreter_lock'))}; "
                   + f"yardsticks, never ranked among the C++ runtimes: {models}"
                   + (f"; not run: {', '.join(gone)}" if gone else "")))
    return out
