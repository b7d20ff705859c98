"""The engine that judges a claim record against one row set of a results file (rowsets.py: the
C++ rows, or one interpreter's yardsticks as runtimes), itself a Results: rules read only its rows.

A Record says which rule decides the claim, which runtimes it compares (Kinds: by the traits the
file declares, never by name), which entries it reads (Entries: a workload and its params) and its
thresholds. evaluate() does what every claim shares: it states the rule with the thresholds and
the runtimes chosen, refuses a file without traits when the claim needs them (NOT_JUDGED), names
the runtimes a pair of kinds stands for, and hands the rest to the record's rule. It records the
points the rule reads (Results.reads) and, where the smallest n among them is below VERDICT_MIN_N,
makes the verdict NOT_JUDGED with its reading kept (verdicts.thin_verdict), unless the rule judged its
parts apart (claim.apart) and set claim.n itself (decision_map).
"""

from dataclasses import dataclass, field

import io_workloads

from .verdicts import NO_TRAITS, NOT_JUDGED, NOT_MEASURED, Claim, thin_verdict


def is_num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _fits(value, wanted):
    """A trait or param against what a selector asks: a value, or a tuple of values any of which
    will do; a wanted None means the param is absent."""
    return value in wanted if isinstance(wanted, tuple) else value == wanted


@dataclass(frozen=True)
class Kinds:
    """The runtimes that play one role in a claim, in display order, chosen by their traits."""
    traits: dict                                  # trait -> value, or a tuple of values
    unlike: dict = field(default_factory=dict)    # trait -> a value the runtime must not have
    first: bool = False       # one runtime stands for its kind: the first in display order
    ran: bool = False         # only runtimes with entries in this file
    references: bool = True   # False: the reference runtimes (context.references) are left out

    def select(self, r):
        names = [rt.name for rt in r.runtime_list if rt.has_traits
                 and all(_fits(getattr(rt, k), v) for k, v in self.traits.items())
                 and all(getattr(rt, k) != v for k, v in self.unlike.items())
                 and (self.references or not io_workloads.is_reference(r, rt.name))
                 and (not self.ran or r.points(runtime=rt.name))]
        return names[:1] if self.first else names

    def describe(self):
        """'kind thread'."""
        return " ".join(f"{k} {v}" for k, v in self.traits.items())


@dataclass(frozen=True)
class Entries:
    """The entries a measure reads: one workload, the params they must have, and its counter."""
    workload: str
    counter: object = None                        # a counter, or a tuple of them (the first present)
    params: dict = field(default_factory=dict)    # param -> value, a tuple of values, or None: absent
    over: str = None      # a numeric param: the runtimes are compared at each of its values
    variant: str = None   # a param whose values are judged apart

    def matches(self, p):
        return (all(_fits(p.params.get(k), v) for k, v in self.params.items())
                and (self.over is None or is_num(p.params.get(self.over))))

    def points(self, r, runtime=None):
        return r.points(self.workload, runtime, where=self.matches)

    def point(self, r, runtime, x=None):
        """The first of a runtime's points (at `over` = x when given), or None."""
        return next((p for p in self.points(r, runtime)
                     if x is None or p.params.get(self.over) == x), None)

    def value(self, r, runtime, counter, x=None):
        """A counter's value at the first point that has it, or None."""
        return next((p.counters[counter] for p in self.points(r, runtime)
                     if counter in p.counters and (x is None or p.params.get(self.over) == x)), None)

    def by_x(self, r, runtime, counter):
        """{value of `over`: counter} of a runtime's points."""
        return {p.params[self.over]: p.counters[counter] for p in self.points(r, runtime)
                if counter in p.counters}

    def where(self, x=None):
        """'ping_pong pin:same', 'yield_ring tasks:64': the workload and the params it fixes."""
        fixed = [f"{k}:{v}" for k, v in self.params.items() if v is not None and not isinstance(v, tuple)]
        return " ".join([self.workload] + fixed + ([f"{self.over}:{x}"] if x is not None else []))


@dataclass(frozen=True)
class Record:
    """One claim as data. rule(r, claim, roles, record) sets the verdict and adds the evidence;
    roles maps each role of `kinds` to its runtime (a `first` role) or list of runtimes."""
    key: str
    statement: str
    rule: object
    text: str          # the rule as the report states it: a template over thresholds and roles
    kinds: dict = field(default_factory=dict)        # role -> Kinds
    entries: tuple = ()                              # what the rule reads, in the order it reads it
    thresholds: dict = field(default_factory=dict)   # name in the text and the rule -> value
    when: str = None   # this record judges the claim only where the file has entries of this workload
    note: str = None   # said first in the evidence, when the claim is judged


def evaluate(record, r):
    found = {role: k.select(r) for role, k in record.kinds.items()}
    text = record.text.format(**record.thresholds,
                              **{role: ", ".join(names) or "none" for role, names in found.items()})
    c = Claim(record.key, record.statement, NOT_MEASURED, text)
    if record.kinds and not r.has_traits:
        c.verdict = NOT_JUDGED
        c.evidence.append(NO_TRAITS)
        return c
    if record.note:
        c.evidence.append(record.note)
    pair = {role: k for role, k in record.kinds.items() if k.first}
    for role, k in pair.items():
        if not found[role]:
            c.evidence.append(f"no runtime of {k.describe()} in this file")
            return c
    if pair:
        c.evidence.append("compared: " + " vs ".join(f"{found[role][0]} ({k.describe()})"
                                                     for role, k in pair.items()))
    roles = {role: names[0] if role in pair else names for role, names in found.items()}
    with r.reads() as seen:
        record.rule(r, c, roles, record)
    if not c.apart:   # a rule that judges its parts apart (decision_map) has set c.n itself
        thin_verdict(c, seen.n, seen.points)
    return c


def evaluate_all(r, records):
    """One Claim per key, in the records' order; of the records for one key, the first that applies."""
    out, judged = [], set()
    for record in records:
        if record.key not in judged and (record.when is None or r.points(record.when)):
            judged.add(record.key)
            out.append(evaluate(record, r))
    return out
