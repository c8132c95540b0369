"""Running a batch of cells, shared by the stages that run cells (feature probes, the measured
repeats, extra rounds): each cell's services started, the cell measured, its record completed,
stored and saved, and a progress line printed.

A tool found unavailable, or a scenario whose services did not start, is not tried again in the
same run: its later cells are recorded with the same status and reason.

Checks that measure what a tool kept, not how long it took (feature probes, crash safety, bad
input), run ``plan.check_workers`` cells at a time (:func:`in_order`); the measured repeats,
whose times are the point, always run one at a time.
"""

from __future__ import annotations

import contextlib
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

import psutil

from harness.measure.cell import ServiceHandle, run_cell
from harness.plan import Cell
from harness.results.derived import baseline_overheads
from harness.services.base import ServiceError
from harness.stages.context import StageContext

Measure = Callable[[Cell, Mapping[str, ServiceHandle]], dict[str, Any]]
Item = TypeVar("Item")
Result = TypeVar("Result")


def in_order(ctx: StageContext, items: Iterable[Item],
             prepare: Callable[[Item], Callable[[], Result]],
             done: Callable[[Item, Result], None], workers: int = 1) -> None:
    """Each item's work on up to ``workers`` threads, its result to ``done`` in the items'
    order, on this thread. ``prepare`` runs here, at the item's turn: the services it needs
    start here, and it sees the records of every item done before. After an interrupt or an
    error, the workers' processes in flight are stopped (the services are the runner's)."""
    if workers <= 1:
        for item in items:
            done(item, prepare(item)())
        return
    window: deque[tuple[Item, Future[Result]]] = deque()
    with ThreadPoolExecutor(workers) as pool:
        try:
            for item in items:
                if len(window) >= workers:
                    first, future = window.popleft()
                    done(first, future.result())
                window.append((item, pool.submit(prepare(item))))
            while window:
                first, future = window.popleft()
                done(first, future.result())
        except BaseException:
            for _, future in window:
                future.cancel()
            _stop_cells(ctx)
            raise


def _stop_cells(ctx: StageContext) -> None:
    """Kill this process's children other than the services', so the threads waiting on them
    return at once."""
    services = ctx.pool.pids()
    with contextlib.suppress(psutil.Error):
        for child in psutil.Process().children(recursive=True):
            if child.pid not in services:
                with contextlib.suppress(psutil.Error):
                    child.kill()


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
              complete: Callable[[dict[str, Any]], None] = lambda record: None,
              workers: int = 1) -> None:
    """Run ``batch``, ``workers`` cells at a time; in the batch's order, each record goes
    through ``complete``, into ``ctx.data[into]``, and is saved."""
    batch_started = time.perf_counter()
    finished = 0

    def prepare(cell: Cell) -> Callable[[], dict[str, Any]]:
        known = known_failures(ctx.data)
        failed = known.get(cell.tool) or known.get(cell.label)
        if failed is not None:
            record = {"tool": cell.tool, "tool_version": ctx.data["tools"].get(cell.tool),
                      "scenario": cell.scenario, "profile": ctx.plan.profile,
                      "repeat": cell.repeat, "mode": cell.mode,
                      "status": failed[0], "error": failed[1]}
            return lambda: record
        if workers > 1:  # services start here, on one thread; the cells find them running
            with contextlib.suppress(ServiceError):
                ctx.services(cell.tool, cell.scenario)
        return lambda: _measure(ctx, cell, measure)

    def done(cell: Cell, record: dict[str, Any]) -> None:
        nonlocal finished
        finished += 1
        complete(record)
        ctx.data[into].append(record)
        baseline_overheads(ctx.data["cells"])
        ctx.save()
        elapsed = time.perf_counter() - batch_started
        eta = elapsed / finished * (len(batch) - finished)
        detail = record["status"]
        if record.get("error") and record["status"] != "ok":
            detail += f": {str(record['error'])[:90]}"
        if seen := (record.get("network") or {}).get("seen"):
            detail += f" (offline guard: {seen} network attempt(s) recorded)"
        ctx.progress(f"[{finished:>3}/{len(batch)}] {cell.label:<22} {describe(cell):<13} "
                     f"{detail}  (elapsed {fmt_clock(ctx.elapsed_s())}, eta {fmt_clock(eta)})")

    in_order(ctx, batch, prepare, done, workers)


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
