"""PostgreSQL for MLflow's backend store: the binaries bundled in ``pgserver``, run by hand.

pgserver's own API listens on a unix socket only and, as root, adds a system user and opens up
directory permissions; so the harness runs its ``initdb`` and ``postgres`` directly, TCP on
127.0.0.1 only (no unix socket at all), password authentication with a per-run password (any
local user can reach a loopback port). As root, postgres (which refuses root) runs as ``nobody``
with no capability, in a data directory ``nobody`` owns; otherwise as the current user, data under
``workdir``. ``ExternalPostgres`` is a team's own database, which the harness only health-checks.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import pwd
import secrets
import shutil
import signal
import stat
import subprocess
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from harness.plan import REDACTED, redacted_uris
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
# A database for the other tools that write to PostgreSQL themselves (MLtraq): their tables
# (MLtraq's ``experiments``) would clash with MLflow's in the first.
TOOLS_DATABASE = "tools"
DRIVER = "postgresql+psycopg"  # SQLAlchemy 2 maps a bare postgresql:// to psycopg2


def _bin_dir() -> Path:
    spec = importlib.util.find_spec("pgserver")  # found, not imported: its import has side effects
    if spec is None or not spec.submodule_search_locations:
        raise ServiceError("embedded PostgreSQL needs the pgserver package (pip install pgserver)")
    return Path(spec.submodule_search_locations[0]) / "pginstall" / "bin"


def _nobody() -> pwd.struct_passwd | None:
    """The user postgres runs as when the harness is root; None: the current user."""
    return pwd.getpwnam("nobody") if os.geteuid() == 0 else None


def _unprivileged() -> list[str]:
    """Command prefix that drops root, which postgres refuses to run as (containers, CI), for
    good: user nobody, no supplementary groups and, since setuid from root clears them, no
    capabilities. Empty when not root."""
    user = _nobody()
    if user is None:
        return []
    if shutil.which("setpriv") is None:
        raise ServiceError("postgres refuses to run as root and setpriv (util-linux) is missing")
    return ["setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--clear-groups"]


def _libpq(uri: str) -> str:
    """The libpq form of a SQLAlchemy URI (psycopg does not know ``+driver`` schemes)."""
    scheme, rest = uri.split("://", 1)
    return f"postgresql://{rest}" if scheme.startswith("postgres") else uri


def connect(conninfo: str, autocommit: bool = False) -> psycopg.Connection:
    import psycopg  # imported here: only the PostgreSQL scenarios need it

    return psycopg.connect(conninfo, connect_timeout=5, autocommit=autocommit)


def _select_1(conninfo: str) -> bool:
    with connect(conninfo) as conn:
        return conn.execute("select 1").fetchone() == (1,)


class PostgresService(Service):
    """A private PostgreSQL 16 cluster on a free loopback port; scram-sha-256 with a random
    password, which ``endpoints()["postgres_uri"]`` carries."""

    name = "postgres"

    def __init__(self, workdir: Path, log_dir: Path, start_timeout_s: float = 60.0,
                 stop_timeout_s: float = 20.0, name: str | None = None) -> None:
        super().__init__(workdir, log_dir, name)
        self.start_timeout_s = start_timeout_s
        self.stop_timeout_s = stop_timeout_s
        self.port: int | None = None
        self.password = secrets.token_urlsafe(24)  # URL-safe: goes into URIs unquoted
        self.data_dir: Path | None = None
        self._own_dir: Path | None = None  # as root: nobody's directory outside workdir

    def _conninfo(self, database: str) -> str:
        return f"postgresql://{USER}:{self.password}@{LOOPBACK}:{self.port}/{database}"

    def _home(self) -> Path:
        """Where the cluster lives. As root, a 0700 directory of nobody's own in the system's
        temporary directory, since nobody cannot traverse root's 0700 ones; else ``workdir``."""
        user = _nobody()
        if user is None:
            return self.workdir
        self._own_dir = Path(tempfile.mkdtemp(prefix="tb-pg-"))
        os.chown(self._own_dir, user.pw_uid, user.pw_gid)
        if closed := [p for p in self._own_dir.parents if not p.stat().st_mode & stat.S_IXOTH]:
            raise ServiceError(f"user nobody cannot reach {self._own_dir} ({closed[0]} is not "
                               "world-searchable): point TMPDIR elsewhere")
        return self._own_dir

    def _write_pwfile(self, path: Path) -> None:
        """The password for initdb, readable by the user postgres runs as only."""
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(self.password + "\n")
        if (user := _nobody()) is not None:
            os.chown(path, user.pw_uid, user.pw_gid)

    def _initdb(self, data: Path) -> None:
        """A new cluster, unless ``data`` already holds one; password auth on every line of
        pg_hba.conf (no ``trust``). No fsync: scratch data."""
        if (data / "PG_VERSION").exists():
            return
        pwfile = data.parent / "initdb-pwfile"
        self._write_pwfile(pwfile)
        cmd = [*_unprivileged(), str(_bin_dir() / "initdb"), "-D", str(data), "-U", USER,
               f"--pwfile={pwfile}", "--auth-host=scram-sha-256", "--auth-local=scram-sha-256",
               "--encoding=UTF8", "--no-locale", "--no-sync"]
        try:
            proc = spawn(cmd, self.log_path, cwd=data.parent)
            try:
                code: int | str = proc.wait(self.start_timeout_s)
            except subprocess.TimeoutExpired:
                stop_tree(proc.pid)  # reaps it: Popen would then report exit code 0
                proc.wait()
                code = f"no result after {self.start_timeout_s:.0f} s"
        finally:
            pwfile.unlink()
        if code != 0:
            raise ServiceError(f"initdb failed ({code}):\n{log_tail(self.log_path)}")

    def _create_database(self) -> None:
        with connect(self._conninfo("postgres"), autocommit=True) as conn:
            for name in (DATABASE, TOOLS_DATABASE):
                if conn.execute("select 1 from pg_database where datname = %s",
                                (name,)).fetchone() is None:
                    conn.execute(f'create database "{name}"')

    def start(self) -> None:
        """Start, or leave nothing behind (process, nobody's directory)."""
        try:
            self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        home = self._home()
        self.data_dir = data = home / "pgdata"
        self._initdb(data)
        self.port = free_port()
        # -k '': no unix socket, so no socket path (length limit, /tmp) and TCP is the only way in;
        # dynamic shared memory in pgdata/pg_dynshmem, not /dev/shm (left there if it is killed).
        cmd = [*_unprivileged(), str(_bin_dir() / "postgres"), "-D", str(data),
               "-h", LOOPBACK, "-p", str(self.port), "-k", "",
               "-c", "dynamic_shared_memory_type=mmap"]
        self._proc = spawn(cmd, self.log_path, cwd=home)
        wait_until(lambda: _select_1(self._conninfo("postgres")), self.start_timeout_s,
                   self.name, self.log_path,
                   alive=lambda: self._proc is not None and self._proc.poll() is None)
        self._create_database()

    def stop(self) -> None:
        """Fast shutdown (SIGINT: sessions rolled back, a checkpoint, exit), then the tree by
        force if it is still there; as root, nobody's directory (the whole cluster) removed."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.send_signal(signal.SIGINT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(self.stop_timeout_s)
        self._stop_process()
        if self._own_dir is not None:
            shutil.rmtree(self._own_dir, ignore_errors=True)
            self._own_dir = None

    def endpoints(self) -> dict[str, str]:
        server = f"{DRIVER}://{USER}:{self.password}@{LOOPBACK}:{self.port}"
        return {"postgres_uri": f"{server}/{DATABASE}",
                "tools_postgres_uri": f"{server}/{TOOLS_DATABASE}"}

    def disk_bytes(self) -> int | None:
        """Size of the ``mlflow`` and ``tools`` databases (not the cluster's catalogs and
        WAL)."""
        sizes = [self.database_bytes(name) for name in (DATABASE, TOOLS_DATABASE)]
        return None if None in sizes else sum(s for s in sizes if s is not None)

    def database_bytes(self, name: str) -> int | None:
        """Size of database ``name``; None when the server is down."""
        if not self.pids():
            return None
        with connect(self._conninfo("postgres")) as conn:
            row = conn.execute("select pg_database_size(%s)", (name,)).fetchone()
        return int(row[0]) if row and row[0] is not None else None

    def fresh_database(self, name: str) -> str:
        """A new, empty database ``name`` (dropped first if it exists): one store per load
        level. Returns its libpq URI (``postgresql://``; add the driver for SQLAlchemy)."""
        with connect(self._conninfo("postgres"), autocommit=True) as conn:
            conn.execute(f'drop database if exists "{name}" with (force)')
            conn.execute(f'create database "{name}"')
        return self._conninfo(name)

    def drop_database(self, name: str) -> None:
        if self.pids():
            with connect(self._conninfo("postgres"), autocommit=True) as conn:
                conn.execute(f'drop database if exists "{name}" with (force)')


class ExternalPostgres(Service):
    """A team's own database: health-checked, never started, stopped or written by the harness."""

    name = "external-postgres"

    def __init__(self, workdir: Path, log_dir: Path, uri: str) -> None:
        super().__init__(workdir, log_dir)
        scheme, rest = uri.split("://", 1)
        self.uri = f"{DRIVER}://{rest}" if scheme in ("postgresql", "postgres") else uri

    def _scrubbed(self, message: str) -> str:
        """A libpq error, which may quote the URI or a piece of it (an unparsable password),
        without the password: the error goes into results.json."""
        userinfo = self.uri.partition("://")[2].split("/", 1)[0].rpartition("@")[0]
        password = userinfo.partition(":")[2]
        return redacted_uris(message.replace(password, REDACTED) if password else message)

    def start(self) -> None:
        import psycopg

        try:
            _select_1(_libpq(self.uri))
        except psycopg.Error as exc:
            raise ServiceError(f"{self.name}: select 1 failed: {self._scrubbed(str(exc))}") \
                from None

    def stop(self) -> None:
        """Not ours to stop."""

    def endpoints(self) -> dict[str, str]:
        return {"postgres_uri": self.uri}
