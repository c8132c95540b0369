"""MLflow's deployments end to end on real services (PostgreSQL, S3, tracking servers)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import psutil
import pytest

pytest.importorskip("mlflow", reason="mlflow is not installed (pip install .[tools])")

from adapters import mlflow as mlflow_adapter  # noqa: E402
from adapters.mlflow import MlflowAdapter  # noqa: E402
from harness.measure.cell import run_cell  # noqa: E402
from harness.plan import Cell, Plan  # noqa: E402
from harness.services.base import tree  # noqa: E402
from harness.services.pool import ServicePool  # noqa: E402
from tests.sandbox import interruptible  # noqa: E402
from tests.test_secrets import _files_holding  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
PLAN = Plan(tools=["mlflow"], workload="tests.fakes:small_workload", repeats=1, probes=False,
            timeout_s=180)


def _cmdline(proc: psutil.Process) -> str:
    try:
        return " ".join(proc.cmdline()).replace("-m mlflow server", "mlflow server")
    except psutil.Error:
        return ""


def _descendants() -> set[int]:
    return {p.pid for p in psutil.Process().children(recursive=True)}


def test_scenario_3_postgres_s3_end_to_end(tmp_path: Path) -> None:
    """One cell through the embedded stack, which also must keep its PostgreSQL password (made
    per run) out of every command line a local user's ``ps`` shows and of every file it writes
    (the stack takes ~20 s to start, so the secrecy check rides on this test)."""
    before = _descendants()
    logs = tmp_path / "logs"
    pool = ServicePool(tmp_path / "svc", logs, {}, progress=lambda _: None)
    try:
        services = pool.get(MlflowAdapter.scenario_services["server-postgres-s3"])
        password = urlsplit(services["postgres"].endpoints()["postgres_uri"]).password
        assert password and len(password) >= 20
        record = run_cell(Cell("mlflow", "server-postgres-s3"), PLAN, tmp_path, services)
        cmdlines = {proc.pid: _cmdline(proc) for service in services.values()
                    for pid in service.pids() for proc in tree(pid)}
    finally:
        pool.close()
    assert record["status"] == "ok", record["error"]
    fid = record["fidelity"]
    assert (fid["params"]["kept"], fid["points"]["kept"], fid["artifacts"]["kept"]) == (4, 100, 1)
    assert not any("differ" in note for note in record["notes"])  # bucket == served bytes
    server = record["services"]["mlflow-server-postgres-s3"]
    assert server["cpu_s"] > 0 and server["peak_rss_bytes"] > 50_000_000
    assert record["services"]["postgres"]["disk_bytes"] > 0
    assert record["services"]["s3"]["disk_bytes"] >= 1024  # the artifact's bytes
    assert _descendants() <= before
    assert any("mlflow server" in c for c in cmdlines.values())
    assert any("postgres" in c for c in cmdlines.values())
    assert {pid: c for pid, c in cmdlines.items() if password in c} == {}
    assert sorted(p.name for p in logs.iterdir()) == [
        "mlflow-server-postgres-s3.log", "postgres.log", "s3.log"]
    assert _files_holding(logs, [password]) == {}
    assert _files_holding(tmp_path / "svc", [password]) == {}  # the pwfile went after initdb


def test_an_unrelated_file_store_error_is_not_called_a_refusal(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Only MLflow's own refusal (naming the opt-in) may feed the seed claim about the file
    store; a disk or permission error is reported as what it is."""
    import mlflow

    class Broken:
        def __init__(self, uri: str) -> None:
            pass

        def search_experiments(self, **_: object) -> None:
            raise OSError("No space left on device")

    monkeypatch.setattr(mlflow, "MlflowClient", Broken)
    note = mlflow_adapter._file_store_refusal("file:///nowhere")
    assert "refuses" not in note
    assert "OSError" in note and "No space left on device" in note


def test_file_store_refusal_is_reported(tmp_path: Path) -> None:
    record = run_cell(Cell("mlflow", "file"), PLAN, tmp_path)
    assert record["status"] == "ok", record["error"]
    assert any("MLFLOW_ALLOW_FILE_STORE=true" in note for note in record["notes"])
    assert record["fidelity"]["points"]["kept"] == 100


def test_ctrl_c_with_a_tracking_server_leaves_nothing_running(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "trackbench"), "run", "--tools", "mlflow",
         "--scenarios", "server-sqlite", "--no-probes", "--repeats", "3",
         "--out", str(tmp_path / "out")],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        preexec_fn=interruptible,
    )
    seen: set[int] = set()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # wait until the server and a cell's worker both run
        kids = psutil.Process(proc.pid).children(recursive=True)
        seen |= {p.pid for p in kids}
        cmdlines = " ".join(_cmdline(p) for p in kids)
        if "mlflow server" in cmdlines and "harness.measure.worker" in cmdlines:
            break
        time.sleep(0.3)
    else:
        proc.kill()
        pytest.fail("the server scenario never started")
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=90)
    assert proc.returncode == 130, stderr
    alive = [p for p in seen if psutil.pid_exists(p)
             and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]
    assert alive == [], stderr


@pytest.mark.parametrize("scenario", ["sqlite+async", "sqlite+batch"])
def test_mitigation_variants_keep_every_value(tmp_path: Path, scenario: str) -> None:
    record = run_cell(Cell("mlflow", scenario), PLAN, tmp_path)
    assert record["status"] == "ok", record["error"]
    fid = record["fidelity"]
    assert (fid["params"]["kept"], fid["points"]["kept"], fid["artifacts"]["kept"]) == (4, 100, 1)
