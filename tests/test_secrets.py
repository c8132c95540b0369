"""Credentials given to the harness stay out of what it writes and of other users' ``ps``.

results.json and REPORT.md get shared (CI artefacts, pull requests), and every local user can read
process command lines; so neither may hold a team's S3 keys, a database password, or the
embedded PostgreSQL's per-run password.
"""

from __future__ import annotations

import importlib.util
import json
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from harness import runner
from harness.plan import redacted_argv
from harness.services.base import ServiceError, free_port
from harness.services.mlflow_server import ExternalTrackingServer
from harness.services.postgres import ExternalPostgres

ROOT = Path(__file__).resolve().parent.parent


def _files_holding(root: Path, needles: list[str]) -> dict[str, list[str]]:
    """Files under ``root`` (relative path) and which of ``needles`` each contains."""
    found: dict[str, list[str]] = {}
    for path in root.rglob("*"):
        if path.is_file():
            text = path.read_bytes().decode(errors="replace")
            if hits := [n for n in needles if n in text]:
                found[str(path.relative_to(root))] = hits
    return found


@pytest.mark.parametrize("argv, expected", [
    (["--s3-secret-key", "K1", "--s3-access-key", "A1"],
     ["--s3-secret-key", "***", "--s3-access-key", "***"]),
    (["--s3-secret-key=K1", "--s3-access-key=A1"], ["--s3-secret-key=***", "--s3-access-key=***"]),
    (["--s3-sec", "K1", "--s3-a=A1"], ["--s3-sec", "***", "--s3-a=***"]),  # argparse prefixes
    (["--trackbench-s3-secret-key", "K1"], ["--trackbench-s3-secret-key", "***"]),
    (["--postgres-uri", "postgresql://u:pw@db:5432/x"],
     ["--postgres-uri", "postgresql://u:***@db:5432/x"]),
    (["--postgres-uri=postgresql+psycopg://u:p@ss@db/x"],  # an unescaped @ in the password
     ["--postgres-uri=postgresql+psycopg://u:***@db/x"]),
    (["--tracking-uri", "http://u:pw@h:5000"], ["--tracking-uri", "http://u:***@h:5000"]),
    (["postgresql://db/x?user=u&password=pw&sslmode=require"],
     ["postgresql://db/x?user=u&password=***&sslmode=require"]),
    (["--tracking-uri", "http://u@h", "--s3-bucket", "b", "--repeats", "3"],
     ["--tracking-uri", "http://u@h", "--s3-bucket", "b", "--repeats", "3"]),
    (["--s3-secret-key"], ["--s3-secret-key"]),
])
def test_redacted_argv(argv: list[str], expected: list[str]) -> None:
    assert redacted_argv(["trackbench", "run", *argv]) == ["trackbench", "run", *expected]


def test_sweeps_file_records_a_redacted_argv(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "argv", ["trackbench", "sweep", "--x", "http://u:SWEEPPW@h"])
    saved: list[dict] = []
    monkeypatch.setattr(runner, "run_stages",
                        lambda _stages, _plan, _pairs, data, *_: saved.append(data) or data)
    runner.sweep(["tests.fakes:JsonFileAdapter"], ["points"], quick=True)
    assert saved[0]["invocation"]["argv"] == ["trackbench", "sweep", "--x", "http://u:***@h"]


@pytest.mark.skipif(importlib.util.find_spec("psycopg") is None, reason="pip install psycopg")
@pytest.mark.parametrize("uri", ["postgresql://u:SEC RETPW@127.0.0.1:9/db",  # libpq quotes it
                                 "postgresql://u:SECRETPW@[::1/db",  # libpq quotes the URI
                                 "postgresql://u:SECRETPW@127.0.0.1:9/db"])
def test_external_postgres_error_quotes_no_password(uri: str, tmp_path: Path) -> None:
    """Its message is what results.json records for the cells that needed it."""
    with pytest.raises(ServiceError) as failed:
        ExternalPostgres(tmp_path, tmp_path, uri).start()
    assert "select 1 failed" in str(failed.value) and "RETPW" not in str(failed.value)


def test_external_tracking_server_error_quotes_no_password(tmp_path: Path) -> None:
    server = ExternalTrackingServer(tmp_path, tmp_path, f"http://u:TRKPW@127.0.0.1:{free_port()}",
                                    timeout_s=0.5)
    with pytest.raises(ServiceError) as failed:
        server.start()
    assert "http://u:***@127.0.0.1:" in str(failed.value) and "TRKPW" not in str(failed.value)


def test_cli_writes_no_secret_under_its_output_directory(tmp_path: Path) -> None:
    """The external-service flags are recorded (invocation, argv, resumed argv), never their
    secrets; the run needs none of those services, so they point at a closed loopback port."""
    pg_pw, s3_secret, s3_access, trk_pw = (f"tb{name}{secrets.token_hex(8)}"
                                           for name in ("pg", "s3s", "s3a", "trk"))
    out = tmp_path / "out"
    args = [sys.executable, "-m", "harness.cli", "run",
            "--tools", "tests.fakes:JsonFileAdapter", "--scenarios", "first", "--repeats", "1",
            "--no-probes", "--no-reliability", "--workload", "tests.fakes:small_workload",
            "--postgres-uri", f"postgresql://tbuser:{pg_pw}@127.0.0.1:9/mlflow",
            "--s3-endpoint", "http://127.0.0.1:9", f"--s3-secret-key={s3_secret}",
            "--s3-access-key", s3_access,
            "--tracking-uri", f"http://tbuser:{trk_pw}@127.0.0.1:9", "--out", str(out)]
    needles = [pg_pw, s3_secret, s3_access, trk_pw]
    for extra in ([], ["--resume"]):
        run = subprocess.run([*args, *extra], cwd=ROOT, capture_output=True, text=True,
                             timeout=300)
        assert run.returncode == 0, run.stderr
        assert not [n for n in needles if n in run.stdout + run.stderr]
        data = json.loads((out / "results.json").read_text())
        if not extra:  # as if interrupted before its cells: the resume runs them, with its argv
            data["cells"] = []
            (out / "results.json").write_text(json.dumps(data))
    assert [c["status"] for c in data["cells"] if c["tool"] == "tests.fakes:JsonFileAdapter"] \
        == ["ok"]
    assert "--s3-access-key" in data["invocation"]["argv"] and len(data["resumed"]) == 1
    assert data["invocation"]["external"] == sorted(
        ["postgres_uri", "s3_endpoint", "s3_secret_key", "s3_access_key", "tracking_uri"])
    assert (out / "REPORT.md").exists()
    assert _files_holding(out, needles) == {}


# The embedded PostgreSQL's per-run password: checked on the running stack in
# tests/test_scenarios.py::test_scenario_3_postgres_s3_end_to_end (its ~20 s start is paid once).
