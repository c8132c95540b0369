"""The Overhead section: where each tool's time goes (import, init, log calls, finish, exit),
and the per-call latency chart."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from harness.report.charts import latency_chart
from harness.report.figures import by_scenario, ok_cells, spread, values_of
from harness.report.markdown import cell_label, fmt_s, md_table
from harness.report.page import Page


def _metric_calls(key: str) -> Callable[[Mapping[str, Any]], Any]:
    return lambda cell: cell["calls"]["metrics"][key]


def _table(results: Mapping[str, Any]) -> list[str]:
    rows = []
    for (tool, scenario), cells in by_scenario(results).items():
        ok = ok_cells(cells)
        if not ok:
            continue
        rows.append([
            cell_label(tool, scenario), str(len(ok)),
            spread(values_of(ok, lambda c: c["import_s"]), fmt_s),
            spread(values_of(ok, lambda c: c["init_s"]), fmt_s),
            spread(values_of(ok, lambda c: c["blocked_s"]), fmt_s),
            spread(values_of(ok, _metric_calls("p50_s")), fmt_s),
            spread(values_of(ok, _metric_calls("p99_s")), fmt_s),
            spread(values_of(ok, lambda c: c["floor_multiple"]),
                   lambda v: f"{v:.1f}×" if v < 10 else f"{v:.0f}×"),
            spread(values_of(ok, lambda c: c["loop_slowdown_s"]), fmt_s),
            spread(values_of(ok, lambda c: c["finish_s"]), fmt_s),
            spread(values_of(ok, lambda c: c["exit_s"]), fmt_s),
            spread(values_of(ok, lambda c: c["e2e_s"]), fmt_s),
        ])
    return md_table(["tool:scenario", "n", "import", "init", "blocked in log calls",
                     "log_metrics p50", "log_metrics p99", "p50 × null", "loop slowdown",
                     "finish", "interpreter exit", "end to end"], rows)


def _chart(page: Page) -> list[str]:
    if page.chart_dir is None or not (chart := latency_chart(page.results, page.chart_dir)):
        return []
    return [f"![Per-call latency distribution]({chart.name})", ""]


def render(page: Page) -> list[str]:
    return ["## Overhead", "",
            "Median [interval of the median, coverage in the header] over repeats. *p50 × null*: "
            "the per-call median as a multiple of the `null` adapter's (the harness's floor) in "
            "the same run. *loop slowdown*: the workload's own work, outside log calls, beyond "
            "the baseline's.",
            "", *_table(page.results), *_chart(page)]
