"""One real MLflow client for the cross-check: the SDK, through trackbench's own adapter, logging
one training job (params, then ``steps`` steps of ``metrics`` metrics) to a server.

Run as ``python -m harness.load.real_client URI STEPS METRICS OUT.json READY GO``: it imports
the SDK and creates its run, writes READY, waits for GO (so N clients log at the same time,
not one after another), then times each ``log_metrics`` call and writes the durations to OUT.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import adapters
from adapters.base import AdapterSettings

# The experiment the MLflow adapter logs to (adapters/mlflow.py's EXPERIMENT; imported by name
# there, not from here: the harness never imports an adapter module statically).
EXPERIMENT = "trackbench"

WAIT_FOR_GO_S = 120.0


def main(argv: list[str]) -> int:
    uri, steps, metrics, out, ready, go = argv
    cls = adapters.load("mlflow")
    adapter = cls(AdapterSettings(storage_dir=Path(tempfile.mkdtemp()), scenario="server-sqlite",
                                  services={"tracking_uri": uri}))
    adapter.import_sdk()
    adapter.start_run("real-client", {})
    adapter.log_params({f"p{i}": i for i in range(10)})
    Path(ready).touch()
    deadline = time.monotonic() + WAIT_FOR_GO_S
    while not Path(go).exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    seconds = []
    for step in range(int(steps)):
        values = {f"m{i}": step * 0.001 + i for i in range(int(metrics))}
        began = time.perf_counter()
        adapter.log_metrics(values, step)
        seconds.append(time.perf_counter() - began)
    adapter.finish()
    Path(out).write_text(json.dumps({"seconds": seconds}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
