"""The Locust user of the team-scale stage: one user is one training job on MLflow's REST API.

A job creates a run, logs its params in one log-batch, then one log-batch of ``--tb-metrics``
metrics per step for ``--tb-steps`` steps, and ends the run; then it starts the next job. With
``--tb-rate 0`` it steps as fast as the server answers (closed loop); with ``--tb-rate R`` it
steps on a fixed schedule of R steps/s (open loop, as a training job whose steps take 1/R s),
and a step the server made late is counted as such, not silently dropped from the schedule.

Each process counts, per run, the metric points it sent and those the server acknowledged
(HTTP 200) and writes them at exit, so the harness can compare what was acknowledged with what
the store holds; workers on other machines ship their counts to the master with their stats
reports instead. The file runs under ``locust -f`` only, also on
the other machines of a distributed run (``locust -f <this file> --worker --master-host ...``).
"""

from __future__ import annotations

import json
import os
import random
import time
from collections import defaultdict
from typing import Any

from locust import HttpUser, events, task
from locust.runners import WorkerRunner

API = "/api/2.0/mlflow"
# run_id -> [points sent, points acknowledged]; steps late (open loop) under the key "".
COUNTS: defaultdict[str, list[int]] = defaultdict(lambda: [0, 0])
# On the master: each worker's latest (cumulative) counts, by worker id.
WORKERS: dict[str, dict[str, list[int]]] = {}


@events.init_command_line_parser.add_listener
def _options(parser: Any) -> None:
    parser.add_argument("--tb-experiment", default="0", help="experiment id the jobs log to")
    parser.add_argument("--tb-steps", type=int, default=50, help="steps per job")
    parser.add_argument("--tb-metrics", type=int, default=20, help="metrics per step")
    parser.add_argument("--tb-params", type=int, default=10, help="params per job")
    parser.add_argument("--tb-rate", type=float, default=0.0,
                        help="steps/s per job (0: as fast as the server answers)")
    parser.add_argument("--tb-journal", default="", help="where the master writes the counts")


@events.report_to_master.add_listener
def _ship(client_id: str, data: dict[str, Any]) -> None:
    """Cumulative counts, never cleared: a request in flight still adds to its run's entry."""
    data["tb_counts"] = {run_id: list(counts) for run_id, counts in COUNTS.items()}


@events.worker_report.add_listener
def _merge(client_id: str, data: dict[str, Any]) -> None:
    if "tb_counts" in data:
        WORKERS[client_id] = data["tb_counts"]


@events.quitting.add_listener
def _write(environment: Any, **_: Any) -> None:
    """Each local process writes its own counts (``<journal>.<pid>``), after its users stopped;
    the master also writes what its workers reported (``<journal>``), which is all there is of
    workers on other machines."""
    path = environment.parsed_options.tb_journal if environment.parsed_options else ""
    if not path:
        return
    with open(f"{path}.{os.getpid()}", "w") as out:
        json.dump(dict(COUNTS), out)
    if isinstance(environment.runner, WorkerRunner):
        return
    total: defaultdict[str, list[int]] = defaultdict(lambda: [0, 0])
    for counts in [COUNTS, *WORKERS.values()]:
        for run_id, (sent, acked) in counts.items():
            total[run_id][0] += sent
            total[run_id][1] += acked
    with open(path, "w") as out:
        json.dump(total, out)


class TrainingJob(HttpUser):
    """One training job after another, each a fresh run."""

    # A request the server holds longer than this fails as a timeout (an error of its own kind)
    # instead of holding its job, and the level's end, forever.
    connection_timeout = 10.0
    network_timeout = 30.0

    def on_start(self) -> None:
        options = self.environment.parsed_options
        self.steps, self.metrics = options.tb_steps, options.tb_metrics
        self.rate, self.experiment = options.tb_rate, options.tb_experiment
        self.params = options.tb_params
        self.run_id: str | None = None
        self.step = 0
        self.due = time.monotonic()

    def wait_time(self) -> float:
        """Closed loop: no wait. Open loop: until the next step is due on the job's schedule;
        a step that starts after its successor was due counts as late."""
        if self.rate <= 0:
            return 0.0
        self.due += 1.0 / self.rate
        delay = self.due - time.monotonic()
        if delay < -1.0 / self.rate:
            COUNTS[""][0] += 1  # late: the server held this job back by more than a step
        return max(0.0, delay)

    def _post(self, path: str, body: dict[str, Any], name: str) -> dict[str, Any] | None:
        """POST; a non-200 answer is a failure whose message names its status and what the
        server said ("database is locked", "too many connections", ...)."""
        with self.client.post(f"{API}/{path}", json=body, name=name,
                              catch_response=True) as resp:
            if resp.status_code == 200:
                resp.success()
                try:
                    return resp.json()
                except ValueError:
                    return {}
            detail = (resp.text or str(resp.error or ""))[:300].replace("\n", " ")
            resp.failure(f"HTTP {resp.status_code}: {detail}" if resp.status_code
                         else detail or "no answer")
            return None

    def _new_run(self) -> None:
        now = int(time.time() * 1000)
        answer = self._post("runs/create", {"experiment_id": self.experiment, "start_time": now,
                                            "run_name": "load"}, "runs/create")
        if answer is None:
            return
        self.run_id, self.step = answer["run"]["info"]["run_id"], 0
        params = [{"key": f"p{i}", "value": str(random.random())} for i in range(self.params)]
        self._post("runs/log-batch", {"run_id": self.run_id, "params": params},
                   "runs/log-batch params")

    def _end_run(self) -> None:
        if self.run_id is not None:
            self._post("runs/update", {"run_id": self.run_id, "status": "FINISHED",
                                       "end_time": int(time.time() * 1000)}, "runs/update")
        self.run_id = None

    @task
    def train_step(self) -> None:
        if self.run_id is None:
            self._new_run()
            if self.run_id is None:
                return
        now = int(time.time() * 1000)
        metrics = [{"key": f"m{i}", "value": random.random(), "timestamp": now,
                    "step": self.step} for i in range(self.metrics)]
        counts = COUNTS[self.run_id]
        counts[0] += self.metrics
        if self._post("runs/log-batch", {"run_id": self.run_id, "metrics": metrics},
                      "runs/log-batch metrics") is not None:
            counts[1] += self.metrics
        self.step += 1
        if self.step >= self.steps:
            self._end_run()

    def on_stop(self) -> None:
        self._end_run()
