"""Service faults that must cost one service, cell or stage record, never the run: a start that
raises anything, a health check that can never pass, a server that does not come back after the
outage, a size query against a service that does not answer."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

import pytest

from harness.plan import Plan
from harness.services.base import Service, ServiceError, free_port, wait_until
from harness.services.pool import ServicePool
from harness.stages import server_outage
from tests.contexts import stage_context
from tests.fakes import JournalAdapter

SERVER = "mlflow-server-sqlite"
FAKE_TOOL = f"{__name__}:ServerJournalAdapter"


class OperationalError(Exception):
    """Stands in for psycopg.OperationalError (a driver error, not an OSError)."""


class ServerJournalAdapter(JournalAdapter):
    """The journal fake, with two scenarios that both need the same tracking server."""

    name = "server-journal"
    scenarios = ("server", "server-again")
    scenario_services: ClassVar[dict[str, tuple[str, ...]]] = {
        "server": (SERVER,), "server-again": (SERVER,)}


class FakeServer(Service):
    """A tracking server in name only: counts its starts and stops; start, stop and restart
    raise what the test says."""

    name = SERVER

    def __init__(self, workdir: Path, log_dir: Path, start_error: BaseException | None = None,
                 stop_error: BaseException | None = None,
                 restart_error: BaseException | None = None) -> None:
        super().__init__(workdir, log_dir)
        self.start_error, self.stop_error = start_error, stop_error
        self.restart_error = restart_error
        self.starts = self.stops = 0
        self.up = False

    def start(self) -> None:
        self.starts += 1
        if self.start_error is not None:
            raise self.start_error
        self.up = True

    def stop(self) -> None:
        self.stops += 1
        self.up = False
        if self.stop_error is not None:
            raise self.stop_error

    def kill(self) -> None:
        self.up = False

    def restart(self) -> None:
        if self.restart_error is not None:
            raise self.restart_error
        self.up = True

    def pids(self) -> list[int]:
        return [os.getpid()] if self.up else []

    def endpoints(self) -> dict[str, str]:
        return {"tracking_uri": "http://127.0.0.1:9"}


class FakePool(ServicePool):
    """Builds one FakeServer (``make``) for every name; ``built`` keeps them."""

    def __init__(self, root: Path, make: Any) -> None:
        super().__init__(root / "svc", root / "logs", {}, progress=lambda _: None)
        self.make = make
        self.built: list[FakeServer] = []

    def _build(self, name: str, upstream: Mapping[str, str]) -> Service:
        service = self.make(self.root / name, self.log_dir)
        self.built.append(service)
        return service


START_ERRORS = [
    (PermissionError(13, "Permission denied", "/opt/fml"), "PermissionError"),
    (ModuleNotFoundError("No module named 'psycopg'"), "ModuleNotFoundError"),
    (OperationalError("connection to server at 127.0.0.1 failed"), "OperationalError"),
]


@pytest.mark.parametrize(("error", "kind"), START_ERRORS, ids=[k for _, k in START_ERRORS])
def test_any_start_error_fails_that_service_once(error: BaseException, kind: str,
                                                 tmp_path: Path) -> None:
    pool = FakePool(tmp_path, lambda w, logs: FakeServer(w, logs, start_error=error))
    with pytest.raises(ServiceError) as first:
        pool.get([SERVER])
    assert kind in str(first.value) and str(error) in str(first.value)
    (service,) = pool.built
    assert service.stops == 1  # stopped: whatever it had spawned is not left running
    with pytest.raises(ServiceError) as again:
        pool.get([SERVER])
    assert str(again.value) == str(first.value)
    assert len(pool.built) == 1 and service.starts == 1  # not built or tried again


def test_a_build_error_fails_that_service(tmp_path: Path) -> None:
    def make(_workdir: Path, _logs: Path) -> FakeServer:
        raise KeyError("postgres_uri")

    pool = FakePool(tmp_path, make)
    for _ in range(2):
        with pytest.raises(ServiceError, match=f"{SERVER}: KeyError: 'postgres_uri'"):
            pool.get([SERVER])


def test_a_failing_stop_after_a_failed_start_is_added_to_the_reason(tmp_path: Path) -> None:
    pool = FakePool(tmp_path, lambda w, logs: FakeServer(
        w, logs, start_error=OSError("spawn failed"), stop_error=TimeoutError("still running")))
    with pytest.raises(ServiceError, match="spawn failed.*stopping it failed.*still running"):
        pool.get([SERVER])


def test_a_missing_driver_fails_the_health_check_at_once(tmp_path: Path) -> None:
    def check() -> bool:
        raise ModuleNotFoundError("No module named 'psycopg'")

    began = time.monotonic()
    with pytest.raises(ServiceError, match="ModuleNotFoundError: No module named 'psycopg'"):
        wait_until(check, 5.0, "postgres", tmp_path / "postgres.log")
    assert time.monotonic() - began < 1.0


def test_a_programming_error_fails_the_health_check_at_once(tmp_path: Path) -> None:
    def check() -> bool:
        return None.rows  # type: ignore[attr-defined]

    began = time.monotonic()
    with pytest.raises(ServiceError, match="AttributeError"):
        wait_until(check, 5.0, "s3", tmp_path / "s3.log")
    assert time.monotonic() - began < 1.0


def test_connection_errors_are_retried_until_healthy(tmp_path: Path) -> None:
    calls = []

    def check() -> bool:
        calls.append(time.monotonic())
        if len(calls) <= 2:
            raise ConnectionRefusedError(111, "Connection refused")
        return True

    wait_until(check, 5.0, "s3", tmp_path / "s3.log", interval_s=0.01)
    assert len(calls) == 3


def test_a_timeout_names_the_last_check_error(tmp_path: Path) -> None:
    def check() -> bool:
        raise ConnectionRefusedError(111, "Connection refused")

    with pytest.raises(ServiceError, match="not healthy.*ConnectionRefusedError"):
        wait_until(check, 0.3, "s3", tmp_path / "s3.log", interval_s=0.05)


def test_a_service_marked_failed_is_stopped_and_not_handed_out(tmp_path: Path) -> None:
    pool = FakePool(tmp_path, FakeServer)
    (service,) = pool.get([SERVER]).values()
    pool.failed(SERVER, "did not come back after the outage: port in use")
    assert service.stops == 1
    with pytest.raises(ServiceError, match=f"{SERVER}: did not come back after the outage"):
        pool.get([SERVER])
    pool.close()
    assert service.stops == 1 and len(pool.built) == 1


RESTART_ERRORS = [ServiceError("mlflow-server-sqlite exited during start-up: port in use"),
                  PermissionError(13, "Permission denied", "/opt/fml")]


@pytest.mark.parametrize("error", RESTART_ERRORS, ids=lambda e: type(e).__name__)
def test_a_server_not_back_after_the_outage_fails_that_scenario_not_the_tool(
        error: BaseException, tmp_path: Path) -> None:
    data: dict[str, Any] = {"cells": [{"tool": "null", "status": "ok",
                                       "calls": {"metrics": {"n": 50}}}]}
    pairs = [(FAKE_TOOL, "server"), (FAKE_TOOL, "server-again")]
    ctx = stage_context(Plan(tools=[], workload="tests.fakes:small_workload", probes=False),
                        pairs, data, tmp_path)
    ctx.pool = FakePool(tmp_path, lambda w, logs: FakeServer(w, logs, restart_error=error))
    server_outage.run(ctx)
    first, second = data["reliability"]["outage"]
    assert first["status"] == "failed" and first.get("behaviour") is None
    assert "did not come back after the outage" in first["error"]
    assert str(error) in first["restart_error"]
    assert second["status"] == "failed"
    assert second["error"].startswith("service did not start: ")
    assert "did not come back after the outage" in second["error"]
    with pytest.raises(ServiceError, match="did not come back after the outage"):
        ctx.services(FAKE_TOOL, "server")


def test_outage_one_without_a_pool_still_records_the_failed_restart(tmp_path: Path) -> None:
    server = FakeServer(tmp_path / "svc", tmp_path / "logs",
                        restart_error=ServiceError("exited during start-up"))
    server.start()
    record = server_outage.outage_one(
        "tests.fakes:JournalAdapter", "default",
        Plan(tools=[], workload="tests.fakes:small_workload", probes=False),
        tmp_path, 20, {SERVER: server})
    assert record["status"] == "failed" and "exited during start-up" in record["restart_error"]
    assert "did not come back after the outage" in record["error"]


@pytest.fixture
def unreachable_s3(tmp_path: Path) -> Iterator[Any]:
    """An S3Service whose process is alive but whose port answers nothing."""
    pytest.importorskip("boto3")
    from harness.services.s3 import S3Service

    service = S3Service(tmp_path / "s3", tmp_path / "logs")
    service.port = free_port()
    service._proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield service
    service._proc.kill()
    service._proc.wait()


def test_s3_disk_bytes_is_none_when_the_endpoint_does_not_answer(unreachable_s3: Any) -> None:
    assert unreachable_s3.pids()
    assert unreachable_s3.disk_bytes() is None


def test_s3_disk_bytes_is_none_when_the_listing_is_refused(
        unreachable_s3: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from botocore.exceptions import ClientError

    from harness.services import s3

    class Refusing:
        def get_paginator(self, _name: str) -> Any:
            raise ClientError({"Error": {"Code": "NoSuchBucket", "Message": "gone"}},
                              "ListObjectsV2")

    monkeypatch.setattr(s3, "_client", lambda *_args: Refusing())
    assert unreachable_s3.disk_bytes() is None
