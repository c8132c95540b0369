"""Log-only workload: pure logging cost, sized by steps x metrics x params x artifact bytes."""

from __future__ import annotations

import math
import os
from typing import Any

DEFAULTS: dict[str, Any] = {"steps": 1000, "metrics": 5, "params": 10, "artifact_bytes": 100_000}


def log_only(tracker: Any, config: dict[str, Any]) -> None:
    cfg = {**DEFAULTS, **config}
    tracker.log_params({f"param_{i}": i * 0.5 for i in range(int(cfg["params"]))})
    names = [f"metric_{j}" for j in range(int(cfg["metrics"]))]
    for step in range(int(cfg["steps"])):
        tracker.log_metrics(
            {name: math.sin(step * 0.01 + j) for j, name in enumerate(names)}, step=step
        )
    size = int(cfg["artifact_bytes"])
    if size > 0:
        path = tracker.workdir / "payload.bin"
        path.write_bytes(os.urandom(size))
        tracker.log_artifact(path, "payload.bin")
