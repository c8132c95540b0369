"""Points kept: every run of a level read back through the server's own API after the level.

Per run, the metric history of each key the jobs logged (``metrics/get-history``, which
MLflow and FastTrackML both serve), counted against what the generator sent and what the server
acknowledged. A point acknowledged (HTTP 200) and then missing is a loss; a point stored though
its request failed (a timeout after the commit) is counted apart, not as a gain.
"""

from __future__ import annotations

import time
import urllib.parse
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from harness.services.http import http_json

API = "/api/2.0/mlflow"
THREADS = 4  # enough to read back in seconds, few enough not to become load of its own


def _stored(uri: str, run_id: str, keys: int) -> int | None:
    """Points stored for one run (None: the server did not answer)."""
    total = 0
    for i in range(keys):
        query = urllib.parse.urlencode({"run_id": run_id, "metric_key": f"m{i}",
                                        "max_results": 25000})
        status, body = http_json("GET", f"{uri}{API}/metrics/get-history?{query}",
                                 timeout_s=30.0)
        if status != 200 or not isinstance(body, dict):
            return None
        total += len({m.get("step") for m in body.get("metrics", [])})
    return total


def read_back(uri: str, counts: Mapping[str, list[int]], keys: int,
              budget_s: float = 120.0) -> dict[str, Any]:
    """Sent, acknowledged, stored and lost points over ``counts`` (run_id -> [sent, acked]).
    Runs not read within ``budget_s`` (or whose history the server did not return) are
    counted as unread, never as kept."""
    deadline = time.monotonic() + budget_s
    runs = [r for r in counts if r]

    def one(run_id: str) -> int | None:
        return _stored(uri, run_id, keys) if time.monotonic() < deadline else None

    with ThreadPoolExecutor(THREADS) as pool:
        stored = dict(zip(runs, pool.map(one, runs), strict=True))
    read = {r: n for r, n in stored.items() if n is not None}
    acked_lost = sum(max(0, counts[r][1] - n) for r, n in read.items())
    beyond = sum(max(0, n - counts[r][1]) for r, n in read.items())
    return {"runs": len(runs), "runs_unread": len(runs) - len(read),
            "sent": sum(counts[r][0] for r in runs), "acked": sum(counts[r][1] for r in runs),
            "stored": sum(read.values()), "acked_lost": acked_lost,
            "stored_unacked": beyond}
