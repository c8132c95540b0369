"""Queries as the store grows: fill a server with R runs, then time what a team asks of it.

The store is filled through the server's own API, as a team's jobs fill it: ``FILL_THREADS``
clients in parallel, each run one ``runs/create`` and one ``runs/log-batch`` with its params
and ``FILL_STEPS`` step(s) of the workload's metrics plus ``loss`` (the runs stay RUNNING, as
jobs still training do: the experiment page lists active runs, whatever their status). Then each
query is timed ``repeats`` times (bounded in time too), on the idle server and again while
writers log to it.
"""

from __future__ import annotations

import random
import time
import urllib.parse
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from harness.services.http import http_json

API = "/api/2.0/mlflow"
FILL_THREADS = 6
FILL_STEPS = 1
LEARNING_RATES = ("0.1", "0.01", "0.001")
QUERY_BUDGET_S = 30.0  # per query and condition: fewer repeats rather than an endless loop


def _fill_one(uri: str, experiment: str, index: int, metrics: int) -> bool:
    now = int(time.time() * 1000)
    status, body = http_json("POST", f"{uri}{API}/runs/create",
                             {"experiment_id": experiment, "start_time": now,
                              "run_name": f"fill-{index}"}, timeout_s=60.0)
    if status != 200:
        return False
    run_id = body["run"]["info"]["run_id"]
    params = [{"key": "lr", "value": LEARNING_RATES[index % 3]},
              *({"key": f"p{i}", "value": str(i * index)} for i in range(9))]
    points = [{"key": key, "value": random.random(), "timestamp": now + step, "step": step}
              for step in range(FILL_STEPS) for key in ("loss", *(f"m{i}" for i in range(metrics)))]
    status, _ = http_json("POST", f"{uri}{API}/runs/log-batch",
                          {"run_id": run_id, "params": params, "metrics": points}, timeout_s=60.0)
    return status == 200


def fill(uri: str, experiment: str, start: int, stop: int, metrics: int,
         budget_s: float) -> dict[str, Any]:
    """Add runs ``start..stop-1``; bounded by ``budget_s`` (the runs not added are counted)."""
    deadline = time.monotonic() + budget_s
    began = time.monotonic()

    def one(index: int) -> bool:
        return time.monotonic() < deadline and _fill_one(uri, experiment, index, metrics)

    with ThreadPoolExecutor(FILL_THREADS) as pool:
        added = sum(pool.map(one, range(start, stop)))
    seconds = time.monotonic() - began
    return {"added": added, "asked": stop - start, "seconds": seconds,
            "runs_per_s": added / seconds if seconds > 0 else None}


def first_run(uri: str, experiment: str) -> str | None:
    status, body = http_json("POST", f"{uri}{API}/runs/search",
                             {"experiment_ids": [experiment], "max_results": 1}, timeout_s=60.0)
    runs = body.get("runs", []) if status == 200 and isinstance(body, dict) else []
    return runs[0]["info"]["run_id"] if runs else None


def queries(uri: str, experiment: str, run_id: str | None) -> dict[str, Callable[[], bool]]:
    """The four questions, each a call that returns whether the server answered 200."""
    history = urllib.parse.urlencode({"run_id": run_id or "", "metric_key": "loss"})

    def post(path: str, body: dict[str, Any]) -> Callable[[], bool]:
        return lambda: http_json("POST", f"{uri}{API}/{path}", body, timeout_s=120.0)[0] == 200

    return {
        # The seed's model selection: the best runs by loss among one learning rate.
        "model selection (search runs by loss, filtered)": post("runs/search", {
            "experiment_ids": [experiment], "filter": "params.lr = '0.01' and metrics.loss < 0.9",
            "order_by": ["metrics.loss ASC"], "max_results": 10}),
        "search experiments": post("experiments/search", {"max_results": 100}),
        "metric history of one run": lambda: http_json(
            "GET", f"{uri}{API}/metrics/get-history?{history}", timeout_s=120.0)[0] == 200,
        # What MLflow's experiment page asks for first: the newest 100 active runs.
        "experiment page (newest 100 runs)": post("runs/search", {
            "experiment_ids": [experiment], "filter": "", "run_view_type": "ACTIVE_ONLY",
            "order_by": ["attributes.start_time DESC"], "max_results": 100}),
    }


def time_queries(calls: dict[str, Callable[[], bool]], repeats: int) -> dict[str, Any]:
    """Per query: the seconds of each answered repeat, and how many were not answered."""
    out: dict[str, Any] = {}
    for name, call in calls.items():
        seconds: list[float] = []
        failed = 0
        deadline = time.monotonic() + QUERY_BUDGET_S
        for _ in range(repeats):
            began = time.perf_counter()
            ok = call()
            if ok:
                seconds.append(time.perf_counter() - began)
            else:
                failed += 1
            if time.monotonic() > deadline:
                break
        out[name] = {"seconds": seconds, "failed": failed}
    return out
