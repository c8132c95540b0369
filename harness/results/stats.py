"""Medians and their distribution-free confidence intervals, from order statistics.

With n repeats sorted x(1) <= ... <= x(n), the interval [x(k), x(n+1-k)] holds the true median
with probability P(k <= B <= n-k), B ~ Binomial(n, 1/2), whatever the distribution of the
repeats. For small n that coverage is below 95% even at k = 1 (the min and the max): 75% at
n = 3, 94% at n = 5. It reaches 95% from n = 6. So the interval is the narrowest with at least
95% coverage when one exists, else [min, max], and its real coverage is stated beside it
(:func:`coverage`), never a nominal level it does not have. A bootstrap of the median would
return the same [min, max] at these n while calling it 95%.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

CONFIDENCE = 0.95


def _coverage(n: int, k: int) -> float:
    """P(k <= B <= n - k) for B ~ Binomial(n, 1/2): the coverage of [x(k), x(n+1-k)]."""
    below = sum(math.comb(n, i) for i in range(k)) / 2 ** n
    return 1.0 - 2.0 * below


def order_rank(n: int, confidence: float = CONFIDENCE) -> int:
    """k of the narrowest interval [x(k), x(n+1-k)] with at least ``confidence`` coverage, or 1
    (the min and the max) when no interval has that much; 0 below two samples."""
    if n < 2:
        return 0
    k = 1
    while k + 1 <= n // 2 and _coverage(n, k + 1) >= confidence:
        k += 1
    return k


def coverage(n: int, confidence: float = CONFIDENCE) -> float:
    """The real coverage of :func:`median_ci`'s interval for ``n`` samples (0 below two)."""
    k = order_rank(n, confidence)
    return _coverage(n, k) if k else 0.0


def median_ci(values: Sequence[float],
              confidence: float = CONFIDENCE) -> tuple[float, float, float]:
    """(median, low, high): the order-statistic interval of the median (see the module)."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    mid = statistics.median(ordered)
    k = order_rank(len(ordered), confidence)
    if not k:
        return mid, mid, mid
    return mid, ordered[k - 1], ordered[len(ordered) - k]


def relative_width(values: Sequence[float]) -> float:
    """Width of the median's interval as a share of the median (0 when the median is 0)."""
    mid, low, high = median_ci(values)
    return (high - low) / abs(mid) if mid else 0.0


def coverage_text(counts: Sequence[int]) -> str:
    """``75% at n=3, 94% at n=5``: the real coverage at each sample count present."""
    return ", ".join(f"{100 * coverage(n):.0f}% at n={n}" for n in sorted(set(counts)) if n > 1)
