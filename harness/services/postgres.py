"""PostgreSQL for MLflow's backend store: the binaries bundled in ``pgserver``, run by hand.

pgserver's own API listens on a unix socket only and, as root, adds a system user and opens up
directory permissions; so the harness runs its ``initdb`` and ``postgres`` directly, TCP on
127.0.0.1 only (no unix socket at all), data under ``workdir``. ``ExternalPostgres`` is a team's
own database, which the harness only health-checks.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import pwd
import shutil
import signal
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

from harness.services.base import (
    LOOPBACK,
    Service,
    ServiceError,
    free_port,
    log_tail,
    spawn,
    stop_tree,
    wait_until,
)

if TYPE_CHECKING:
    import psycopg

USER = "postgres"
DATABASE = "mlflow"
DRIVER = "postgresql+psycopg"  # SQLAlchemy 2 maps a bare postgresql:// to psycopg2


def _bin_dir() -> Path:
    spec = importlib.util.find_spec("pgserver")  # found, not imported: its import has side effects
    if spec is None or not spec.submodule_search_locations:
        raise ServiceError("embedded PostgreSQL needs the pgserver package (pip install pgserver)")
    return Path(spec.submodule_search_locations[0]) / "pginstall" / "bin"


def _unprivileged() -> list[str]:
    """Command prefix that drops root, which postgres refuses to run as (containers, CI): user
    nobody, keeping only CAP_DAC_OVERRIDE so it can reach a data dir below root's 0700 temp
    dirs. Empty when not root."""
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        raise ServiceError("postgres refuses to run as root and setpriv (util-linux) is missing")
    nobody = pwd.getpwnam("nobody")
    return ["setpriv", f"--reuid={nobody.pw_uid}", f"--regid={nobody.pw_gid}", "--clear-groups",
            "--inh-caps=+dac_override", "--ambient-caps=+dac_override"]


def _libpq(uri: str) -> str:
    """The libpq form of a SQLAlchemy URI (psycopg does not know ``+driver`` schemes)."""
    scheme, rest = uri.split("://", 1)
    return f"postgresql://{rest}" if scheme.startswith("postgres") else uri


def _connect(conninfo: str, autocommit: bool = False) -> psycopg.Connection:
    import psycopg  # imported here: only the PostgreSQL scenarios need it

    return psycopg.connect(conninfo, connect_timeout=5, autocommit=autocommit)


def _select_1(conninfo: str) -> bool:
    with _connect(conninfo) as conn:
        return conn.execute("select 1").fetchone() == (1,)


class PostgresService(Service):
    """A private PostgreSQL 16 cluster on a free loopback port; trust auth (loopback only)."""

    name = "postgres"

    def __init__(self, workdir: Path, log_dir: Path, start_timeout_s: float = 60.0,
                 stop_timeout_s: float = 20.0) -> None:
        super().__init__(workdir, log_dir)
        self.start_timeout_s = start_timeout_s
        self.stop_timeout_s = stop_timeout_s
        self.port: int | None = None

    def _conninfo(self, database: str) -> str:
        return f"postgresql://{USER}@{LOOPBACK}:{self.port}/{database}"

    def _initdb(self, data: Path) -> None:
        """A new cluster, unless ``data`` already holds one. No fsync: scratch data."""
        if (data / "PG_VERSION").exists():
            return
        cmd = [*_unprivileged(), str(_bin_dir() / "initdb"), "-D", str(data), "-U", USER,
               "--auth=trust", "--encoding=UTF8", "--no-locale", "--no-sync"]
        proc = spawn(cmd, self.log_path, cwd=self.workdir)
        try:
            code: int | str = proc.wait(self.start_timeout_s)
        except subprocess.TimeoutExpired:
            stop_tree(proc.pid)  # reaps it: Popen would then report exit code 0
            proc.wait()
            code = f"no result after {self.start_timeout_s:.0f} s"
        if code != 0:
            raise ServiceError(f"initdb failed ({code}):\n{log_tail(self.log_path)}")

    def _create_database(self) -> None:
        with _connect(self._conninfo("postgres"), autocommit=True) as conn:
            if conn.execute("select 1 from pg_database where datname = %s",
                            (DATABASE,)).fetchone() is None:
                conn.execute(f'create database "{DATABASE}"')

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        data = self.workdir / "pgdata"
        self._initdb(data)
        self.port = free_port()
        # -k '': no unix socket, so no socket path (length limit, /tmp) and TCP is the only way in;
        # dynamic shared memory in pgdata/pg_dynshmem, not /dev/shm (left there if it is killed).
        cmd = [*_unprivileged(), str(_bin_dir() / "postgres"), "-D", str(data),
               "-h", LOOPBACK, "-p", str(self.port), "-k", "",
               "-c", "dynamic_shared_memory_type=mmap"]
        self._proc = spawn(cmd, self.log_path, cwd=self.workdir)
        try:
            wait_until(lambda: _select_1(self._conninfo("postgres")), self.start_timeout_s,
                       self.name, self.log_path,
                       alive=lambda: self._proc is not None and self._proc.poll() is None)
            self._create_database()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Fast shutdown (SIGINT: sessions rolled back, a checkpoint, exit), then the tree by
        force if it is still there."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.send_signal(signal.SIGINT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(self.stop_timeout_s)
        self._stop_process()

    def endpoints(self) -> dict[str, str]:
        return {"postgres_uri": f"{DRIVER}://{USER}@{LOOPBACK}:{self.port}/{DATABASE}"}

    def disk_bytes(self) -> int | None:
        """Size of the ``mlflow`` database (not the cluster's catalogs and WAL)."""
        if not self.pids():
            return None
        with _connect(self._conninfo("postgres")) as conn:
            row = conn.execute("select pg_database_size(%s)", (DATABASE,)).fetchone()
        return int(row[0]) if row else None


class ExternalPostgres(Service):
    """A team's own database: health-checked, never started, stopped or written by the harness."""

    name = "external-postgres"

    def __init__(self, workdir: Path, log_dir: Path, uri: str) -> None:
        super().__init__(workdir, log_dir)
        scheme, rest = uri.split("://", 1)
        self.uri = f"{DRIVER}://{rest}" if scheme in ("postgresql", "postgres") else uri

    def start(self) -> None:
        import psycopg

        try:
            _select_1(_libpq(self.uri))
        except psycopg.Error as exc:
            raise ServiceError(f"{self.name}: select 1 failed: {exc}") from exc

    def stop(self) -> None:
        """Not ours to stop."""

    def endpoints(self) -> dict[str, str]:
        return {"postgres_uri": self.uri}
