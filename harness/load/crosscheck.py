"""How faithful the REST load model is: real MLflow SDK clients beside Locust users.

At each N, N real client processes (the SDK through trackbench's adapter, one training job
each, logging at the same time) run against a server; then N Locust users run closed loop on
the same server for as long. Their per-call latencies of one log-batch of M metrics are set
side by side: a ratio near 1 means the Locust figures stand for what a team's jobs would see.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from harness.load import generator
from harness.load.generator import Distribution, Load
from harness.load.level import new_experiment
from harness.load.real_client import EXPERIMENT
from harness.load.targets import Target
from harness.measure.isolation import private_env
from harness.measure.netguard import GuardLog, guard_env
from harness.measure.proctree import stop_processes
from harness.services.base import tree

CLIENT_TIMEOUT_S = 180.0


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile, as Locust reports its own."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered)) - 1))]


def _real_clients(uri: str, users: int, steps: int, metrics: int,
                  workdir: Path) -> dict[str, Any]:
    workdir.mkdir(parents=True, exist_ok=True)
    go = workdir / "go"
    guard = GuardLog(workdir / "network.jsonl")
    procs = []
    for i in range(users):
        env = guard_env(private_env(workdir / f"client-{i}", {"MLFLOW_DISABLE_TELEMETRY": "true"}),
                        guard.path)
        args = [uri, str(steps), str(metrics), str(workdir / f"out-{i}.json"),
                str(workdir / f"ready-{i}"), str(go)]
        with open(workdir / f"client-{i}.log", "ab") as log:
            procs.append(subprocess.Popen([sys.executable, "-m", "harness.load.real_client", *args],
                                          stdout=log, stderr=subprocess.STDOUT, env=env,
                                          start_new_session=True))
    deadline = time.monotonic() + CLIENT_TIMEOUT_S
    try:
        while (time.monotonic() < deadline and all(p.poll() is None for p in procs)
               and not all((workdir / f"ready-{i}").exists() for i in range(users))):
            time.sleep(0.05)
        go.touch()  # also when one died: the others stop waiting, and the count tells
        began = time.monotonic()
        for proc in procs:
            proc.wait(timeout=max(1.0, deadline - time.monotonic()))
        wall = time.monotonic() - began
    except subprocess.TimeoutExpired:
        wall = None
    finally:
        for proc in procs:
            if proc.poll() is None:
                stop_processes(tree(proc.pid), grace_s=3.0)
                proc.wait(timeout=10)
    seconds = []
    for i in range(users):
        with contextlib.suppress(OSError, ValueError, KeyError):
            seconds += json.loads((workdir / f"out-{i}.json").read_text())["seconds"]
    return {"calls": len(seconds), "expected_calls": users * steps, "wall_s": wall,
            "p50_ms": 1000 * percentile(seconds, 50) if seconds else None,
            "p95_ms": 1000 * percentile(seconds, 95) if seconds else None,
            "network": guard.take_new()}


def compare(target: Target, users: int, steps: int, metrics: int, workdir: Path,
            processes: int) -> dict[str, Any]:
    """One N of the cross-check; failures are recorded, not raised."""
    record: dict[str, Any] = {"target": target.label, "users": users, "steps": steps,
                              "metrics": metrics}
    try:
        # The clients' experiment, made once: N clients creating it at once race (a finding of
        # its own, not the one measured here).
        new_experiment(target.uri, EXPERIMENT, exists_ok=True)
        real = _real_clients(target.uri, users, steps, metrics, workdir / "real")
        seconds = max(3.0, real["wall_s"] or 3.0)
        experiment = new_experiment(target.uri, f"crosscheck-{users}-{time.time_ns()}")
        run = generator.run(target.uri, Load(users=users, seconds=round(seconds, 1),
                                             steps=steps, metrics=metrics),
                            experiment, workdir / "locust", Distribution(processes=processes))
    except Exception as exc:  # noqa: BLE001 - recorded; the stage goes on
        return {**record, "status": "failed", "error": f"{type(exc).__name__}: {exc}"}
    batch = run.endpoints.get("runs/log-batch metrics", {})
    ratio = (real["p50_ms"] / batch["p50_ms"]
             if real["p50_ms"] and batch.get("p50_ms") else None)
    return {**record, "status": "ok", "real": real,
            "locust": {"calls": batch.get("requests"), "p50_ms": batch.get("p50_ms"),
                       "p95_ms": batch.get("p95_ms"), "network": run.network},
            "p50_ratio": ratio}

