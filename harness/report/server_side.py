"""The Server side section: what the services a scenario runs cost while the client logged."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from harness.report.figures import by_scenario, ok_cells, spread, values_of
from harness.report.markdown import cell_label, fmt_bytes, md_table
from harness.report.page import Page


def _service_value(name: str, key: str) -> Callable[[Mapping[str, Any]], Any]:
    return lambda cell: cell["services"][name][key]


def render(page: Page) -> list[str]:
    rows = []
    for (tool, scenario), cells in by_scenario(page.results).items():
        ok = [c for c in ok_cells(cells) if c.get("services")]
        for name in (ok[0]["services"] if ok else {}):
            if ok[0]["services"][name].get("external"):
                rows.append([cell_label(tool, scenario), name, "external: not measured", "-", "-"])
                continue
            rows.append([
                cell_label(tool, scenario), name,
                spread(values_of(ok, _service_value(name, "cpu_s")), lambda v: f"{v:.2f} s"),
                spread(values_of(ok, _service_value(name, "peak_rss_bytes")), fmt_bytes),
                fmt_bytes(max(values_of(ok, _service_value(name, "disk_bytes")), default=None)),
            ])
    if not rows:
        return []
    return ["## Server side", "",
            "Cost of the services a scenario runs (tracking server with its workers, "
            "PostgreSQL, S3), measured over each cell's logging process; disk is what the "
            "service held for all runs so far at the end of the run's last cell.", "",
            *md_table(["tool:scenario", "service", "CPU while logging", "peak RSS",
                       "disk (database / bucket)"], rows)]
