"""The servers the load stage measures: a fresh server process on a fresh store when started.

The four server scenarios that speak MLflow's REST API: ``mlflow server`` on SQLite and on
PostgreSQL + S3, FastTrackML on SQLite and on PostgreSQL. The PostgreSQL and S3 they use are the
stage's own (started once for the stage, a new database and a new bucket prefix per level), so
the load never touches the stores the measured cells used. A team's own server
(``--load-target``) is a target too; it is neither started nor stopped, nor emptied.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from harness.services.base import Service
from harness.services.mlflow_server import FastTrackMLServer, MlflowServer
from harness.services.postgres import DRIVER, PostgresService
from harness.services.s3 import S3Service

# Target label -> the shared backends it needs (started once for the stage).
TARGETS: dict[str, tuple[str, ...]] = {
    "mlflow:server-sqlite": (),
    "mlflow:server-postgres-s3": ("postgres", "s3"),
    "mlflow:fasttrackml": (),
    "mlflow:fasttrackml-postgres": ("postgres",),
}
# What each target's store is, for the floor (the backend's raw insert rate).
BACKEND = {"mlflow:server-sqlite": "sqlite", "mlflow:server-postgres-s3": "postgres",
           "mlflow:fasttrackml": "sqlite", "mlflow:fasttrackml-postgres": "postgres"}
EXTERNAL = "external"


@dataclass
class Target:
    """One server for one level: where to send the load, what to sample, how to size it."""

    label: str
    uri: str
    server: Service | None  # ours (stopped by close), None for a team's own server
    backends: list[Service] = field(default_factory=list)  # sampled, not stopped here
    size: Callable[[], int | None] = lambda: None  # bytes of the store now
    cleanup: Callable[[], None] = lambda: None

    def server_pids(self) -> list[int]:
        return self.server.pids() if self.server is not None else []

    def backend_pids(self) -> list[int]:
        return [pid for b in self.backends for pid in b.pids()]

    def alive(self) -> bool:
        """A team's own server is taken as up; ours while its process runs."""
        return self.server is None or bool(self.server.pids())

    def close(self) -> None:
        """Stop our server and drop its store; whatever fails, both are tried."""
        try:
            if self.server is not None:
                self.server.stop()
        finally:
            self.cleanup()


class Backends:
    """The stage's own PostgreSQL and S3, started on first use, stopped by :meth:`close`."""

    def __init__(self, root: Path, log_dir: Path) -> None:
        self.root, self.log_dir = root, log_dir
        self._services: dict[str, Service] = {}

    def get(self, name: str) -> Service:
        if name not in self._services:
            service = (PostgresService(self.root / "postgres", self.log_dir, name="load-postgres")
                       if name == "postgres"
                       else S3Service(self.root / "s3", self.log_dir, name="load-s3"))
            service.start()  # a failure raises; the stage records it for the target's levels
            self._services[name] = service
        return self._services[name]

    def close(self) -> None:
        for service in reversed(list(self._services.values())):
            with contextlib.suppress(Exception):
                service.stop()
        self._services.clear()


def fresh(label: str, key: str, root: Path, log_dir: Path, backends: Backends) -> Target:
    """Start ``label``'s server on a new store named ``key``; ServiceError if it cannot."""
    workdir = root / key
    needs = [backends.get(name) for name in TARGETS[label]]
    pg = next((s for s in needs if isinstance(s, PostgresService)), None)
    database = f"load_{key.replace('-', '_')}"
    libpq = pg.fresh_database(database) if pg is not None else ""
    cleanup = (lambda: pg.drop_database(database)) if pg is not None else (lambda: None)
    server: MlflowServer | FastTrackMLServer
    if label == "mlflow:server-sqlite":
        server = MlflowServer(workdir, log_dir, name=f"load-{key}")
        size = server.disk_bytes
    elif label == "mlflow:server-postgres-s3":
        s3 = next(s for s in needs if isinstance(s, S3Service))
        ep = s3.endpoints()
        server = MlflowServer(
            workdir, log_dir, name=f"load-{key}",
            backend_store_uri=libpq.replace("postgresql://", f"{DRIVER}://", 1),
            artifacts_destination=f"s3://{ep['s3_bucket']}/load/{key}",
            env={"MLFLOW_S3_ENDPOINT_URL": ep["s3_endpoint"],
                 "AWS_ACCESS_KEY_ID": ep["aws_access_key_id"],
                 "AWS_SECRET_ACCESS_KEY": ep["aws_secret_access_key"],
                 "AWS_DEFAULT_REGION": ep.get("aws_region", "us-east-1")})
        size = lambda: pg.database_bytes(database)  # noqa: E731 - the store is the database
    elif label == "mlflow:fasttrackml":
        server = FastTrackMLServer(workdir, log_dir, name=f"load-{key}")
        size = server.disk_bytes
    else:
        server = FastTrackMLServer(workdir, log_dir, name=f"load-{key}",
                                   database_uri=libpq.replace("postgresql://", "postgres://", 1))
        size = lambda: pg.database_bytes(database)  # noqa: E731
    try:
        server.start()
    except BaseException:
        cleanup()
        raise
    return Target(label, server.uri, server, needs, size, cleanup)


def external(uri: str) -> Target:
    """A team's own MLflow-API server: loaded as it is (its store is not emptied)."""
    return Target(EXTERNAL, uri.rstrip("/"), None)
