"""PNG charts for the report, drawn only from results (matplotlib, no display needed)."""

from __future__ import annotations

import atexit
import os
import shutil
import statistics
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from harness.results import REFERENCE_TOOLS

# Stacked parts of a cell's end-to-end time, in the order they happen.
PARTS: tuple[tuple[str, str], ...] = (
    ("import", "import_s"), ("init", "init_s"), ("blocked in log calls", "blocked_s"),
    ("rest of the workload", "compute_s"), ("finish", "finish_s"),
    ("interpreter exit", "exit_s"),
)
COLOURS = ("#8172b3", "#dd8452", "#c44e52", "#4c72b0", "#55a868", "#937860")


def _parts(cell: Mapping[str, Any]) -> dict[str, float]:
    values = {key: cell.get(key) or 0.0 for _, key in PARTS if key != "compute_s"}
    values["compute_s"] = max(0.0, (cell.get("workload_s") or 0.0) - values["blocked_s"])
    return values


def overhead_chart(results: Mapping[str, Any], out_dir: Path) -> Path | None:
    """Stacked bars: median of each part of end-to-end time; whiskers: e2e min-max."""
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for cell in results["cells"]:
        if cell["status"] == "ok" and cell.get("e2e_s") is not None:
            groups.setdefault(f"{cell['tool']}:{cell['scenario']}", []).append(cell)
    if not groups:
        return None
    return _draw(groups, results["invocation"]["workload"], out_dir)


def pyplot() -> Any:
    """matplotlib's pyplot, headless, its cache in a temp dir rather than the user's home."""
    if "MPLCONFIGDIR" not in os.environ:
        path = tempfile.mkdtemp(prefix="trackbench-mpl-")
        atexit.register(shutil.rmtree, path, True)
        os.environ["MPLCONFIGDIR"] = path
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save(fig: Any, out_dir: Path, name: str) -> Path:
    fig.tight_layout()
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / name
    fig.savefig(path, dpi=110)
    pyplot().close(fig)
    return path


def _draw(groups: dict[str, list[Mapping[str, Any]]], workload: str, out_dir: Path) -> Path:
    plt = pyplot()
    labels = list(groups)
    fig, ax = plt.subplots(figsize=(max(6.0, 1.2 * len(labels)), 4.0))
    bottoms = [0.0] * len(labels)
    for (name, key), colour in zip(PARTS, COLOURS, strict=True):
        heights = [statistics.median(_parts(c)[key] for c in cells) for cells in groups.values()]
        ax.bar(labels, heights, bottom=bottoms, label=name, color=colour)
        bottoms = [b + h for b, h in zip(bottoms, heights, strict=True)]
    totals = [[c["e2e_s"] for c in cells] for cells in groups.values()]
    mids = [statistics.median(t) for t in totals]
    ax.errorbar(labels, mids, fmt="none", ecolor="black", capsize=4,
                yerr=[[m - min(t) for m, t in zip(mids, totals, strict=True)],
                      [max(t) - m for m, t in zip(mids, totals, strict=True)]])
    ax.set_ylabel("seconds (median)")
    ax.set_title(f"Workload '{workload}': where the time goes with each tracker")
    ax.tick_params(axis="x", rotation=30)
    ax.legend(fontsize="small")
    return save(fig, out_dir, "overhead.png")


def latency_chart(results: Mapping[str, Any], out_dir: Path) -> Path | None:
    """Distribution of per-call log_metrics latency per tool:scenario (all repeats merged)."""
    merged: dict[str, dict[float, int]] = {}
    for cell in results["cells"]:
        hist = ((cell.get("calls") or {}).get("metrics") or {}).get("histogram")
        if cell["status"] != "ok" or not hist or cell["tool"] in REFERENCE_TOOLS:
            continue
        into = merged.setdefault(f"{cell['tool']}:{cell['scenario']}", {})
        for edge, count in hist.items():
            into[float(edge)] = into.get(float(edge), 0) + count
    if not merged:
        return None
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(10.0, 4.2))
    ax.set_prop_cycle(color=plt.cm.tab20.colors)  # distinct colours for many scenarios
    for label, hist in merged.items():
        edges = sorted(hist)
        total = sum(hist.values())
        ax.step(edges, [100.0 * hist[e] / total for e in edges], where="post", label=label)
    ax.set_xscale("log")
    ax.set_xlabel("seconds per log_metrics call (log-spaced bins, 5 per decade)")
    ax.set_ylabel("% of calls")
    ax.set_title("Per-call latency distribution (all repeats)")
    ax.legend(fontsize="x-small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return save(fig, out_dir, "latency.png")
