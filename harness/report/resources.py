"""The Resources section: CPU, memory, disk and processes of each tool's whole process tree."""

from __future__ import annotations

from harness.report.figures import by_scenario, ok_cells, spread, values_of
from harness.report.markdown import cell_label, fmt_bytes, md_table
from harness.report.page import Page


def render(page: Page) -> list[str]:
    rows = []
    for (tool, scenario), cells in by_scenario(page.results).items():
        ok = ok_cells(cells)
        if not ok:
            continue
        per_point = [c["disk_bytes"] / c["logged"]["points"] for c in ok
                     if c.get("logged") and c["logged"]["points"]]
        rows.append([
            cell_label(tool, scenario),
            spread(values_of(ok, lambda c: c["cpu_s"]), lambda v: f"{v:.2f} s"),
            spread(values_of(ok, lambda c: c["extra_cpu_s"]), lambda v: f"{v:+.2f} s"),
            spread(values_of(ok, lambda c: c["peak_rss_bytes"]), fmt_bytes),
            spread(values_of(ok, lambda c: c["disk_bytes"]), fmt_bytes),
            spread(per_point, lambda v: f"{v:.0f} B"),
            str(max(values_of(ok, lambda c: c["max_processes"]), default="-")),
        ])
    return ["## Resources", "",
            *md_table(["tool:scenario", "CPU (process tree)", "CPU beyond none",
                       "peak RSS (tree)", "disk", "disk per logged point", "max processes"],
                      rows)]
