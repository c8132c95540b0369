"""Scaling sweeps: how a tracker's cost grows with the work (points, metrics per call, runs per
process, artifact size), each point measured like a normal cell, side by side with ``none``.

A single comparison at one workload size cannot tell a tool whose per-call cost is constant from
one that slows down as the run grows; a sweep over several decades can. Every point is a fresh
isolated process (read back and fidelity-checked too), except the runs sweep, which by
definition keeps one process for N runs (worker mode ``many``).
Points are interleaved across tools at each x, and the baseline runs at every x, so a tool's
overhead is always a difference measured at the same size in the same repeat.
"""

from __future__ import annotations

import dataclasses
import statistics
import time
from typing import Any

from adapters.base import BASELINE
from harness.measure.cell import CellRun, disk_bytes, run_cell
from harness.plan import Cell, Plan
from harness.results.scaling import SWEEPS, Sweep
from harness.stages.cell_batch import fmt_clock
from harness.stages.context import StageContext


def _record(sweep: Sweep, x: int, cell: Cell, raw: dict[str, Any]) -> dict[str, Any]:
    """The sweep's view of one cell's results record (run_cell's, or the runs worker's)."""
    calls = raw.get("calls") or {}
    run_s = raw.get("run_s")
    return {
        "sweep": sweep.name, "x": x, "repeat": cell.repeat, "tool": cell.tool,
        "scenario": cell.scenario, "tool_version": raw.get("tool_version"),
        "config": sweep.config(x), "status": raw["status"], "error": raw.get("error"),
        **{k: raw.get(k) for k in ("e2e_s", "import_s", "blocked_s", "cpu_s", "peak_rss_bytes",
                                   "disk_bytes", "call_error_count")},
        "calls": calls,
        "metrics_calls_s": (calls.get("metrics") or {}).get("total_s"),
        "metrics_p50_s": (calls.get("metrics") or {}).get("p50_s"),
        "artifact_call_s": (calls.get("artifact") or {}).get("total_s"),
        "run_s": run_s,
        "runs_total_s": sum(run_s) if run_s else None,
        "run_p50_s": statistics.median(run_s) if run_s else None,
        "points_logged": (raw.get("logged") or {}).get("points"),
        "points_kept": ((raw.get("fidelity") or {}).get("points") or {}).get("kept"),
        "network": raw.get("network"),
    }


def _many_runs_cell(cell: Cell, plan: Plan, runs: int, ctx: StageContext) -> dict[str, Any]:
    """``runs`` runs in one monitored worker process, with a normal cell's isolation."""
    run = CellRun(dataclasses.replace(cell, mode="many"), plan, ctx.tmp_root)
    try:
        out, stats = run.worker({**run.spec, "runs": runs}, "log")
        disk = disk_bytes(run.storage, run.dir / "home") if run.cls else 0
        network = run.network()
    finally:
        run.close()
    return {**run.record, **out, "cpu_s": stats.cpu_s, "peak_rss_bytes": stats.peak_rss_bytes,
            "disk_bytes": disk, "logged": {"points": out.get("points_logged")},
            "network": network}


def _against_baseline(records: list[dict[str, Any]]) -> None:
    """overhead_s (e2e) and cost_s (the scaling cost) minus ``none``'s at the same x and repeat."""
    base = {(r["sweep"], r["x"], r["repeat"]): r for r in records
            if r["tool"] == BASELINE and r["status"] == "ok"}
    for rec in records:
        ref = base.get((rec["sweep"], rec["x"], rec["repeat"]))
        ok = ref is not None and rec["status"] == "ok"
        key = SWEEPS[rec["sweep"]].cost_key
        rec["overhead_s"] = rec["e2e_s"] - ref["e2e_s"] if ok else None
        # None: no such call was made (the baseline makes no tool calls). In the runs sweep the
        # baseline still pays the harness's per-run work, which the difference removes.
        rec["cost_s"] = (rec[key] or 0.0) - (ref[key] or 0.0) if ok else None


def run(ctx: StageContext) -> None:
    """Every point of the sweeps named in the invocation (``sweeps``, ``quick``, ``repeats``),
    for each tool's first scenario beside ``none`` and ``null``; the records go to
    ``data["records"]``, saved after every point."""
    inv = ctx.data["invocation"]
    planned = [(SWEEPS[name], x, Cell(tool, scenario, repeat))
               for name in inv["sweeps"] for x in SWEEPS[name].values(inv["quick"])
               for repeat in range(inv["repeats"]) for tool, scenario in ctx.pairs]
    records: list[dict[str, Any]] = ctx.data["records"]
    unavailable: dict[str, str] = {}
    started = time.perf_counter()
    for index, (sweep, x, cell) in enumerate(planned, 1):
        plan = dataclasses.replace(ctx.plan, workload_config=sweep.config(x))
        if cell.tool in unavailable:
            raw = {"status": "unavailable", "error": unavailable[cell.tool]}
        elif sweep.name == "runs":
            raw = _many_runs_cell(cell, plan, x, ctx)
        else:
            raw = run_cell(cell, plan, ctx.tmp_root)
        if raw["status"] == "unavailable":
            unavailable[cell.tool] = raw["error"]
        records.append(_record(sweep, x, cell, raw))
        _against_baseline(records)
        ctx.save()
        elapsed = time.perf_counter() - started
        detail = raw["status"] + (f": {str(raw['error'])[:80]}" if raw.get("error") else "")
        ctx.progress(f"[{index:>3}/{len(planned)}] {sweep.name} x={x:<9} {cell.label:<22} "
                     f"repeat {cell.repeat + 1}/{inv['repeats']} {detail}  (elapsed "
                     f"{fmt_clock(elapsed)}, eta "
                     f"{fmt_clock(elapsed / index * (len(planned) - index))})")
