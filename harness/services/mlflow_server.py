"""MLflow-compatible tracking servers the harness runs (or is pointed at) for the server scenarios.

The seed's scenario 2 is ``mlflow server`` on sqlite with local artifacts, scenario 3 the same
server on PostgreSQL and S3; both are ``MlflowServer`` with different URIs. ``FastTrackMLServer``
is a drop-in MLflow-API server (one Go binary) to compare against; ``ExternalTrackingServer`` is
a team's own server, which the harness only health-checks.
"""

from __future__ import annotations

import contextlib
import secrets
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path

import psutil

from harness.measure.isolation import private_env
from harness.measure.netguard import GuardLog, guard_env
from harness.plan import redacted_uris
from harness.services.base import (
    LOOPBACK,
    ServerProcess,
    Service,
    ServiceError,
    tree,
    wait_until,
)
from harness.services.http import http_json

HEALTH_PATH = "/api/2.0/mlflow/experiments/search?max_results=1"
# The pool's names of the services that speak MLflow's REST API, and of those that are MLflow.
MLFLOW_SERVERS = ("mlflow-server-sqlite", "mlflow-server-postgres-s3")
REST_SERVERS = (*MLFLOW_SERVERS, "fasttrackml", "fasttrackml-postgres")
# Every tracking server a scenario can run (the outage check kills and restarts each), and
# those among them that speak another protocol than MLflow's (their probe path: no auth there).
OTHER_SERVERS = {"aim-server": "/client/get-version/"}
TRACKING_SERVERS = (*REST_SERVERS, *OTHER_SERVERS)


def _api_ok(uri: str, auth: tuple[str, str] | None = None) -> bool:
    """An API call, not just /health: it proves the backend store answers (and, with auth, that
    the admin credentials work; /health is not behind auth)."""
    return http_json("GET", uri + HEALTH_PATH, auth=auth, timeout_s=2.0)[0] == 200


def _dir_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def _child_env(workdir: Path, extra: Mapping[str, str]) -> dict[str, str]:
    """A private environment under ``workdir`` (the parent's MLFLOW_* settings dropped: a stray
    MLFLOW_AUTH_ADMIN_PASSWORD would override the auth config), telemetry off; then the caller's
    variables (S3 endpoint and keys, ...)."""
    return private_env(workdir, {"MLFLOW_DISABLE_TELEMETRY": "true", **extra})


class MlflowServer(ServerProcess):
    """``mlflow server`` on a free loopback port, artifacts proxied (``--serve-artifacts``).

    Defaults are scenario 2 (sqlite and an artifact directory under ``workdir``); pass a
    ``postgresql+psycopg://`` backend and an ``s3://`` destination (with ``MLFLOW_S3_ENDPOINT_URL``
    and AWS keys in ``env``) for scenario 3. One worker by default: on a 2-core machine the
    training process is the one being measured, and one uvicorn worker is a single process (no
    supervisor) that still serves concurrent requests from its thread pool. ``job_execution``
    off by default: MLflow 3's GenAI job runner starts seven huey consumers (~1 GB RSS) that
    experiment tracking never uses, and keeps its queue in /dev/shm, outside ``workdir`` (removed
    on ``stop``, since MLflow leaves it behind).
    ``app_name="basic-auth"`` writes an auth config with a generated admin password.
    """

    name = "mlflow-server"

    def __init__(self, workdir: Path, log_dir: Path, *, name: str | None = None,
                 backend_store_uri: str | None = None, artifacts_destination: str | None = None,
                 workers: int = 1, env: Mapping[str, str] | None = None,
                 app_name: str | None = None, auth_default_permission: str = "NO_PERMISSIONS",
                 job_execution: bool = False, start_timeout_s: float = 120.0) -> None:
        super().__init__(workdir, log_dir, name)
        self._db = None if backend_store_uri else workdir / "mlflow.db"
        self._artifacts = None if artifacts_destination else workdir / "artifacts"
        self.backend_store_uri = backend_store_uri or f"sqlite:///{self._db}"
        self.artifacts_destination = artifacts_destination or str(self._artifacts)
        self.workers = workers
        self.app_name = app_name
        self.auth_default_permission = auth_default_permission
        self.job_execution = job_execution
        self.start_timeout_s = start_timeout_s
        self._extra_env = dict(env or {})
        self.admin: tuple[str, str] | None = None

    def _write_auth_config(self) -> Path:
        """Keys as in mlflow/server/auth/basic_auth.ini; MLflow creates the admin at first start."""
        self.admin = ("trackbench-admin", secrets.token_urlsafe(18))  # MLflow wants >= 12 chars
        path = self.workdir / "basic_auth.ini"
        path.write_text(
            "[mlflow]\n"
            f"default_permission = {self.auth_default_permission}\n"
            f"database_uri = sqlite:///{self.workdir / 'basic_auth.db'}\n"
            f"admin_username = {self.admin[0]}\n"
            f"admin_password = {self.admin[1]}\n"
            "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n")
        return path

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = self._next_port()
        cmd = [sys.executable, "-m", "mlflow", "server", "--host", LOOPBACK,
               "--port", str(self.port), "--serve-artifacts", "--workers", str(self.workers)]
        # The stores through the environment (the click options' envvars), not the command
        # line, which every local user can read: a database URI carries its password.
        extra = {"MLFLOW_BACKEND_STORE_URI": self.backend_store_uri,
                 "MLFLOW_ARTIFACTS_DESTINATION": self.artifacts_destination,
                 "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": str(self.job_execution).lower()}
        if self.app_name:
            cmd += ["--app-name", self.app_name]
            extra["MLFLOW_AUTH_CONFIG_PATH"] = str(self._write_auth_config())
            # basic-auth refuses to start without a fixed CSRF key (shared by all workers).
            extra["MLFLOW_FLASK_SERVER_SECRET_KEY"] = secrets.token_hex(32)
        env = _child_env(self.workdir, {**extra, **self._extra_env})
        # The offline guard, as in the cells: a Python server phoning home is caught too.
        if self.network is None:  # a restart keeps reading where the last start left off
            self.network = GuardLog(self.workdir / "network.jsonl")
        env = guard_env(env, self.network.path)
        self._launch(cmd, env, lambda: _api_ok(self.uri, self.admin), self.start_timeout_s)

    @staticmethod
    def _job_queue_dir(pid: int) -> Path | None:
        """The job queue directory MLflow made (in /dev/shm), read from its children's env."""
        for proc in tree(pid)[1:]:
            with contextlib.suppress(psutil.Error):
                if path := proc.environ().get("_MLFLOW_HUEY_STORAGE_PATH"):
                    return Path(path)
        return None

    def stop(self) -> None:
        queue = self._job_queue_dir(self._proc.pid) if self._proc is not None else None
        super().stop()
        if queue is not None:
            shutil.rmtree(queue, ignore_errors=True)

    def endpoints(self) -> dict[str, str]:
        if self.admin is None:
            return super().endpoints()
        return {**super().endpoints(), "admin_username": self.admin[0],
                "admin_password": self.admin[1]}

    def disk_bytes(self) -> int | None:
        """sqlite file plus artifact directory; None when either lives elsewhere (PG, S3)."""
        if self._db is None or self._artifacts is None or not self._db.exists():
            return None
        artifacts = _dir_bytes(self._artifacts) if self._artifacts.exists() else 0
        return self._db.stat().st_size + artifacts


class FastTrackMLServer(ServerProcess):
    """FastTrackML (``fml server``), an MLflow-API tracking server in one Go binary.

    It serves the MLflow REST API at the root, like ``mlflow server``, but does not proxy
    artifacts: runs get ``file://`` artifact URIs under ``workdir/artifacts`` that the client
    writes itself, so it only works for clients on the same file system (or with S3).
    """

    name = "fasttrackml"

    def __init__(self, workdir: Path, log_dir: Path, *, name: str | None = None,
                 binary: str | None = None, database_uri: str | None = None,
                 start_timeout_s: float = 30.0) -> None:
        super().__init__(workdir, log_dir, name)
        self.binary = binary or str(Path(sys.executable).with_name("fml"))
        self.start_timeout_s = start_timeout_s
        self._db = workdir / "fasttrackml.db"
        self.database_uri = database_uri or f"sqlite://{self._db}"  # or postgres://...
        self._artifacts = workdir / "artifacts"

    def start(self) -> None:
        if shutil.which(self.binary) is None:
            raise ServiceError(f"FastTrackML binary not found: {self.binary}")
        self.port = self._next_port()
        cmd = [self.binary, "server", "--listen-address", f"{LOOPBACK}:{self.port}",
               "--default-artifact-root", str(self._artifacts)]
        # The database through the environment (FML_* is read like its flags), not the command
        # line, which every local user can read: a PostgreSQL URI carries its password.
        env = _child_env(self.workdir, {"FML_DATABASE_URI": self.database_uri})
        self._launch(cmd, env, lambda: _api_ok(self.uri), self.start_timeout_s)

    def disk_bytes(self) -> int | None:
        """Database (with its WAL files) plus artifacts; None when the database is PostgreSQL."""
        if not self.database_uri.startswith("sqlite"):
            return None
        files = [p for p in self.workdir.glob("fasttrackml.db*") if p.is_file()]
        artifacts = _dir_bytes(self._artifacts) if self._artifacts.exists() else 0
        return sum(p.stat().st_size for p in files) + artifacts


class ExternalTrackingServer(Service):
    """A team's own MLflow-API server: health-checked, never started or stopped by the harness.
    The password, if any, is used for the check and not echoed in ``endpoints()``."""

    name = "external-tracking"

    def __init__(self, workdir: Path, log_dir: Path, tracking_uri: str,
                 auth: tuple[str, str] | None = None, timeout_s: float = 15.0) -> None:
        super().__init__(workdir, log_dir)
        self.tracking_uri = tracking_uri.rstrip("/")
        self.auth = auth
        self.timeout_s = timeout_s

    def start(self) -> None:
        wait_until(lambda: _api_ok(self.tracking_uri, self.auth), self.timeout_s,
                   f"{self.name} at {redacted_uris(self.tracking_uri)}", self.log_path)

    def stop(self) -> None:
        """Not ours to stop."""

    def endpoints(self) -> dict[str, str]:
        return {"tracking_uri": self.tracking_uri}
