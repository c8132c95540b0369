"""Crash safety: SIGKILL the training process at a chosen ``log_metrics`` call, then read back,
in a fresh process, how many of the points handed over before the kill the tool kept.

The worker (mode ``crash``, :mod:`harness.kill_points`) writes its ledger and the run's reference
just before call N+1 and kills itself; the tool gets no ``finish``, no atexit, no flush. Helper
processes it spawned (``wandb-core``, ...) keep running as they would after a real crash: they get
``HELPER_GRACE_S`` to exit on their own, then are stopped. A read-back that fails because the
tool left nothing readable counts as 0 recovered, with its error.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from adapters.base import StoredRun
from harness import fidelity
from harness.runner import ALWAYS, Cell, CellRun, Plan, _worker
from harness.services.base import Service, ServiceError
from harness.tracker import Ledger

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


def workload_calls(cells: Iterable[Mapping[str, Any]]) -> int | None:
    """The workload's log_metrics calls, counted on the run's ``null`` floor cells (the same
    workload, the harness alone); None when no floor cell succeeded."""
    counts = [((c.get("calls") or {}).get("metrics") or {}).get("n") for c in cells
              if c.get("tool") == "null" and c.get("status") == "ok"]
    counts = [n for n in counts if n]
    return min(counts) if counts else None


def kill_point(calls: int | None, fraction: float) -> int | None:
    """N: the kill comes just before log_metrics call N+1."""
    return None if calls is None else max(1, min(calls - 1, round(calls * fraction)))


def skipped(scenario: str, reasons: Mapping[str, str] = SKIPPED) -> str | None:
    """Why ``scenario`` is skipped (by its name or by its "+variant"), or None."""
    _, sep, variant = scenario.partition("+")
    return reasons.get(scenario) or (reasons.get(sep + variant) if sep else None)


def unavailable_tools(cells: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """Tools whose measured cells came out unavailable, with the reason."""
    return {c["tool"]: c.get("error") or "unavailable" for c in cells
            if c.get("status") == "unavailable"}


def pending(data: Mapping[str, Any], key: str,
            pairs: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """The (tool, scenario) pairs with no record under ``data["reliability"][key]`` yet."""
    done = {(r["tool"], r["scenario"]) for r in data["reliability"].get(key, [])}
    return [(t, s) for t, s in pairs if t not in ALWAYS and (t, s) not in done]


def read_back(run: CellRun, ref: Mapping[str, str],
              ledger: Ledger) -> tuple[dict[str, Any], str | None]:
    """Read ``ref`` in a fresh process; per-kind fidelity of ``ledger`` (all missing if the read
    fails) and the read-back's error, if any."""
    shutil.rmtree(run.workdir, ignore_errors=True)  # only the tool's storage may answer
    spec = {**run.spec, "mode": "read", "ref": dict(ref)}
    read, _ = _worker(spec, run.dir, "read", run.timeout_s, run.env)
    if read.get("status") == "ok":
        return fidelity.compare(ledger, StoredRun(**read["stored"])), None
    return fidelity.compare(ledger, StoredRun()), f"read-back {read.get('status')}: " \
        f"{read.get('error')}"


def crash_one(tool: str, scenario: str, plan: Plan, tmp_root: Path, kill_after: int,
              services: Mapping[str, Service] | None = None) -> dict[str, Any]:
    """One tool x scenario: log, SIGKILL before call ``kill_after + 1``, read back."""
    run = CellRun(Cell(tool, scenario, 0, KEY), plan, tmp_root, services)
    crash_path = run.dir / CRASH_FILE
    record: dict[str, Any] = {"tool": tool, "scenario": scenario,
                              "tool_version": run.record["tool_version"],
                              "kill_after_calls": kill_after, "helper_grace_s": HELPER_GRACE_S}
    try:
        spec = {**run.spec, "kill_after_calls": kill_after, "crash_path": str(crash_path)}
        log, stats = _worker(spec, run.dir, "log", run.timeout_s, run.env,
                             leftover_grace_s=HELPER_GRACE_S)
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
        fid, error = read_back(run, crashed["ref"], ledger)
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


def _prepare(base: dict[str, Any], skip_reason: str | None, missing: Mapping[str, str],
             kill_after: int | None, get_services: Callable[[str, str], Mapping[str, Service]]
             ) -> tuple[dict[str, Any] | None, Mapping[str, Service]]:
    """The record of a pair that cannot run (skipped, tool unavailable, no kill point, service
    down), or None and the pair's services."""
    tool, scenario = base["tool"], base["scenario"]
    if skip_reason:
        return {**base, "status": "skipped", "error": skip_reason}, {}
    if tool in missing:
        return {**base, "status": "unavailable", "error": missing[tool]}, {}
    if kill_after is None:
        return {**base, "status": "failed",
                "error": "no successful null cell to count the workload's calls"}, {}
    try:
        return None, get_services(tool, scenario)
    except ServiceError as exc:
        return {**base, "status": "failed", "error": f"service did not start: {exc}"}, {}


Measure = Callable[[str, str, Plan, Path, int, Mapping[str, Service]], dict[str, Any]]


def run_stage(data: dict[str, Any], pairs: Iterable[tuple[str, str]], plan: Plan,
              tmp_root: Path, get_services: Callable[[str, str], Mapping[str, Service]],
              save: Callable[[], None], progress: Callable[[str], None], *, key: str,
              title: str, action: str, skip_reasons: Mapping[str, str], measure: Measure,
              outcome: Callable[[Mapping[str, Any]], str],
              applies: Callable[[str, str], bool] = lambda tool, scenario: True) -> None:
    """The loop the crash and outage stages share: one record per pending pair in
    ``data["reliability"][key]``, saved after each (``--resume`` skips recorded pairs)."""
    records = data["reliability"].setdefault(key, [])
    calls = workload_calls(data["cells"])
    kill_after = kill_point(calls, plan.crash_at)
    missing = unavailable_tools(data["cells"])
    for tool, scenario in pending(data, key, pairs):
        if not applies(tool, scenario):
            continue
        base = {"tool": tool, "scenario": scenario, "tool_version": data["tools"].get(tool)}
        record, services = _prepare(base, skipped(scenario, skip_reasons), missing, kill_after,
                                    get_services)
        if record is None:
            progress(f"{title}: {tool}:{scenario}, {action} {kill_after + 1}")
            began = time.perf_counter()
            record = measure(tool, scenario, plan, tmp_root, kill_after, services)
            record.update(workload_calls=calls, duration_s=time.perf_counter() - began)
        records.append(record)
        save()
        progress(f"{title}: {tool}:{scenario} {record['status']}" + outcome(record)
                 + (f" ({str(record['error'])[:90]})" if record.get("error") else ""))


def run(data: dict[str, Any], pairs: Iterable[tuple[str, str]], plan: Plan, tmp_root: Path,
        get_services: Callable[[str, str], Mapping[str, Service]],
        save: Callable[[], None], progress: Callable[[str], None]) -> None:
    """The stage: one record per tool x scenario in ``data["reliability"]["crash"]``."""

    def recovered(record: Mapping[str, Any]) -> str:
        pct = record.get("recovered_pct")
        return f", {pct:.0f}% of points recovered" if pct is not None else ""

    run_stage(data, pairs, plan, tmp_root, get_services, save, progress, key=KEY,
              title="crash safety", action="SIGKILL before log_metrics call",
              skip_reasons=SKIPPED, measure=crash_one, outcome=recovered)
