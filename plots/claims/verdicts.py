"""The verdict words, a judged claim, and how several verdicts make one.

grade() turns a factor into a verdict against two thresholds. The four ways of making one verdict
out of several differ on purpose, and each rule names the one it means:
- combine: measures of one claim; agreement wins, disagreement is mixed;
- agreement: yes/no tests (a point agrees or not); all, none or some;
- sides: the cells of one side of claim (e); a side favoured somewhere and level elsewhere is mixed;
- ahead_behind: the points of one hybrid measure; ahead somewhere and behind nowhere confirms.
thin_verdict() turns a verdict whose inputs have too few repetitions (cobench_results.verdict_n) into
NOT_JUDGED, keeping what the numbers would say as its reading.
"""

from dataclasses import dataclass, field

from cobench_results import fmt, not_judged, thin

CONFIRMED, REFUTED, MIXED = "confirmed", "refuted", "mixed"
UNDECIDED, NOT_MEASURED, NOT_JUDGED = "undecided", "not measured", "not judged"
# Every difference the claim rests on is inside the run-to-run spread (min-max ranges overlap).
INDISTINGUISHABLE = "indistinguishable"
VERDICTS = (CONFIRMED, REFUTED, MIXED, UNDECIDED, NOT_MEASURED, NOT_JUDGED, INDISTINGUISHABLE)

NO_TRAITS = ("this results file declares no runtime traits (context.runtimes, schema 2), and the "
             "claim groups runtimes by kind, which a name does not tell; regenerate the results "
             "with the current build to judge it")


@dataclass
class Claim:
    key: str
    statement: str
    verdict: str
    rule: str
    evidence: list = field(default_factory=list)
    language: str = None   # the row set judged ("C++", "CPython 3.11") where the file has several
    also: list = field(default_factory=list)   # the same claim judged on each other row set's rows
    n: int = None          # the smallest n among the entries the verdict read (verdict_n.py); None: none
    reading: str = None    # where not judged for too few repetitions: what the numbers would say
    apart: bool = False    # the rule judged its parts apart by their n (decision_map), not the engine

    @property
    def thin(self):
        """True when the claim is not judged for too few repetitions."""
        return self.verdict == NOT_JUDGED and thin(self.n)

    def verdict_text(self):
        """'confirmed', or 'not judged: n = 3' where the inputs have too few repetitions."""
        return not_judged(self.n) if self.thin else self.verdict

    def judgements(self):
        """[(language, Claim)]: this one, then the other row sets'; [(None, self)] with one set."""
        return [(self.language, self)] + [(c.language, c) for c in self.also]

    def differs(self):
        """True when another row set's verdict is not this one's."""
        return any(c.verdict != self.verdict for c in self.also)


def grade(factor, confirm, refute):
    if factor >= confirm:
        return CONFIRMED
    return REFUTED if factor < refute else MIXED


def combine(verdicts):
    """One verdict from several measures: agreement wins, disagreement is mixed; measures inside
    the run-to-run spread decide nothing."""
    decided = [v for v in verdicts if v in (CONFIRMED, REFUTED, MIXED)]
    if not decided:
        return (UNDECIDED if UNDECIDED in verdicts else
                INDISTINGUISHABLE if INDISTINGUISHABLE in verdicts else NOT_MEASURED)
    return decided[0] if all(v == decided[0] for v in decided) else MIXED


def agreement(oks):
    """Yes/no tests (not empty): all agree → confirmed, none → refuted, some → mixed."""
    return CONFIRMED if all(oks) else REFUTED if not any(oks) else MIXED


def sides(verdicts):
    """One side of claim (e) from its cells: as combine, but a side favoured in some cells and
    level (inside the spread) in the others is mixed, and nothing decided is undecided."""
    decided = [v for v in verdicts if v in (CONFIRMED, REFUTED)]
    if not decided:
        return INDISTINGUISHABLE if INDISTINGUISHABLE in verdicts else UNDECIDED
    if INDISTINGUISHABLE in verdicts and all(v == CONFIRMED for v in decided):
        return MIXED   # favoured somewhere, level elsewhere
    return decided[0] if all(v == decided[0] for v in decided) else MIXED


def ahead_behind(verdicts):
    """A measure over several points: ahead somewhere and behind nowhere confirms, the reverse
    refutes, both is mixed; level throughout is mixed; client-bound points do not count; None
    when there is no point."""
    ahead, behind = CONFIRMED in verdicts, REFUTED in verdicts
    if ahead or behind:
        return MIXED if ahead and behind else CONFIRMED if ahead else REFUTED
    if MIXED in verdicts:
        return MIXED
    return (INDISTINGUISHABLE if INDISTINGUISHABLE in verdicts and UNDECIDED not in verdicts else
            UNDECIDED if verdicts else None)


def _spread(p, counter):
    """'min–max, n=k' of a point's repetitions, or 'n=1'."""
    rng = p.range(counter) if p is not None else None
    n = p.n.get(counter, 1) if p is not None else 1
    return f"{fmt(rng[0])}–{fmt(rng[1])}, n={n}" if rng else f"n={n}"


def overlap_note(a, b, counter, who_a, who_b):
    """' — indistinguishable: ...' when the two points' min-max ranges overlap, else ''."""
    if a is None or b is None or not a.overlaps(b, counter):
        return ""
    return (f" — {INDISTINGUISHABLE}: the ranges of the repetitions overlap ({who_a} "
            f"{_spread(a, counter)}; {who_b} {_spread(b, counter)}), so the difference is inside the "
            f"run-to-run spread and counts for neither")


def thin_verdict(c, n, points=()):
    """Where n (the smallest n among the claim's inputs) is below VERDICT_MIN_N: the verdict becomes
    NOT_JUDGED and the evidence says so, with what the numbers would say (c.reading) and the
    entries that are short; the numbers stay in the evidence. Returns True when it did."""
    from cobench_results import VERDICT_MIN_N, verdict_n
    c.n = n
    if not thin(n) or c.verdict in (NOT_MEASURED, NOT_JUDGED):
        return False
    c.reading, c.verdict = c.verdict, NOT_JUDGED
    short = verdict_n.thin_points(points)
    c.evidence.append(f"{not_judged(n)}: the entries this verdict reads have fewer than {VERDICT_MIN_N} "
                      f"repetitions" + (f" ({short})" if short else "") + f"; from these numbers it would "
                      f"read {c.reading}, which is not a verdict")
    return True
