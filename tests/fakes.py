"""Fake adapters for harness tests: a lossy one, a missing one, a crashing one, hanging ones,
one that phones home, ones for crash safety, and bad-input ones with known behaviour (drops
NaN, rejects strings, renames, truncates, dies).

They keep their "storage" in a JSON file under storage_dir, so read-back happens in a fresh
process exactly as for a real tool.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import socket
import subprocess
import sys
import threading
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

    def run_ref(self) -> dict[str, str]:
        return {"path": str(self.settings.storage_dir / "run.json")}

    def finish(self) -> dict[str, str]:
        ref = self.run_ref()
        Path(ref["path"]).write_text(json.dumps(self.data))  # only now: lost on a crash
        return ref

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


class DatasetCopyAdapter(FeatureAdapter):
    """Versions datasets by copying each version's bytes into its storage (as W&B stages them)."""

    name = "dataset-copies"
    keeps_bytes = True

    def start_run(self, name: str, config: Mapping[str, Any]) -> None:
        super().start_run(name, config)
        self.data["datasets"] = []

    def log_dataset(self, path: Path, name: str) -> None:
        digest = sha256_file(path)
        where = path
        if self.keeps_bytes:
            where = self.settings.storage_dir / "files" / f"{name}-{digest[:12]}"
            shutil.copyfile(path, where)
        self.data["datasets"].append([name, digest, str(where)])

    def read_back(self, ref: Mapping[str, str]) -> StoredRun:
        stored = super().read_back(ref)
        for name, digest, where in json.loads(Path(ref["path"]).read_text())["datasets"]:
            stored.datasets.append((name, digest))
            found = Path(where).is_file()
            stored.dataset_sha256.append(sha256_file(Path(where)) if found else None)
        return stored


class DatasetRefAdapter(DatasetCopyAdapter):
    """Versions datasets by digest and a reference to the source path only (as MLflow does)."""

    name = "dataset-refs"
    keeps_bytes = False


class MissingAdapter(JsonFileAdapter):
    name = "missing"

    def import_sdk(self) -> None:
        import trackbench_no_such_sdk  # noqa: F401


class BuggyImportAdapter(JsonFileAdapter):
    """Its SDK is there; the adapter's own code around the import is broken."""

    name = "buggy-import"

    def import_sdk(self) -> None:
        import json as sdk

        sdk.no_such_function()


class CrashingAdapter(JsonFileAdapter):
    name = "crashing"

    def start_run(self, name: str, config: Mapping[str, Any]) -> None:
        raise RuntimeError("server said no")


class HangingAdapter(JsonFileAdapter):
    name = "hanging"

    def finish(self) -> dict[str, str]:
        time.sleep(3600)
        return {}


class HangingAtExitAdapter(JsonFileAdapter):
    """Finishes cleanly, then a non-daemon thread keeps the interpreter from exiting."""

    name = "hanging-at-exit"

    def finish(self) -> dict[str, str]:
        threading.Thread(target=time.sleep, args=(3600,)).start()
        return super().finish()


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


USER_FILES = "user-files"  # beside the cell's scratch dir: not deleted before the read-back


def user_file_workload(tracker: Any, config: dict[str, Any]) -> None:
    """``small_workload``, but the artifact is the user's own file, outside ``tracker.workdir``,
    and it stays there: a read-back that hashes the path instead of the tool's copy would pass
    for storage."""
    tracker.log_params({"lr": 0.1, "name": "naïve-模型", "secret": "s3cr3t", "layers": 3})
    for step in range(int(config.get("steps", 50))):
        tracker.log_metrics({"loss": 1.0 / (step + 1), "acc": step / 49}, step=step)
    path = tracker.workdir.parent / USER_FILES / "weights.bin"
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(bytes(range(256)) * 4)
    tracker.log_artifact(path)


class JournalAdapter(JsonFileAdapter):
    """Appends every call to ``journal.jsonl`` and flushes it at once: survives a SIGKILL."""

    name = "journal"

    def start_run(self, name: str, config: Mapping[str, Any]) -> None:
        super().start_run(name, config)
        self._journal = open(self.run_ref()["path"], "a", encoding="utf-8")  # noqa: SIM115

    def _write(self, entry: list[Any]) -> None:
        self._journal.write(json.dumps(entry) + "\n")
        self._journal.flush()  # in the OS's hands: a killed process loses nothing

    def log_params(self, params: Mapping[str, Any]) -> None:
        self._write(["params", dict(params)])

    def log_metrics(self, metrics: Mapping[str, float], step: int) -> None:
        self._write(["metrics", step, dict(metrics)])

    def run_ref(self) -> dict[str, str]:
        return {"path": str(self.settings.storage_dir / "journal.jsonl")}

    def finish(self) -> dict[str, str]:
        self._journal.close()
        return self.run_ref()

    def read_back(self, ref: Mapping[str, str]) -> StoredRun:
        stored = StoredRun()
        for line in Path(ref["path"]).read_text(encoding="utf-8").splitlines():
            kind, *rest = json.loads(line)
            if kind == "params":
                stored.params.update(rest[0])
            else:
                for key, value in rest[1].items():
                    stored.metrics.setdefault(key, []).append((rest[0], value))
        return stored


class BufferingJournalAdapter(JournalAdapter):
    """Keeps the last ``BUFFER`` metric calls in memory and journals older ones: a SIGKILL loses
    exactly those ``BUFFER`` calls, whenever it comes."""

    name = "buffering-journal"
    BUFFER = 10

    def start_run(self, name: str, config: Mapping[str, Any]) -> None:
        super().start_run(name, config)
        self._pending: list[list[Any]] = []

    def log_metrics(self, metrics: Mapping[str, float], step: int) -> None:
        self._pending.append(["metrics", step, dict(metrics)])
        if len(self._pending) > self.BUFFER:
            self._write(self._pending.pop(0))

    def finish(self) -> dict[str, str]:
        for entry in self._pending:
            self._write(entry)
        return super().finish()


class UnreadableAdapter(JournalAdapter):
    """Writes like the journal, but its read-back always raises."""

    name = "unreadable"

    def read_back(self, ref: Mapping[str, str]) -> StoredRun:
        raise RuntimeError("storage is corrupt beyond repair")


class HelperProcessAdapter(JournalAdapter):
    """Starts a helper in a session of its own (as wandb-core is) that outlives the run for
    ``HELPER_LIFETIME_S``; the harness must see it, give it its grace, and stop it."""

    name = "helper"
    HELPER_LIFETIME_S = 60

    def start_run(self, name: str, config: Mapping[str, Any]) -> None:
        super().start_run(name, config)
        sleep = f"import time; time.sleep({self.HELPER_LIFETIME_S})"
        subprocess.Popen([sys.executable, "-c", sleep], start_new_session=True)
        time.sleep(0.3)  # the harness finds helpers by sampling the tree every 0.1 s


class NanDroppingAdapter(JsonFileAdapter):
    """Bad input: skips NaN and infinite metric values without a word."""

    name = "nandropping"

    def log_metrics(self, metrics: Mapping[str, float], step: int) -> None:
        super().log_metrics({k: v for k, v in metrics.items()
                             if not (isinstance(v, float) and not math.isfinite(v))}, step)


class StringRejectingAdapter(JsonFileAdapter):
    """Bad input: raises on metric values that are strings."""

    name = "stringrejecting"

    def log_metrics(self, metrics: Mapping[str, float], step: int) -> None:
        for key, value in metrics.items():
            if isinstance(value, str):
                raise TypeError(f"metric {key!r} must be a number, got str")
        super().log_metrics(metrics, step)


class SlashRenamingAdapter(JsonFileAdapter):
    """Bad input: replaces '/' in metric names with '_'."""

    name = "slashrenaming"

    def log_metrics(self, metrics: Mapping[str, float], step: int) -> None:
        super().log_metrics({k.replace("/", "_"): v for k, v in metrics.items()}, step)


class ParamTruncatingAdapter(JsonFileAdapter):
    """Bad input: keeps the first 250 characters of a param value, and says so."""

    name = "paramtruncating"

    def log_params(self, params: Mapping[str, Any]) -> None:
        for key, value in params.items():
            if len(str(value)) > 250:
                logging.getLogger("paramtruncating").warning("param %s truncated", key)
        super().log_params({k: str(v)[:250] for k, v in params.items()})


class InfCrashingAdapter(JsonFileAdapter):
    """Bad input: the process dies (no exception, no cleanup) on an infinite metric value."""

    name = "infcrashing"

    def log_metrics(self, metrics: Mapping[str, float], step: int) -> None:
        if any(isinstance(v, float) and math.isinf(v) for v in metrics.values()):
            os._exit(3)
        super().log_metrics(metrics, step)


class HangOnNoneAdapter(JsonFileAdapter):
    """Bad input: the call never returns when a metric value is None."""

    name = "hangonnone"

    def log_metrics(self, metrics: Mapping[str, float], step: int) -> None:
        if any(v is None for v in metrics.values()):
            time.sleep(3600)
        super().log_metrics(metrics, step)


class QueueingAdapter(JsonFileAdapter):
    """Bad input: accepts every call, then at finish drops text values and logs why (like an
    asynchronous queue whose errors surface outside the call)."""

    name = "queueing"

    def finish(self) -> dict[str, str]:
        for key, points in self.data["metrics"].items():
            if any(isinstance(v, str) for _, v in points):
                logging.getLogger("queueing").error("dropped metric %s: not a number", key)
        self.data["metrics"] = {k: p for k, p in self.data["metrics"].items()
                                if not any(isinstance(v, str) for _, v in p)}
        return super().finish()


class SteadyAdapter(JsonFileAdapter):
    """Fixed sleeps dominate its timings, so its intervals stay narrow."""

    def start_run(self, name: str, config: Mapping[str, Any]) -> None:
        super().start_run(name, config)
        time.sleep(0.3)

    def log_metrics(self, metrics: Mapping[str, float], step: int) -> None:
        time.sleep(0.002)
        super().log_metrics(metrics, step)


class JitteryAdapter(SteadyAdapter):
    """Starting a run takes 0.4 s longer in odd repeats (read off the run name), so its
    end-to-end interval stays wide."""

    def start_run(self, name: str, config: Mapping[str, Any]) -> None:
        super().start_run(name, config)
        if int(name.rsplit("-", 1)[1]) % 2:
            time.sleep(0.4)
