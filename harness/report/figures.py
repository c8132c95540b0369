"""Figures several sections show: cells grouped per tool:scenario, and medians with their
order-statistic interval over repeats (see harness.results.stats)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from harness.results import REFERENCE_TOOLS
from harness.results.derived import kept_fraction
from harness.results.precision import UNSTABLE_SPREAD
from harness.results.stats import coverage_text, median_ci

Cells = list[dict[str, Any]]


def values_of(cells: Iterable[Mapping[str, Any]], get: Callable[[Mapping[str, Any]], Any]) -> list:
    """``get`` of each cell, skipping the cells that lack the figure (older files, failures)."""
    out = []
    for cell in cells:
        try:
            value = get(cell)
        except (KeyError, TypeError):
            continue
        if value is not None:
            out.append(value)
    return out


def spread(values: list[float], fmt: Callable[[float | None], str]) -> str:
    """``median [low–high]`` (the median's order-statistic interval); a lone value is bare."""
    if not values:
        return "-"
    mid, low, high = median_ci(values)
    if len(values) == 1:
        return fmt(mid)
    return f"{fmt(mid)} [{fmt(low)}–{fmt(high)}]"


def by_scenario(results: Mapping[str, Any]) -> dict[tuple[str, str], Cells]:
    """The cells of each (tool, scenario), in the order the run measured them."""
    groups: dict[tuple[str, str], Cells] = {}
    for cell in results["cells"]:
        groups.setdefault((cell["tool"], cell["scenario"]), []).append(cell)
    return groups


def ok_cells(cells: Cells) -> Cells:
    return [c for c in cells if c["status"] == "ok"]


def status_of(cells: Cells) -> str:
    """``ok``, or how many cells ended in each status."""
    statuses = sorted({c["status"] for c in cells})
    if statuses == ["ok"]:
        return "ok"
    return ", ".join(f"{sum(c['status'] == s for c in cells)} {s}" for s in statuses)


def fidelity_summary(cells: Cells) -> str:
    """The share kept by the worst repeat: one lossy repeat is enough to distrust a tool."""
    fractions = values_of(ok_cells(cells), lambda c: kept_fraction(c["fidelity"] or {}))
    if not fractions:
        return "n/a (stores nothing)" if ok_cells(cells) else "n/a"
    worst = min(fractions)
    return f"{100 * worst:.1f}%" if worst < 1 else "100%"


def repeats_text(results: Mapping[str, Any]) -> str:
    """How many repeats each tool:scenario got: the planned ones, plus extra rounds where a
    headline interval stayed wide (see harness.results.precision)."""
    inv = results["invocation"]
    planned, most = inv["repeats"], inv.get("max_repeats") or inv["repeats"]
    text = f"{planned} repeat(s)"
    if most <= planned:
        return text
    counts = [len(cells) for (tool, _), cells in by_scenario(results).items()
              if tool not in REFERENCE_TOOLS]
    got = f"{min(counts)}–{max(counts)}" if counts and min(counts) != max(counts) else (
        str(counts[0]) if counts else "none")
    budget = inv.get("time_budget_s")
    return (text + f", more (up to {most}) where a headline interval still spanned >= "
            f"{100 * UNSTABLE_SPREAD:.0f}% of its median"
            + (f" and the {budget / 60:.0f}-minute budget allowed" if budget else "")
            + f"; here {got} per tool:scenario")


def coverage_of(results: Mapping[str, Any]) -> str:
    """The real coverage of the intervals shown, at each repeat count the run has."""
    counts = [len(ok_cells(cells)) for cells in by_scenario(results).values()]
    return coverage_text(counts) or "no interval (one repeat)"
