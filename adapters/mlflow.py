"""MLflow in the seed's deployments, driven by the same client code in every scenario.

- ``sqlite``: embedded sqlite backend, local artifacts, no server (the default install).
- ``file``: scenario 1 of the seed, the file store (``./mlruns``); MLflow 3 keeps it in
  maintenance mode and refuses it unless ``MLFLOW_ALLOW_FILE_STORE=true``.
- ``server-sqlite``: scenario 2, a local ``mlflow server`` on sqlite with local artifacts, used
  over its REST API.
- ``server-postgres-s3``: scenario 3, a tracking server on PostgreSQL with an S3 artifact store;
  artifacts are verified in the bucket itself.
- ``fasttrackml``: FastTrackML, an MLflow-compatible tracking server, same client.

Mitigations a user would try, as variants of a scenario: ``+async`` (MLflow's asynchronous
logging, flushed at ``end_run``) and ``+batch`` (metrics buffered by the caller and sent with
``MlflowClient.log_batch`` every ``BATCH_STEPS`` steps and at the end).

Logging goes through the fluent API a user would call (``mlflow.log_metrics`` ...); read-back goes
through a fresh ``MlflowClient`` in another process, so it sees only what reached the store.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from adapters.base import (
    AdapterSettings,
    StoredRun,
    TrackerAdapter,
    Unsupported,
    api_names,
    sha256_bytes,
    sha256_file,
)

if TYPE_CHECKING:
    import mlflow as mlflow_module

EXPERIMENT = "trackbench"
BATCH_STEPS = 100
LOG_BATCH_MAX_METRICS = 1000  # MLflow's per-request limit
SYSTEM_PREFIX = "system/"
ALLOW_FILE_STORE = "MLFLOW_ALLOW_FILE_STORE"


def _source_sha256(dataset_input: Any, stored: StoredRun) -> str | None:
    """sha256 of a dataset version's bytes as MLflow's storage holds them: ``log_input`` keeps a
    digest and the source, not the bytes. A source that is a path on this machine (the user's
    file) is referenced, not stored: it is not followed, whatever lies there now; any other
    source is loaded through MLflow."""
    from mlflow.data import get_source

    dataset = dataset_input.dataset
    source = get_source(dataset_input)
    if source._get_source_type() == "local":
        where = json.loads(dataset.source).get("uri", dataset.source)
        stored.referenced[f"dataset {dataset.name} {dataset.digest}"] = where
        stored.notes.append(f"dataset {dataset.name!r} version {dataset.digest}: MLflow keeps "
                            f"a reference to {where}, not its bytes")
        return None
    with tempfile.TemporaryDirectory() as tmp:
        try:
            local = Path(source.load(dst_path=tmp))
        except Exception as exc:  # noqa: BLE001 - an unreachable source is the finding
            stored.notes.append(f"dataset {dataset.name!r} version {dataset.digest}: its source "
                                f"{dataset.source} could not be loaded ({type(exc).__name__})")
            return None
        return sha256_file(local) if local.is_file() else None


class MlflowAdapter(TrackerAdapter):
    name = "mlflow"
    distribution = "mlflow"
    sdk_modules = ("mlflow",)
    scenarios = ("sqlite", "file", "server-sqlite", "server-postgres-s3", "fasttrackml",
                 "fasttrackml-postgres", "sqlite+async", "sqlite+batch", "server-sqlite+async",
                 "server-sqlite+batch")
    # The default run: the seed's three deployments and MLflow 3's default store. FastTrackML
    # (also loaded by the team-scale stage) and the mitigations run with --scenarios all.
    default_scenarios = ("sqlite", "file", "server-sqlite", "server-postgres-s3")
    scenario_services = {
        "server-sqlite": ("mlflow-server-sqlite",),
        "server-postgres-s3": ("postgres", "s3", "mlflow-server-postgres-s3"),
        "fasttrackml": ("fasttrackml",),
        "fasttrackml-postgres": ("postgres", "fasttrackml-postgres"),
    }

    def __init__(self, settings: AdapterSettings) -> None:
        super().__init__(settings)
        self._mlflow: mlflow_module | None = None
        self._run_id = ""
        self._pending: list[Any] = []  # +batch: Metric objects not yet sent

    @property
    def tracking_uri(self) -> str:
        scenario = self.base_scenario
        if scenario == "file":
            return (self.settings.storage_dir / "mlruns").as_uri()
        if scenario in self.scenario_services:
            return self.settings.services["tracking_uri"]
        return f"sqlite:///{self.settings.storage_dir / 'mlflow.db'}"

    def import_sdk(self) -> None:
        # MLflow 3 sends usage telemetry by default; nothing may leave the machine.
        os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
        if self.base_scenario == "file":
            os.environ[ALLOW_FILE_STORE] = "true"  # measured as refused without it: read_back
        import mlflow

        self._mlflow = mlflow

    def _experiment_id(self) -> str:
        client = self._mlflow.MlflowClient(self.tracking_uri)
        found = client.get_experiment_by_name(EXPERIMENT)
        if found is not None:
            return found.experiment_id
        if self.base_scenario == "sqlite":
            location = (self.settings.storage_dir / "artifacts").as_uri()
            return client.create_experiment(EXPERIMENT, artifact_location=location)
        return client.create_experiment(EXPERIMENT)  # the store or server decides where

    def start_run(self, name: str, config: Mapping[str, Any]) -> None:
        mlflow = self._mlflow
        mlflow.set_tracking_uri(self.tracking_uri)
        if self.variant == "async":
            mlflow.config.enable_async_logging(True)
        if self.settings.system_metrics:
            # Fastest sampling MLflow allows, so a short probe run records points.
            mlflow.set_system_metrics_sampling_interval(1)
            mlflow.set_system_metrics_samples_before_logging(1)
        # MLflow's only default-off extra is system metrics; "lean" and "defaults" both leave it
        # off unless the monitoring probe asks for it.
        run = mlflow.start_run(
            experiment_id=self._experiment_id(),
            run_name=name,
            log_system_metrics=self.settings.system_metrics,
        )
        self._run_id = run.info.run_id

    def log_params(self, params: Mapping[str, Any]) -> None:
        self._mlflow.log_params(dict(params))

    def log_metrics(self, metrics: Mapping[str, float], step: int) -> None:
        if self.variant != "batch":
            self._mlflow.log_metrics(dict(metrics), step=step)
            return
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        self._pending += [Metric(k, float(v), now, step) for k, v in metrics.items()]
        if step % BATCH_STEPS == BATCH_STEPS - 1:
            self._flush()

    def _flush(self) -> None:
        client = self._mlflow.MlflowClient(self.tracking_uri)
        while self._pending:
            chunk = self._pending[:LOG_BATCH_MAX_METRICS]
            client.log_batch(self._run_id, metrics=chunk)
            del self._pending[:LOG_BATCH_MAX_METRICS]

    def log_artifact(self, path: Path, name: str) -> None:
        if path.name == name:
            self._mlflow.log_artifact(str(path))
            return
        # MLflow names an artifact after its file; stage a copy under the requested name.
        with tempfile.TemporaryDirectory() as staging:
            staged = Path(staging) / name
            shutil.copyfile(path, staged)
            self._mlflow.log_artifact(str(staged))

    def log_dataset(self, path: Path, name: str) -> None:
        """MLflow's dataset tracking: ``log_input`` records a content digest per version."""
        import numpy as np
        from mlflow.data.numpy_dataset import from_numpy
        from mlflow.exceptions import MlflowException

        data = np.frombuffer(path.read_bytes(), dtype=np.uint8)
        try:
            self._mlflow.log_input(from_numpy(data, source=str(path), name=name), context="probe")
        except MlflowException as exc:
            if exc.error_code != "ENDPOINT_NOT_FOUND":
                raise
            raise Unsupported(f"this tracking server has no log-inputs endpoint ({exc})") from None

    def run_ref(self) -> dict[str, str]:
        return {"run_id": self._run_id, "tracking_uri": self.tracking_uri}

    def register_model(self, path: Path, name: str) -> None:
        """A model-registry version whose source is the run's logged file."""
        from mlflow.exceptions import MlflowException

        client = self._mlflow.MlflowClient(self.tracking_uri)
        try:
            client.create_registered_model(name)
        except MlflowException as exc:
            if exc.error_code == "ENDPOINT_NOT_FOUND":
                raise Unsupported(f"this tracking server has no model-registry endpoints "
                                  f"({exc})") from None
            if exc.error_code != "RESOURCE_ALREADY_EXISTS":
                raise
        client.create_model_version(name, source=self._mlflow.get_artifact_uri(path.name),
                                    run_id=self._run_id)

    def send_alert(self, title: str, text: str) -> None:
        found = api_names(self._mlflow, ("alert", "notif"))
        found += api_names(self._mlflow.MlflowClient, ("alert", "notif"))
        raise Unsupported(f"mlflow {self.version()} has no alert or notification call (public "
                          f"names matching alert/notif in mlflow and MlflowClient: "
                          f"{', '.join(found) or 'none'})")

    def best_run(self, ref: Mapping[str, str], metric: str) -> Mapping[str, str] | None:
        """``search_runs`` ordered by the metric, as a model-selection script would."""
        client = self._mlflow.MlflowClient(ref["tracking_uri"])
        experiment = client.get_run(ref["run_id"]).info.experiment_id
        # No filter (FastTrackML's parser rejects numbers like -1e300): runs without the metric
        # come after the ones with it, and are skipped.
        runs = client.search_runs([experiment], order_by=[f"metrics.{metric} ASC"],
                                  max_results=50)
        best = next((r for r in runs if metric in r.data.metrics), None)
        return None if best is None else {"run_id": best.info.run_id,
                                          "tracking_uri": ref["tracking_uri"]}

    def offline_bundle(self, ref: Mapping[str, str]) -> tuple[str, Path]:
        """Checked on the SDK's surface: importing ``mlflow.cli`` costs seconds."""
        import mlflow

        words = ("sync", "upload", "offline", "export")
        found = api_names(mlflow, words) + api_names(mlflow.MlflowClient, words)
        raise Unsupported(f"MLflow has no offline mode: the client writes to its store or server "
                          f"at log time; public names in mlflow and MlflowClient starting with "
                          f"sync/upload/offline/export: {', '.join(found) or 'none'}")

    def finish(self) -> dict[str, str]:
        self._flush()
        self._mlflow.end_run()  # with +async, waits for the queued operations
        return self.run_ref()

    def read_back(self, ref: Mapping[str, str]) -> StoredRun:
        os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
        stored = StoredRun()
        if self.base_scenario == "file":
            stored.notes.append(_file_store_refusal(ref["tracking_uri"]))
            os.environ[ALLOW_FILE_STORE] = "true"
        from mlflow import MlflowClient

        client = MlflowClient(ref["tracking_uri"])
        run = client.get_run(ref["run_id"])
        stored.params = dict(run.data.params)
        for key in run.data.metrics:
            history = client.get_metric_history(run.info.run_id, key)
            points = [(int(m.step), float(m.value)) for m in history]
            if key.startswith(SYSTEM_PREFIX):
                stored.system_metrics[key] = len(points)
            else:
                stored.metrics[key] = points
        if "s3_endpoint" in self.settings.services:
            stored.artifacts = self._artifacts_in_bucket(run.info.run_id)
            served = _artifacts_through_mlflow(ref, run.info.run_id)
            if served != stored.artifacts:
                stored.notes.append(f"artifacts served by MLflow differ from the bucket's: "
                                    f"{sorted(served)} vs {sorted(stored.artifacts)}")
        else:
            stored.artifacts = _artifacts_through_mlflow(ref, run.info.run_id)
        for dataset_input in run.inputs.dataset_inputs:
            stored.datasets.append((dataset_input.dataset.name, dataset_input.dataset.digest))
            stored.dataset_sha256.append(_source_sha256(dataset_input, stored))
        stored.models = _registered_versions(client, run.info.run_id, stored.notes)
        stored.notes.append("params are stored as strings (MLflow's param model)")
        return stored

    def _artifacts_in_bucket(self, run_id: str) -> dict[str, str]:
        """Checksums of the run's objects as they sit in the S3 bucket (boto3, not MLflow)."""
        import boto3

        svc = self.settings.services
        s3 = boto3.client(
            "s3", endpoint_url=svc["s3_endpoint"], region_name=svc.get("aws_region", "us-east-1"),
            aws_access_key_id=svc["aws_access_key_id"],
            aws_secret_access_key=svc["aws_secret_access_key"],
        )
        marker = f"/{run_id}/artifacts/"
        found: dict[str, str] = {}
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=svc["s3_bucket"]):
            for obj in page.get("Contents", []):
                if marker in f"/{obj['Key']}":
                    body = s3.get_object(Bucket=svc["s3_bucket"], Key=obj["Key"])["Body"].read()
                    found[f"/{obj['Key']}".split(marker, 1)[1]] = sha256_bytes(body)
        return found


def _artifacts_through_mlflow(ref: Mapping[str, str], run_id: str) -> dict[str, str]:
    from mlflow.artifacts import download_artifacts

    with tempfile.TemporaryDirectory() as dest:
        local = Path(download_artifacts(run_id=run_id, dst_path=dest,
                                        tracking_uri=ref["tracking_uri"]))
        return {f.relative_to(local).as_posix(): sha256_file(f)
                for f in sorted(local.rglob("*")) if f.is_file()}


def _registered_versions(client: Any, run_id: str, notes: list[str]) -> list[tuple[str, str]]:
    """Model-registry versions created from this run, as the registry lists them."""
    from mlflow.exceptions import MlflowException

    try:
        found = client.search_model_versions(f"run_id='{run_id}'")
    except MlflowException as exc:
        notes.append(f"model registry not readable: {str(exc)[:200]}")
        return []
    return [(v.name, str(v.version)) for v in found]


def _file_store_refusal(tracking_uri: str) -> str:
    """Ask MLflow for the file store without the opt-in, and report what it says: a refusal
    only if MLflow's error names the opt-in; any other error is reported as itself."""
    from mlflow import MlflowClient

    os.environ.pop(ALLOW_FILE_STORE, None)
    try:
        MlflowClient(tracking_uri).search_experiments(max_results=1)
    except Exception as exc:  # noqa: BLE001 - whatever MLflow raised is the finding
        first = str(exc).split(". ")[0]
        if ALLOW_FILE_STORE in str(exc):
            return f"MLflow refuses the file store unless {ALLOW_FILE_STORE}=true: \"{first}.\""
        return (f"MLflow raised {type(exc).__name__} on the file store without "
                f"{ALLOW_FILE_STORE}, an error that does not name the opt-in: \"{first[:200]}\"")
    return f"MLflow {_version()} opened the file store without {ALLOW_FILE_STORE}"


def _version() -> str:
    import mlflow

    return mlflow.__version__
