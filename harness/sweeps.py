"""Scaling sweeps: how a tracker's cost grows with the work (points, metrics per call, runs per
process, artifact size), each point measured like a normal cell, side by side with ``none``.

A single comparison at one workload size cannot tell a tool whose per-call cost is constant from
one that slows down as the run grows; a sweep over several decades can. Every point is a fresh
isolated process (``runner.run_cell``, so it is read back and fidelity-checked too), except the
runs sweep, which by definition keeps one process for N runs (:mod:`harness.sweep_worker`).
Points are interleaved across tools at each x, and the baseline runs at every x, so a tool's
overhead is always a difference measured at the same size in the same repeat.
"""

from __future__ import annotations

import json
import math
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import adapters
from harness import results, runner
from harness.proctree import run_monitored

# A per-unit cost that stays within this ratio (largest / smallest) over the whole range is
# "flat per call". Measured here (2 cores, 3 repeats of the same points-sweep x): the cost per
# point of one repeat and another differed by up to 1.2x for MLflow and 1.7x for W&B (whose log
# calls are asynchronous and wait on its core's back-pressure), so a smaller tolerance would
# call noise growth. Over the points sweep's three decades, a steady trend beyond 1.5x is an
# exponent off 1 by more than log(1.5) / log(1000) = 0.06.
FLAT_RATIO = 1.5

POINTS_METRICS = 10  # the points sweep logs x points as x / 10 steps of 10 metrics
METRICS_STEPS = 100  # the metrics-per-call sweep logs this many steps at every x
# Each run of the runs sweep is light, so start_run and finish dominate (the points sweep
# already measures the logging itself).
RUN_CONFIG = {"steps": 10, "metrics": 5, "params": 10, "artifact_bytes": 10_000}


@dataclass(frozen=True)
class Sweep:
    """One scaling dimension: the x values, the workload at each x, and what is fitted."""

    name: str
    title: str  # what x counts
    description: str  # the fixed part of the workload, for the report
    xs: tuple[int, ...]
    quick_xs: tuple[int, ...]
    config: Callable[[int], dict[str, int]]  # x -> `synthetic` workload config (one run's)
    cost_key: str  # record field whose growth is fitted: the part of the cost that scales
    cost_label: str
    call_key: str  # record field shown as time per call in the table
    call_label: str
    unit: str  # one unit of x, for "cost per unit"
    unit_size: float = 1.0  # x counts per displayed unit (bytes per MB)

    def values(self, quick: bool) -> tuple[int, ...]:
        return self.quick_xs if quick else self.xs


SWEEPS: dict[str, Sweep] = {s.name: s for s in (
    Sweep(
        "points", "points per run",
        f"steps of {POINTS_METRICS} metrics each, 10 params, no artifact",
        (100, 300, 1_000, 3_000, 10_000, 30_000, 100_000), (100, 1_000, 10_000),
        lambda x: {"steps": x // POINTS_METRICS, "metrics": POINTS_METRICS, "params": 10,
                   "artifact_bytes": 0},
        "metrics_calls_s", "time in log_metrics", "metrics_p50_s", "log_metrics p50", "point"),
    Sweep(
        "metrics", "metrics per log_metrics call",
        f"{METRICS_STEPS} steps, 10 params, no artifact",
        (1, 3, 10, 30, 100), (1, 10, 100),
        lambda x: {"steps": METRICS_STEPS, "metrics": x, "params": 10, "artifact_bytes": 0},
        "metrics_p50_s", "log_metrics call (p50)", "metrics_p50_s", "log_metrics p50",
        "metric"),
    Sweep(
        "runs", "runs per process",
        "one process imports the SDK once, then starts, logs and finishes x runs back to back, "
        "each {steps} steps of {metrics} metrics, {params} params, a {artifact_bytes} B "
        "artifact".format(**RUN_CONFIG),
        (1, 3, 10, 30, 100), (1, 3, 10),
        lambda _: dict(RUN_CONFIG),
        "runs_total_s", "start_run to finish, summed over runs", "run_p50_s",
        "one run (p50)", "run"),
    Sweep(
        "artifact", "artifact bytes",
        "one artifact of x random bytes, 10 steps of 1 metric, 10 params",
        tuple(10**k for k in range(3, 9)), (1_000, 100_000, 10_000_000),
        lambda x: {"steps": 10, "metrics": 1, "params": 10, "artifact_bytes": x},
        "artifact_call_s", "log_artifact", "artifact_call_s", "log_artifact", "MB", 1e6),
)}


def _line(us: Sequence[float], vs: Sequence[float]) -> tuple[float, float, float] | None:
    """Least squares v = intercept + slope * u, with R^2; None without two distinct u."""
    if len(set(us)) < 2:
        return None
    mu, mv = statistics.fmean(us), statistics.fmean(vs)
    suu = sum((u - mu) ** 2 for u in us)
    slope = sum((u - mu) * (v - mv) for u, v in zip(us, vs, strict=True)) / suu
    intercept = mv - slope * mu
    ss_tot = sum((v - mv) ** 2 for v in vs)
    ss_res = sum((v - intercept - slope * u) ** 2 for u, v in zip(us, vs, strict=True))
    return intercept, slope, (1.0 - ss_res / ss_tot) if ss_tot > 0 else 1.0


def fit_growth(xs: Sequence[float], ys: Sequence[float | None],
               flat_ratio: float = FLAT_RATIO) -> dict[str, Any]:
    """How ``ys`` grows with ``xs``: a power law on log-log axes and a straight line.

    ``exponent`` b of log(y) = a + b log(x) (1: linear, 2: quadratic) uses the positive points
    only; ``slope`` d of y = c + d x is the marginal cost per unit and ``intercept`` c the fixed
    part. ``growth`` is "flat per call" when y / x stays within ``flat_ratio`` (largest over
    smallest), else "growing" (b > 1) or "sublinear" (b < 1: a fixed part is being amortised);
    "n/a" with fewer than two positive points (a cost at the noise floor).
    """
    pairs = [(float(x), float(y)) for x, y in zip(xs, ys, strict=True) if y is not None]
    out: dict[str, Any] = {"n": len(pairs), "exponent": None, "log_intercept": None,
                           "loglog_r2": None, "intercept": None, "slope": None,
                           "linear_r2": None, "per_unit_ratio": None, "growth": "n/a"}
    if linear := _line([x for x, _ in pairs], [y for _, y in pairs]):
        out.update(intercept=linear[0], slope=linear[1], linear_r2=linear[2])
    positive = [(x, y) for x, y in pairs if x > 0 and y > 0]
    loglog = _line([math.log(x) for x, _ in positive], [math.log(y) for _, y in positive])
    if loglog is None:
        return out
    per_unit = [y / x for x, y in positive]
    ratio = max(per_unit) / min(per_unit)
    out.update(log_intercept=loglog[0], exponent=loglog[1], loglog_r2=loglog[2],
               per_unit_ratio=ratio)
    if ratio <= flat_ratio:
        out["growth"] = "flat per call"
    else:
        out["growth"] = "growing" if loglog[1] > 1 else "sublinear"
    return out


def _record(sweep: Sweep, x: int, cell: runner.Cell, raw: dict[str, Any]) -> dict[str, Any]:
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
    }


def _result(result_path: Path, log_path: Path, returncode: int | None) -> dict[str, Any]:
    """The worker's JSON answer, or a failure carrying the end of its log."""
    try:
        return json.loads(result_path.read_text())
    except (OSError, json.JSONDecodeError):
        tail = log_path.read_text(errors="replace")[-800:]
        return {"status": "failed",
                "error": f"worker exited with code {returncode} and no result: {tail}"}


def _many_runs_cell(cell: runner.Cell, plan: runner.Plan, runs: int,
                    tmp_root: Path) -> dict[str, Any]:
    """``runs`` runs in one monitored worker process, with a normal cell's isolation."""
    cell_run = runner.CellRun(cell, plan, tmp_root)  # its directories, env and spec
    try:
        spec_path, result_path = cell_run.dir / "many.spec.json", cell_run.dir / "many.json"
        log_path = cell_run.dir / "many.log"
        spec_path.write_text(json.dumps({**cell_run.spec, "runs": runs,
                                         "result_path": str(result_path)}))
        stats = run_monitored(
            [sys.executable, "-m", "harness.sweep_worker", str(spec_path)],
            env=cell_run.env, cwd=cell_run.storage, log_path=log_path, timeout_s=plan.timeout_s,
        )
        out = _result(result_path, log_path, stats.returncode)
        if stats.timed_out:
            out = {"status": "timeout", "error": f"no result after {plan.timeout_s:.0f} s"}
        disk = runner.disk_bytes(cell_run.storage, cell_run.dir / "home") if cell_run.cls else 0
    finally:
        cell_run.close()
    return {**cell_run.record, **out, "cpu_s": stats.cpu_s,
            "peak_rss_bytes": stats.peak_rss_bytes, "disk_bytes": disk,
            "logged": {"points": out.get("points_logged")}}


def _against_baseline(records: list[dict[str, Any]]) -> None:
    """overhead_s (e2e) and cost_s (the scaling cost) minus ``none``'s at the same x and repeat."""
    base = {(r["sweep"], r["x"], r["repeat"]): r for r in records
            if r["tool"] == adapters.BASELINE and r["status"] == "ok"}
    for rec in records:
        ref = base.get((rec["sweep"], rec["x"], rec["repeat"]))
        ok = ref is not None and rec["status"] == "ok"
        key = SWEEPS[rec["sweep"]].cost_key
        rec["overhead_s"] = rec["e2e_s"] - ref["e2e_s"] if ok else None
        # None: no such call was made (the baseline makes no tool calls). In the runs sweep the
        # baseline still pays the harness's per-run work, which the difference removes.
        rec["cost_s"] = (rec[key] or 0.0) - (ref[key] or 0.0) if ok else None


def run_sweep(tools: Sequence[str], sweep_names: Sequence[str] | None = None,
              quick: bool = False, out_path: Path | None = None,
              progress: Callable[[str], None] = print, repeats: int | None = None,
              timeout_s: float = 600.0) -> list[dict[str, Any]]:
    """Run the named sweeps (all by default) for ``tools`` plus ``none`` and ``null``.

    Each tool runs its first scenario. ``repeats`` defaults to 1 with ``quick``, else 3. The
    records (one per sweep x x repeat x tool) are returned and, with ``out_path``, rewritten
    there after every point, so an interrupted sweep keeps what it measured.
    """
    names = list(sweep_names or SWEEPS)
    if unknown := [n for n in names if n not in SWEEPS]:
        raise ValueError(f"unknown sweep(s): {', '.join(unknown)}; known: {', '.join(SWEEPS)}")
    pairs = runner.matrix(runner.with_reference_tools(tools), None)
    repeats = repeats or (1 if quick else 3)
    planned = [(SWEEPS[name], x, runner.Cell(tool, scenario, repeat))
               for name in names for x in SWEEPS[name].values(quick)
               for repeat in range(repeats) for tool, scenario in pairs]
    data = {"schema_version": results.SCHEMA_VERSION, "kind": "sweeps",
            "trackbench_version": results.trackbench_version(),
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "invocation": {"tools": [t for t, _ in pairs], "sweeps": names, "quick": quick,
                           "repeats": repeats, "timeout_s": timeout_s, "argv": sys.argv},
            "machine": results.machine_info(),
            "tools": {t: (c.version() if (c := adapters.load(t)) else None) for t, _ in pairs},
            "records": []}
    records: list[dict[str, Any]] = data["records"]
    unavailable: dict[str, str] = {}
    tmp_root = Path(tempfile.mkdtemp(prefix="tb-sweep-"))
    started = time.perf_counter()
    try:
        progress("warm-up: one unrecorded baseline cell (disk caches, interpreter start-up)")
        runner.run_cell(runner.Cell(adapters.BASELINE, "baseline", -1),
                        _plan(pairs, {}, timeout_s), tmp_root)
        for index, (sweep, x, cell) in enumerate(planned, 1):
            plan = _plan(pairs, sweep.config(x), timeout_s)
            if cell.tool in unavailable:
                raw = {"status": "unavailable", "error": unavailable[cell.tool]}
            elif sweep.name == "runs":
                raw = _many_runs_cell(cell, plan, x, tmp_root)
            else:
                raw = runner.run_cell(cell, plan, tmp_root)
            if raw["status"] == "unavailable":
                unavailable[cell.tool] = raw["error"]
            records.append(_record(sweep, x, cell, raw))
            _against_baseline(records)
            if out_path is not None:
                results.save(data, out_path)
            elapsed = time.perf_counter() - started
            detail = raw["status"] + (f": {str(raw['error'])[:80]}" if raw.get("error") else "")
            progress(f"[{index:>3}/{len(planned)}] {sweep.name} x={x:<9} {cell.label:<22} "
                     f"repeat {cell.repeat + 1}/{repeats} {detail}  (elapsed "
                     f"{runner.fmt_clock(elapsed)}, eta "
                     f"{runner.fmt_clock(elapsed / index * (len(planned) - index))})")
    finally:
        shutil.rmtree(tmp_root, ignore_errors=True)
    return records


def _plan(pairs: list[tuple[str, str]], config: dict[str, int], timeout_s: float) -> runner.Plan:
    """One point's plan: the synthetic workload at that size, no coverage probes."""
    return runner.Plan(tools=[t for t, _ in pairs], workload="synthetic", workload_config=config,
                       repeats=1, probes=False, timeout_s=timeout_s)
