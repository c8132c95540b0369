"""Aim's remote tracking server, ``aim server``, run by the harness for the ``aim:server`` scenario.

The server keeps an Aim repository (``workdir/repo/.aim``) and speaks Aim's own client protocol:
HTTP under ``/client`` and ``/tracking`` plus a WebSocket for writes, ``/status`` for health. It
has no authentication option (its flags: host, port, repo, TLS files, base path, log level).

It does not carry artifact bytes: an Aim client copies them itself into the run's artifacts URI.
Clients are handed ``file://workdir/artifacts``, a directory of the server's host that stands for
the shared file system or bucket a team would mount, so the bytes count in the server's disk.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from harness.measure.cell import disk_bytes
from harness.measure.isolation import private_env
from harness.measure.netguard import GuardLog, guard_env
from harness.services.base import LOOPBACK, ServerProcess, ServiceError
from harness.services.http import http_json

HEALTH_PATH = "/status/"
AIM_ENV_PREFIX = "__AIM_"  # Aim's own settings; a user's would move the repository or base path


class AimServer(ServerProcess):
    """``aim server`` on a free loopback port, stopped by pid (its uvicorn child with it);
    ``kill``/``restart`` (the outage check) keep the port and the repository."""

    name = "aim-server"

    def __init__(self, workdir: Path, log_dir: Path, *, name: str | None = None,
                 binary: str | None = None, start_timeout_s: float = 60.0) -> None:
        super().__init__(workdir, log_dir, name)
        self.binary = binary or str(Path(sys.executable).with_name("aim"))
        self.start_timeout_s = start_timeout_s
        self.repo_root = workdir / "repo"
        self.artifacts = workdir / "artifacts"

    @property
    def uri(self) -> str:
        """What an Aim client is given: ``Run(repo="aim://host:port")``."""
        return f"aim://{LOOPBACK}:{self.port}"

    def _healthy(self) -> bool:
        status, body = http_json("GET", f"http://{LOOPBACK}:{self.port}{HEALTH_PATH}",
                                 timeout_s=2.0)
        return status == 200 and isinstance(body, dict) and body.get("status") == "OK"

    def start(self) -> None:
        if shutil.which(self.binary) is None:
            raise ServiceError(f"the aim command is not installed: {self.binary}")
        self.repo_root.mkdir(parents=True, exist_ok=True)  # --repo must exist; --yes inits it
        self.artifacts.mkdir(parents=True, exist_ok=True)
        self.port = self._next_port()
        cmd = [self.binary, "server", "--host", LOOPBACK, "--port", str(self.port),
               "--repo", str(self.repo_root), "--yes"]
        env = {k: v for k, v in private_env(self.workdir).items()
               if not k.startswith(AIM_ENV_PREFIX)}
        # The offline guard, as in the cells: a Python server phoning home is caught too.
        if self.network is None:  # a restart keeps reading where the last start left off
            self.network = GuardLog(self.workdir / "network.jsonl")
        self._launch(cmd, guard_env(env, self.network.path), self._healthy,
                     self.start_timeout_s)

    def endpoints(self) -> dict[str, str]:
        return {"aim_server_uri": self.uri, "aim_artifacts_uri": self.artifacts.as_uri()}

    def disk_bytes(self) -> int | None:
        """The repository and the artifacts store; never raises (files vanish mid-walk as
        RocksDB compacts, and are skipped)."""
        return disk_bytes(self.repo_root, self.artifacts)
