"""Figures derived from the records themselves, computed the same way wherever records are
written (the run, ``pytest --benchmark``) or read (the report)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from adapters.base import BASELINE, FLOOR


def baseline_overheads(cells: list[dict[str, Any]]) -> None:
    """Each cell against the baseline (``none``) and the floor (``null``) of the same repeat.

    - overhead_s / overhead_pct: end-to-end time beyond the baseline's;
    - loop_slowdown_s: the workload's own work outside log calls beyond the baseline's (time
      lost to the tool's background threads and processes competing for the cores);
    - extra_cpu_s: CPU of the whole process tree beyond the baseline's;
    - floor_multiple: per-call p50 of log_metrics as a multiple of the null adapter's.
    """
    def by_repeat(tool: str) -> dict[int, dict[str, Any]]:
        return {c["repeat"]: c for c in cells if c["tool"] == tool and c["status"] == "ok"}

    base, floor = by_repeat(BASELINE), by_repeat(FLOOR)
    for c in cells:
        ref, low = base.get(c["repeat"]), floor.get(c["repeat"])
        ok = c["status"] == "ok" and ref is not None and c.get("e2e_s") is not None
        c["overhead_s"] = c["e2e_s"] - ref["e2e_s"] if ok else None
        c["overhead_pct"] = 100.0 * c["overhead_s"] / ref["e2e_s"] if ok and ref["e2e_s"] else None
        c["loop_slowdown_s"] = (
            c["workload_s"] - c["blocked_s"] - ref["workload_s"] if ok else None)
        c["extra_cpu_s"] = c["cpu_s"] - ref["cpu_s"] if ok else None
        p50 = (c.get("calls") or {}).get("metrics", {}).get("p50_s") if ok else None
        floor_p50 = (low["calls"]["metrics"]["p50_s"] if low else None) or None
        c["floor_multiple"] = p50 / floor_p50 if p50 is not None and floor_p50 else None


def kept_fraction(fidelity: Mapping[str, Mapping[str, Any]]) -> float | None:
    """Share of everything logged that came back unaltered (None when nothing was logged)."""
    logged = sum(k["logged"] for k in fidelity.values())
    return None if logged == 0 else sum(k["kept"] for k in fidelity.values()) / logged
