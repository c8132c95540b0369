"""Fake adapters for harness tests: a lossy one, a missing one, a crashing one, a hanging one.

They keep their "storage" in a JSON file under storage_dir, so read-back happens in a fresh
process exactly as for a real tool.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from adapters.base import HostedOnly, StoredRun, TrackerAdapter, sha256_file


class JsonFileAdapter(TrackerAdapter):
    """Stores everything faithfully in ``run.json``; subclasses distort it."""

    name = "jsonfile"

    def import_sdk(self) -> None:
        self.data: dict[str, Any] = {"params": {}, "metrics": {}, "artifacts": {}}

    def start_run(self, name: str, config: Mapping[str, Any]) -> None:
        (self.settings.storage_dir / "files").mkdir()

    def log_params(self, params: Mapping[str, Any]) -> None:
        self.data["params"].update(params)

    def log_metrics(self, metrics: Mapping[str, float], step: int) -> None:
        for key, value in metrics.items():
            self.data["metrics"].setdefault(key, []).append([step, value])

    def log_artifact(self, path: Path, name: str) -> None:
        shutil.copyfile(path, self.settings.storage_dir / "files" / name)
        self.data["artifacts"][name] = name

    def finish(self) -> dict[str, str]:
        path = self.settings.storage_dir / "run.json"
        path.write_text(json.dumps(self.data))
        return {"path": str(path)}

    def read_back(self, ref: Mapping[str, str]) -> StoredRun:
        data = json.loads(Path(ref["path"]).read_text())
        files = Path(ref["path"]).parent / "files"
        return StoredRun(
            params=data["params"],
            metrics={k: [(int(s), v) for s, v in pts] for k, pts in data["metrics"].items()},
            artifacts={name: sha256_file(files / name) for name in data["artifacts"]},
        )


class LossyAdapter(JsonFileAdapter):
    """Drops every 10th point of 'loss', rounds 'acc' to 2 places, truncates the artifact."""

    name = "lossy"

    def log_params(self, params: Mapping[str, Any]) -> None:
        super().log_params({k: v for k, v in params.items() if k != "secret"})

    def log_metrics(self, metrics: Mapping[str, float], step: int) -> None:
        kept = {k: v for k, v in metrics.items() if not (k == "loss" and step % 10 == 0)}
        if "acc" in kept:
            kept["acc"] = round(kept["acc"], 2)
        super().log_metrics(kept, step)

    def log_artifact(self, path: Path, name: str) -> None:
        super().log_artifact(path, name)
        target = self.settings.storage_dir / "files" / name
        target.write_bytes(target.read_bytes()[:-1])


class FeatureAdapter(JsonFileAdapter):
    """Has a model registry and a run query; alerts live in a "hosted service"; its offline
    bundle is the run's JSON alone, so artifact bytes (kept beside it) do not travel with it."""

    name = "features"
    ALERT_DOCS = "https://example.org/alerts"

    def start_run(self, name: str, config: Mapping[str, Any]) -> None:
        self.run_name = name
        self.data = {"params": {}, "metrics": {}, "artifacts": {}, "models": []}
        (self.settings.storage_dir / "files").mkdir(exist_ok=True)

    def register_model(self, path: Path, name: str) -> None:
        self.data["models"].append([name, str(len(self.data["models"]) + 1)])

    def send_alert(self, title: str, text: str) -> None:
        raise HostedOnly("alerts are sent by the hosted service", self.ALERT_DOCS)

    def best_run(self, ref: Mapping[str, str], metric: str) -> Mapping[str, str] | None:
        scored = []
        for path in sorted(Path(ref["path"]).parent.glob("*.json")):
            points = json.loads(path.read_text())["metrics"].get(metric)
            if points:
                scored.append((points[-1][1], str(path)))
        return {"path": min(scored)[1]} if scored else None

    def offline_bundle(self, ref: Mapping[str, str]) -> tuple[str, Path]:
        return "path", Path(ref["path"])

    def finish(self) -> dict[str, str]:
        path = self.settings.storage_dir / f"{self.run_name}.json"
        path.write_text(json.dumps(self.data))
        return {"path": str(path)}

    def read_back(self, ref: Mapping[str, str]) -> StoredRun:
        data = json.loads(Path(ref["path"]).read_text())
        files = Path(ref["path"]).parent / "files"
        stored = StoredRun(
            params=data["params"],
            metrics={k: [(int(s), v) for s, v in pts] for k, pts in data["metrics"].items()},
            models=[tuple(m) for m in data["models"]],
        )
        for name in data["artifacts"]:
            if (files / name).is_file():
                stored.artifacts[name] = sha256_file(files / name)
            else:
                stored.unresolved.append(f"artifact {name!r}: its bytes are not beside the run")
        return stored


class MissingAdapter(JsonFileAdapter):
    name = "missing"

    def import_sdk(self) -> None:
        import trackbench_no_such_sdk  # noqa: F401


class CrashingAdapter(JsonFileAdapter):
    name = "crashing"

    def start_run(self, name: str, config: Mapping[str, Any]) -> None:
        raise RuntimeError("server said no")


class HangingAdapter(JsonFileAdapter):
    name = "hanging"

    def finish(self) -> dict[str, str]:
        time.sleep(3600)
        return {}


def small_workload(tracker: Any, config: dict[str, Any]) -> None:
    """50 steps of loss/acc, a unicode param, a 'secret' param, one artifact."""
    tracker.log_params({"lr": 0.1, "name": "naïve-模型", "secret": "s3cr3t", "layers": 3})
    for step in range(int(config.get("steps", 50))):
        tracker.log_metrics({"loss": 1.0 / (step + 1), "acc": step / 49}, step=step)
    path = tracker.workdir / "weights.bin"
    path.write_bytes(bytes(range(256)) * 4)
    tracker.log_artifact(path)
