"""What every report section is given, so a section's signature never grows with the page."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Page:
    results: Mapping[str, Any]
    chart_dir: Path | None = None  # charts (PNG) are drawn here; none when not given
    sweeps: Mapping[str, Any] | None = None  # a sweeps.json, for the Scaling section
