"""The coverage probes' calls inside the worker: each optional feature called for real on the
open probe run (two dataset versions, a model-registry entry, an alert), the query for the best
of several runs after it, and the copy of the tool's offline bundle in the read-back process.

Each call's outcome (or what the tool raised) is recorded as the tool gave it; the verdicts are
drawn later, from these records and the read-back (:mod:`harness.probes.coverage`).
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from adapters.base import HostedOnly, TrackerAdapter, Unsupported, sha256_file
from harness.workloads.probe import MODEL_FILE

PROBE_WORKLOAD = "harness.workloads.probe:busy_then_model"
MODEL_NAME = "trackbench-probe-model"
QUERY_METRIC = "probe_loss"
QUERY_VALUES = (0.3, 0.1, 0.2)  # one short run each; the query must return the 0.1 run


def attempt(call: Callable[[], Any], done: str) -> dict[str, Any]:
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

    return {**attempt(log_two, "two versions logged"), "sha256": logged}


def in_run(adapter: TrackerAdapter, workdir: Path) -> dict[str, Any]:
    """Dataset versions, a model-registry entry and an alert, inside the open probe run."""
    model = workdir / MODEL_FILE
    return {
        "dataset_probe": _dataset_probe(adapter, workdir),
        "registry_probe": attempt(lambda: adapter.register_model(model, MODEL_NAME),
                                  f"registered {MODEL_FILE} as {MODEL_NAME}"),
        "alert_probe": attempt(lambda: adapter.send_alert("trackbench probe", "alert test"),
                               "alert call returned"),
    }


def query(adapter: TrackerAdapter, ref: dict[str, str], run_name: str) -> dict[str, Any]:
    """Model selection as the seed describes it: log a few runs, ask the tool for the best.

    The metric's name is unique to this probe, so runs of earlier probes on a shared server
    cannot tie with this one's best."""
    metric = f"{QUERY_METRIC}_{uuid.uuid4().hex[:8]}"
    first = attempt(lambda: adapter.best_run(ref, metric), "")
    if first["outcome"] != "logged":  # no query API: do not pay for the extra runs
        return first
    refs = []
    try:
        for index, value in enumerate(QUERY_VALUES):
            adapter.start_run(f"{run_name}-query-{index}", {})
            adapter.log_metrics({metric: value}, step=0)
            refs.append(adapter.finish())
        found = adapter.best_run(ref, metric)
    except Exception as exc:  # noqa: BLE001 - the probe reports whatever the tool raised
        return {"outcome": "error", "message": f"{type(exc).__name__}: {str(exc)[:300]}"}
    best = min(QUERY_VALUES)
    expected = refs[QUERY_VALUES.index(best)]
    where = (f"the probe run and {len(refs)} short runs logging {metric} "
             f"({', '.join(map(str, QUERY_VALUES))})")
    if found is not None and dict(found) == expected:
        return {"outcome": "found", "message": f"the query over {where} returned the run with "
                f"the lowest {metric} ({best})"}
    return {"outcome": "wrong", "message": f"the query over {where} returned {found}, "
            f"expected {expected}"}


def copy_bundle(adapter: TrackerAdapter, ref: dict[str, str], dest: Path) -> dict[str, Any]:
    """Copy only the tool's offline bundle, as a user would carry it to a connected machine."""
    found: list[tuple[str, Path]] = []
    probe = attempt(lambda: found.append(adapter.offline_bundle(ref)), "")
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
