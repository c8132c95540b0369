"""Which tool:scenarios a run can put in order, and which its noise cannot tell apart (tied).

Two tools are compared within each interleaved round: the difference of a figure (end-to-end
time, or the projected cost of a training run) in the same repeat, so the machine's drift between
rounds, which moves both alike, cancels out. A pair is tested with a two-sided paired t-test
on the log of the per-round ratio (costs on this machine vary in proportion to their size; on
the differences themselves where a figure is not positive), and the p-values of one family of
comparisons are corrected for their number with Holm's step-down method (family-wise error
ALPHA). A pair whose corrected test does not reject is *tied*.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from adapters.base import REFERENCE_TOOLS

ALPHA = 0.05
HEADLINE_KEY = "e2e_s"
Rounds = Mapping[str, Mapping[int, float]]  # label -> repeat -> figure


@dataclass(frozen=True)
class Pair:
    """``faster`` and ``slower`` by median, their paired difference, and the test of it."""

    faster: str
    slower: str
    difference: float  # median of (slower - faster) over the shared rounds, seconds
    rounds: int  # rounds where both cells succeeded
    p_value: float  # two-sided paired t-test, before correction
    settled: bool = False  # rejected after Holm's correction over the ordering's pairs


def paired_p(diffs: Sequence[float]) -> float:
    """Two-sided p-value of a paired t-test that the mean difference is zero (1.0 below two
    rounds; 0 when every round agrees exactly on a nonzero difference)."""
    # Imported here: scipy.stats costs ~1 s, and every CLI start (options -> precision ->
    # ranking) would pay it, even `trackbench list`.
    from scipy.stats import t as student_t

    if len(diffs) < 2:
        return 1.0
    mean, sd = statistics.fmean(diffs), statistics.stdev(diffs)
    if sd == 0:
        return 1.0 if mean == 0 else 0.0
    t = mean / (sd / math.sqrt(len(diffs)))
    return float(2 * student_t.sf(abs(t), len(diffs) - 1))


def holm(p_values: Sequence[float], alpha: float = ALPHA) -> list[bool]:
    """Which hypotheses Holm's step-down procedure rejects, in the given order."""
    order = sorted(range(len(p_values)), key=lambda i: p_values[i])
    rejected = [False] * len(p_values)
    for rank, index in enumerate(order):
        if p_values[index] > alpha / (len(p_values) - rank):
            break
        rejected[index] = True
    return rejected


def by_round(results: Mapping[str, Any], key: str = HEADLINE_KEY) -> dict[str, dict[int, float]]:
    """tool:scenario -> repeat -> ``key`` of its ok cell; reference tools left out."""
    out: dict[str, dict[int, float]] = {}
    for cell in results["cells"]:
        if cell["status"] != "ok" or cell["tool"] in REFERENCE_TOOLS or cell.get(key) is None:
            continue
        out.setdefault(f"{cell['tool']}:{cell['scenario']}", {})[cell["repeat"]] = cell[key]
    return out


def _pair(rounds: Rounds, a: str, b: str) -> Pair:
    shared = sorted(set(rounds[a]) & set(rounds[b]))
    diffs = [rounds[b][r] - rounds[a][r] for r in shared]
    if diffs and statistics.median(diffs) < 0:
        a, b, diffs = b, a, [-d for d in diffs]
    positive = all(rounds[x][r] > 0 for x in (a, b) for r in shared)
    tested = [math.log(rounds[b][r] / rounds[a][r]) for r in shared] if positive else diffs
    return Pair(a, b, statistics.median(diffs) if diffs else 0.0, len(shared), paired_p(tested))


def neighbours(rounds: Rounds, labels: Sequence[str] | None = None) -> list[Pair]:
    """``labels`` (all by default) in median order, each tested against the next; Holm's
    correction over these pairs decides which are settled."""
    chosen = [label for label in (labels if labels is not None else rounds) if rounds.get(label)]
    ordered = sorted(chosen, key=lambda label: statistics.median(rounds[label].values()))
    pairs = [_pair(rounds, a, b) for a, b in zip(ordered, ordered[1:], strict=False)]
    settled = holm([p.p_value for p in pairs])
    return [Pair(p.faster, p.slower, p.difference, p.rounds, p.p_value, s)
            for p, s in zip(pairs, settled, strict=True)]


def significant_pairs(rounds: Rounds, labels: Sequence[str]) -> set[tuple[str, str]]:
    """(faster, slower) for every pair of ``labels`` whose paired test rejects after Holm's
    correction over all the pairs: the orderings the run can defend."""
    chosen = [label for label in labels if rounds.get(label)]
    pairs = [_pair(rounds, a, b) for i, a in enumerate(chosen) for b in chosen[i + 1:]]
    rejected = holm([p.p_value for p in pairs])
    return {(p.faster, p.slower) for p, r in zip(pairs, rejected, strict=True) if r}


@dataclass(frozen=True)
class Placing:
    """Where a run can place ``label`` among the others compared with it: ``best`` is one more
    than those it shows cheaper, ``worst`` the count less those it shows dearer; the ones in
    between it cannot tell apart from ``label`` (tied)."""

    label: str
    best: int
    worst: int

    @property
    def text(self) -> str:
        return str(self.best) if self.best == self.worst else f"{self.best}–{self.worst}"


def placings(rounds: Rounds, labels: Sequence[str]) -> list[Placing]:
    """``labels`` in order of their median, each with the ranks the run allows it: the order is
    always the figure's, and a tie shows as a range instead of a rank the noise could swap
    (a grouping by leader would put a cheaper tool below a dearer one that is merely noisier)."""
    chosen = sorted((label for label in labels if rounds.get(label)),
                    key=lambda label: statistics.median(rounds[label].values()))
    worse = significant_pairs(rounds, chosen)
    return [Placing(label, 1 + sum((other, label) in worse for other in chosen),
                    len(chosen) - sum((label, other) in worse for other in chosen))
            for label in chosen]
