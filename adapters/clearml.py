"""ClearML (``clearml``), run strictly offline: ``Task.set_offline(True)`` before ``Task.init``.

Offline, a task keeps its whole session in ``<cache dir>/offline/<task id>/``:

- ``task.json``, the task object as ClearML would send it to its server: hyperparameters
  (text, with the name of the value's type), artifact entries, offline model entries. ClearML
  rewrites it on every edit, so what was set (params, artifact entries) survives a kill;
- ``metrics.jsonl``, one JSON list of events per line, written by the reporting process that
  ``Task.init`` forks (``sdk.development.report_use_subprocess``, on by default on Linux) every
  5 s or every 100 events. That process outlives a killed run: it writes what it holds at its
  next tick and exits once it sees its parent gone (at once, or up to 30 s later);
- ``log.jsonl`` (console output) and ``data/`` (the artifact files, copied there);
- ``close()`` then zips the folder into ``<task id>.zip`` beside it (the folder stays).

``Task.import_offline_session`` uploads either the zip or the folder to a ClearML server later.
:func:`parse_offline_session` reads both back with the standard library only, so the fidelity
check sees what ClearML stored, not what the adapter handed it.

All of it lives in the cell's storage dir: :meth:`ClearmlAdapter.import_sdk` writes a
``clearml.conf`` there and points ``CLEARML_CONFIG_FILE`` at it (no other config file is read
then, ``~/clearml.conf`` included), with the cache, and so every offline session, beside it.
Offline mode needs no server, credentials or config beyond that. One file escapes: ClearML
records the last task per project and name in ``~/.clearml/.session.json`` (for task reuse), a
fixed path no setting moves; in a cell, HOME is the cell's own.

``close()`` takes 5 to 11 s however small the run: its flush request is a thread event of the
parent that the forked reporter never sees, so it waits for the reporter's 5 s tick, twice
(for the events, then for the stop). ``sdk.development.report_use_subprocess: false`` (threads)
closes in about 0.01 s, but a killed run then loses what was not yet written; the adapter keeps
ClearML's default.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import os
import zipfile
from collections import Counter
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import ModuleType
from typing import IO, TYPE_CHECKING, Any

from adapters.base import (
    AdapterSettings,
    HostedOnly,
    StoredRun,
    TrackerAdapter,
    api_names,
)

if TYPE_CHECKING:
    from clearml import Logger, Task

PROJECT = "trackbench"  # only a label inside the session; no server involved
PARAM_SECTION = "General"  # the section Task.connect() files a dict under
SCALAR_EVENT = "training_stats_scalar"
MONITOR_TITLE_PREFIX = ":monitor:"  # ClearML's resource monitor: ":monitor:machine", ":monitor:gpu"
TASK_FILE, METRICS_FILE, LOG_FILE = "task.json", "metrics.jsonl", "log.jsonl"
DATA_DIR, MODELS_DIR = "data", "models"
# The framework switches of Task.init(auto_connect_frameworks=...); a key left out of the dict
# counts as on, so lean names every one. "detect_repository" is the switch of the repository
# and package detection (git commit and uncommitted diff, the requirements analysis of the
# caller's code) and of the version check against updates.clear.ml that runs with it.
FRAMEWORKS = ("catboost", "fastai", "gradio", "hydra", "joblib", "lightgbm", "matplotlib",
              "megengine", "pytorch", "scikit", "tensorboard", "tensorflow", "tfdefines",
              "xgboost", "detect_repository")
# ClearML's extras, all on by default; the lean profile turns every one of them off.
LEAN_OPTIONS: dict[str, Any] = {
    "auto_connect_frameworks": dict.fromkeys(FRAMEWORKS, False),
    "auto_resource_monitoring": False,  # CPU/RAM/disk/network/GPU monitor
    "auto_connect_arg_parser": False,  # argparse/click/fire/jsonargparse arguments as params
    "auto_connect_streams": False,  # stdout/stderr/logging capture into log.jsonl
}
# The resource monitor's settings when system metrics are asked for. By default it reports
# every 30 s, and only once it has decided on its x-axis, which it does after waiting 180 s
# for a first reported iteration: a short run gets no point at all. ClearML sets no floor on
# these; 1 s is the resolution of its fallback axis (whole seconds from the start).
FAST_MONITOR: dict[str, float] = {
    "first_report_sec": 1.0,
    "report_frequency_sec": 1.0,
    "wait_for_first_iteration_to_start_sec": 0.0,
}
DATASET_DOCS = "https://clear.ml/docs/latest/docs/clearml_data/clearml_data_sdk/"
REGISTRY_DOCS = "https://clear.ml/docs/latest/docs/model_registry/"
ALERT_DOCS = "https://clear.ml/docs/latest/docs/guides/services/slack_alerts/"


def sdk_environment(settings: AdapterSettings) -> dict[str, str]:
    """ClearML's environment for this cell: offline from the first import on, and its one
    config file (see :func:`config_text`) inside the cell's storage dir."""
    return {
        "CLEARML_OFFLINE_MODE": "1",
        "CLEARML_CONFIG_FILE": str(settings.storage_dir / "clearml.conf"),
    }


def config_text(settings: AdapterSettings) -> str:
    """``clearml.conf`` (HOCON; JSON strings are valid values): the cache, where offline
    sessions go, inside the storage dir instead of ``~/.clearml/cache``."""
    cache = json.dumps(str(settings.storage_dir / "clearml-cache"))
    return f"sdk {{\n  storage {{ cache {{ default_base_dir: {cache} }} }}\n}}\n"


def init_options(settings: AdapterSettings) -> dict[str, Any]:
    """Keyword arguments of ``Task.init`` beyond the names (fresh dicts: ClearML edits them)."""
    options: dict[str, Any] = {
        # A new task every time; by default ClearML resets and reuses the last task of the same
        # name if it is less than 72 h old and kept no artifacts or models.
        "reuse_last_task_id": False,
    }
    if settings.profile == "lean":
        options.update(copy.deepcopy(LEAN_OPTIONS))
    if settings.system_metrics:
        options["auto_resource_monitoring"] = dict(FAST_MONITOR)
    return options


class _Folder:
    """A session folder, read through the same three calls as a session zip."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def names(self) -> set[str]:
        return {p.relative_to(self.root).as_posix() for p in self.root.rglob("*") if p.is_file()}

    def read(self, name: str) -> bytes:
        return (self.root / name).read_bytes()

    def open(self, name: str) -> IO[bytes]:
        return open(self.root / name, "rb")


class _Zip:
    def __init__(self, archive: zipfile.ZipFile) -> None:
        self.archive = archive

    def names(self) -> set[str]:
        return set(self.archive.namelist())

    def read(self, name: str) -> bytes:
        return self.archive.read(name)

    def open(self, name: str) -> IO[bytes]:
        return self.archive.open(name)


def _is_session_zip(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as archive:
            return TASK_FILE in archive.namelist()
    except (OSError, zipfile.BadZipFile):
        return False


@contextlib.contextmanager
def _session(path: Path) -> Iterator[_Folder | _Zip]:
    if path.is_dir():
        yield _Folder(path)
        return
    with zipfile.ZipFile(path) as archive:
        yield _Zip(archive)


def _cast(value: str, type_name: str | None) -> Any:
    """A hyperparameter's text back to its value, by the type name ClearML stored beside it,
    as ``Task.get_parameters(cast=True)`` does (``clearml.utilities.proxy_object``)."""
    if not type_name:
        return None if value == "" else value
    base = type_name.split("/")[0]
    if base in ("list", "tuple", "dict"):
        with contextlib.suppress(ValueError):
            loaded = json.loads(value)
            return {"list": list, "tuple": tuple, "dict": dict}[base](loaded)
        return value
    if base == "bool":
        return {"true": True, "false": False, "": False}.get(value.strip().lower(), value)
    caster = {"int": int, "float": float, "str": str}.get(base.lower().strip())
    if caster is None:
        return value
    try:
        return caster(value)
    except ValueError:
        return value


def _json_lines(session: _Folder | _Zip, name: str, notes: list[str]) -> list[Any]:
    """The JSON lines of one session file; a last line cut short (a process killed while
    writing it) is left out and noted."""
    if name not in session.names():
        return []
    lines = [line for line in session.read(name).decode("utf-8").splitlines() if line.strip()]
    out = []
    for index, line in enumerate(lines):
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            if index < len(lines) - 1:
                raise
            notes.append(f"{name}: last line cut short ({len(line)} chars), not read")
    return out


def _artifact_name(uri: str, offline_folder: str, names: set[str]) -> str | None:
    """The file inside the session an artifact's ``uri`` names, found as
    ``Task.import_offline_session`` finds it (the uri less the session folder's ``data/``
    prefix, under ``data/``), or None when the session does not hold it."""
    prefix = f"{offline_folder.rstrip('/')}/{DATA_DIR}/"
    inside = f"{DATA_DIR}/{uri[len(prefix):]}"
    return inside if uri.startswith(prefix) and inside in names else None


def parse_offline_session(path: Path, task_id: str) -> StoredRun:
    """What a session zip (or folder) holds for task ``task_id``, read as stored.

    Kept: the ``General`` hyperparameters (cast back by their stored type names), every scalar
    event of the task in written order (title = series = the logged name), the resource
    monitor's ``:monitor:*`` series as point counts, artifacts whose bytes are in the session
    (sha256 of those bytes), and offline model entries. Everything else is counted in notes.
    """
    stored = StoredRun()
    with _session(path) as session:
        names = session.names()
        if TASK_FILE not in names:
            stored.notes.append(f"no {TASK_FILE} in the session at {path}")
            return stored
        try:
            task = json.loads(session.read(TASK_FILE))
        except json.JSONDecodeError as exc:  # rewritten in place on every edit: a kill mid-write
            stored.notes.append(f"{TASK_FILE} unreadable ({exc}): no params, artifacts or models")
            task = {}
        _read_task(task, session, names, stored)
        _read_events(_json_lines(session, METRICS_FILE, stored.notes), task_id, stored)
        console = _json_lines(session, LOG_FILE, stored.notes)
        if console:
            lines = sum(len(batch) for batch in console if isinstance(batch, list))
            stored.notes.append(f"console log kept with the session: {lines} lines")
    return stored


def _read_task(task: Mapping[str, Any], session: _Folder | _Zip, names: set[str],
               stored: StoredRun) -> None:
    other: Counter[str] = Counter()
    for section, params in (task.get("hyperparams") or {}).items():
        for key, item in params.items():
            if section == PARAM_SECTION:
                stored.params[key] = _cast(item.get("value", ""), item.get("type"))
            else:
                other[section] += 1
    if other:
        stored.notes.append("ClearML's own hyperparameter sections, not returned: "
                            + ", ".join(f"{s} x{n}" for s, n in sorted(other.items())))
    offline_folder = task.get("offline_folder", "")
    for artifact in (task.get("execution") or {}).get("artifacts") or []:
        key, uri = artifact["key"], artifact.get("uri") or ""
        inside = _artifact_name(uri, offline_folder, names)
        if inside is None:
            stored.referenced[key] = uri
            stored.notes.append(f"artifact {key!r}: its uri {uri} is not a file in the session")
            continue
        with session.open(inside) as fh:
            digest = hashlib.file_digest(fh, "sha256").hexdigest()
        stored.artifacts[key] = digest
        if artifact.get("hash") and artifact["hash"] != digest:
            stored.notes.append(f"artifact {key!r}: the stored bytes differ from the sha256 "
                                f"ClearML recorded at upload ({artifact['hash'][:12]})")
    for model in task.get("offline_output_models") or []:
        name = model["init"].get("name") or "?"
        stored.models.append((name, str(model.get("id") or "offline")))
        weights = (model.get("weights") or {}).get("weights_filename")
        if weights and f"{MODELS_DIR}/{Path(weights).name}" not in names:
            stored.unresolved.append(f"model {name!r}: weights {Path(weights).name} are not in "
                                     f"the session's {MODELS_DIR}/")


def _read_events(batches: list[Any], task_id: str, stored: StoredRun) -> None:
    other_types: Counter[str] = Counter()
    other_tasks = 0
    for batch in batches:
        for event in batch:
            if event.get("task") != task_id:
                other_tasks += 1
            elif event.get("type") != SCALAR_EVENT:
                other_types[str(event.get("type"))] += 1
            elif event["metric"].startswith(MONITOR_TITLE_PREFIX):
                series = f"{event['metric']}/{event['variant']}"
                stored.system_metrics[series] = stored.system_metrics.get(series, 0) + 1
            else:
                title, series = event["metric"], event["variant"]
                name = title if series == title else f"{title}/{series}"
                stored.metrics.setdefault(name, []).append((event["iter"], event["value"]))
    if other_types:
        stored.notes.append("other events in metrics.jsonl: "
                            + ", ".join(f"{t} x{n}" for t, n in sorted(other_types.items())))
    if other_tasks:
        stored.notes.append(f"{other_tasks} events of other tasks in metrics.jsonl, not read")


class ClearmlAdapter(TrackerAdapter):
    """ClearML in offline mode.

    ``lean`` turns off, through ``Task.init`` and ``Task.set_random_seed``: framework patching
    (every ``auto_connect_frameworks`` switch), repository and package detection
    (``detect_repository``: git commit, uncommitted diff, the requirements analysis of the
    caller's code, and the version check it starts, a request to updates.clear.ml), the
    resource monitor, argparse capture, stdout/stderr capture, and the seeding of
    random/numpy/torch that ``Task.init`` does by default. ``defaults`` is ``Task.init`` as it
    comes. Both always start a new task (``reuse_last_task_id=False``).

    Under ``defaults``, repository detection runs ``git status`` in a thread while
    ``Task.init`` forks the reporting process; a fork during that ``Popen`` inherits its pipe,
    the thread never returns, and ``close()`` waits out its 300 s timeout for it (seen here: a
    harness cell under ``defaults`` closed in 306 s).

    ``settings.system_metrics`` turns the resource monitor on with :data:`FAST_MONITOR`, the
    settings a user wanting points from a short run would pass. Metric values: ClearML
    replaces NaN and +/-inf by 0.0 before storing them (``Logger.set_reporting_nan_value`` and
    ``set_reporting_inf_value`` choose the replacement); the adapter keeps ClearML's default.
    """

    name = "clearml"
    distribution = "clearml"
    sdk_modules = ("clearml",)
    scenarios = ("offline",)
    not_run = {"server": "ClearML's server needs Elasticsearch, MongoDB and Redis and ships "
                         "only as containers; not run here"}
    hosted_auth_docs = ("https://clear.ml/docs/latest/docs/deploying_clearml/"
                        "clearml_server_config/#web-login-authentication")
    hosted_api_docs = "https://clear.ml/docs/latest/docs/references/api/"

    def __init__(self, settings: AdapterSettings) -> None:
        super().__init__(settings)
        self._clearml: ModuleType | None = None
        self._task: Task | None = None
        self._logger: Logger | None = None

    def import_sdk(self) -> None:
        """Write the cell's ``clearml.conf`` and set the environment, then import: ClearML
        reads both once per process."""
        self.settings.storage_dir.mkdir(parents=True, exist_ok=True)
        (self.settings.storage_dir / "clearml.conf").write_text(config_text(self.settings))
        os.environ.update(sdk_environment(self.settings))
        import clearml

        self._clearml = clearml

    def start_run(self, name: str, config: Mapping[str, Any]) -> None:
        if self._clearml is None:
            self.import_sdk()
        task_cls = self._clearml.Task
        task_cls.set_offline(offline_mode=True)
        if self.settings.profile == "lean":
            task_cls.set_random_seed(None)
        self._task = task_cls.init(project_name=PROJECT, task_name=name,
                                   **init_options(self.settings))
        self._logger = self._task.get_logger()

    def log_params(self, params: Mapping[str, Any]) -> None:
        """``Task.connect`` of a dict, ClearML's way to log parameters: into section
        ``General`` (flattened: a nested dict becomes ``outer/inner`` keys)."""
        self._running().connect(dict(params), name=PARAM_SECTION)

    def log_metrics(self, metrics: Mapping[str, float], step: int) -> None:
        """One scalar per metric, its name as both title and series (one series per plot)."""
        self._running()
        logger = self._logger
        for key, value in metrics.items():
            logger.report_scalar(title=key, series=key, value=value, iteration=step)

    def log_artifact(self, path: Path, name: str) -> None:
        """``upload_artifact`` of the file, waiting for the copy into the session's ``data/``.

        By default ClearML copies the file later, from a background thread: a file changed or
        deleted meanwhile would be stored changed, or not at all. The interface stores the bytes
        as they are at the call, so the adapter waits (``wait_on_upload=True``).
        """
        if not self._running().upload_artifact(name=name, artifact_object=Path(path),
                                               wait_on_upload=True):
            raise RuntimeError(f"ClearML did not store artifact {name!r} (see its log)")

    def log_dataset(self, path: Path, name: str) -> None:
        """``Dataset.create``, ClearML's data-versioning call, made for real inside the run."""
        from clearml.errors import UsageError

        try:
            self._clearml.Dataset.create(dataset_name=name, dataset_project=PROJECT)
            outcome = "returned a dataset"
        except UsageError as exc:
            outcome = f"raised UsageError: {exc}"
        raise HostedOnly(
            f"Dataset.create offline, inside the run, {outcome}. ClearML versions data as "
            "Dataset tasks on its server: offline a dataset needs a Task.init session of its own "
            "(a process has one), Dataset.upload only records the file list, and Dataset.get "
            "(how a new version names its parent) and Dataset.finalize refuse offline",
            DATASET_DOCS,
        )

    def run_ref(self) -> dict[str, str]:
        """The session folder, known from ``Task.init`` on, and the zip ``close()`` writes."""
        task = self._running()
        folder = Path(task.get_offline_mode_folder())
        return {"task_id": task.id, "session_dir": str(folder),
                "session_zip": str(folder.with_name(f"{folder.name}.zip"))}

    def register_model(self, path: Path, name: str) -> None:
        """``OutputModel.update_weights``: offline, ClearML copies the weights into the session
        and queues a model entry in ``task.json`` for the import. What it raises instead is the
        probe's finding (2.1.12: ``AttributeError``, its offline ``DummyModel`` has no
        ``locked``)."""
        model = self._clearml.OutputModel(task=self._running(), name=name)
        model.update_weights(weights_filename=str(path))
        raise HostedOnly(
            "OutputModel.update_weights offline copied the weights into the session and queued "
            "a model entry in task.json; ClearML's model registry creates the model only when "
            "Task.import_offline_session uploads the session", REGISTRY_DOCS,
        )

    def send_alert(self, title: str, text: str) -> None:
        """No alert call from a run: checked on the SDK's surface."""
        found = api_names(self._clearml.Task, ("alert", "notif"))
        raise HostedOnly(
            f"clearml.Task has no alert call (names matching alert/notif: "
            f"{', '.join(found) or 'none'}); ClearML alerts are services that poll the ClearML "
            "server (clearml.automation.Monitor, e.g. its Slack alerts service)", ALERT_DOCS,
        )

    def best_run(self, ref: Mapping[str, str], metric: str) -> Mapping[str, str] | None:
        """Offline, every request to ClearML's server returns nothing: the query is made for
        real to show what an offline run gets."""
        try:
            outcome = f"returned {self._clearml.Task.query_tasks(project_name=PROJECT)!r}"
        except Exception as exc:  # noqa: BLE001 - what offline mode does is the evidence
            outcome = f"raised {type(exc).__name__}: {exc}"
        raise HostedOnly(
            f"Task.query_tasks(project_name={PROJECT!r}) offline {outcome}: run queries "
            "(Task.query_tasks, Task.get_tasks) are requests to the ClearML server, so an "
            "offline session is queryable only after Task.import_offline_session",
            self.hosted_api_docs,
        )

    def offline_bundle(self, ref: Mapping[str, str]) -> tuple[str, Path]:
        """The session zip, what ``Task.import_offline_session`` (or ``clearml-task
        --import-offline-session``) uploads."""
        return "session_zip", Path(ref["session_zip"])

    def finish(self) -> dict[str, str]:
        """``task.close()``: it flushes the reporter, stops the monitor and its reporting
        subprocess, writes ``task.json`` once more and zips the session."""
        ref = self.run_ref()
        self._running().close()
        self._task = self._logger = None
        return ref

    def read_back(self, ref: Mapping[str, str]) -> StoredRun:
        """Parse the session on disk; needs neither the SDK nor the process that logged. The
        zip when ``close()`` wrote one, else the folder (a run that never reached ``close()``):
        ``Task.import_offline_session`` takes either."""
        archive = Path(ref["session_zip"])
        if _is_session_zip(archive):
            stored = parse_offline_session(archive, ref["task_id"])
        elif (Path(ref["session_dir"]) / TASK_FILE).is_file():
            stored = parse_offline_session(Path(ref["session_dir"]), ref["task_id"])
            stored.notes.append("no session zip (the run never reached close()): read the "
                                "session folder, which import_offline_session also takes")
        else:
            return StoredRun(notes=[f"no ClearML session at {archive} or {ref['session_dir']}"])
        if self.settings.system_metrics and not stored.system_metrics:
            stored.notes.append("system metrics were requested but the session holds no "
                                f"{MONITOR_TITLE_PREFIX}* series")
        return stored

    def _running(self) -> Task:
        if self._task is None:
            raise RuntimeError("no ClearML run is open; call start_run() first")
        return self._task
