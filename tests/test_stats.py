"""The bootstrap interval of the median: deterministic, and as wide as the data says."""

from __future__ import annotations

import pytest

from harness.results.stats import median_ci, relative_width


def test_interval_contains_the_median_and_is_reproducible() -> None:
    values = [1.0, 1.2, 0.9, 1.1, 1.05, 0.95, 1.3]
    mid, low, high = median_ci(values)
    assert mid == 1.05 and low <= mid <= high
    assert median_ci(values) == (mid, low, high)  # seeded: a re-rendered report is identical


def test_identical_samples_have_zero_width() -> None:
    assert median_ci([2.0, 2.0, 2.0]) == (2.0, 2.0, 2.0)
    assert relative_width([2.0, 2.0, 2.0]) == 0.0


def test_noisy_samples_are_wider_than_quiet_ones() -> None:
    assert relative_width([1.0, 1.5, 0.5, 1.2, 0.8]) > relative_width([1.0, 1.01, 0.99, 1.0, 1.0])


def test_lone_value_and_no_value() -> None:
    assert median_ci([3.0]) == (3.0, 3.0, 3.0)
    with pytest.raises(ValueError):
        median_ci([])
