"""Results as a pandas table: one tidy row per measured cell, for a notebook.

    >>> from harness.results.frame import cells_frame
    >>> df = cells_frame("reports/latest/results.json")
    >>> df[df.status == "ok"].groupby("label").e2e_s.median()

Reads only the results file, so it works where no tracker is installed.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness import results as results_file
from harness.results.derived import kept_fraction

if TYPE_CHECKING:
    import pandas as pd

FIGURES = ("import_s", "init_s", "workload_s", "finish_s", "exit_s", "e2e_s", "e2e_to_finish_s",
           "blocked_s", "overhead_s", "overhead_pct", "loop_slowdown_s", "extra_cpu_s", "cpu_s",
           "peak_rss_bytes", "disk_bytes", "max_processes", "floor_multiple", "cell_s")


def _row(cell: Mapping[str, Any], kind: str) -> dict[str, Any]:
    metrics = (cell.get("calls") or {}).get("metrics") or {}
    fid = cell.get("fidelity") or {}
    row: dict[str, Any] = {
        "kind": kind, "label": f"{cell['tool']}:{cell['scenario']}", "tool": cell["tool"],
        "scenario": cell["scenario"], "repeat": cell["repeat"], "status": cell["status"],
        "error": cell.get("error"), "tool_version": cell.get("tool_version"),
        **{key: cell.get(key) for key in FIGURES},
        "log_metrics_calls": metrics.get("n"), "log_metrics_p50_s": metrics.get("p50_s"),
        "log_metrics_p99_s": metrics.get("p99_s"),
        "kept_fraction": kept_fraction(fid) if fid else None,
        "network_attempts": (cell.get("network") or {}).get("seen"),
    }
    for part in ("params", "points", "artifacts"):
        row[f"{part}_logged"] = (fid.get(part) or {}).get("logged")
        row[f"{part}_kept"] = (fid.get(part) or {}).get("kept")
    for name, svc in (cell.get("services") or {}).items():
        for key in ("cpu_s", "peak_rss_bytes", "disk_growth_bytes"):
            row[f"service_{name}_{key}"] = svc.get(key)
    return row


def cells_frame(source: str | Path | Mapping[str, Any]) -> pd.DataFrame:
    """One row per cell of a results file (or its loaded dict): the measured cells
    (``kind`` "cell") and the projection's check cells ("check")."""
    import pandas as pd

    data = source if isinstance(source, Mapping) else results_file.load(Path(source))
    rows = [_row(c, "cell") for c in data.get("cells", [])]
    rows += [_row(c, "check") for c in data.get("projection_check", [])]
    return pd.DataFrame(rows)
