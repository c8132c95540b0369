"""Fake adapters for harness tests: a lossy one, a missing one, a crashing one, a hanging one,
one that phones home.

They keep their "storage" in a JSON file under storage_dir, so read-back happens in a fresh
process exactly as for a real tool.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from adapters.base import StoredRun, TrackerAdapter, sha256_file


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


class PhoneHomeAdapter(JsonFileAdapter):
    """Tries to reach 203.0.113.1:443 (TEST-NET-3) and to resolve a public name, itself and from
    a Python helper process, then carries on; what each attempt raised comes back as notes."""

    name = "phonehome"
    HELPER = ("import socket\n"
              "try:\n    socket.create_connection(('198.51.100.7', 8080), timeout=2)\n"
              "except OSError as exc:\n    print(type(exc).__name__, exc)\n")

    def start_run(self, name: str, config: Mapping[str, Any]) -> None:
        super().start_run(name, config)
        outcome = {}
        for what, attempt in (
            ("connect", lambda: socket.create_connection(("203.0.113.1", 443), timeout=2)),
            ("resolve", lambda: socket.getaddrinfo("telemetry.example.com", 443)),
        ):
            try:
                attempt()
                outcome[what] = "reached"
            except OSError as exc:
                outcome[what] = f"{type(exc).__name__}: {exc}"
        helper = subprocess.run([sys.executable, "-c", self.HELPER], capture_output=True,
                                text=True, timeout=30)
        outcome["helper"] = helper.stdout.strip()
        (self.settings.storage_dir / "phone.json").write_text(json.dumps(outcome))

    def read_back(self, ref: Mapping[str, str]) -> StoredRun:
        stored = super().read_back(ref)
        outcome = json.loads((Path(ref["path"]).parent / "phone.json").read_text())
        stored.notes = [f"{what}: {raised}" for what, raised in outcome.items()]
        return stored


def small_workload(tracker: Any, config: dict[str, Any]) -> None:
    """50 steps of loss/acc, a unicode param, a 'secret' param, one artifact."""
    tracker.log_params({"lr": 0.1, "name": "naïve-模型", "secret": "s3cr3t", "layers": 3})
    for step in range(int(config.get("steps", 50))):
        tracker.log_metrics({"loss": 1.0 / (step + 1), "acc": step / 49}, step=step)
    path = tracker.workdir / "weights.bin"
    path.write_bytes(bytes(range(256)) * 4)
    tracker.log_artifact(path)
