"""Extra measured rounds where a headline figure is still imprecise.

On a shared 2-core VM the same cell varies by 5-13% from one repeat to the next (host
contention, disk flushes), so three repeats pin some medians down and not others. Rather than
paying more repeats for every tool, the runner adds rounds only for the tool:scenarios whose
headline interval is still wide, like a benchmark runner that samples until its estimate is
precise, within a cap on repeats and a time budget.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from harness.results.repeatability import HEADLINE, samples
from harness.results.stats import relative_width

UNSTABLE_SPREAD = 0.10  # a median whose interval spans this share of it is imprecise
MIN_SAMPLES = 3  # below this, an interval of the median says little


def _widest(figures: Mapping[str, list[float]]) -> tuple[float, str] | None:
    found: list[tuple[float, str]] = []
    for name, key in HEADLINE:
        values = figures.get(key, [])
        if len(values) < MIN_SAMPLES:
            return None
        found.append((relative_width(values), name))
    return max(found)


def widest(cells: Sequence[Mapping[str, Any]], label: str) -> tuple[float, str] | None:
    """The widest relative interval among ``label``'s headline figures, and which figure; None
    when a figure has too few samples to judge (a failed cell is not re-measured here)."""
    return _widest(samples(cells).get(label, {}))


def imprecise(cells: Sequence[Mapping[str, Any]], labels: Iterable[str]) -> list[str]:
    """The labels, in order, whose end-to-end or blocked-time interval spans >= the threshold."""
    grouped = samples(cells)
    return [label for label in labels
            if (w := _widest(grouped.get(label, {}))) is not None and w[0] >= UNSTABLE_SPREAD]


def round_estimate_s(cells: Sequence[Mapping[str, Any]], labels: Iterable[str]) -> float:
    """Seconds one more round of ``labels`` should take: each label's median harness time per
    cell (log and read-back) so far."""
    total = 0.0
    for label in labels:
        spent = [c["cell_s"] for c in cells if c.get("cell_s") is not None
                 and f"{c['tool']}:{c['scenario']}" == label]
        total += statistics.median(spent) if spent else 0.0
    return total
