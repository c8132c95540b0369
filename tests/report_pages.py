"""The whole rendered report, REPORT.md and its details pages, as one text to search."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness import report


def full_text(data: dict[str, Any], chart_dir: Path | None = None,
              sweeps: dict[str, Any] | None = None) -> str:
    pages = [report.render(data, chart_dir, sweeps),
             *report.render_details(data, chart_dir, sweeps).values()]
    return "\n".join(pages)
