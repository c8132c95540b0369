"""The Stability section: how repeatable this run's figures are, and how far they moved from
the previous run's. Warnings follow pyperf's ``format_checks`` (interval >= 10% of the median,
fewer than 3 samples)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from harness.report.figures import by_scenario, ok_cells, values_of
from harness.report.markdown import cell_label, fmt_s, md_table
from harness.report.page import Page
from harness.results import REFERENCE_TOOLS, repeatability
from harness.results.precision import MIN_SAMPLES, UNSTABLE_SPREAD
from harness.results.stats import relative_width


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
                         f"{c[0]} {100 * (c[4] or 0):+.1f}% (95% intervals {noise(c[0], key)})"
                         for c in off) if off else "."))
    rows = [[label, fmt_s(before), fmt_s(now), f"{100 * change:+.1f}%" if change is not None
             else "-", noise(label, key)]
            for label, key, before, now, change in changes if key == "e2e_s"]
    return [*lines, "", "*95% intervals*: whether the two runs' intervals of the median overlap. "
            "Overlapping intervals mean the change is within what the runs' own repeat-to-repeat "
            "spread explains; intervals apart mean a shift larger than that spread (the machine's "
            "speed, or the tool, changed between the runs).", "",
            *md_table(["tool:scenario", "end to end, previous run", "this run", "change",
                       "95% intervals"], rows)]


def render(page: Page) -> list[str]:
    results = page.results
    warnings = []
    widths: list[tuple[float, str]] = []
    for (tool, scenario), cells in by_scenario(results).items():
        values = values_of(ok_cells(cells), lambda c: c["e2e_s"])
        if not values:
            continue
        if len(values) < MIN_SAMPLES:
            warnings.append(f"- {cell_label(tool, scenario)}: only {len(values)} sample(s); "
                            f"use --repeats {MIN_SAMPLES} or more for a usable median.")
            continue
        width = relative_width(values)
        widths.append((width, cell_label(tool, scenario)))
        if width >= UNSTABLE_SPREAD:
            warnings.append(f"- {cell_label(tool, scenario)}: the 95% interval of the end-to-end "
                            f"median spans {100 * width:.0f}% of it (>= "
                            f"{100 * UNSTABLE_SPREAD:.0f}%): unstable; compare with care.")
    lines = ["## Stability", ""]
    if widths:
        stable = sorted(w for w, _ in widths)
        widest = max(widths)
        lines += [f"Repeatability of this run: the 95% intervals of the end-to-end medians span "
                  f"a median of {100 * stable[len(stable) // 2]:.0f}% of the median "
                  f"(widest: {100 * widest[0]:.0f}%, {widest[1]}).", ""]
    lines += _run_to_run(results)
    for resumed in results.get("resumed") or []:
        lines += [f"This run was interrupted and resumed at {resumed['at']}: "
                  f"{resumed['cells_kept']} cell(s) were measured before the break, the rest "
                  "after it, so machine drift across the break is not spread evenly over the "
                  "tools.", ""]
    return lines + ((warnings + [""]) if warnings else [
        f"Every end-to-end median's 95% interval spans under {100 * UNSTABLE_SPREAD:.0f}% of it.",
        ""])
