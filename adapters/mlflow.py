"""MLflow, the seed's subject: embedded sqlite backend with local artifacts (scenario ``sqlite``).

Logging goes through the fluent API a user would call (``mlflow.log_metrics`` ...); read-back goes
through a fresh ``MlflowClient`` on the same store, so it sees only what reached the database and
the artifact directory.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from adapters.base import StoredRun, TrackerAdapter, sha256_file

if TYPE_CHECKING:
    import mlflow as mlflow_module

EXPERIMENT = "trackbench"
SYSTEM_PREFIX = "system/"


class MlflowAdapter(TrackerAdapter):
    name = "mlflow"
    distribution = "mlflow"
    scenarios = ("sqlite",)

    def __init__(self, settings) -> None:
        super().__init__(settings)
        self._mlflow: mlflow_module | None = None
        self._run_id = ""

    @property
    def tracking_uri(self) -> str:
        return f"sqlite:///{self.settings.storage_dir / 'mlflow.db'}"

    @property
    def artifact_root(self) -> Path:
        return self.settings.storage_dir / "artifacts"

    def import_sdk(self) -> None:
        # MLflow 3 sends usage telemetry by default; nothing may leave the machine.
        os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
        import mlflow

        self._mlflow = mlflow

    def _experiment_id(self) -> str:
        client = self._mlflow.MlflowClient(self.tracking_uri)
        found = client.get_experiment_by_name(EXPERIMENT)
        if found is not None:
            return found.experiment_id
        return client.create_experiment(EXPERIMENT, artifact_location=self.artifact_root.as_uri())

    def start_run(self, name: str, config: Mapping[str, Any]) -> None:
        mlflow = self._mlflow
        mlflow.set_tracking_uri(self.tracking_uri)
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
        self._mlflow.log_metrics(dict(metrics), step=step)

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

        data = np.frombuffer(path.read_bytes(), dtype=np.uint8)
        self._mlflow.log_input(from_numpy(data, source=str(path), name=name), context="probe")

    def finish(self) -> dict[str, str]:
        self._mlflow.end_run()
        return {"run_id": self._run_id, "tracking_uri": self.tracking_uri}

    def read_back(self, ref: Mapping[str, str]) -> StoredRun:
        from mlflow import MlflowClient
        from mlflow.artifacts import download_artifacts

        client = MlflowClient(ref["tracking_uri"])
        run = client.get_run(ref["run_id"])
        stored = StoredRun(params=dict(run.data.params))
        for key in run.data.metrics:
            history = client.get_metric_history(run.info.run_id, key)
            points = [(int(m.step), float(m.value)) for m in history]
            if key.startswith(SYSTEM_PREFIX):
                stored.system_metrics[key] = len(points)
            else:
                stored.metrics[key] = points
        with tempfile.TemporaryDirectory() as dest:
            local = Path(download_artifacts(run_id=run.info.run_id, dst_path=dest,
                                            tracking_uri=ref["tracking_uri"]))
            for file in sorted(p for p in local.rglob("*") if p.is_file()):
                stored.artifacts[file.relative_to(local).as_posix()] = sha256_file(file)
        stored.datasets = [
            (d.dataset.name, d.dataset.digest) for d in run.inputs.dataset_inputs
        ]
        stored.notes.append("params are stored as strings (MLflow's param model)")
        return stored
