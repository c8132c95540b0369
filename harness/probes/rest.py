"""Probe the MLflow REST endpoints the seed names, over plain HTTP, against the installed server.

The seed lists ``POST runs/log-metric``, ``GET experiments/list`` and ``DELETE runs/delete`` as
what ``mlflow server`` offers. Those are claims about an API that has changed since, so each one
is called as written, next to its documented replacement, and the status code is the finding.
No SDK is used: the point is what a script with only an HTTP client can do.
"""

from __future__ import annotations

import json
import time
import urllib.parse
from typing import Any

from harness.services.http import http_json

API = "/api/2.0/mlflow"
def outcome(status: int | None) -> str:
    """works (2xx), gone (the route or method does not exist: 404/405), error (anything else)."""
    if status is not None and 200 <= status < 300:
        return "works"
    return "gone" if status in (404, 405) else "error"


def _first_line(body: Any) -> str:
    text = body if isinstance(body, str) else json.dumps(body)
    if "<title>" in text:  # Flask's HTML error page: its title is the useful part
        text = text.split("<title>", 1)[1].split("</title>", 1)[0]
    return " ".join(text.split())[:160]


def _entry(endpoint: str, method: str, seed: bool, status: int | None, body: Any,
           evidence: str, verified: bool = True,
           replaced_by: str | None = None) -> dict[str, Any]:
    """A 2xx whose effect was not confirmed (``verified`` false) is an error, not "works"."""
    result = outcome(status)
    if result == "works" and not verified:
        result = "error"
    entry: dict[str, Any] = {
        "endpoint": API + endpoint, "method": method, "named_in_seed": seed, "status": status,
        "outcome": result,
        "evidence": f"{status}; {evidence if result == 'works' else _first_line(body)}",
    }
    if replaced_by:
        entry["replaced_by"] = replaced_by
    return entry


def probe_rest_api(base_url: str, auth: tuple[str, str] | None = None) -> list[dict[str, Any]]:
    """One entry per endpoint probe (see the module docstring); HTTP errors are findings."""
    api = base_url.rstrip("/") + API
    probes: list[dict[str, Any]] = []

    def call(method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int | None, Any]:
        return http_json(method, api + path, body, auth)

    name = f"trackbench-rest-probe-{time.time_ns()}"
    status, body = call("POST", "/experiments/create", {"name": name})
    exp_id = body.get("experiment_id") if isinstance(body, dict) else None
    probes.append(_entry("/experiments/create", "POST", False, status, body,
                         f"experiment {exp_id} created", exp_id is not None))
    status, body = call("POST", "/runs/create",
                        {"experiment_id": exp_id, "start_time": int(time.time() * 1000)})
    run_id = body.get("run", {}).get("info", {}).get("run_id") if isinstance(body, dict) else None
    probes.append(_entry("/runs/create", "POST", False, status, body, f"run {run_id} created",
                         run_id is not None))

    metric = {"run_id": run_id, "key": "probe_loss", "value": 0.25,
              "timestamp": int(time.time() * 1000), "step": 3}
    log_status, log_body = call("POST", "/runs/log-metric", metric)
    query = urllib.parse.urlencode({"run_id": run_id or "", "metric_key": "probe_loss"})
    hist_status, hist_body = call("GET", f"/metrics/get-history?{query}")
    history = hist_body.get("metrics", []) if isinstance(hist_body, dict) else []
    back = any(m.get("value") == 0.25 and int(m.get("step", -1)) == 3 for m in history)
    probes.append(_entry("/runs/log-metric", "POST", True, log_status, log_body,
                         "metric read back via get-history", back))

    status, list_body = call("GET", "/experiments/list")
    probes.append(_entry("/experiments/list", "GET", True, status, list_body,
                         "experiments listed",
                         replaced_by="POST /api/2.0/mlflow/experiments/search"))
    status, search_body = call("POST", "/experiments/search",
                                 {"filter": f"name = '{name}'", "max_results": 10})
    found = isinstance(search_body, dict) and any(
        e.get("experiment_id") == exp_id for e in search_body.get("experiments", []))
    probes.append(_entry("/experiments/search", "POST", False, status, search_body,
                         "probe experiment listed", found))
    probes.append(_entry("/metrics/get-history", "GET", False, hist_status, hist_body,
                         "returned the logged point (step 3, value 0.25)", back))

    def deleted() -> bool:
        _, run = call("GET", f"/runs/get?{urllib.parse.urlencode({'run_id': run_id or ''})}")
        info = run.get("run", {}).get("info", {}) if isinstance(run, dict) else {}
        return info.get("lifecycle_stage") == "deleted"

    for method, seed in (("DELETE", True), ("POST", False)):
        status, body = call(method, "/runs/delete", {"run_id": run_id})
        probes.append(_entry("/runs/delete", method, seed, status, body,
                             "run lifecycle_stage read back as 'deleted'", deleted(),
                             replaced_by="POST /api/2.0/mlflow/runs/delete" if seed else None))
    return probes
