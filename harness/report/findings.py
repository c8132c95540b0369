"""The Failures and findings section: every cell that did not end well, and what tools left
behind (processes, hangs at exit, errors in log calls), so no failure hides in an average."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from harness.report.markdown import cell_label
from harness.report.page import Page


def _failure(cell: Mapping[str, Any]) -> list[str]:
    if cell["status"] == "ok":
        return []
    return [f"- **{cell_label(cell['tool'], cell['scenario'])}** {cell['status']}: "
            f"{cell.get('error')}"]


def _leftovers(cell: Mapping[str, Any]) -> list[str]:
    label = cell_label(cell["tool"], cell["scenario"])
    lines = []
    if cell.get("leftover_processes"):
        lines.append(f"- {label} left processes running after exit (stopped by the harness): "
                     f"{', '.join(cell['leftover_processes'])}")
    if cell.get("hung_at_exit_s"):
        lines.append(f"- {label} (repeat {cell['repeat'] + 1}) hung at interpreter exit: still "
                     f"alive {cell['hung_at_exit_s']:.0f} s after writing its results, killed by "
                     f"the harness (its measurements up to finish are kept)")
    if cell.get("call_error_count"):
        lines.append(f"- {label} raised on {cell['call_error_count']} log call(s): "
                     f"{'; '.join(cell['call_errors'][:3])}")
    return lines


def _counted(lines: list[str]) -> list[str]:
    """Each distinct line once, in first-seen order, with the number of cells that gave it."""
    return [line if n == 1 else f"{line} (in {n} cells)" for line, n in Counter(lines).items()]


def render(page: Page) -> list[str]:
    results = page.results
    cells = [*results.get("probes", []), *results["cells"]]
    lines = (_counted([line for cell in cells for line in _failure(cell)])
             + _counted([line for cell in results["cells"] for line in _leftovers(cell)]))
    return ["## Failures and findings", "", *((lines + [""]) if lines else ["None.", ""])]
