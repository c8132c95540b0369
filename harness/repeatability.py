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

HEADLINE = (("end to end", "e2e_s"), ("blocked in log calls", "blocked_s"))
# The machine's speed during each cell (harness/calibration.py) and end-to-end time in units of
# it: how far a tool moved once the machine's own drift is taken out.
SPEED, NORMALISED = "calibration_s", "e2e_per_speed"
TOLERANCE = 0.10  # a headline median within +-10% of the previous run's counts as repeated
PLAN_KEYS = ("tools", "scenarios", "profile", "repeats", "workload", "workload_config")


def headline(results: Mapping[str, Any]) -> dict[str, dict[str, float]]:
    """tool:scenario -> figure key -> median over the ok cells."""
    samples: dict[str, dict[str, list[float]]] = {}
    for cell in results["cells"]:
        if cell["status"] != "ok":
            continue
        label = f"{cell['tool']}:{cell['scenario']}"
        figures = {key: cell.get(key) for _, key in HEADLINE}
        if cell.get(SPEED) and cell.get("e2e_s") is not None:
            speed = statistics.fmean(cell[SPEED])
            figures.update({SPEED: speed, NORMALISED: cell["e2e_s"] / speed})
        for key, value in figures.items():
            if value is not None:
                samples.setdefault(label, {}).setdefault(key, []).append(value)
    return {label: {key: statistics.median(v) for key, v in figures.items()}
            for label, figures in samples.items()}


def previous_run(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any] | None:
    """The previous run's headline, when it is comparable with the new one (else None)."""
    try:
        check_same_machine(old, new)
    except IncomparableResults:
        return None
    old_inv, new_inv = old.get("invocation", {}), new["invocation"]
    if any(old_inv.get(k) != new_inv.get(k) for k in PLAN_KEYS):
        return None
    return {"created": old["created"], "medians": headline(old)}


def changes(results: Mapping[str, Any]) -> list[tuple[str, str, float, float, float | None]]:
    """(label, figure key, previous, now, relative change) for every headline in both runs,
    and for the machine speed and speed-normalised end-to-end time when both runs have them."""
    prev = (results.get("previous_run") or {}).get("medians") or {}
    out = []
    for label, figures in headline(results).items():
        for key in (*(key for _, key in HEADLINE), SPEED, NORMALISED):
            before, now = prev.get(label, {}).get(key), figures.get(key)
            if before is None or now is None:
                continue
            out.append((label, key, before, now, (now - before) / before if before else None))
    return out
