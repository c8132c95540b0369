"""Run-to-run repeatability: a run keeps the headline medians of the previous run in the same
output directory (same machine, same plan), so its report can state how far they moved.

Interval widths say how noisy one run was; only a second run says whether a team re-running the
comparison tomorrow would see the same numbers.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping
from typing import Any

from harness.results import IncomparableResults, check_same_machine, decision
from harness.results.stats import median_ci

HEADLINE = (("end to end", "e2e_s"), ("blocked in log calls", "blocked_s"))
TOLERANCE = 0.10  # a headline median within +-10% of the previous run's counts as repeated
PLAN_KEYS = ("tools", "scenarios", "profile", "repeats", "max_repeats", "workload",
             "workload_config", "require", "training_run")


def samples(cells: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, list[float]]]:
    """tool:scenario -> headline figure key -> values over the ok cells."""
    found: dict[str, dict[str, list[float]]] = {}
    for cell in cells:
        if cell["status"] != "ok":
            continue
        label = f"{cell['tool']}:{cell['scenario']}"
        for _, key in HEADLINE:
            if cell.get(key) is not None:
                found.setdefault(label, {}).setdefault(key, []).append(cell[key])
    return found


def headline(results: Mapping[str, Any]) -> dict[str, dict[str, float]]:
    """tool:scenario -> figure key -> median over the ok cells."""
    return {label: {key: statistics.median(v) for key, v in figures.items()}
            for label, figures in samples(results["cells"]).items()}


def intervals(results: Mapping[str, Any]) -> dict[str, dict[str, list[float]]]:
    """tool:scenario -> figure key -> [low, high] of the median's order-statistic interval."""
    return {label: {key: list(median_ci(v)[1:]) for key, v in figures.items()}
            for label, figures in samples(results["cells"]).items()}


def previous_run(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any] | None:
    """The previous run's headline, when it is comparable with the new one (else None)."""
    try:
        check_same_machine(old, new)
    except IncomparableResults:
        return None
    old_inv, new_inv = old.get("invocation", {}), new["invocation"]
    if any(old_inv.get(k) != new_inv.get(k) for k in PLAN_KEYS):
        return None
    return {"created": old["created"], "medians": headline(old), "intervals": intervals(old),
            "page_one": decision.summary(old)}


def overlaps(results: Mapping[str, Any]) -> dict[tuple[str, str], bool]:
    """(label, figure key) -> whether this run's and the previous run's intervals of the
    median overlap, i.e. the change is one the two runs' own spread can explain; absent where
    the previous run kept no interval."""
    before = (results.get("previous_run") or {}).get("intervals") or {}
    out = {}
    for label, figures in intervals(results).items():
        for key, now in figures.items():
            if (old := before.get(label, {}).get(key)) is not None:
                out[(label, key)] = old[0] <= now[1] and now[0] <= old[1]
    return out


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
