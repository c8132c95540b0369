"""Crash safety: SIGKILL the training process at a chosen ``log_metrics`` call, then read back,
in a fresh process, how many of the points handed over before the kill the tool kept.

The worker (mode ``crash``, :mod:`harness.measure.kill_points`) writes its ledger and the run's
reference just before call N+1 and kills itself; the tool gets no ``finish``, no atexit, no
flush. Helper processes it spawned (``wandb-core``, ...) keep running as they would after a real
crash: they get ``HELPER_GRACE_S`` to exit on their own, then are stopped. A read-back that
fails because the tool left nothing readable counts as 0 recovered, with its error.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from harness.measure.cell import CellRun, ServiceHandle
from harness.measure.tracker import Ledger
from harness.plan import Cell, Plan
from harness.stages.context import StageContext
from harness.stages.pair_loop import NO_KILL_POINT, at_kill_point, run_pairs

KEY = "crash"
HELPER_GRACE_S = 5.0  # helpers left behind by the killed worker may flush for this long
CRASH_FILE = "crash.json"
# Scenarios this check skips (a "+variant" or a whole name), and why: they would say nothing
# new, and each run costs the default `trackbench run` seconds.
SKIPPED = {
    "+batch": "not run: the points the caller buffers (up to 100 steps) die with the process by "
              "design; what was sent is stored as in the base scenario",
    "server-sqlite+async": "not run: the same MLflow async queue as sqlite+async, sending over "
                           "HTTP instead of to sqlite",
}


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
        log, stats = run.worker(spec, "log", leftover_grace_s=HELPER_GRACE_S)
        record.update(helpers_left=stats.leftovers, helpers_stopped=stats.stopped,
                      exit_code=stats.returncode)
        if log.get("status") == "unavailable":
            return {**record, "status": "unavailable", "error": log.get("error")}
        if not crash_path.is_file():
            why = ("the workload ended before the kill point" if log.get("status") == "ok"
                   else f"the worker failed before the kill point: {log.get('error')}")
            return {**record, "status": "failed", "error": why}
        crashed = json.loads(crash_path.read_text())
        if "ref_error" in crashed:
            return {**record, "status": "failed",
                    "error": f"no run reference mid-run: {crashed['ref_error']}"}
        ledger = Ledger.from_json(crashed["ledger"])
        fid, error = run.read_ref(crashed["ref"], ledger)
        points = fid["points"]
        record.update(
            status="ok", error=error, read_error=error is not None,
            logged_points=points["logged"], recovered_points=points["kept"],
            recovered_pct=100.0 * points["kept"] / points["logged"] if points["logged"] else None,
            logged_params=fid["params"]["logged"], recovered_params=fid["params"]["kept"],
            altered_points=points["altered"], examples=points["examples"][:3],
        )
        return record
    finally:
        run.close()


def run(ctx: StageContext) -> None:
    """One record per tool x scenario in ``data["reliability"]["crash"]``."""
    if not ctx.plan.reliability:
        return
    measure, kill_after = at_kill_point(ctx, crash_one)

    def finished(_index: int, _count: int, record: dict[str, Any]) -> None:
        pct = record.get("recovered_pct")
        ctx.progress(f"crash safety: {record['tool']}:{record['scenario']} {record['status']}"
                     + (f", {pct:.0f}% of points recovered" if pct is not None else "")
                     + (f" ({str(record['error'])[:90]})" if record.get("error") else ""))

    action = f"SIGKILL before log_metrics call {(kill_after or 0) + 1}"
    run_pairs(ctx, KEY, ctx.pairs, measure, skip=SKIPPED, finished=finished,
              blocked=None if kill_after is not None else NO_KILL_POINT,
              started=lambda label: ctx.progress(f"crash safety: {label}, {action}"))
