"""Crash safety: SIGKILL the training process at chosen ``log_metrics`` calls, then read back,
in a fresh process, how many of the points handed over before each kill the tool kept (a point
stored with an altered value, e.g. as float32, survived: Fidelity reports the alteration), and
how much training time the loss covers.

One kill measures luck as much as the tool (a background writer may or may not have flushed
just before), so each tool:scenario is killed at several points of its run (``--crash-at``,
three by default) and the report gives the minimum, median and maximum share recovered, and the
window at risk: from the first point lost to the kill, in seconds and steps.

The worker (mode ``crash``, :mod:`harness.measure.kill_points`) writes its ledger, when each call
was handed over, and the run's reference just before call N+1, and kills itself; the tool gets
no ``finish``, no atexit, no flush. Helper processes it spawned (``wandb-core``, ...) keep
running as they would after a real crash: they get ``HELPER_GRACE_S`` to exit on their own, then
are stopped. Only what the tool would deliver counts (the adapters' read-back says what that
is); a read-back that fails because the tool left nothing readable counts as 0 recovered.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from adapters.base import StoredRun
from harness.measure.cell import CellRun, ServiceHandle
from harness.measure.fidelity import compare, first_lost
from harness.measure.tracker import Ledger
from harness.plan import Cell, Plan
from harness.stages.context import StageContext
from harness.stages.pair_loop import (
    NO_KILL_POINT,
    kill_point,
    pending,
    run_pairs,
    skip_reason,
    workload_calls,
)

KEY = "crash"
# Helpers left behind by the killed worker may flush for this long: ClearML's reporter writes
# what it holds at its next 5 s tick after the kill.
HELPER_GRACE_S = 10.0
CRASH_FILE = "crash.json"
# Scenarios this check skips (a "+variant" or a whole name), and why: they would say nothing
# new, and each run costs the default `trackbench run` seconds.
SKIPPED = {
    "+batch": "not run: the points the caller buffers (up to 100 steps) die with the process by "
              "design; what was sent is stored as in the base scenario",
    "server-sqlite+async": "not run: the same MLflow async queue as sqlite+async, sending over "
                           "HTTP instead of to sqlite",
}


def window_at_risk(crashed: Mapping[str, Any], lost_at: int | None) -> tuple[float, int]:
    """(seconds, steps) from the call that handed over the first lost point to the kill."""
    handed = crashed.get("handed") or []
    if lost_at is None or not handed:
        return 0.0, 0
    points = crashed["ledger"]["points"]
    step = points[lost_at][1]
    index = next((i for i, (_, s) in enumerate(handed) if s == step), 0)
    return crashed["killed_at"] - handed[index][0], len(handed) - index


def crash_one(tool: str, scenario: str, plan: Plan, tmp_root: Path, kill_after: int,
              services: Mapping[str, ServiceHandle] | None = None) -> dict[str, Any]:
    """One tool x scenario: log, SIGKILL before call ``kill_after + 1``, read back."""
    run = CellRun(Cell(tool, scenario, 0, KEY), plan, tmp_root, services)
    crash_path = run.dir / CRASH_FILE
    record: dict[str, Any] = {"tool": tool, "scenario": scenario,
                              "tool_version": run.record["tool_version"],
                              "kill_after_calls": kill_after, "helper_grace_s": HELPER_GRACE_S}
    try:
        spec = {**run.spec, "kill_after_calls": kill_after, "crash_path": str(crash_path)}
        log, stats = run.worker(spec, "crash", leftover_grace_s=HELPER_GRACE_S)
        record.update(helpers_left=stats.leftovers, helpers_stopped=stats.stopped,
                      exit_code=stats.returncode)
        if log.get("status") == "unavailable":
            record.update(status="unavailable", error=log.get("error"))
            return record
        if not crash_path.is_file():
            why = ("the workload ended before the kill point" if log.get("status") == "ok"
                   else f"the worker failed before the kill point: {log.get('error')}")
            record.update(status="failed", error=why)
            return record
        crashed = json.loads(crash_path.read_text())
        if "ref_error" in crashed:
            record.update(status="failed",
                          error=f"no run reference mid-run: {crashed['ref_error']}")
            return record
        ledger = Ledger.from_json(crashed["ledger"])
        stored, error = run.read_stored(crashed["ref"])
        fid = compare(ledger, stored or StoredRun())
        points = fid["points"]
        recovered = points["kept"] + points["altered"]  # survived the kill, value as stored
        window_s, window_steps = window_at_risk(
            crashed, first_lost(ledger, stored) if stored else (0 if ledger.points else None))
        record.update(
            status="ok", error=error, read_error=error is not None,
            logged_points=points["logged"], recovered_points=recovered,
            recovered_pct=100.0 * recovered / points["logged"] if points["logged"] else None,
            logged_params=fid["params"]["logged"], recovered_params=fid["params"]["kept"],
            altered_points=points["altered"], examples=points["examples"][:3],
            window_s=window_s, window_steps=window_steps,
            notes=[str(n)[:300] for n in (stored.notes if stored else [])],
        )
        return record
    finally:
        record["network"] = run.network()
        run.close()


def crash_pair(tool: str, scenario: str, plan: Plan, tmp_root: Path, kill_points: list[int],
               services: Mapping[str, ServiceHandle] | None = None) -> dict[str, Any]:
    """One tool x scenario killed once at each of ``kill_points``; the spread over the kills."""
    kills = []
    for kill_after in kill_points:
        kills.append(crash_one(tool, scenario, plan, tmp_root, kill_after, services))
        if kills[-1]["status"] == "unavailable":
            break
    record: dict[str, Any] = {"tool": tool, "scenario": scenario,
                              "tool_version": kills[0].get("tool_version"),
                              "helper_grace_s": HELPER_GRACE_S, "kills": kills}
    failed = [k for k in kills if k["status"] != "ok"]
    if failed:
        record.update(status=failed[0]["status"], error=f"{len(failed)} of {len(kills)} kills: "
                      f"{failed[0].get('error')}")
    else:
        record.update(status="ok", error=None)
    shares = [k["recovered_pct"] for k in kills if k.get("recovered_pct") is not None]
    if shares:
        record.update(recovered_pct_min=min(shares), recovered_pct_median=statistics.median(shares),
                      recovered_pct_max=max(shares),
                      window_s_max=max(k["window_s"] for k in kills if "window_s" in k),
                      window_steps_max=max(k["window_steps"] for k in kills if "window_steps" in k))
    return record


def kill_points(ctx: StageContext) -> list[int]:
    """N for each ``--crash-at`` fraction of the workload's calls, in order, without repeats."""
    calls = workload_calls(ctx.data["cells"])
    return sorted({n for f in ctx.plan.crash_at if (n := kill_point(calls, f)) is not None})


def estimate_s(ctx: StageContext) -> float:
    """A kill costs about one measured cell of its tool:scenario (it logs part of the run, then
    reads back); ``plan.check_workers`` pairs run at once."""
    if not ctx.plan.reliability:
        return 0.0
    kills = len(kill_points(ctx))
    return sum(kills * ctx.cell_s(f"{t}:{s}") for t, s in pending(ctx.data, KEY, ctx.pairs)
               if skip_reason(s, SKIPPED) is None) / ctx.plan.check_workers


def run(ctx: StageContext) -> None:
    """One record per tool x scenario in ``data["reliability"]["crash"]``."""
    if not ctx.plan.reliability:
        return
    points = kill_points(ctx)
    calls = workload_calls(ctx.data["cells"])

    def measure(tool: str, scenario: str, services: Mapping[str, ServiceHandle]) -> dict:
        began = time.perf_counter()
        record = crash_pair(tool, scenario, ctx.plan, ctx.tmp_root, points, services)
        record.update(workload_calls=calls, duration_s=time.perf_counter() - began)
        return record

    def finished(_index: int, _count: int, record: dict[str, Any]) -> None:
        spread = ""
        if "recovered_pct_median" in record:
            spread = (f", {record['recovered_pct_min']:.0f}/{record['recovered_pct_median']:.0f}/"
                      f"{record['recovered_pct_max']:.0f}% of points recovered (min/median/max "
                      f"of {len(record['kills'])} kills)")
        ctx.progress(f"crash safety: {record['tool']}:{record['scenario']} {record['status']}"
                     + spread + (f" ({str(record['error'])[:90]})" if record.get("error") else ""))

    action = f"SIGKILL before log_metrics call {', '.join(str(n + 1) for n in points)}"
    run_pairs(ctx, KEY, ctx.pairs, measure, skip=SKIPPED, finished=finished,
              workers=ctx.plan.check_workers,
              blocked=None if points else NO_KILL_POINT,
              started=lambda label: ctx.progress(f"crash safety: {label}, {action}"))
