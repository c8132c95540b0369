"""One cell, in a fresh process: ``python -m harness.measure.worker SPEC.json``.

Like pyperf's worker, it talks JSON back to the manager (:mod:`harness.measure.cell`) through a
result file, so whatever the tool prints on stdout cannot corrupt it. Modes:

- ``log``: import the SDK, start a run, run the workload through the Tracker facade, finish; the
  timings and the ledger go back to the parent.
- ``probe``: the same, on the coverage-probe workload, with system metrics forced on; then each
  optional feature is called for real (see :mod:`harness.measure.feature_calls`).
- ``read``: in another fresh process, read back what the tool stored (nothing of the logging
  process's memory survives), holding no credentials; for a probe, also copy the offline bundle.
- ``import``: only import the SDK (the warm-up, unrecorded).
- ``crash`` / ``outage``: ``log`` with a hook at a chosen ``log_metrics`` call (see
  :mod:`harness.measure.kill_points`): SIGKILL itself, or let the parent take the server down.
- ``bad_input``: feed each bad-input case straight to the adapter (see
  :mod:`harness.measure.bad_input_feed`).
- ``many``: import once, then ``runs`` runs back to back in this one process, as a
  hyperparameter search does (the runs-per-process sweep); per-run times show whether the Nth
  run costs more than the first (leaks, a growing store).
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import json
import math
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import adapters
from adapters.base import AdapterSettings, TrackerAdapter
from harness import workloads
from harness.measure import bad_input_feed, feature_calls, kill_points
from harness.measure.tracker import Tracker

PR_SET_CHILD_SUBREAPER = 36
# Hooks by mode, run between start_run and the workload; one may return extra result fields.
HOOKS = {"crash": kill_points.crash_hook, "outage": kill_points.outage_hook}


def become_subreaper() -> None:
    """Orphaned helper processes re-parent to us, so their CPU is reaped into our rusage."""
    # Off Linux this fails quietly: detached helpers are then counted by the parent's sampler.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def reap_exited_children() -> None:
    """Collect zombies of exited helpers so their CPU time reaches the parent's wait4."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def call_stats(samples_ns: list[int]) -> dict[str, Any]:
    """Count, total, p50/p99 and a log-binned histogram (the latency distribution chart)."""
    if not samples_ns:
        return {"n": 0, "total_s": 0.0, "p50_s": None, "p99_s": None, "histogram": {}}
    ordered = sorted(samples_ns)

    def pct(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))] / 1e9

    return {"n": len(ordered), "total_s": sum(ordered) / 1e9, "p50_s": pct(0.5),
            "p99_s": pct(0.99), "histogram": latency_histogram(ordered)}


HIST_BINS_PER_DECADE = 5


def latency_histogram(samples_ns: list[int]) -> dict[str, int]:
    """Counts per log-spaced bin; key = the bin's lower edge in seconds, as text for JSON."""
    counts: dict[str, int] = {}
    for ns in samples_ns:
        index = math.floor(math.log10(max(ns, 1) / 1e9) * HIST_BINS_PER_DECADE)
        key = f"{10 ** (index / HIST_BINS_PER_DECADE):.3g}"
        counts[key] = counts.get(key, 0) + 1
    return counts


def settings_from_spec(spec: dict[str, Any]) -> AdapterSettings:
    return AdapterSettings(
        storage_dir=Path(spec["storage_dir"]),
        scenario=spec["scenario"],
        profile=spec["profile"],
        system_metrics=bool(spec.get("system_metrics", False)),
        services=dict(spec.get("services") or {}),
    )


class Unavailable(Exception):
    """The tool's SDK cannot be imported: a finding (the tool is reported unavailable)."""


def imported_adapter(spec: dict[str, Any]) -> TrackerAdapter | None:
    """The cell's adapter with its SDK imported (None for the baseline). An ImportError means
    the tool is not (properly) installed: Unavailable. Anything else raised here is a bug of the
    adapter or the SDK, and fails the cell with its traceback like any other error."""
    adapter_cls = adapters.load(spec["tool"])
    if adapter_cls is None:
        return None
    adapter = adapter_cls(settings_from_spec(spec))
    try:
        adapter.import_sdk()
    except ImportError as exc:
        raise Unavailable(f"{type(exc).__name__}: {exc}") from exc
    return adapter


def run_log(spec: dict[str, Any]) -> dict[str, Any]:
    """Import, init, workload, finish: each timed; the ledger travels back with the timings."""
    workload = workloads.resolve(spec["workload"])  # its own imports are not the tool's cost
    workdir = Path(spec["workdir"])
    result: dict[str, Any] = {"status": "ok", "error": None}
    start = time.perf_counter()
    adapter = imported_adapter(spec)
    imported = time.perf_counter()
    if adapter is not None:
        adapter.start_run(spec["run_name"], spec["workload_config"])
    initialised = time.perf_counter()
    tracker = Tracker(adapter, workdir)
    hook = HOOKS.get(spec["mode"])
    extra = hook(spec, adapter, tracker) if hook is not None and adapter is not None else None
    workload(tracker, dict(spec["workload_config"]))
    worked = time.perf_counter()
    probing = spec["mode"] == "probe" and adapter is not None
    if probing:
        result.update(feature_calls.in_run(adapter, workdir))
    probed = time.perf_counter()
    result["ref"] = adapter.finish() if adapter is not None else {}
    finished = time.perf_counter()
    if probing:
        result["query_probe"] = feature_calls.query(adapter, result["ref"], spec["run_name"])
        result["feature_probes_s"] = (probed - worked) + (time.perf_counter() - finished)
    result.update(
        import_s=imported - start,
        init_s=initialised - imported,
        workload_s=worked - initialised,
        finish_s=finished - probed,
        e2e_s=(finished - start) - (probed - worked),
        blocked_s=tracker.blocked_ns() / 1e9,
        calls={kind: call_stats(ns) for kind, ns in tracker.call_ns.items()},
        call_errors=tracker.call_errors,
        call_error_count=tracker.error_count,
        ledger=tracker.ledger.to_json(),
    )
    if extra is not None:
        result.update(extra())
    return result


def run_import(spec: dict[str, Any]) -> dict[str, Any]:
    """Warm-up: import the SDK once, so no measured cell pays a cold disk cache or .pyc build."""
    imported_adapter(spec)
    return {"status": "ok", "error": None}


def run_bad_input(spec: dict[str, Any]) -> dict[str, Any]:
    """Import the SDK, then feed every bad-input case straight to the adapter."""
    adapter = imported_adapter(spec)
    assert adapter is not None, "the baseline has no adapter to feed"
    return bad_input_feed.run_worker(adapter, spec)


def run_many(spec: dict[str, Any]) -> dict[str, Any]:
    """Import once, then ``spec["runs"]`` runs back to back; a failing run ends the loop. Each
    run gets a fresh Tracker (its own ledger and call timings)."""
    workload = workloads.resolve(spec["workload"])  # its imports are not the tool's cost
    workdir = Path(spec["workdir"])
    start = time.perf_counter()
    adapter = imported_adapter(spec)
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
        import_s=imported - start, e2e_s=time.perf_counter() - start, run_s=run_s,
        blocked_s=sum(sum(ns) for ns in call_ns.values()) / 1e9,
        calls={kind: call_stats(ns) for kind, ns in call_ns.items()},
        call_error_count=errors, points_logged=points,
    )
    return result


def run_read(spec: dict[str, Any]) -> dict[str, Any]:
    adapter_cls = adapters.load(spec["tool"])
    adapter = adapter_cls(settings_from_spec(spec))
    start = time.perf_counter()
    stored = adapter.read_back(spec["ref"])  # imports only what reading needs
    result = {
        "status": "ok",
        "error": None,
        "read_s": time.perf_counter() - start,
        "stored": dataclasses.asdict(stored),
    }
    if spec.get("bundle_dir"):
        started = time.perf_counter()
        result["bundle"] = feature_calls.copy_bundle(adapter, spec["ref"],
                                                      Path(spec["bundle_dir"]))
        result["bundle"]["copy_s"] = time.perf_counter() - started
    return result


MODES = {"read": run_read, "import": run_import, "bad_input": run_bad_input, "many": run_many}


def main(argv: list[str] | None = None) -> int:
    spec_path = Path((argv or sys.argv[1:])[0])
    spec = json.loads(spec_path.read_text())
    become_subreaper()
    try:
        result = MODES.get(spec["mode"], run_log)(spec)
    except Unavailable as exc:
        result = {"status": "unavailable", "error": str(exc)}
    except Exception as exc:  # noqa: BLE001 - reported to the parent as a failed cell
        result = {
            "status": "failed",
            "error": f"{type(exc).__name__}: {exc}",
            "traceback": traceback.format_exc(limit=8),
        }
    reap_exited_children()
    result["result_written_at"] = time.time()  # interpreter exit is measured from here
    Path(spec["result_path"]).write_text(json.dumps(result))
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
