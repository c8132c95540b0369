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
                rows.append([cell_label(tool, scenario), name, "external: not measured", "-",
                             "-"])
                continue
            growth = values_of(ok, _service_value(name, "disk_growth_bytes"))
            rows.append([
                cell_label(tool, scenario), name,
                spread(values_of(ok, _service_value(name, "cpu_s")), lambda v: f"{v:.2f} s"),
                spread(values_of(ok, _service_value(name, "peak_rss_bytes")), fmt_bytes),
                spread(growth, fmt_bytes) if growth else
                # Files of schema 2 kept only what the service held after the cell.
                fmt_bytes(max(values_of(ok, _service_value(name, "disk_bytes")), default=None))
                + " (held at the end)",
            ])
    if not rows:
        return []
    return ["## Server side", "",
            "Cost of the services a scenario runs (tracking server with its workers, "
            "PostgreSQL, S3), measured over each cell's logging process; disk is how much the "
            "service's database or bucket grew during the cell (sized before and after it).", "",
            *md_table(["tool:scenario", "service", "CPU while logging", "peak RSS",
                       "disk growth per cell (database / bucket)"], rows)]
