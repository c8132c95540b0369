"""The MLtraq-2024 suite's worker: ``python -m harness.measure.suite_worker SPEC.json``.

One fresh, isolated process per tool and repeat (see :mod:`harness.stages.mltraq_suite`): it
times the SDK import, then each experiment of the spec in order, each on fresh storage, through
the tool's adapter only: ``runs`` x (new adapter, ``start_run``, ``values`` x ``log_metrics``,
``finish``), or for the array an ``np.save`` to a file and ``log_artifact``. The timed block
holds what MLtraq's holds (init, every log call, finish), never the import. The answer goes back
as JSON in a result file, as the cell worker's does.

A time cap per experiment stops its loop between calls (the run is still finished), so the
record says how far it got instead of the process being killed mid-write.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import adapters
from adapters.base import AdapterSettings, TrackerAdapter, sha256_file

VALUE = 123.45  # the value MLtraq's procedures log


def _settings(spec: dict[str, Any], storage: Path, profile: str | None = None) -> AdapterSettings:
    return AdapterSettings(storage_dir=storage, scenario=spec["scenario"],
                           profile=profile or spec["profile"],
                           services=dict(spec.get("services") or {}))


def _preload(spec: dict[str, Any], root: Path) -> None:
    """Import other tools first, as MLtraq's notebook did (comet_ml before mlflow): untimed."""
    for target in spec.get("preload", []):
        cls = adapters.load(target)
        cls(AdapterSettings(storage_dir=root / "preload", profile="defaults")).import_sdk()


def _array_file(workdir: Path, size: int) -> Path:
    """The array as a user would hand it to a file-based tracker: NumPy's own format."""
    import numpy as np

    path = workdir / "array.npy"
    np.save(path, np.zeros(size))
    return path


def run_experiment(cls: type[TrackerAdapter], spec: dict[str, Any],
                   exp: dict[str, Any], storage: Path, workdir: Path) -> dict[str, Any]:
    """One experiment, timed as MLtraq times it; a fresh adapter (and storage) per run."""
    cap = float(spec["cap_s"])
    runs, values, size = int(exp["runs"]), int(exp["values"]), int(exp.get("array") or 0)
    array = _array_file(workdir, size) if size else None  # untimed: its checksum, for read-back
    sha = sha256_file(array) if array else None
    storage.mkdir(parents=True, exist_ok=True)  # as a cell's storage: there before the clock
    made = []
    for _ in range(runs):  # untimed: adapter objects, their (already imported) SDK
        adapter = cls(_settings(spec, storage))
        adapter.import_sdk()
        made.append(adapter)
    init_s = log_s = finish_s = 0.0
    runs_done = values_done = 0
    ref: dict[str, str] = {}
    capped = False
    start = time.perf_counter()
    for index, adapter in enumerate(made):
        began = time.perf_counter()
        adapter.start_run(f"mltraq-2024-{exp['id']}-{index}", {})
        logged = time.perf_counter()
        init_s += logged - began
        if size:
            adapter.log_artifact(_array_file(workdir, size), "array.npy")
            values_done += 1
        else:
            for step in range(values):
                adapter.log_metrics({"value": VALUE}, step=step)
                values_done += 1
                if time.perf_counter() - start > cap:
                    capped = True
                    break
        finishing = time.perf_counter()
        log_s += finishing - logged
        ref = adapter.finish()
        finish_s += time.perf_counter() - finishing
        runs_done += 1
        if capped or time.perf_counter() - start > cap:
            capped = capped or runs_done < runs
            break
    total = time.perf_counter() - start
    return {"experiment": exp["id"], "status": "capped" if capped else "ok", "error": None,
            "total_s": total, "init_s": init_s, "log_s": log_s, "finish_s": finish_s,
            "runs_done": runs_done, "values_done": values_done, "ref": ref,
            **({"artifact_sha256": sha} if sha else {})}


def run(spec: dict[str, Any]) -> dict[str, Any]:
    root, workdir = Path(spec["storage_dir"]), Path(spec["workdir"])
    _preload(spec, root)
    cls = adapters.load(spec["tool"])
    first = cls(_settings(spec, root / "import"))
    start = time.perf_counter()
    try:
        first.import_sdk()
    except ImportError as exc:
        return {"status": "unavailable", "error": f"{type(exc).__name__}: {exc}"}
    result: dict[str, Any] = {"status": "ok", "error": None,
                              "import_s": time.perf_counter() - start, "experiments": []}
    # Only now: the cell worker's module loads psutil, which some SDKs import themselves.
    from harness.measure.worker import become_subreaper

    become_subreaper()
    keep = set(spec.get("keep", []))
    for exp in spec["experiments"]:
        storage = root / exp["id"]
        try:
            record = run_experiment(cls, spec, exp, storage, workdir)
        except Exception as exc:  # noqa: BLE001 - a failing experiment is a finding; go on
            record = {"experiment": exp["id"], "status": "failed",
                      "error": f"{type(exc).__name__}: {exc}",
                      "traceback": traceback.format_exc(limit=6)}
        result["experiments"].append(record)
        if exp["id"] not in keep:  # untimed, like MLtraq's cleanup between measurements
            shutil.rmtree(storage, ignore_errors=True)
    return result


def main(argv: list[str] | None = None) -> int:
    spec = json.loads(Path((argv or sys.argv[1:])[0]).read_text())
    try:
        result = run(spec)
    except Exception as exc:  # noqa: BLE001 - reported to the parent as a failed process
        result = {"status": "failed", "error": f"{type(exc).__name__}: {exc}",
                  "traceback": traceback.format_exc(limit=8)}
    from harness.measure.worker import reap_exited_children

    reap_exited_children()
    result["result_written_at"] = time.time()
    Path(spec["result_path"]).write_text(json.dumps(result))
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
