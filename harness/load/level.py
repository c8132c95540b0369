"""One measured level: N training jobs on one server, in a new experiment, under one load model.

While Locust runs, the server's process tree and its PostgreSQL/S3 are sampled (CPU, peak RSS);
afterwards every run is read back, and the store's size is taken again. The record says when
the generator, not the server, was the limit: it shares this machine's cores.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from harness.load import generator
from harness.load.generator import Distribution, Load
from harness.load.readback import read_back
from harness.load.targets import Target
from harness.measure.proctree import TreeSampler
from harness.services.http import http_json

# The generator was the limit when its processes averaged this share of a core each (one
# Locust process is one event loop: it cannot use more than one core), or when the machine was
# this busy and the generator used more CPU than the server it loaded.
GENERATOR_BOUND_SHARE = 0.8
MACHINE_SATURATED = 0.9


def new_experiment(uri: str, name: str, exists_ok: bool = False) -> str:
    """A new experiment for one level's jobs (its runs are what the level reads back); with
    ``exists_ok``, the one of that name if it is there already."""
    status, body = http_json("POST", f"{uri}/api/2.0/mlflow/experiments/create",
                             {"name": name}, timeout_s=30.0)
    if exists_ok and status != 200:
        status, body = http_json("GET", f"{uri}/api/2.0/mlflow/experiments/get-by-name?"
                                 f"experiment_name={name}", timeout_s=30.0)
        body = body.get("experiment", {}) if isinstance(body, dict) else body
    if status != 200 or not isinstance(body, dict) or "experiment_id" not in body:
        raise RuntimeError(f"experiments/create answered {status}: {str(body)[:200]}")
    return str(body["experiment_id"])


def generator_bound(gen_cpu_s: float, wall_s: float, processes: int, server_cpu_s: float,
                    machine_cpu: float) -> str | None:
    """Why the generator was the limit at this level, or None."""
    if wall_s <= 0:
        return None
    per_process = gen_cpu_s / wall_s / max(processes, 1)
    if per_process >= GENERATOR_BOUND_SHARE:
        return (f"each of its {processes} process(es) used {per_process:.0%} of a core "
                f"(>= {GENERATOR_BOUND_SHARE:.0%})")
    if machine_cpu >= MACHINE_SATURATED and gen_cpu_s >= server_cpu_s:
        return (f"the machine was {machine_cpu:.0%} busy and the generator used more CPU "
                f"({gen_cpu_s:.1f} s) than the server ({server_cpu_s:.1f} s)")
    return None


def measure(target: Target, load: Load, model: str, workdir: Path, dist: Distribution,
            guarded: bool = True) -> dict[str, Any]:
    """The record of one level; a failure is recorded with its error, never raised."""
    record: dict[str, Any] = {"target": target.label, "model": model, "users": load.users,
                              "rate": load.rate, "seconds": load.seconds, "steps": load.steps,
                              "metrics": load.metrics}
    try:
        experiment = new_experiment(target.uri, f"load-{model}-{load.users}-{time.time_ns()}")
        size_before = target.size()
        server = TreeSampler(target.server_pids())
        backends = TreeSampler(target.backend_pids())
        server.start()
        backends.start()
        try:
            run = generator.run(target.uri, load, experiment, workdir, dist, guarded)
        finally:
            server_cost, backend_cost = server.stop(), backends.stop()
        size_after = target.size()
    except Exception as exc:  # noqa: BLE001 - a failed level is a finding; the stage goes on
        return {**record, "status": "failed", "error": f"{type(exc).__name__}: {exc}"}
    points = read_back(target.uri, run.counts, load.metrics)
    bound = generator_bound(run.cpu_s, run.wall_s, dist.processes, float(server_cost["cpu_s"]),
                            run.machine_cpu)
    record.update(
        status="ok" if run.returncode == 0 else "failed",
        error=None if run.returncode == 0 else
        f"locust exited with {run.returncode}: {run.log_tail[-500:]}",
        endpoints=run.endpoints, errors=run.errors, points=points,
        stored_points_per_s=points["stored"] / load.seconds,
        late_steps=run.late_steps, server_alive_after=target.alive(), generator_killed=run.killed,
        server={**server_cost, "cores": float(server_cost["cpu_s"]) / run.wall_s},
        backends={**backend_cost, "cores": float(backend_cost["cpu_s"]) / run.wall_s},
        generator={"cpu_s": run.cpu_s, "cores": run.cpu_s / run.wall_s,
                   "processes": dist.processes, "workers": dist.workers,
                   "bound": bound is not None, "why": bound},
        machine_cpu=run.machine_cpu, wall_s=run.wall_s,
        db_growth_bytes=(size_after - size_before)
        if size_after is not None and size_before is not None else None,
        network=run.network)
    return record
