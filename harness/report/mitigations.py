"""The Mitigations section: what a user's settings (batching, async logging) buy, measured where
a scenario has variants and bounded where it has none."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from harness.report.figures import by_scenario, fidelity_summary, ok_cells, spread, values_of
from harness.report.markdown import cell_label, fmt_s, md_table
from harness.report.page import Page
from harness.results import REFERENCE_TOOLS
from harness.results.stats import median_ci


def _variants(results: Mapping[str, Any]) -> list[str]:
    """Each variant (``base+variant``) against its base scenario, from the same run."""
    groups = by_scenario(results)
    rows = []
    for (tool, scenario), cells in groups.items():
        base, sep, variant = scenario.partition("+")
        if not sep or (tool, base) not in groups:
            continue
        ok, ref = ok_cells(cells), ok_cells(groups[(tool, base)])

        def ratio(key: str, ok=ok, ref=ref) -> str:
            mine, theirs = values_of(ok, lambda c: c[key]), values_of(ref, lambda c: c[key])
            if not mine or not theirs or not median_ci(mine)[0]:
                return "-"
            return f"{median_ci(theirs)[0] / median_ci(mine)[0]:.1f}×"

        rows.append([f"{tool}:{base}", variant, ratio("blocked_s"), ratio("e2e_s"),
                     spread(values_of(ok, lambda c: c["finish_s"]), fmt_s),
                     fidelity_summary(cells)])
    if not rows:
        return []
    return ["Settings a user would try, each measured against its own base scenario in "
            "the same run; speed-up = base median / variant median.", "",
            *md_table(["base scenario", "variant", "speed-up of blocked time",
                       "speed-up end to end", "finish (variant)", "fidelity (worst repeat)"],
                      rows)]


def _bounds(results: Mapping[str, Any]) -> list[str]:
    """For scenarios without variants: the most that batching or async logging could save.

    Such settings only shorten the time spent in log calls and the loop slowdown; the rest of a
    tool's overhead (import, init, finish, exit) is paid once per run whatever the settings.
    """
    groups = by_scenario(results)
    with_variants = {(t, s.partition("+")[0]) for t, s in groups if "+" in s}
    rows = []
    for (tool, scenario), cells in groups.items():
        ok = ok_cells(cells)
        if tool in REFERENCE_TOOLS or "+" in scenario or (tool, scenario) in with_variants:
            continue
        overhead = values_of(ok, lambda c: c["overhead_s"])
        per_call = values_of(ok, lambda c: c["blocked_s"] + max(c["loop_slowdown_s"], 0.0))
        if not overhead or not per_call or median_ci(overhead)[0] <= 0:
            continue
        share = median_ci(per_call)[0] / median_ci(overhead)[0]
        rows.append([cell_label(tool, scenario), spread(overhead, fmt_s),
                     spread(per_call, fmt_s), f"{100 * min(share, 1.0):.0f}%"])
    if not rows:
        return []
    return ["Scenarios without a variant here: the most any batching or asynchronous setting "
            "could save is the time blocked in log calls plus the loop slowdown; the rest of "
            "the overhead (import, init, finish, exit) is paid once per run whatever the "
            "settings.", "",
            *md_table(["tool:scenario", "overhead vs none", "blocked + loop slowdown",
                       "share a logging setting could save at most"], rows)]


def render(page: Page) -> list[str]:
    lines = [*_variants(page.results), *_bounds(page.results)]
    return ["## Mitigations", "", *lines] if lines else []
