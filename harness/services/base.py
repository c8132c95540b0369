"""What every harness-managed service provides: start, health, stop, endpoints, its own cost."""

from __future__ import annotations

import abc
import contextlib
import os
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import psutil

from harness.measure.netguard import GuardLog
from harness.measure.proctree import stop_processes

LOOPBACK = "127.0.0.1"


class ServiceError(RuntimeError):
    """A service did not start or answer; the message carries the tail of its log."""


_GIVEN_PORTS: set[int] = set()
_PORTS_LOCK = threading.Lock()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now and was not handed out before by this
    process: servers started side by side cannot be given the same one before either binds."""
    with _PORTS_LOCK:
        while True:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                sock.bind((LOOPBACK, 0))
                port = sock.getsockname()[1]
            if port not in _GIVEN_PORTS:
                _GIVEN_PORTS.add(port)
                return port


def log_tail(path: Path, chars: int = 1500) -> str:
    try:
        return path.read_text(errors="replace")[-chars:]
    except OSError:
        return ""


def error_text(exc: BaseException) -> str:
    """A ServiceError's own message (written for the reader), else the error's type and message:
    "ModuleNotFoundError: No module named 'psycopg'" says more than the message alone."""
    return str(exc) if isinstance(exc, ServiceError) else f"{type(exc).__name__}: {exc}"


# Health-check errors that no amount of waiting fixes: a driver that is not installed, a bug in
# the check itself. Anything else (refused, reset, not ready yet) is retried until the timeout.
UNFIXABLE = (ImportError, TypeError, AttributeError, NameError)


def wait_until(check: Callable[[], bool], timeout_s: float, what: str, log: Path,
               alive: Callable[[], bool] = lambda: True, interval_s: float = 0.2) -> None:
    """Poll ``check`` until it is true; raise ServiceError (with the log tail) on timeout or
    death, and at once on an ``UNFIXABLE`` error, which would otherwise cost the whole timeout."""
    deadline = time.monotonic() + timeout_s
    last = ""
    while time.monotonic() < deadline:
        if not alive():
            raise ServiceError(f"{what} exited during start-up:\n{log_tail(log)}")
        try:
            if check():
                return
            last = ""
        except UNFIXABLE as exc:
            raise ServiceError(f"{what}: health check cannot pass ({error_text(exc)}):\n"
                               f"{log_tail(log)}") from exc
        except Exception as exc:  # noqa: BLE001 - not up yet: retried, and named on timeout
            last = f" (last check: {error_text(exc)})"
        time.sleep(interval_s)
    raise ServiceError(f"{what} not healthy after {timeout_s:.0f} s{last}:\n{log_tail(log)}")


def port_open(port: int, host: str = LOOPBACK) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def tree(pid: int) -> list[psutil.Process]:
    """The process and its descendants (empty when it is gone)."""
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.Error:
        return []


def stop_tree(pid: int, grace_s: float = 10.0) -> None:
    """SIGTERM the process and its descendants, SIGKILL what is left after the grace period."""
    stop_processes(tree(pid), grace_s)


def spawn(cmd: Sequence[str], log: Path, env: Mapping[str, str] | None = None,
          cwd: Path | None = None) -> subprocess.Popen:
    """Start a service process in its own session, output appended to ``log``."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        return subprocess.Popen(list(cmd), stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True,
                                env=dict(env if env is not None else os.environ), cwd=cwd)


class Service(abc.ABC):
    """One managed service. ``start`` returns only once it answers; ``stop`` is idempotent."""

    name: str  # the class's; an instance may be given its own (two of a kind side by side)

    def __init__(self, workdir: Path, log_dir: Path, name: str | None = None) -> None:
        if name:
            self.name = name
        self.workdir = workdir  # its data (database files, bucket volume, ...)
        self.log_path = log_dir / f"{self.name}.log"
        self._proc: subprocess.Popen | None = None  # the process we started (None: external)
        self.network: GuardLog | None = None  # what the offline guard caught (Python services)

    @abc.abstractmethod
    def start(self) -> None: ...

    @abc.abstractmethod
    def stop(self) -> None: ...

    def pids(self) -> list[int]:
        """Root process ids whose trees are this service's cost (empty if external or gone)."""
        return [self._proc.pid] if self._proc is not None and self._proc.poll() is None else []

    def _stop_process(self, grace_s: float = 10.0) -> subprocess.Popen | None:
        """Stop the process we started and its tree; returns it (None if there was none)."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:  # once reaped, the pid may be reused
            stop_tree(proc.pid, grace_s)
            proc.wait(timeout=10)
        return proc

    @abc.abstractmethod
    def endpoints(self) -> dict[str, str]:
        """What clients need to reach it (URIs, credentials), JSON-able strings."""

    def disk_bytes(self) -> int | None:
        """Bytes the service keeps for the runs (database size, bucket size); None if unknown or
        if it cannot be read now (the service down or not answering). It never raises for a
        service that does not answer: a size is not worth the run."""
        return None

    def __enter__(self) -> Service:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class ServerProcess(Service):
    """A server process the harness spawned and stops by pid (MLflow's, FastTrackML's, Aim's);
    ``startup_s`` is spawn-to-healthy.

    ``kill`` and ``restart`` are the server-outage check: a crash of the server (SIGKILL of its
    whole tree, no clean shutdown), then the same server again on the same port and stores.
    """

    startup_s: float | None = None

    def __init__(self, workdir: Path, log_dir: Path, name: str | None = None) -> None:
        super().__init__(workdir, log_dir, name)
        self.port: int | None = None
        self._keep_port = False

    def _next_port(self) -> int:
        return self.port if self._keep_port and self.port else free_port()

    def kill(self) -> None:
        """SIGKILL the server and its descendants at once, as a crash or an OOM kill would."""
        proc = self._proc
        if proc is None or proc.poll() is not None:
            return
        members = tree(proc.pid)
        for member in members:
            with contextlib.suppress(psutil.Error):
                member.kill()
        psutil.wait_procs(members, timeout=10)
        proc.wait(timeout=10)

    def restart(self) -> None:
        """Start again (after :meth:`kill`) on the same port with the same backend stores."""
        self._proc = None
        self._keep_port = True
        try:
            self.start()
        finally:
            self._keep_port = False

    @property
    def uri(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def _launch(self, cmd: list[str], env: dict[str, str], healthy: Callable[[], bool],
                timeout_s: float) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        self._proc = spawn(cmd, self.log_path, env=env, cwd=self.workdir)
        try:
            wait_until(healthy, timeout_s, self.name, self.log_path,
                       alive=lambda: self._proc is not None and self._proc.poll() is None)
        except ServiceError:
            self.stop()
            raise
        self.startup_s = time.monotonic() - started

    def stop(self) -> None:
        self._stop_process()

    def endpoints(self) -> dict[str, str]:
        return {"tracking_uri": self.uri}
