"""PNG charts for the report, drawn only from results (matplotlib, no display needed)."""

from __future__ import annotations

import os
import statistics
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any


def overhead_chart(results: Mapping[str, Any], out_dir: Path) -> Path | None:
    """Bars: median end-to-end time per tool:scenario, whiskers min-max over repeats."""
    groups: dict[str, list[float]] = {}
    for cell in results["cells"]:
        if cell["status"] == "ok" and cell.get("e2e_s") is not None:
            groups.setdefault(f"{cell['tool']}:{cell['scenario']}", []).append(cell["e2e_s"])
    if not groups:
        return None
    with tempfile.TemporaryDirectory(prefix="trackbench-mpl-") as mpl_dir:
        # matplotlib caches fonts under the user's home unless told otherwise.
        os.environ.setdefault("MPLCONFIGDIR", mpl_dir)
        return _draw(groups, results["invocation"]["workload"], out_dir)


def _draw(groups: dict[str, list[float]], workload: str, out_dir: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = list(groups)
    medians = [statistics.median(v) for v in groups.values()]
    low = [m - min(v) for m, v in zip(medians, groups.values(), strict=True)]
    high = [max(v) - m for m, v in zip(medians, groups.values(), strict=True)]
    fig, ax = plt.subplots(figsize=(max(5.0, 1.1 * len(labels)), 3.6))
    ax.bar(labels, medians, yerr=[low, high], capsize=4, color="#4c72b0")
    ax.set_ylabel("end-to-end seconds (median, min–max)")
    ax.set_title(f"Workload '{workload}': time with each tracker")
    ax.tick_params(axis="x", rotation=30)
    fig.tight_layout()
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "overhead.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
