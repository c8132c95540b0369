"""The coverage probes' workload: a few seconds of a busy core, so system monitors get a
sample, then the small model file the registry probe registers."""

from __future__ import annotations

import time
from typing import Any

from harness.results.method import PROBE_SECONDS

MODEL_FILE = "probe-model.bin"


def busy_then_model(tracker: Any, config: dict[str, Any]) -> None:
    seconds = float(config.get("probe_seconds", PROBE_SECONDS))
    tracker.log_params({"probe": "coverage"})
    step = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        busy_until = time.perf_counter() + 0.25
        total = 0
        while time.perf_counter() < busy_until:
            total += 1
        tracker.log_metrics({"probe/busy_loops": float(total)}, step=step)
        step += 1
    path = tracker.workdir / MODEL_FILE
    path.write_bytes(bytes(range(256)) * 16)
    tracker.log_artifact(path)
