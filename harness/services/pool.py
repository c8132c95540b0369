"""The run's services: each started on first use, kept for the rest of the run, all stopped at the
end (in reverse order), also after a failure or Ctrl-C.

Service names are what adapters list in ``scenario_services``; a team's own PostgreSQL, S3 or
tracking server (``Plan.external``) replaces the embedded one of the same role.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from harness.services.aim_server import AimServer
from harness.services.base import Service, ServiceError, error_text, tree
from harness.services.mlflow_server import ExternalTrackingServer, FastTrackMLServer, MlflowServer
from harness.services.postgres import ExternalPostgres, PostgresService
from harness.services.s3 import ExternalS3, S3Service

# The service that, in scenario 3, a team's own tracking server replaces (with its backends).
REMOTE_SERVER = "mlflow-server-postgres-s3"


class ServicePool:
    def __init__(self, root: Path, log_dir: Path, external: Mapping[str, str],
                 progress: Callable[[str], None] = print) -> None:
        self.root = root
        self.log_dir = log_dir
        self.external = dict(external)
        self.progress = progress
        self._started: dict[str, Service] = {}
        self._failed: dict[str, str] = {}

    def needed(self, names: Sequence[str]) -> list[str]:
        """With a team's tracking server, scenario 3 needs no embedded PostgreSQL or S3."""
        if REMOTE_SERVER in names and "tracking_uri" in self.external:
            keep_s3 = "s3_endpoint" in self.external  # to verify artifacts in the bucket
            return [n for n in names if n != "postgres" and (n != "s3" or keep_s3)]
        return list(names)

    def get(self, names: Sequence[str]) -> dict[str, Service]:
        """The named services, started in order if not yet running; ServiceError if one fails
        (now, or earlier in the run: a failed service is not tried again)."""
        out: dict[str, Service] = {}
        for name in self.needed(names):
            if name in self._failed:
                raise ServiceError(self._failed[name])
            if name not in self._started:
                upstream = {k: v for s in out.values() for k, v in s.endpoints().items()}
                self._started[name] = self._start(name, upstream)
            out[name] = self._started[name]
        return out

    def pids(self) -> set[int]:
        """Every process of the running services (their trees)."""
        return {proc.pid for service in self._started.values() for root in service.pids()
                for proc in tree(root)}

    def failed(self, name: str, reason: str) -> None:
        """Take a started service out of the run (a server that did not come back after the
        outage): it is stopped, and ``get`` raises ServiceError with ``reason`` from now on, so
        the cells that need it are recorded as its failure, not as their tool's."""
        service = self._started.pop(name, None)
        self._give_up(name, service, f"{service.name if service else name}: {reason}")

    def _start(self, name: str, upstream: Mapping[str, str]) -> Service:
        """Build and start one service. Whatever either raises (a driver not installed, a binary
        not executable, a database error) fails this service, not the run."""
        try:
            service = self._build(name, upstream)
        except Exception as exc:  # noqa: BLE001 - recorded as this service's failure
            raise self._give_up(name, None, f"{name}: {error_text(exc)}") from exc
        self.progress(f"starting {service.name} (log: {service.log_path})")
        began = time.perf_counter()
        try:
            service.start()
        except Exception as exc:  # noqa: BLE001 - recorded as this service's failure
            raise self._give_up(name, service, f"{service.name}: {error_text(exc)}") from exc
        except BaseException:  # Ctrl-C: not in _started yet, so close() would not stop it
            service.stop()
            raise
        self.progress(f"{service.name} ready in {time.perf_counter() - began:.1f} s")
        return service

    def _give_up(self, name: str, service: Service | None, reason: str) -> ServiceError:
        """Stop what the service started and record ``name`` as failed for the rest of the run;
        the error to raise. A failing stop is added to the reason, not raised over it."""
        if service is not None:
            try:
                service.stop()
            except Exception as exc:  # noqa: BLE001 - the start's failure is the one to report
                reason += f" (and stopping it failed: {error_text(exc)})"
        self._failed[name] = reason
        return ServiceError(reason)

    def close(self) -> None:
        for service in reversed(list(self._started.values())):
            service.stop()
        self._started.clear()

    def _build(self, name: str, upstream: Mapping[str, str]) -> Service:
        workdir, logs, ext = self.root / name, self.log_dir, self.external
        if name == "postgres":
            if "postgres_uri" in ext:
                return ExternalPostgres(workdir, logs, ext["postgres_uri"])
            return PostgresService(workdir, logs)
        if name == "s3":
            if "s3_endpoint" in ext:
                return ExternalS3(workdir, logs, ext["s3_endpoint"], ext.get("s3_bucket", "mlflow"),
                                  ext.get("s3_access_key", ""), ext.get("s3_secret_key", ""))
            return S3Service(workdir, logs)
        if name == "mlflow-server-sqlite":
            return MlflowServer(workdir, logs, name=name)
        if name == REMOTE_SERVER:
            if "tracking_uri" in ext:
                return ExternalTrackingServer(workdir, logs, ext["tracking_uri"])
            return MlflowServer(
                workdir, logs, name=name, backend_store_uri=upstream["postgres_uri"],
                artifacts_destination=f"s3://{upstream['s3_bucket']}/artifacts",
                env={"MLFLOW_S3_ENDPOINT_URL": upstream["s3_endpoint"],
                     "AWS_ACCESS_KEY_ID": upstream["aws_access_key_id"],
                     "AWS_SECRET_ACCESS_KEY": upstream["aws_secret_access_key"],
                     "AWS_DEFAULT_REGION": upstream.get("aws_region", "us-east-1")},
            )
        if name == "fasttrackml":
            return FastTrackMLServer(workdir, logs)
        if name == "fasttrackml-postgres":
            # A database of its own: FastTrackML's tables have MLflow's names.
            pg = self._started.get("postgres")
            if not isinstance(pg, PostgresService):
                raise ServiceError("fasttrackml-postgres runs on the embedded PostgreSQL only")
            uri = pg.fresh_database("fasttrackml").replace("postgresql://", "postgres://", 1)
            return FastTrackMLServer(workdir, logs, name=name, database_uri=uri)
        if name == "aim-server":
            return AimServer(workdir, logs)
        raise ServiceError(f"unknown service {name!r}")
