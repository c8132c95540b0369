"""Run-to-run repeatability: a run keeps the headline medians of the previous run in the same
output directory (same machine, same plan), so its report can state how far they moved.

Interval widths say how noisy one run was; only a second run says whether a team re-running the
comparison tomorrow would see the same numbers.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping
from typing import Any

from harness.results import IncomparableResults, check_same_machine
from harness.stats import median_ci

HEADLINE = (("end to end", "e2e_s"), ("blocked in log calls", "blocked_s"))
TOLERANCE = 0.10  # a headline median within +-10% of the previous run's counts as repeated
PLAN_KEYS = ("tools", "scenarios", "profile", "repeats", "max_repeats", "workload",
             "workload_config")


def _samples(results: Mapping[str, Any]) -> dict[str, dict[str, list[float]]]:
    """tool:scenario -> figure key -> values over the ok cells."""
    samples: dict[str, dict[str, list[float]]] = {}
    for cell in results["cells"]:
        if cell["status"] != "ok":
            continue
        label = f"{cell['tool']}:{cell['scenario']}"
        for _, key in HEADLINE:
            if cell.get(key) is not None:
                samples.setdefault(label, {}).setdefault(key, []).append(cell[key])
    return samples


def headline(results: Mapping[str, Any]) -> dict[str, dict[str, float]]:
    """tool:scenario -> figure key -> median over the ok cells."""
    return {label: {key: statistics.median(v) for key, v in figures.items()}
            for label, figures in _samples(results).items()}


def intervals(results: Mapping[str, Any]) -> dict[str, dict[str, list[float]]]:
    """tool:scenario -> figure key -> [low, high] of the median's 95% bootstrap interval."""
    return {label: {key: list(median_ci(v)[1:]) for key, v in figures.items()}
            for label, figures in _samples(results).items()}


def previous_run(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any] | None:
    """The previous run's headline, when it is comparable with the new one (else None)."""
    try:
        check_same_machine(old, new)
    except IncomparableResults:
        return None
    old_inv, new_inv = old.get("invocation", {}), new["invocation"]
    if any(old_inv.get(k) != new_inv.get(k) for k in PLAN_KEYS):
        return None
    return {"created": old["created"], "medians": headline(old), "intervals": intervals(old)}


def within_noise(results: Mapping[str, Any], label: str, key: str) -> bool | None:
    """Whether this run's and the previous run's 95% intervals of a median overlap, i.e. the
    change is one the two runs' own spread can explain (None: the previous run kept none)."""
    before = ((results.get("previous_run") or {}).get("intervals") or {}).get(label, {}).get(key)
    now = intervals(results).get(label, {}).get(key)
    if before is None or now is None:
        return None
    return before[0] <= now[1] and now[0] <= before[1]


def changes(results: Mapping[str, Any]) -> list[tuple[str, str, float, float, float | None]]:
    """(label, figure key, previous, now, relative change) for every headline in both runs."""
    prev = (results.get("previous_run") or {}).get("medians") or {}
    out = []
    for label, figures in headline(results).items():
        for _, key in HEADLINE:
            before, now = prev.get(label, {}).get(key), figures.get(key)
            if before is None or now is None:
                continue
            out.append((label, key, before, now, (now - before) / before if before else None))
    return out
