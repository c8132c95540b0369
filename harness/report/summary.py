"""All tool:scenarios: one row each on this run's own workload (status, overhead, fidelity,
coverage) and the overhead chart; the cost for a real training run is on page one."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from harness.report.charts import overhead_chart
from harness.report.coverage import status_summary
from harness.report.figures import (
    by_scenario,
    fidelity_summary,
    ok_cells,
    spread,
    status_of,
    values_of,
)
from harness.report.markdown import cell_label, fmt_s, md_table
from harness.report.page import Page
from harness.results import BASELINE


def _baseline_sentence(results: Mapping[str, Any]) -> list[str]:
    base = values_of(ok_cells(by_scenario(results).get((BASELINE, "baseline"), [])),
                     lambda c: c["e2e_s"])
    if not base:
        return ["No baseline cell succeeded, so no overhead can be computed.", ""]
    return [f"On this run's own workload, which takes {spread(base, fmt_s)} end to end without a "
            "tracker (`none`). *Overhead % of this workload* is relative to that short loop, not "
            "to a real training run (page one projects that); the absolute costs are in "
            "[details/overhead.md](details/overhead.md).", ""]


def _table(results: Mapping[str, Any]) -> list[str]:
    rows = []
    for (tool, scenario), cells in by_scenario(results).items():
        ok = ok_cells(cells)
        cov_text = status_summary(cells[0].get("coverage") or {})
        if tool == BASELINE:
            overhead = [f"baseline: {spread(values_of(ok, lambda c: c['e2e_s']), fmt_s)}", "-"]
        else:
            overhead = [spread(values_of(ok, lambda c: c["overhead_s"]), fmt_s),
                        spread(values_of(ok, lambda c: c["overhead_pct"]),
                               lambda v: f"{v:+.0f}%")]
        rows.append([
            cell_label(tool, scenario), cells[0].get("tool_version") or "-", status_of(cells),
            *overhead,
            spread(values_of(ok, lambda c: c["blocked_s"]), fmt_s),
            fidelity_summary(cells), cov_text,
        ])
    # Scenarios a tool has but this machine cannot run (e.g. a server shipped only as containers).
    for label, reason in ((results.get("invocation") or {}).get("not_run") or {}).items():
        rows.append([label, results["tools"].get(label.split(":")[0]) or "-",
                     f"not run: {reason}", *["-"] * 5])
    return md_table(["tool:scenario", "version", "status", "overhead vs none",
                     "overhead % of this workload",
                     "blocked in log calls", "fidelity (worst repeat)", "coverage"], rows)


def _chart(page: Page) -> list[str]:
    if page.chart_dir is None or not (chart := overhead_chart(page.results, page.chart_dir)):
        return []
    return [f"![End-to-end time per tool]({chart.name})", "",
            "Stacked medians of each part of end-to-end time; whiskers: end-to-end "
            "min–max over repeats.", ""]


def render(page: Page) -> list[str]:
    return ["## All tool:scenarios", "", *_baseline_sentence(page.results),
            *_table(page.results), *_chart(page)]
