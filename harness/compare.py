"""Regression table between two results files (e.g. before and after upgrading a tool).

Like pyperf's ``compare_to``: only results from the same machine are compared (different CPUs
or core counts make the difference meaningless), and a change counts as significant only when
the two 95% intervals of the median do not overlap.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from harness.markdown import fmt_s
from harness.results import IncomparableResults, check_same_machine
from harness.stats import median_ci

__all__ = ["IncomparableResults", "render"]

FIGURES = (("end to end", "e2e_s"), ("blocked in log calls", "blocked_s"),
           ("overhead vs none", "overhead_s"))


def _medians(results: Mapping[str, Any], key: str) -> dict[str, tuple[float, float, float]]:
    samples: dict[str, list[float]] = {}
    for cell in results["cells"]:
        if cell["status"] == "ok" and cell.get(key) is not None:
            samples.setdefault(f"{cell['tool']}:{cell['scenario']}", []).append(cell[key])
    return {label: median_ci(values) for label, values in samples.items()}


def render(old: Mapping[str, Any], new: Mapping[str, Any]) -> str:
    """Markdown: one row per tool:scenario and figure present in both files."""
    check_same_machine(old, new)
    lines = ["# trackbench comparison", "",
             f"Old: results of {old['created']}; new: results of {new['created']}; same machine "
             f"({new['machine']['cpu_model']}, {new['machine']['cpu_logical']} cores).", "",
             "A change is *significant* when the two medians' 95% bootstrap intervals do not "
             "overlap.", "",
             "| tool:scenario | figure | old version | new version | old | new | change | "
             "significant |", "|---|---|---|---|---|---|---|---|"]
    for name, key in FIGURES:
        before, after = _medians(old, key), _medians(new, key)
        for label in (label for label in before if label in after):
            (m0, lo0, hi0), (m1, lo1, hi1) = before[label], after[label]
            change = f"{100 * (m1 - m0) / m0:+.1f}%" if m0 else "-"
            significant = "yes" if hi1 < lo0 or lo1 > hi0 else "no"
            tool = label.rpartition(":")[0]
            lines.append(f"| {label} | {name} | {old['tools'].get(tool) or '-'} | "
                         f"{new['tools'].get(tool) or '-'} | {fmt_s(m0)} | {fmt_s(m1)} | "
                         f"{change} | {significant} |")
    return "\n".join(lines) + "\n"
