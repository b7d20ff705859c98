"""Runtime traits as the results file declares them (context.runtimes, schema 2).

The Python tools never know a runtime by its name: order, colours and claim
groupings come from these traits. A file without them (schema 1) still loads;
its runtimes have no traits, and whatever needs traits says so.
"""

from dataclasses import dataclass

# Known values; other strings are accepted, because a newer binary may add kinds (the loader
# must not reject its file for it).
KINDS = ("process", "thread", "pooled", "fiber", "coroutine", "hybrid", "inline")
_STRING_TRAITS = ("label", "kind", "stack", "cost")
_BOOL_TRAITS = ("multi_core", "shared_memory", "sized_stacks", "sized_workers")


@dataclass(frozen=True)
class Runtime:
    name: str
    position: int               # display position: registry order, then first appearance
    label: str = None
    kind: str = None
    multi_core: bool = None
    shared_memory: bool = None
    stack: str = None
    cost: str = None
    sized_stacks: bool = None    # honours a stack size (the stack-size sweep)
    sized_workers: bool = None   # honours a worker count (the worker sweep)

    @property
    def has_traits(self):
        return self.kind is not None


def check_list(runtimes, where):
    """Error text for a malformed context.runtimes, or None."""
    if not isinstance(runtimes, list):
        return f"{where} is not a list"
    seen = set()
    for i, rt in enumerate(runtimes):
        if not isinstance(rt, dict) or not isinstance(rt.get("name"), str) or not rt["name"]:
            return f"{where}[{i}] is not an object with a string 'name'"
        if rt["name"] in seen:
            return f"{where}[{i}]: runtime {rt['name']!r} is listed twice"
        seen.add(rt["name"])
        for key in _STRING_TRAITS:
            if key in rt and not isinstance(rt[key], str):
                return f"{where}[{i}] ({rt['name']}): {key!r} is not a string"
        for key in _BOOL_TRAITS:
            if key in rt and not isinstance(rt[key], bool):
                return f"{where}[{i}] ({rt['name']}): {key!r} is not true or false"
        if not isinstance(rt.get("kind"), str):
            return f"{where}[{i}] ({rt['name']}): no string 'kind'"
    return None


def build(declared, seen_names):
    """Runtime objects in display order: the file's list first, then names only seen in entries."""
    out = [Runtime(name=rt["name"], position=i,
                   **{k: rt.get(k) for k in _STRING_TRAITS + _BOOL_TRAITS})
           for i, rt in enumerate(declared)]
    known = {rt.name for rt in out}
    for name in seen_names:
        if name not in known:
            known.add(name)
            out.append(Runtime(name=name, position=len(out)))
    return out
