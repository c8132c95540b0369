"""The Notes section: what the tools themselves reported about a cell, each note once."""

from __future__ import annotations

from harness.report.page import Page


def render(page: Page) -> list[str]:
    lines = []
    seen: set[str] = set()
    for cell in page.results["cells"]:
        for note in cell.get("notes") or []:
            text = f"- {cell['tool']}: {note}"
            if text not in seen:
                seen.add(text)
                lines.append(text)
    return ["## Notes", "", *lines, ""] if lines else []
