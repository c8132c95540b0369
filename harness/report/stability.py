"""The Stability section: how repeatable this run's figures are, which conclusions its noise
could reverse, and how far the figures moved from the previous run's."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from harness.report.figures import by_scenario, ok_cells, values_of
from harness.report.markdown import cell_label, fmt_s, md_table
from harness.report.page import Page
from harness.results import REFERENCE_TOOLS, ranking, repeatability
from harness.results.precision import MIN_SAMPLES
from harness.results.stats import coverage_text, relative_width


def _run_to_run(results: Mapping[str, Any]) -> list[str]:
    """How far this run's headline medians moved from the previous run's (same machine, plan)."""
    changes = [c for c in repeatability.changes(results)
               if c[0].partition(":")[0] not in REFERENCE_TOOLS]
    if not changes:
        return ["Run-to-run: no previous comparable run in this output directory; run the same "
                "command again to measure how far the medians move between runs.", ""]
    tolerance = 100 * repeatability.TOLERANCE
    lines = [f"Run-to-run, against the previous run of the same plan on this machine "
             f"({results['previous_run']['created']}):"]
    overlaps = repeatability.overlaps(results)

    def noise(label: str, key: str) -> str:
        overlap = overlaps.get((label, key))
        return "-" if overlap is None else ("overlap" if overlap else "apart")

    for name, key in repeatability.HEADLINE:
        moved = [c for c in changes if c[1] == key]
        off = [c for c in moved if c[4] is None or abs(c[4]) > repeatability.TOLERANCE]
        worst = max(moved, key=lambda c: abs(c[4] or 0.0))
        lines.append(f"- *{name}*: {len(moved) - len(off)} of {len(moved)} tool medians within "
                     f"±{tolerance:.0f}% (largest change {100 * (worst[4] or 0):+.1f}%, "
                     f"{worst[0]})" + (": " + ", ".join(
                         f"{c[0]} {100 * (c[4] or 0):+.1f}% (intervals {noise(c[0], key)})"
                         for c in off) if off else "."))
    rows = [[label, fmt_s(before), fmt_s(now), f"{100 * change:+.1f}%" if change is not None
             else "-", noise(label, key)]
            for label, key, before, now, change in changes if key == "e2e_s"]
    return [*lines, "", "*intervals*: whether the two runs' intervals of the median overlap. "
            "Overlapping intervals mean the change is within what the runs' own repeat-to-repeat "
            "spread explains; intervals apart mean a shift larger than that spread (the machine's "
            "speed, or the tool, changed between the runs).", "",
            *md_table(["tool:scenario", "end to end, previous run", "this run", "change",
                       "intervals"], rows)]


def _order(results: Mapping[str, Any]) -> list[str]:
    """The conclusions the headline supports: each tool:scenario against the next slower one,
    compared round by round; only a pair whose order the noise could reverse is flagged."""
    pairs = ranking.neighbours(results)
    if not pairs:
        return []
    loose = [p for p in pairs if not p.settled]
    lines = [f"Order by end to end: each tool:scenario against the next slower one "
             f"({len(pairs)} pair(s); the difference is taken within each interleaved round, so "
             f"the machine's drift cancels): {len(pairs) - len(loose)} settled by this run"
             + (f", {len(loose)} could swap places within its noise (tied here):" if loose
                else ", none could swap places within its noise."), ""]
    lines += [f"- {p.faster} vs {p.slower}: {fmt_s(p.difference[0])} slower "
              f"[{fmt_s(p.difference[1])} to {fmt_s(p.difference[2])}] over {p.rounds} rounds "
              f"({100 * p.coverage:.0f}% interval): unstable; more repeats could separate them, "
              "or they cost the same" for p in loose]
    return lines + ([""] if loose else [])


def render(page: Page) -> list[str]:
    results = page.results
    warnings = []
    widths: list[tuple[float, str]] = []
    counts: list[int] = []
    for (tool, scenario), cells in by_scenario(results).items():
        values = values_of(ok_cells(cells), lambda c: c["e2e_s"])
        if not values:
            continue
        if len(values) < MIN_SAMPLES:
            warnings.append(f"- {cell_label(tool, scenario)}: only {len(values)} sample(s); "
                            f"use --repeats {MIN_SAMPLES} or more for a usable median.")
            continue
        counts.append(len(values))
        widths.append((relative_width(values), cell_label(tool, scenario)))
    lines = ["## Stability", ""]
    if widths:
        stable = sorted(w for w, _ in widths)
        widest = max(widths)
        lines += [f"Repeatability of this run: the intervals of the end-to-end medians span a "
                  f"median of {100 * stable[len(stable) // 2]:.0f}% of the median (widest: "
                  f"{100 * widest[0]:.0f}%, {widest[1]}); their coverage is "
                  f"{coverage_text(counts)}.", ""]
    lines += _order(results)
    lines += _run_to_run(results)
    for resumed in results.get("resumed") or []:
        lines += [f"This run was interrupted and resumed at {resumed['at']}: "
                  f"{resumed['cells_kept']} cell(s) were measured before the break, the rest "
                  "after it, so machine drift across the break is not spread evenly over the "
                  "tools.", ""]
    return lines + ((warnings + [""]) if warnings else [])
