"""Server outage: kill the tracking server mid-run and restart it; what does the client do?

The worker (mode ``outage``, :mod:`harness.measure.kill_points`) reaches log_metrics call N+1,
writes a marker and waits; a watcher thread here SIGKILLs the server's process tree, tells the
worker to go on, and restarts the server on the same port with the same backend store. The
worker keeps logging through the outage. Afterwards a fresh process reads the run back.

Classification: ``raise`` if any call (or ``finish``) raised; otherwise ``drop silently`` if
points are missing from the read-back; otherwise ``retry`` (every point stored; the longest call
against the outage's length shows whether the client blocked through it or queued).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from harness.measure.cell import CellRun
from harness.measure.tracker import Ledger
from harness.plan import Cell, Plan
from harness.probes.server_coverage import server_of
from harness.services.base import Service, error_text
from harness.services.mlflow_server import TRACKING_SERVERS
from harness.services.pool import ServicePool
from harness.stages.context import StageContext
from harness.stages.pair_loop import NO_KILL_POINT, at_kill_point, pending, run_pairs, skip_reason

KEY = "outage"
SKIPPED = {
    "+batch": "not run: its batches go through the same MLflow client HTTP calls (and retries) "
              "as the base scenario's, only fewer of them",
    "+async": "not run (its cost): calls only queue; the queue's sender is the same client "
              "HTTP call, with its retries, as the base scenario's",
}


def _server(services: Mapping[str, Service]) -> tuple[str, Service | None]:
    """The pool's name and the service of the scenario's tracking server (None: none)."""
    return next(((name, svc) for name, svc in services.items() if name in TRACKING_SERVERS),
                ("", None))


def _take_down(server: Service, marker: Path, down: Path, halt: threading.Event,
               out: dict[str, Any]) -> None:
    """Wait for the worker's marker; kill the server, let the worker go on, restart it."""
    while not marker.exists():
        if halt.wait(0.01):
            return
    began = time.monotonic()
    server.kill()  # type: ignore[attr-defined]
    down.write_text(str(time.time()))
    try:
        server.restart()  # type: ignore[attr-defined]
    except Exception as exc:  # noqa: BLE001 - any start error: the server is down, recorded
        out["restart_error"] = error_text(exc)[-500:]
    out["outage_s"] = time.monotonic() - began


def classify(client: Mapping[str, Any], missing: int) -> str:
    if client["errors"] or client["finish_error"]:
        return "raise"
    return "drop silently" if missing else "retry"


def evidence(client: Mapping[str, Any], missing: int, outage_s: float | None) -> str:
    parts = []
    if client["errors"]:
        parts.append(f"{client['errors']} of {client['calls']} calls after the kill raised "
                     f"({client['error_examples'][0][:120]})")
    if client["finish_error"]:
        parts.append(f"finish raised ({client['finish_error'][:120]})")
    parts.append(f"longest call {client['max_call_s']:.1f} s"
                 + (f" for a {outage_s:.1f} s outage" if outage_s is not None else ""))
    if outage_s and client["max_call_s"] < outage_s / 2:
        parts.append("calls returned at once (queued in the background)")
    parts.append(f"{missing} point(s) missing" if missing else "every point stored")
    return "; ".join(parts)


def outage_one(tool: str, scenario: str, plan: Plan, tmp_root: Path, kill_after: int,
               services: Mapping[str, Service], pool: ServicePool | None = None) -> dict[str, Any]:
    """One server scenario: log, kill and restart the server at call N+1, read back. A server
    that does not come back fails this record and, in ``pool``, the service: the scenarios that
    need it later are recorded as its failure, not as their tool's."""
    run = CellRun(Cell(tool, scenario, 0, KEY), plan, tmp_root, services)
    record: dict[str, Any] = {"tool": tool, "scenario": scenario,
                              "tool_version": run.record["tool_version"],
                              "kill_after_calls": kill_after}
    name, server = _server(services)
    if server is None or not hasattr(server, "restart") or not server.pids():
        run.close()
        record.update(status="skipped",
                      error="no harness-run tracking server to kill (external or none)")
        return record
    marker, down = run.dir / "outage.marker", run.dir / "outage.down"
    spec = {**run.spec, "kill_after_calls": kill_after, "marker_path": str(marker),
            "down_path": str(down)}
    outage: dict[str, Any] = {"outage_s": None, "restart_error": None}
    halt = threading.Event()
    watcher = threading.Thread(target=_take_down, args=(server, marker, down, halt, outage))
    watcher.start()
    try:
        log, _ = run.worker(spec, "outage")
        halt.set()
        watcher.join()
        record.update(outage)
        if outage["restart_error"] is not None:
            reason = f"did not come back after the outage: {outage['restart_error']}"
            if pool is not None:
                pool.failed(name, reason)
            record.update(status="failed", error=f"{server.name} {reason}")
            return record
        if log.get("status") != "ok":
            record.update(status=log.get("status") or "failed", error=log.get("error"))
            return record
        client = log["outage_client"]
        if not client["server_down"]:
            record.update(status="failed", error="the server was never taken down")
            return record
        fid, error = run.read_ref(log["ref"], Ledger.from_json(log["ledger"]))
        points = fid["points"]
        missing = points["logged"] - points["kept"]
        record.update(
            status="ok" if error is None else "failed", error=error, client=client,
            logged_points=points["logged"], stored_points=points["kept"],
            behaviour=classify(client, missing) if error is None else None,
            evidence=evidence(client, missing, outage["outage_s"]),
        )
        return record
    finally:
        halt.set()
        watcher.join()
        record["network"] = run.network()
        run.close()


def estimate_s(ctx: StageContext) -> float:
    """A run with a server restart in the middle: about two and a half measured cells."""
    if not ctx.plan.reliability:
        return 0.0
    return sum(2.5 * ctx.cell_s(f"{t}:{s}") for t, s in pending(ctx.data, KEY, ctx.pairs)
               if server_of(t, s, TRACKING_SERVERS) is not None
               and skip_reason(s, SKIPPED) is None)


def run(ctx: StageContext) -> None:
    """Over the scenarios that run a tracking server; records in
    ``data["reliability"]["outage"]``."""
    if not ctx.plan.reliability:
        return

    def one(tool: str, scenario: str, plan: Plan, tmp_root: Path, kill_after: int,
            services: Mapping[str, Service]) -> dict[str, Any]:
        return outage_one(tool, scenario, plan, tmp_root, kill_after, services, pool=ctx.pool)

    measure, kill_after = at_kill_point(ctx, one)

    def finished(_index: int, _count: int, record: dict[str, Any]) -> None:
        ctx.progress(f"server outage: {record['tool']}:{record['scenario']} {record['status']}"
                     + (f": {record['behaviour']}" if record.get("behaviour") else "")
                     + (f" ({str(record['error'])[:90]})" if record.get("error") else ""))

    action = f"server killed and restarted at log_metrics call {(kill_after or 0) + 1}"
    servers = [(t, s) for t, s in ctx.pairs if server_of(t, s, TRACKING_SERVERS) is not None]
    run_pairs(ctx, KEY, servers, measure, skip=SKIPPED, finished=finished,
              blocked=None if kill_after is not None else NO_KILL_POINT,
              started=lambda label: ctx.progress(f"server outage: {label}, {action}"))
