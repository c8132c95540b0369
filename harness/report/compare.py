"""The ``trackbench compare`` page: one row per tool:scenario and figure in both files."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from harness.report.markdown import fmt_s, md_table
from harness.results.compare import changes


def render(old: Mapping[str, Any], new: Mapping[str, Any]) -> str:
    """Markdown; IncomparableResults if the files come from different machines."""
    rows = [[c.label, c.figure, c.old_version or "-", c.new_version or "-", fmt_s(c.old[0]),
             fmt_s(c.new[0]), "-" if c.relative is None else f"{100 * c.relative:+.1f}%",
             "yes" if c.significant else "no"] for c in changes(old, new)]
    lines = ["# trackbench comparison", "",
             f"Old: results of {old['created']}; new: results of {new['created']}; same machine "
             f"({new['machine']['cpu_model']}, {new['machine']['cpu_logical']} cores).", "",
             "A change is *significant* when the two medians' order-statistic intervals do not "
             "overlap.", "",
             *md_table(["tool:scenario", "figure", "old version", "new version", "old", "new",
                        "change", "significant"], rows)]
    return "\n".join(lines)
