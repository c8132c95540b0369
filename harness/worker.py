"""One cell, in a fresh process: ``python -m harness.worker SPEC.json``.

Like pyperf's worker, it talks JSON back to the manager (the runner) through a result file, so
whatever the tool prints on stdout cannot corrupt it. Modes:

- ``log``: import the SDK, start a run, run the workload through the Tracker facade, finish; the
  timings and the ledger go back to the runner.
- ``probe``: the same, on the coverage-probe workload, with system metrics forced on; then each
  optional feature is called for real (see :mod:`harness.coverage`).
- ``read``: in another fresh process, read back what the tool stored (nothing of the logging
  process's memory survives), holding no credentials; for a probe, also copy the offline bundle.
- ``import``: only import the SDK (the runner's warm-up, unrecorded).
- ``crash`` / ``outage``: ``log`` with a hook at a chosen ``log_metrics`` call (see
  :mod:`harness.kill_points`): SIGKILL itself, or let the runner take the tracking server down.
- ``bad_input``: feed each bad-input case straight to the adapter (see harness/bad_input.py).
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import json
import math
import os
import shutil
import sys
import time
import traceback
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import adapters
from adapters.base import AdapterSettings, HostedOnly, TrackerAdapter, Unsupported, sha256_file
from harness import bad_input, coverage, kill_points, workloads
from harness.tracker import Tracker

PR_SET_CHILD_SUBREAPER = 36
# Hooks by mode, run between start_run and the workload; one may return extra result fields.
HOOKS = {"crash": kill_points.crash_hook, "outage": kill_points.outage_hook}


def become_subreaper() -> None:
    """Orphaned helper processes re-parent to us, so their CPU is reaped into our rusage."""
    # Off Linux this fails quietly: detached helpers are then counted by the runner's sampler.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def reap_exited_children() -> None:
    """Collect zombies of exited helpers so their CPU time reaches the runner's wait4."""
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


def _attempt(call: Callable[[], Any], done: str) -> dict[str, Any]:
    """Call one optional feature; the outcome (or what the tool raised) is the probe's record."""
    try:
        call()
    except HostedOnly as exc:
        return {"outcome": "hosted", "message": str(exc), "docs": exc.docs_url}
    except Unsupported as exc:
        return {"outcome": "unsupported", "message": str(exc)}
    except Exception as exc:  # noqa: BLE001 - the probe reports whatever the tool raised
        return {"outcome": "error", "message": f"{type(exc).__name__}: {str(exc)[:300]}"}
    return {"outcome": "logged", "message": done}


def _dataset_probe(adapter: TrackerAdapter, workdir: Path) -> dict[str, Any]:
    """Log two versions of one dataset file, the second overwriting the first in place as a user
    would; the sha256 of each version's bytes lets the read-back check that the first is still
    retrievable, not only told apart."""
    path = workdir / "dataset.csv"
    logged: list[str] = []

    def log_two() -> None:
        for version in (1, 2):
            path.write_text("x,y\n" + "".join(f"{i},{i * version}\n" for i in range(100)))
            logged.append(sha256_file(path))
            adapter.log_dataset(path, "probe-dataset")

    return {**_attempt(log_two, "two versions logged"), "sha256": logged}


def _feature_probes(adapter: TrackerAdapter, workdir: Path) -> dict[str, Any]:
    """Dataset versions, a model-registry entry and an alert, inside the open probe run."""
    model = workdir / coverage.MODEL_FILE
    return {
        "dataset_probe": _dataset_probe(adapter, workdir),
        "registry_probe": _attempt(lambda: adapter.register_model(model, coverage.MODEL_NAME),
                                   f"registered {coverage.MODEL_FILE} as "
                                   f"{coverage.MODEL_NAME}"),
        "alert_probe": _attempt(lambda: adapter.send_alert("trackbench probe", "alert test"),
                                "alert call returned"),
    }


def _query_probe(adapter: TrackerAdapter, ref: dict[str, str], run_name: str) -> dict[str, Any]:
    """Model selection as the seed describes it: log a few runs, ask the tool for the best.

    The metric's name is unique to this probe, so runs of earlier probes on a shared server
    cannot tie with this one's best."""
    metric = f"{coverage.QUERY_METRIC}_{uuid.uuid4().hex[:8]}"
    first = _attempt(lambda: adapter.best_run(ref, metric), "")
    if first["outcome"] != "logged":  # no query API: do not pay for the extra runs
        return first
    refs = []
    try:
        for index, value in enumerate(coverage.QUERY_VALUES):
            adapter.start_run(f"{run_name}-query-{index}", {})
            adapter.log_metrics({metric: value}, step=0)
            refs.append(adapter.finish())
        found = adapter.best_run(ref, metric)
    except Exception as exc:  # noqa: BLE001 - the probe reports whatever the tool raised
        return {"outcome": "error", "message": f"{type(exc).__name__}: {str(exc)[:300]}"}
    best = min(coverage.QUERY_VALUES)
    expected = refs[coverage.QUERY_VALUES.index(best)]
    where = (f"the probe run and {len(refs)} short runs logging {metric} "
             f"({', '.join(map(str, coverage.QUERY_VALUES))})")
    if found is not None and dict(found) == expected:
        return {"outcome": "found", "message": f"the query over {where} returned the run with "
                f"the lowest {metric} ({best})"}
    return {"outcome": "wrong", "message": f"the query over {where} returned {found}, "
            f"expected {expected}"}


def run_log(spec: dict[str, Any]) -> dict[str, Any]:
    """Import, init, workload, finish: each timed; the ledger travels back with the timings."""
    workload = workloads.resolve(spec["workload"])  # its own imports are not the tool's cost
    adapter_cls = adapters.load(spec["tool"])
    workdir = Path(spec["workdir"])
    result: dict[str, Any] = {"status": "ok", "error": None}
    start = time.perf_counter()
    adapter = None
    if adapter_cls is not None:
        adapter = adapter_cls(settings_from_spec(spec))
        try:
            adapter.import_sdk()
        except Exception as exc:  # noqa: BLE001 - a broken install is a finding, not a crash
            return {"status": "unavailable", "error": f"{type(exc).__name__}: {exc}"}
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
        result.update(_feature_probes(adapter, workdir))
    probed = time.perf_counter()
    result["ref"] = adapter.finish() if adapter is not None else {}
    finished = time.perf_counter()
    if probing:
        result["query_probe"] = _query_probe(adapter, result["ref"], spec["run_name"])
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
    adapter_cls = adapters.load(spec["tool"])
    if adapter_cls is not None:
        adapter_cls(settings_from_spec(spec)).import_sdk()
    return {"status": "ok", "error": None}


def run_bad_input(spec: dict[str, Any]) -> dict[str, Any]:
    """Import the SDK (a failure: unavailable), then feed every bad-input case to the adapter."""
    adapter = adapters.load(spec["tool"])(settings_from_spec(spec))
    try:
        adapter.import_sdk()
    except Exception as exc:  # noqa: BLE001 - a broken install is a finding, not a crash
        return {"status": "unavailable", "error": f"{type(exc).__name__}: {exc}"}
    return bad_input.run_worker(adapter, spec)


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
        result["bundle"] = _copy_bundle(adapter, spec["ref"], Path(spec["bundle_dir"]))
        result["bundle"]["copy_s"] = time.perf_counter() - started
    return result


def _copy_bundle(adapter: TrackerAdapter, ref: dict[str, str], dest: Path) -> dict[str, Any]:
    """Copy only the tool's offline bundle, as a user would carry it to a connected machine."""
    found: list[tuple[str, Path]] = []
    probe = _attempt(lambda: found.append(adapter.offline_bundle(ref)), "")
    if probe["outcome"] != "logged":
        return probe
    key, source = found[0]
    dest.mkdir(parents=True, exist_ok=True)
    target = dest / source.name
    if source.is_dir():
        shutil.copytree(source, target, symlinks=False)
        files = [f for f in target.rglob("*") if f.is_file()]
    else:
        shutil.copy2(source, target)
        files = [target]
    return {"outcome": "copied", "name": source.name, "files": len(files),
            "bytes": sum(f.stat().st_size for f in files), "dir": str(dest),
            "ref": {**ref, key: str(target)}}


def main(argv: list[str] | None = None) -> int:
    spec_path = Path((argv or sys.argv[1:])[0])
    spec = json.loads(spec_path.read_text())
    become_subreaper()
    try:
        modes = {"read": run_read, "import": run_import, "bad_input": run_bad_input}
        result = modes.get(spec["mode"], run_log)(spec)
    except Exception as exc:  # noqa: BLE001 - reported to the runner as a failed cell
        result = {
            "status": "failed",
            "error": f"{type(exc).__name__}: {exc}",
            "traceback": traceback.format_exc(limit=8),
        }
    reap_exited_children()
    result["result_written_at"] = time.time()  # the runner measures interpreter exit from here
    Path(spec["result_path"]).write_text(json.dumps(result))
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
