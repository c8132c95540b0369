"""Many runs in one process: ``python -m harness.sweep_worker SPEC.json``.

The "runs per process" sweep needs what a hyperparameter search does: import the SDK once, then
start, log and finish run after run in the same interpreter, against the same storage. The
per-cell worker (:mod:`harness.worker`) does one run per process, so this entry reuses its
helpers and differs only in the loop. Each run gets a fresh Tracker (its own ledger and call
timings); the per-run times show whether the Nth run costs more than the first (leaks, a growing
store). Like the cell worker, it answers through a JSON result file.
"""

from __future__ import annotations

import json
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import adapters
from harness import workloads
from harness.tracker import Tracker
from harness.worker import become_subreaper, call_stats, reap_exited_children, settings_from_spec


def run_many(spec: dict[str, Any]) -> dict[str, Any]:
    """Import once, then ``spec["runs"]`` runs back to back; a failing run ends the loop."""
    workload = workloads.resolve(spec["workload"])  # its imports are not the tool's cost
    adapter_cls = adapters.load(spec["tool"])
    workdir = Path(spec["workdir"])
    start = time.perf_counter()
    adapter = adapter_cls(settings_from_spec(spec)) if adapter_cls is not None else None
    if adapter is not None:
        try:
            adapter.import_sdk()
        except Exception as exc:  # noqa: BLE001 - a broken install is a finding, not a crash
            return {"status": "unavailable", "error": f"{type(exc).__name__}: {exc}"}
    imported = time.perf_counter()
    result: dict[str, Any] = {"status": "ok", "error": None}
    run_s: list[float] = []
    call_ns: dict[str, list[int]] = {"params": [], "metrics": [], "artifact": []}
    points = errors = 0
    for index in range(int(spec["runs"])):
        began = time.perf_counter()
        try:
            if adapter is not None:
                adapter.start_run(f"{spec['run_name']}-{index}", spec["workload_config"])
            tracker = Tracker(adapter, workdir)
            workload(tracker, dict(spec["workload_config"]))
            if adapter is not None:
                adapter.finish()
        except Exception as exc:  # noqa: BLE001 - reported with the runs done so far
            result.update(status="failed", error=f"run {index + 1}: {type(exc).__name__}: {exc}",
                          traceback=traceback.format_exc(limit=8))
            break
        run_s.append(time.perf_counter() - began)
        for kind, samples in tracker.call_ns.items():
            call_ns[kind] += samples
        points += len(tracker.ledger.points)
        errors += tracker.error_count
    result.update(
        import_s=imported - start,
        e2e_s=time.perf_counter() - start,
        run_s=run_s,
        blocked_s=sum(sum(ns) for ns in call_ns.values()) / 1e9,
        calls={kind: call_stats(ns) for kind, ns in call_ns.items()},
        call_error_count=errors,
        points_logged=points,
    )
    return result


def main(argv: list[str] | None = None) -> int:
    spec = json.loads(Path((argv or sys.argv[1:])[0]).read_text())
    become_subreaper()
    try:
        result = run_many(spec)
    except Exception as exc:  # noqa: BLE001 - reported to the sweep as a failed point
        result = {"status": "failed", "error": f"{type(exc).__name__}: {exc}",
                  "traceback": traceback.format_exc(limit=8)}
    reap_exited_children()
    Path(spec["result_path"]).write_text(json.dumps(result))
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
