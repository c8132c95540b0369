"""Statistics kept with the results: medians and their bootstrap confidence intervals.

The bootstrap is seeded, so a report regenerated from the same results file shows the same
intervals.
"""

from __future__ import annotations

import random
import statistics
from collections.abc import Sequence

RESAMPLES = 2000
CONFIDENCE = 0.95


def median_ci(values: Sequence[float], resamples: int = RESAMPLES,
              confidence: float = CONFIDENCE, seed: int = 0) -> tuple[float, float, float]:
    """(median, low, high): the percentile-bootstrap interval of the median."""
    if not values:
        raise ValueError("no values")
    mid = statistics.median(values)
    if len(values) == 1:
        return mid, mid, mid
    rng = random.Random(seed)
    n = len(values)
    boots = sorted(statistics.median(rng.choices(values, k=n)) for _ in range(resamples))
    tail = (1.0 - confidence) / 2.0
    low = boots[int(tail * (resamples - 1))]
    high = boots[int(round((1.0 - tail) * (resamples - 1)))]
    return mid, low, high


def relative_width(values: Sequence[float]) -> float:
    """Width of the median's interval as a share of the median (0 when the median is 0)."""
    mid, low, high = median_ci(values)
    return (high - low) / abs(mid) if mid else 0.0
