"""Neptune (legacy client, ``neptune`` 1.x) in offline mode, read back from its operation log."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from adapters.base import (
    HostedOnly,
    StoredRun,
    TrackerAdapter,
    Unsupported,
    api_names,
    sha256_file,
)

if TYPE_CHECKING:
    from types import ModuleType

    from neptune import Run

# neptune 1.x has no init_run argument for its data directory: it reads this variable (falling
# back to ./.neptune) when the offline operation processor is built, i.e. inside init_run.
DATA_DIR_ENV = "NEPTUNE_DATA_DIRECTORY"

class NeptuneAdapter(TrackerAdapter):
    """Neptune 1.14 offline: every call becomes a JSON operation in ``data-*.log``.

    Neptune's hosted service was shut down on 2026-03-05 after its acquisition; offline mode
    still works, but the data it writes has nowhere to sync to. Offline runs need no project
    name and no API token: ``init_run`` substitutes its own offline project and never reads the
    token, so no placeholders are passed.

    Observed in 1.14 (offline): metric values are stored as floats; NaN/inf and ints beyond 32
    bits are skipped at log time; ``upload(path)`` stores only an absolute path reference (the
    bytes are not copied); ``track_files`` stores only the path, its hash being computed during
    sync against the service. Hardware monitoring samples every 10 s (fixed, not exposed by
    ``init_run``), first at start, and drops zero readings (so the first CPU sample is lost).
    """

    name = "neptune"
    distribution = "neptune"
    sdk_modules = ("neptune",)
    scenarios = ("offline",)
    hosted_auth_docs = "https://docs-legacy.neptune.ai/setup/setting_api_token/"
    hosted_api_docs = "https://docs-legacy.neptune.ai/api/"

    def import_sdk(self) -> None:
        import neptune

        self._neptune: ModuleType = neptune

    def _init_kwargs(self) -> dict[str, Any]:
        """Profile switches: "lean" turns off every extra Neptune captures by default."""
        if self.settings.profile == "lean":
            return {
                "capture_stdout": False,
                "capture_stderr": False,
                "capture_traceback": False,
                "capture_hardware_metrics": self.settings.system_metrics,
                "source_files": [],  # no source upload (the entrypoint name is still recorded)
                "git_ref": False,
            }
        return {"capture_hardware_metrics": True} if self.settings.system_metrics else {}

    def start_run(self, name: str, config: Mapping[str, Any]) -> None:
        # A fresh data directory per run, so finish() finds the run's folder without internals.
        self.settings.storage_dir.mkdir(parents=True, exist_ok=True)
        self._data_dir = Path(tempfile.mkdtemp(prefix="neptune-", dir=self.settings.storage_dir))
        # Kept set for the run's lifetime (the disk-usage check reads it too); restored in finish.
        self._saved_data_env = os.environ.get(DATA_DIR_ENV)
        os.environ[DATA_DIR_ENV] = str(self._data_dir.resolve())
        try:
            self._run: Run = self._neptune.init_run(
                mode="offline", name=name, **self._init_kwargs()
            )
        except BaseException:
            self._restore_data_env()
            raise

    def log_params(self, params: Mapping[str, Any]) -> None:
        self._run["parameters"] = dict(params)

    def log_metrics(self, metrics: Mapping[str, float], step: int) -> None:
        for key, value in metrics.items():
            self._run[f"metrics/{key}"].append(value, step=step)

    def log_artifact(self, path: Path, name: str) -> None:
        self._run[f"artifacts/{name}"].upload(str(path))

    def log_dataset(self, path: Path, name: str) -> None:
        raise HostedOnly(
            "neptune track_files offline records only the file path; the artifact hash, size "
            "and version are computed while syncing to the (shut down) Neptune service",
            "https://docs-legacy.neptune.ai/api/field_types#track_files",
        )

    def register_model(self, path: Path, name: str) -> None:
        """Neptune's registry is ``init_model``/``init_model_version``: tried in offline mode."""
        from neptune.exceptions import NeptuneException

        try:
            model = self._neptune.init_model(key="PROBE", name=name, mode="offline")
        except NeptuneException as exc:
            raise HostedOnly(f"neptune.init_model(mode='offline') raised: {exc}",
                             "https://docs-legacy.neptune.ai/model_registry/overview/") from None
        model.stop()

    def send_alert(self, title: str, text: str) -> None:
        found = api_names(self._run, ("alert", "notif"))
        raise Unsupported(f"neptune {self.version()} Run has no alert or notification call "
                          f"(public names matching alert/notif: {', '.join(found) or 'none'})")

    def best_run(self, ref: Mapping[str, str], metric: str) -> Mapping[str, str] | None:
        """Runs are queried through ``init_project(...).fetch_runs_table``: tried offline."""
        from neptune.exceptions import NeptuneException

        try:
            self._neptune.init_project(mode="offline")
        except NeptuneException as exc:
            raise HostedOnly(f"neptune.init_project(mode='offline') raised: {exc}",
                             "https://docs-legacy.neptune.ai/api/project/#fetch_runs_table"
                             ) from None
        raise Unsupported("neptune opened a project offline but offers no offline run query")

    def offline_bundle(self, ref: Mapping[str, str]) -> tuple[str, Path]:
        """The run's offline operation directory, what ``neptune sync`` uploads."""
        return "run_dir", Path(ref["run_dir"])

    def finish(self) -> dict[str, str]:
        try:
            self._run.stop()
        finally:
            self._restore_data_env()
        return self.run_ref()

    def run_ref(self) -> dict[str, str]:
        (run_dir,) = (self._data_dir / "offline").iterdir()
        return {"run_dir": str(run_dir.resolve())}

    def _restore_data_env(self) -> None:
        if self._saved_data_env is None:
            os.environ.pop(DATA_DIR_ENV, None)
        else:
            os.environ[DATA_DIR_ENV] = self._saved_data_env

    def read_back(self, ref: Mapping[str, str]) -> StoredRun:
        run_dir = Path(ref["run_dir"])
        # "upload_path" is where Neptune copies in-memory uploads (OperationStorage.UPLOAD_PATH).
        return stored_run_from_operations(read_operations(run_dir), run_dir / "upload_path")


def read_operations(run_dir: Path) -> Iterator[dict[str, Any]]:
    """Yield the queued operations of an offline run in the order they were logged; a last
    line cut short (a process killed mid-write) is left out."""
    logs = sorted(run_dir.glob("data-*.log"), key=lambda p: int(p.stem.removeprefix("data-")))
    for index, log in enumerate(logs):
        lines = [line for line in log.read_text(encoding="utf-8").splitlines() if line.strip()]
        for number, line in enumerate(lines):
            try:
                yield json.loads(line)["obj"]
            except json.JSONDecodeError:
                if index < len(logs) - 1 or number < len(lines) - 1:
                    raise


def stored_run_from_operations(operations: Iterable[dict[str, Any]], upload_dir: Path) -> StoredRun:
    """Fold Neptune operations into a StoredRun, keeping the types and values Neptune stored.

    ``parameters/*`` assignments are params, float series under ``metrics/`` are metrics (prefix
    stripped; a string series there too: Neptune makes one when the first value logged is a
    string), every other float series is Neptune's own monitoring (a clear empties a series),
    ``artifacts/*`` uploads are artifacts. ``upload_dir`` holds the bytes of the uploads Neptune
    copied (in-memory content; uploads from a path are only referenced).
    """
    stored = StoredRun()
    series: dict[str, list[tuple[int, float]]] = {}
    for op in operations:
        kind, path = op["type"], op["path"]
        if path[0] == "parameters" and kind.startswith("Assign"):
            stored.params["/".join(path[1:])] = op["value"]
        elif kind in ("ClearFloatLog", "ClearStringLog"):
            series["/".join(path)] = []
        elif kind == "LogFloats" or (kind == "LogStrings" and path[0] == "metrics"):
            points = series.setdefault("/".join(path), [])
            points.extend((value["step"], value["value"]) for value in op["values"])
        elif path[0] == "artifacts" and kind == "UploadFile":
            _read_upload(stored, "/".join(path[1:]), op, upload_dir)
    for name, points in series.items():
        head, _, key = name.partition("/")
        if head == "metrics":
            stored.metrics[key] = points
        else:
            stored.system_metrics[name] = len(points)
    return stored


def _read_upload(stored: StoredRun, name: str, op: Mapping[str, Any], upload_dir: Path) -> None:
    """Checksum an upload whose bytes Neptune copied; one it only points at is referenced, not
    stored (the user's file is not Neptune's storage, whatever lies at that path now)."""
    if op["tmp_file_name"]:
        stored.artifacts[name] = sha256_file(upload_dir / op["tmp_file_name"])
        return
    stored.referenced[name] = op["file_path"]
    stored.notes.append(
        f"artifact {name!r}: Neptune offline stored only a path reference to "
        f"{op['file_path']}; its bytes were not copied, so `neptune sync` would upload whatever "
        "lies at that path then, if anything"
    )
