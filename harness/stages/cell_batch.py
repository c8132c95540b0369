"""Running a batch of cells, shared by the stages that run cells (feature probes, the measured
repeats, extra rounds): each cell's services started, the cell measured, its record completed,
stored and saved, and a progress line printed.

A tool found unavailable, or a scenario whose services did not start, is not tried again in the
same run: its later cells are recorded with the same status and reason.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from harness.measure.cell import ServiceHandle, run_cell
from harness.plan import Cell
from harness.results.derived import baseline_overheads
from harness.services.base import ServiceError
from harness.stages.context import StageContext

Measure = Callable[[Cell, Mapping[str, ServiceHandle]], dict[str, Any]]


def fmt_clock(seconds: float) -> str:
    return time.strftime("%M:%S", time.gmtime(max(0.0, seconds)))


def known_failures(data: Mapping[str, Any]) -> dict[str, tuple[str, str]]:
    """Tool (unavailable) or tool:scenario (its services did not start) -> (status, reason)."""
    known: dict[str, tuple[str, str]] = {}
    for c in [*data["probes"], *data["cells"]]:
        if c["status"] == "unavailable":
            known[c["tool"]] = ("unavailable", c["error"])
        elif c.get("service_error"):
            known[f"{c['tool']}:{c['scenario']}"] = ("failed", c["error"])
    return known


def _measure(ctx: StageContext, cell: Cell, measure: Measure) -> dict[str, Any]:
    """The cell's record, with the harness time it took (``cell_s``, for round estimates)."""
    started = time.perf_counter()
    try:
        services = ctx.services(cell.tool, cell.scenario)
    except ServiceError as exc:
        record = {"tool": cell.tool, "tool_version": ctx.data["tools"].get(cell.tool),
                  "scenario": cell.scenario, "profile": ctx.plan.profile, "repeat": cell.repeat,
                  "mode": cell.mode, "status": "failed",
                  "error": f"service did not start: {exc}", "service_error": True}
    else:
        record = measure(cell, services)
    record["cell_s"] = time.perf_counter() - started
    return record


def run_batch(ctx: StageContext, batch: list[Cell], measure: Measure, *, into: str,
              describe: Callable[[Cell], str],
              complete: Callable[[dict[str, Any]], None] = lambda record: None) -> None:
    """Run ``batch`` in order; each record goes through ``complete``, into ``ctx.data[into]``,
    and is saved before the next cell starts."""
    batch_started = time.perf_counter()
    for index, cell in enumerate(batch, 1):
        known = known_failures(ctx.data)
        failed = known.get(cell.tool) or known.get(cell.label)
        if failed is None:
            record = _measure(ctx, cell, measure)
        else:
            record = {"tool": cell.tool, "tool_version": ctx.data["tools"].get(cell.tool),
                      "scenario": cell.scenario, "profile": ctx.plan.profile,
                      "repeat": cell.repeat, "mode": cell.mode,
                      "status": failed[0], "error": failed[1]}
        complete(record)
        ctx.data[into].append(record)
        baseline_overheads(ctx.data["cells"])
        ctx.save()
        elapsed = time.perf_counter() - batch_started
        eta = elapsed / index * (len(batch) - index)
        detail = record["status"]
        if record.get("error") and record["status"] != "ok":
            detail += f": {str(record['error'])[:90]}"
        if seen := (record.get("network") or {}).get("seen"):
            detail += f" (offline guard: {seen} network attempt(s) recorded)"
        ctx.progress(f"[{index:>3}/{len(batch)}] {cell.label:<22} {describe(cell):<13} {detail}  "
                     f"(elapsed {fmt_clock(ctx.elapsed_s())}, eta {fmt_clock(eta)})")


def run_measured(ctx: StageContext, batch: list[Cell], round_text: str) -> None:
    """Measured cells (log, read back), each given its scenario's coverage from the probes."""
    coverage = {f"{p['tool']}:{p['scenario']}": p.get("coverage") or {}
                for p in ctx.data["probes"]}

    def measure(cell: Cell, services: Mapping[str, ServiceHandle]) -> dict[str, Any]:
        return run_cell(cell, ctx.plan, ctx.tmp_root, services)

    def complete(record: dict[str, Any]) -> None:
        record["coverage"] = coverage.get(f"{record['tool']}:{record['scenario']}", {})

    run_batch(ctx, batch, measure, into="cells", complete=complete,
              describe=lambda cell: f"repeat {cell.repeat + 1}{round_text}")
