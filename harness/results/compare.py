"""Regression rows between two results files (e.g. before and after upgrading a tool).

Like pyperf's ``compare_to``: only results from the same machine are compared (different CPUs
or core counts make the difference meaningless), and a change counts as significant only when
the two order-statistic intervals of the median do not overlap.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from harness.results import check_same_machine
from harness.results.stats import median_ci

FIGURES = (("end to end", "e2e_s"), ("blocked in log calls", "blocked_s"),
           ("overhead vs none", "overhead_s"))


@dataclass(frozen=True)
class Change:
    """One figure of one tool:scenario in both files: (median, low, high) before and after."""

    label: str
    figure: str
    old_version: str | None
    new_version: str | None
    old: tuple[float, float, float]
    new: tuple[float, float, float]

    @property
    def relative(self) -> float | None:
        return (self.new[0] - self.old[0]) / self.old[0] if self.old[0] else None

    @property
    def significant(self) -> bool:
        return self.new[2] < self.old[1] or self.new[1] > self.old[2]


def _medians(results: Mapping[str, Any], key: str) -> dict[str, tuple[float, float, float]]:
    samples: dict[str, list[float]] = {}
    for cell in results["cells"]:
        if cell["status"] == "ok" and cell.get(key) is not None:
            samples.setdefault(f"{cell['tool']}:{cell['scenario']}", []).append(cell[key])
    return {label: median_ci(values) for label, values in samples.items()}


def changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[Change]:
    """Every figure of every tool:scenario present in both files; IncomparableResults if they
    come from different machines."""
    check_same_machine(old, new)
    out = []
    for name, key in FIGURES:
        before, after = _medians(old, key), _medians(new, key)
        for label in (label for label in before if label in after):
            tool = label.rpartition(":")[0]
            out.append(Change(label, name, old["tools"].get(tool), new["tools"].get(tool),
                              before[label], after[label]))
    return out
