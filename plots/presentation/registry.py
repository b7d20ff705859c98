"""The registry of presentation entries (see presentation/__init__.py): the built-in entries
(builtin.ENTRIES, imported on first use), then those of the files named in
COBENCH_PRESENTATION_EXTRA.
"""


import importlib.util
import os
from pathlib import Path

from presentation.entry import Presentation

EXTRA_ENV = "COBENCH_PRESENTATION_EXTRA"


class PresentationError(Exception):
    """An extra presentation file that cannot be loaded: one line naming the file."""


_loaded = {}   # the value of EXTRA_ENV -> the registry it gives


def load_extra(paths):
    """[Presentation] from the files named (each defines PRESENTATIONS); PresentationError when a
    file is missing, fails to run, or defines no list of Presentation."""
    out = []
    for i, path in enumerate(p for p in paths if p):
        path = Path(path)
        if not path.is_file():
            raise PresentationError(f"{EXTRA_ENV}: {path}: no such file")
        spec = importlib.util.spec_from_file_location(f"cobench_presentation_extra_{i}", path)
        module = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(module)
        except Exception as e:  # noqa: BLE001 - named, with the file, as a bad input
            raise PresentationError(f"{EXTRA_ENV}: {path}: {type(e).__name__}: {e}") from e
        entries = getattr(module, "PRESENTATIONS", None)
        if not isinstance(entries, (list, tuple)) or not all(isinstance(e, Presentation) for e in entries):
            raise PresentationError(f"{EXTRA_ENV}: {path}: defines no PRESENTATIONS list of "
                                    "presentation.entry.Presentation")
        out += entries
    return out


def entries():
    """[Presentation] in report order: the built-in entries, then those of the extra files (an
    extra entry for a built-in workload takes its place)."""
    key = os.environ.get(EXTRA_ENV, "")
    if key not in _loaded:
        from presentation.builtin import ENTRIES
        by_name = {e.workload: e for e in ENTRIES}
        for e in load_extra(key.split(os.pathsep)):
            by_name[e.workload] = e
        _loaded[key] = list(by_name.values())
    return _loaded[key]


def entry(workload):
    return next((e for e in entries() if e.workload == workload), None) or Presentation(workload)


def ordered(workloads):
    present = set(workloads)
    known = [e.workload for e in entries() if e.workload in present]
    return known + sorted(present - set(known))


def sections():
    out = []
    for e in entries():
        out += [s for s in e.sections if s not in out]
    return out


def headline_rows():
    return [(e, row) for e in entries() for row in e.headline]


def charts():
    return [c for e in entries() for c in e.charts]
