"""The interval of the median: distribution-free, with the coverage it states, and as wide as
the data says."""

from __future__ import annotations

import random

import pytest

from harness.results.stats import coverage, coverage_text, median_ci, relative_width


def test_small_samples_state_their_real_coverage() -> None:
    """At n=3 the only interval is [min, max], which holds the median 75% of the time."""
    assert median_ci([1.0, 2.0, 3.0]) == (2.0, 1.0, 3.0)
    assert coverage(3) == 0.75 and coverage(5) == pytest.approx(0.9375)
    assert coverage(6) >= 0.95 and coverage(1) == 0.0
    assert coverage_text([3, 5, 3]) == "75% at n=3, 94% at n=5"


@pytest.mark.parametrize("n", [3, 5, 10])
def test_stated_coverage_is_what_a_simulation_finds(n: int) -> None:
    rng = random.Random(n)
    trials = 4000
    hits = 0
    for _ in range(trials):
        mid, low, high = median_ci([rng.expovariate(1.0) for _ in range(n)])
        hits += low <= 0.6931471805599453 <= high  # the exponential's median, ln 2
    assert abs(hits / trials - coverage(n)) < 0.025


def test_more_samples_give_a_narrower_interval_than_min_max() -> None:
    values = [1.0, 1.2, 0.9, 1.1, 1.05, 0.95, 1.3, 1.02, 0.98, 1.01]
    mid, low, high = median_ci(values)
    assert low > min(values) and high < max(values) and low <= mid <= high
    assert coverage(len(values)) >= 0.95


def test_identical_samples_have_zero_width() -> None:
    assert median_ci([2.0, 2.0, 2.0]) == (2.0, 2.0, 2.0)
    assert relative_width([2.0, 2.0, 2.0]) == 0.0


def test_noisy_samples_are_wider_than_quiet_ones() -> None:
    assert relative_width([1.0, 1.5, 0.5, 1.2, 0.8]) > relative_width([1.0, 1.01, 0.99, 1.0, 1.0])


def test_lone_value_and_no_value() -> None:
    assert median_ci([3.0]) == (3.0, 3.0, 3.0)
    with pytest.raises(ValueError):
        median_ci([])
