"""Comet (``comet-ml``), run strictly offline through ``comet_ml.OfflineExperiment``.

An offline experiment streams every call as one JSON message per line into ``messages.json``
and, on ``end()``, zips that file with copies of the logged files into
``<offline_directory>/<experiment key>.zip``: the archive ``comet upload`` would send later.
:func:`parse_offline_archive` reads that archive back with the standard library only, so the
fidelity check sees what Comet stored, not what the adapter handed it.

Comet takes some settings only from the environment (or config files): the import-time
framework patching, its Sentry error reporting and the system-monitoring intervals.
:meth:`CometAdapter.import_sdk` sets those variables in the cell's own process before
importing the SDK.
"""

from __future__ import annotations

import contextlib
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
    from comet_ml import OfflineExperiment

MESSAGES_FILE = "messages.json"  # name of the message log inside the offline archive
SYSTEM_METRIC_PREFIX = "sys."  # Comet's CPU/RAM/load/disk/network/GPU monitor series
AUTOMATIC_METRICS = frozenset({"process duration"})  # logged by Comet itself on end()
MANUAL_PARAM_SOURCE = "manual"  # set by log_parameters(); "auto-logged" and "cli" are Comet's
# Comet's monitors refuse intervals under 10 s (BaseMetricsDataLogger.minimal_interval) and fall
# back to 10 s with a warning, so 10 is the fastest sampling available; the first sample is
# taken as soon as the monitor thread starts, so even a short run records one point.
FASTEST_SYSTEM_INTERVAL_S = 10
# Placeholder backend on a closed loopback port: offline runs need no API key or server, but
# host-details logging resolves the backend host (a DNS query) to find the local IP address.
LOOPBACK_BACKEND_URL = "http://127.0.0.1:9/clientlib/"
DATASET_DOCS = "https://www.comet.com/docs/v2/guides/artifacts/using-artifacts/"
REGISTRY_DOCS = "https://www.comet.com/docs/v2/guides/model-registry/using-model-registry/"
NOTIFY_DOCS = ("https://www.comet.com/docs/v2/api-and-sdk/python-sdk/reference/Experiment/"
               "#experimentsend_notification")

# Comet's extras, all on by default; the lean profile turns every one of them off.
LEAN_OPTIONS: dict[str, Any] = {
    "log_code": False,  # source file of the caller as an asset
    "log_graph": False,  # model graph from framework integrations
    "auto_param_logging": False,  # hyper-parameters captured from sklearn/keras/...
    "auto_metric_logging": False,  # metrics captured from framework integrations
    "parse_args": False,  # sys.argv as "run_arg_<n>" parameters
    "auto_output_logging": False,  # stdout/stderr capture
    "log_env_details": False,  # installed pip/OS packages, host details, system monitors
    "log_env_host": False,  # hostname, user, IP, python executable, command line
    "log_env_cpu": False,
    "log_env_gpu": False,
    "log_env_network": False,
    "log_env_disk": False,
    "log_git_metadata": False,
    "log_git_patch": False,
    "auto_log_co2": False,  # codecarbon tracker, if installed
    "display_summary_level": 0,  # console summary at end()
}
# Monitors the system_metrics setting forces on; they need log_env_details, which also makes
# Comet record installed pip and OS packages.
SYSTEM_METRICS_OPTIONS: dict[str, Any] = {
    "log_env_details": True,
    "log_env_cpu": True,  # CPU, RAM and load average
    "log_env_gpu": True,
    "log_env_network": True,
    "log_env_disk": True,
}


def sdk_environment(settings: AdapterSettings) -> dict[str, str]:
    """Comet settings that exist only as environment/config keys, for this cell's settings."""
    env = {
        # Sentry error reporting (randomly enabled at import) would send warnings to sentry.io.
        "COMET_ERROR_TRACKING_ENABLE": "false",
        "COMET_URL_OVERRIDE": LOOPBACK_BACKEND_URL,
        # Import-time patching of sklearn/keras/torch/... that feeds the auto-logging.
        "COMET_DISABLE_AUTO_LOGGING": "1" if settings.profile == "lean" else "0",
    }
    if settings.system_metrics:
        for monitor in ("CPU", "GPU", "NETWORK", "DISK"):
            env[f"COMET_SYSTEM_{monitor}_INTERVAL"] = str(FASTEST_SYSTEM_INTERVAL_S)
    return env


def experiment_options(settings: AdapterSettings) -> dict[str, Any]:
    """Keyword arguments for ``OfflineExperiment`` beyond where it writes."""
    options = dict(LEAN_OPTIONS) if settings.profile == "lean" else {}
    if settings.system_metrics:
        options.update(SYSTEM_METRICS_OPTIONS)
    return options


def _offline_experiment_class(comet_ml: ModuleType) -> type[OfflineExperiment]:
    """``OfflineExperiment`` without its cloud probe, the one network call no setting stops.

    With environment details on, Comet asks http://169.254.169.254 (the AWS/Azure/GCP
    instance-metadata service) which cloud it runs on; an offline benchmark must not.
    """

    class LocalOfflineExperiment(comet_ml.OfflineExperiment):
        def _log_cloud_details(self) -> None:
            return None

    return LocalOfflineExperiment


class _Folder:
    """Comet's working directory of a run that never reached ``end()`` (no zip was written),
    read through the two ``ZipFile`` methods the parser uses."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def read(self, name: str) -> bytes:
        return (self.root / name).read_bytes()

    def open(self, name: str) -> IO[bytes]:
        return open(self.root / name, "rb")


@contextlib.contextmanager
def _offline_store(path: Path) -> Iterator[zipfile.ZipFile | _Folder]:
    if path.is_dir():
        yield _Folder(path)
        return
    with zipfile.ZipFile(path) as archive:
        yield archive


def _has_messages(path: Path) -> bool:
    """Whether ``path`` is a zip holding Comet's message log (what end() writes)."""
    try:
        with zipfile.ZipFile(path) as archive:
            return MESSAGES_FILE in archive.namelist()
    except (OSError, zipfile.BadZipFile):
        return False


def read_offline_messages(archive: zipfile.ZipFile | _Folder) -> list[dict[str, Any]]:
    """The archive's messages in the order Comet created them (``message_id``); a last line
    cut short (a process killed mid-write) is left out."""
    lines = [line for line in archive.read(MESSAGES_FILE).decode("utf-8").splitlines()
             if line.strip()]
    messages = [json.loads(line) for line in lines[:-1]]
    with contextlib.suppress(json.JSONDecodeError):
        messages += [json.loads(line) for line in lines[-1:]]
    return sorted(messages, key=lambda message: message["payload"].get("message_id", 0))


def parse_offline_archive(path: Path) -> StoredRun:
    """What an offline archive (or, for a run killed before ``end()``, Comet's working directory
    with its ``messages.json``) holds, read as stored: no type repair, no value fixing.

    Kept: parameters set by the user (source "manual"), user metrics in logged order,
    Comet's ``sys.*`` monitor series as point counts, and files logged as assets with the
    sha256 of the bytes inside the zip. Everything else Comet recorded is only counted in
    ``notes``.
    """
    run = StoredRun()
    skipped_params: Counter[str] = Counter()
    automatic_metrics: Counter[str] = Counter()
    other_uploads: Counter[str] = Counter()
    other_messages: Counter[str] = Counter()
    non_numeric: set[str] = set()
    with _offline_store(path) as archive:
        for message in read_offline_messages(archive):
            kind, payload = message["type"], message["payload"]
            if kind == "parameter_msg":
                # Scalars arrive as "param", lists and tuples as "params".
                param = payload.get("param") or payload["params"]
                if param["source"] == MANUAL_PARAM_SOURCE:
                    run.params[param["paramName"]] = param["paramValue"]
                else:
                    skipped_params[f"{param['paramName']} ({param['source']})"] += 1
            elif kind == "metric_msg":
                metric = payload["metric"]
                name, value = metric["metricName"], metric["metricValue"]
                if name.startswith(SYSTEM_METRIC_PREFIX):
                    run.system_metrics[name] = run.system_metrics.get(name, 0) + 1
                elif name in AUTOMATIC_METRICS:
                    automatic_metrics[name] += 1
                else:
                    if isinstance(value, str):
                        non_numeric.add(name)
                    run.metrics.setdefault(name, []).append((metric["step"], value))
            elif kind == "register_model":
                run.models.append((payload.get("registry_name") or payload["model_name"],
                                   str(payload.get("version") or "next")))
            elif kind == "file_upload" and payload["upload_type"] == "asset":
                with archive.open(payload["file_path"]) as stored:
                    digest = hashlib.file_digest(stored, "sha256").hexdigest()
                run.artifacts[payload["additional_params"]["fileName"]] = digest
            elif kind == "file_upload":
                other_uploads[payload["upload_type"]] += 1
            else:
                other_messages[kind] += 1
    if skipped_params:
        run.notes.append(f"Comet's automatic parameters, not returned: {_tally(skipped_params)}")
    if automatic_metrics:
        run.notes.append(f"Comet's automatic metrics, not returned: {_tally(automatic_metrics)}")
    if non_numeric:
        run.notes.append(
            "values stored as strings (Comet writes NaN/Infinity/-Infinity as strings), "
            f"returned as stored in: {', '.join(sorted(non_numeric))}"
        )
    if other_uploads:
        run.notes.append(f"other files Comet stored: {_tally(other_uploads)}")
    if other_messages:
        run.notes.append(f"other messages in the archive: {_tally(other_messages)}")
    return run


def _tally(counts: Counter[str]) -> str:
    return ", ".join(f"{key} x{count}" for key, count in sorted(counts.items()))


class CometAdapter(TrackerAdapter):
    name = "comet"
    distribution = "comet-ml"
    sdk_modules = ("comet_ml",)
    scenarios = ("offline",)
    hosted_auth_docs = "https://www.comet.com/docs/v2/guides/comet-dashboard/more-in-workspaces/"
    hosted_api_docs = "https://www.comet.com/docs/v2/api-and-sdk/rest-api/overview/"

    def __init__(self, settings: AdapterSettings) -> None:
        super().__init__(settings)
        self._comet: ModuleType | None = None
        self._experiment: OfflineExperiment | None = None

    def import_sdk(self) -> None:
        """Set Comet's environment-only settings, then import; some are read at import time."""
        os.environ.update(sdk_environment(self.settings))
        import comet_ml

        self._comet = comet_ml

    def start_run(self, name: str, config: Mapping[str, Any]) -> None:
        if self._comet is None:
            self.import_sdk()
        offline_dir = self.settings.storage_dir / "comet"
        offline_dir.mkdir(parents=True, exist_ok=True)  # Comet creates only the last level
        self._experiment = _offline_experiment_class(self._comet)(
            offline_directory=str(offline_dir),
            project_name="trackbench",  # only a label inside the archive; no server involved
            **experiment_options(self.settings),
        )
        self._experiment.set_name(name)

    def log_params(self, params: Mapping[str, Any]) -> None:
        self._running().log_parameters(dict(params))

    def log_metrics(self, metrics: Mapping[str, float], step: int) -> None:
        self._running().log_metrics(dict(metrics), step=step)

    def log_artifact(self, path: Path, name: str) -> None:
        """``log_asset`` keeps one file under an exact flat name, as the interface asks.

        ``log_model`` would file it under a model name for Comet's model registry, whose
        registration happens in the hosted service; a plain asset is the like-for-like call.
        """
        self._running().log_asset(str(path), file_name=name)

    def log_dataset(self, path: Path, name: str) -> None:
        """Comet versions data as Artifacts, which ``OfflineExperiment.log_artifact`` refuses."""
        raise HostedOnly(
            "Comet Artifacts (data versioning) need the Comet server: "
            "OfflineExperiment.log_artifact raises NotImplementedError",
            DATASET_DOCS,
        )

    def run_ref(self) -> dict[str, str]:
        """Where the zip will be, and Comet's working directory that ``end()`` zips (and
        deletes): all that a run killed before ``end()`` leaves."""
        experiment = self._running()
        return {"archive": str(Path(experiment.offline_directory) / f"{experiment.get_key()}.zip"),
                "experiment_key": experiment.get_key(), "workdir": experiment.tmpdir}

    def register_model(self, path: Path, name: str) -> None:
        """``log_model`` then ``register_model``: offline, a message queued in the archive."""
        experiment = self._running()
        experiment.log_model(name, str(path))
        experiment.register_model(name)
        raise HostedOnly(
            "OfflineExperiment.register_model queued a register-model message; Comet's registry "
            "creates the version only when `comet upload` sends the archive", REGISTRY_DOCS,
        )

    def send_alert(self, title: str, text: str) -> None:
        self._running().send_notification(title, status=text)
        raise HostedOnly(
            "OfflineExperiment.send_notification returned without error; Comet e-mails "
            "notifications from its service, for online experiments only", NOTIFY_DOCS,
        )

    def best_run(self, ref: Mapping[str, str], metric: str) -> Mapping[str, str] | None:
        """No offline query: checked on the SDK's surface, not by calling the service."""
        local = api_names(self._comet.OfflineExperiment, ("query", "search"))
        api = api_names(self._comet.API, ("query", "search"))
        raise HostedOnly(
            f"OfflineExperiment has no run-query method (names matching query/search: "
            f"{', '.join(local) or 'none'}); comet_ml.API has {', '.join(api) or 'none'}, "
            "calls to the Comet service, so an offline archive is queryable only after "
            "`comet upload`", self.hosted_api_docs,
        )

    def offline_bundle(self, ref: Mapping[str, str]) -> tuple[str, Path]:
        """The offline zip, what ``comet upload <zip>`` sends."""
        return "archive", Path(ref["archive"])

    def finish(self) -> dict[str, str]:
        """End the experiment, which writes the offline zip; its path is the reference."""
        experiment = self._running()
        experiment.end()
        self._experiment = None
        archive = Path(experiment.offline_directory) / f"{experiment.get_key()}.zip"
        if not archive.is_file():
            raise RuntimeError(f"Comet wrote no offline archive at {archive}")
        return {"archive": str(archive), "experiment_key": experiment.get_key()}

    def read_back(self, ref: Mapping[str, str]) -> StoredRun:
        """Parse the archive on disk; needs neither the SDK nor the process that logged. Only
        the archive counts: it is what ``comet upload`` takes (a zip, nothing else). A run that
        never reached ``end()`` has an empty archive (Comet creates it at start, to check the
        directory is writable); what its working directory holds is counted in a note, not
        returned, since nothing Comet offers would deliver it."""
        archive = Path(ref["archive"])
        if _has_messages(archive):
            return parse_offline_archive(archive)
        stored = StoredRun()
        workdir = Path(ref["workdir"]) if ref.get("workdir") else None
        if workdir is not None and (workdir / MESSAGES_FILE).is_file():
            left = parse_offline_archive(workdir)
            points = sum(len(v) for v in left.metrics.values())
            stored.notes.append(
                f"no offline archive (the run never reached end()): {points} metric points, "
                f"{len(left.params)} params and {len(left.artifacts)} files are in Comet's "
                "temporary working directory, which `comet upload` does not take (it reads a "
                "zip); not counted as kept")
        else:
            stored.notes.append(f"no offline archive with messages at {archive}")
        return stored

    def _running(self) -> OfflineExperiment:
        if self._experiment is None:
            raise RuntimeError("no Comet run is open; call start_run() first")
        return self._experiment
