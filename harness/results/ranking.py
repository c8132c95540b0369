"""Which tool:scenarios this run can put in order, and which its noise cannot tell apart.

Two tools are compared within each interleaved round: the difference of their end-to-end times
in the same repeat, so the machine's drift between rounds (which moves both alike) cancels out.
The median of those paired differences, with its order-statistic interval, settles the order
when the interval excludes zero; when it holds zero the two are tied at this run's precision.
This is the conclusion a reader draws from the headline, so it is what the report flags.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from adapters.base import REFERENCE_TOOLS
from harness.results.stats import coverage, median_ci

HEADLINE_KEY = "e2e_s"


@dataclass(frozen=True)
class Pair:
    """``faster`` and ``slower`` by median, and their paired difference (slower - faster)."""

    faster: str
    slower: str
    difference: tuple[float, float, float]  # (median, low, high) in seconds
    rounds: int  # rounds where both cells succeeded

    @property
    def coverage(self) -> float:
        return coverage(self.rounds)

    @property
    def settled(self) -> bool:
        """The interval excludes zero: the order is not noise (at the stated coverage)."""
        return self.rounds > 1 and self.difference[1] > 0


def by_round(results: Mapping[str, Any], key: str = HEADLINE_KEY) -> dict[str, dict[int, float]]:
    """tool:scenario -> repeat -> ``key`` of its ok cell; reference tools left out."""
    out: dict[str, dict[int, float]] = {}
    for cell in results["cells"]:
        if cell["status"] != "ok" or cell["tool"] in REFERENCE_TOOLS or cell.get(key) is None:
            continue
        out.setdefault(f"{cell['tool']}:{cell['scenario']}", {})[cell["repeat"]] = cell[key]
    return out


def pair(rounds: Mapping[str, Mapping[int, float]], a: str, b: str) -> Pair | None:
    """The paired comparison of ``a`` and ``b``; None without a round where both succeeded."""
    shared = sorted(set(rounds[a]) & set(rounds[b]))
    if not shared:
        return None
    diffs = [rounds[b][r] - rounds[a][r] for r in shared]
    if statistics.median(diffs) < 0:
        a, b, diffs = b, a, [-d for d in diffs]
    return Pair(a, b, median_ci(diffs), len(shared))


def ordered(results: Mapping[str, Any], key: str = HEADLINE_KEY) -> list[str]:
    """tool:scenarios from fastest to slowest by median ``key``."""
    rounds = by_round(results, key)
    return sorted(rounds, key=lambda label: statistics.median(rounds[label].values()))


def neighbours(results: Mapping[str, Any], key: str = HEADLINE_KEY) -> list[Pair]:
    """Each tool:scenario against the next slower one: the comparisons the order rests on."""
    rounds = by_round(results, key)
    labels = ordered(results, key)
    found = (pair(rounds, a, b) for a, b in zip(labels, labels[1:], strict=False))
    return [p for p in found if p is not None]


def unsettled(results: Mapping[str, Any], key: str = HEADLINE_KEY) -> list[Pair]:
    """Neighbours whose order this run's noise could reverse."""
    return [p for p in neighbours(results, key) if not p.settled]
