"""Real tracking servers on loopback: MLflow and FastTrackML (the basic-auth app's probes run
in test_coverage's server scenario, the PostgreSQL password's secrecy in test_secrets).

One plain MLflow server is shared by the module (its start-up takes seconds); the last test on it
stops it and checks that nothing is left: no process, no listening port.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from harness.probes.rest import probe_rest_api
from harness.services.base import ServiceError, free_port, port_open, tree
from harness.services.mlflow_server import (
    ExternalTrackingServer,
    FastTrackMLServer,
    MlflowServer,
)

mlflow = pytest.importorskip("mlflow", reason="mlflow is not installed (pip install .[tools])")


@pytest.fixture(autouse=True)
def _quiet_client(monkeypatch: pytest.MonkeyPatch) -> None:
    """The client in this process sends no telemetry either."""
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    monkeypatch.setenv("DO_NOT_TRACK", "true")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    root = tmp_path_factory.mktemp("mlflow-server")
    srv = MlflowServer(root / "work", root / "logs")
    srv.start()
    yield srv
    srv.stop()


def _log_and_read_back(uri: str, scratch: Path) -> mlflow.entities.Run:
    client = mlflow.MlflowClient(tracking_uri=uri)
    exp_id = client.create_experiment(f"trackbench-{scratch.name}")
    run_id = client.create_run(exp_id).info.run_id
    client.log_param(run_id, "lr", 0.1)
    for step in range(3):
        client.log_metric(run_id, "loss", 1.0 / (step + 1), step=step)
    artifact = scratch / "notes.txt"
    artifact.write_text("hello from trackbench\n")
    client.log_artifact(run_id, str(artifact))
    client.set_terminated(run_id)
    history = client.get_metric_history(run_id, "loss")
    assert [(m.step, m.value) for m in history] == [(0, 1.0), (1, 0.5), (2, 1.0 / 3)]
    assert [a.path for a in client.list_artifacts(run_id)] == ["notes.txt"]
    back = Path(client.download_artifacts(run_id, "notes.txt", str(scratch / "down")))
    assert back.read_text() == "hello from trackbench\n"
    return client.get_run(run_id)


def test_client_logs_a_run_through_the_server(server: MlflowServer, tmp_path: Path) -> None:
    assert server.startup_s is not None and server.pids()
    run = _log_and_read_back(server.endpoints()["tracking_uri"], tmp_path)
    assert run.data.params == {"lr": "0.1"}
    assert run.info.status == "FINISHED"
    # Proxied artifacts: the client was handed an mlflow-artifacts: URI and the server wrote
    # the file into its own artifact directory.
    assert run.info.artifact_uri.startswith("mlflow-artifacts:")
    assert list((server.workdir / "artifacts").rglob("notes.txt"))
    assert server.disk_bytes() > 0


def _cmdlines(srv: MlflowServer) -> list[str]:
    """The command lines of the server's process tree, as any local user's ``ps`` sees them."""
    out = []
    for proc in tree(srv.pids()[0]):
        with contextlib.suppress(psutil.Error):
            out.append(" ".join(proc.cmdline()))
    return out


def test_backend_store_uri_is_not_on_the_command_line(server: MlflowServer) -> None:
    lines = _cmdlines(server)
    assert any("mlflow" in line and "server" in line for line in lines)
    assert [line for line in lines if server.backend_store_uri in line
            or "--backend-store-uri" in line] == []


def test_rest_probe(server: MlflowServer) -> None:
    probes = probe_rest_api(server.uri)
    by_key = {(p["method"], p["endpoint"].rsplit("mlflow", 1)[1]): p for p in probes}
    assert by_key["POST", "/runs/log-metric"]["outcome"] == "works"
    assert "read back" in by_key["POST", "/runs/log-metric"]["evidence"]
    assert by_key["POST", "/experiments/search"]["outcome"] == "works"
    assert by_key["POST", "/runs/delete"]["outcome"] == "works"
    # The seed's own claims are recorded whatever they turn out to be.
    for key in (("GET", "/experiments/list"), ("DELETE", "/runs/delete")):
        assert by_key[key]["named_in_seed"] and by_key[key]["outcome"] in ("works", "gone")
        assert by_key[key]["replaced_by"]


def test_external_server_is_only_health_checked(server: MlflowServer, tmp_path: Path) -> None:
    with ExternalTrackingServer(tmp_path, tmp_path, server.uri) as ext:
        assert ext.pids() == [] and ext.endpoints() == {"tracking_uri": server.uri}
    assert server.pids(), "stopping an external server must not touch it"
    dead = ExternalTrackingServer(tmp_path, tmp_path, f"http://127.0.0.1:{free_port()}",
                                  timeout_s=1)
    with pytest.raises(ServiceError):
        dead.start()


def test_stop_leaves_no_process_and_closes_the_port(server: MlflowServer) -> None:
    procs = tree(server.pids()[0])
    assert procs and port_open(server.port)
    server.stop()
    server.stop()  # idempotent
    assert server.pids() == []
    assert not [p.pid for p in procs if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert not port_open(server.port)


def test_fasttrackml_serves_the_mlflow_client(tmp_path: Path) -> None:
    srv = FastTrackMLServer(tmp_path / "work", tmp_path / "logs")
    if not Path(srv.binary).exists():
        pytest.skip(f"FastTrackML binary not installed ({srv.binary})")
    with srv:
        run = _log_and_read_back(srv.endpoints()["tracking_uri"], tmp_path)
        assert run.data.metrics == {"loss": pytest.approx(1.0 / 3)}
        pid = srv.pids()[0]
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    assert not port_open(srv.port)
