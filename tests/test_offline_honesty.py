"""Offline honesty: the guard records and blocks what reaches for the network, lets loopback
through, and the report says what the cells recorded."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from harness import report, runner
from harness.measure import netguard
from harness.measure.cell import run_cell
from harness.measure.proctree import run_monitored
from harness.plan import CRASH_AT, Cell, Plan
from harness.report import offline as report_offline
from harness.report.markdown import cell_label
from harness.report.page import Page
from harness.services.mlflow_server import MlflowServer

FAKES = "tests.fakes"
WORKLOAD = f"{FAKES}:small_workload"


def plan(**kw) -> Plan:
    return Plan(tools=[], workload=WORKLOAD, repeats=1, probes=False, **kw)


def results_with(*records: dict) -> dict:
    return {"cells": list(records), "probes": []}


def test_attempts_are_recorded_blocked_and_reported(tmp_path: Path) -> None:
    record = run_cell(Cell(f"{FAKES}:PhoneHomeAdapter", "default"), plan(), tmp_path)
    assert record["status"] == "ok", record["error"]  # the cell still completes...
    assert record["fidelity"]["points"]["kept"] == 100  # ...and keeps every value
    raised = dict(note.split(": ", 1) for note in record["notes"])
    assert "Network is unreachable" in raised["connect"]
    assert raised["resolve"].startswith("gaierror")
    assert "Network is unreachable" in raised["helper"]

    net = record["network"]
    found = {(a["phase"], a["event"], a["host"], a["port"]): a for a in net["attempts"]}
    assert set(found) == {
        ("log", "socket.connect", "203.0.113.1", 443),
        ("log", "socket.getaddrinfo", "telemetry.example.com", 443),
        ("log", "socket.connect", "198.51.100.7", 8080),
    }
    assert all(a["blocked"] and a["count"] == 1 for a in found.values())
    assert found[("log", "socket.connect", "198.51.100.7", 8080)]["process"] == "-c"
    assert found[("log", "socket.connect", "203.0.113.1", 443)]["process"] == "worker.py"
    assert net["seen"] == net["blocked"] == 3

    lines = report_offline.render(Page(results_with(record)))
    row = next(line for line in lines if line.startswith(f"| {FAKES}:PhoneHomeAdapter:default"))
    for where in ("203.0.113.1:443", "telemetry.example.com:443", "198.51.100.7:8080"):
        assert f"`{where}`" in row
    assert "| 3 of 3 |" in row and "yes (1/1 runs ok)" in row and "worker.py (log)" in row


def test_a_quiet_adapter_records_no_attempt(tmp_path: Path) -> None:
    record = run_cell(Cell(f"{FAKES}:JsonFileAdapter", "default"), plan(), tmp_path)
    assert record["status"] == "ok"
    assert record["network"]["attempts"] == [] and record["network"]["seen"] == 0
    lines = report_offline.render(Page(results_with(record)))
    assert "No cell tried to reach a non-loopback address." in lines
    assert f"No attempt seen in: {FAKES}:JsonFileAdapter:default." in lines


def test_loopback_and_local_sockets_pass(tmp_path: Path) -> None:
    env = netguard.guard_env({"PATH": "/usr/bin:/bin"}, tmp_path / "net.jsonl")
    script = ("import socket\n"
              "srv = socket.create_server(('127.0.0.1', 0))\n"
              "socket.create_connection(srv.getsockname(), timeout=2).close()\n"
              "socket.getaddrinfo('localhost', 80)\n"
              "socket.getaddrinfo('203.0.113.9', 80)\n"  # a literal address asks no DNS
              "a, b = socket.socketpair(); a.sendall(b'x'); assert b.recv(1) == b'x'\n"
              "import sitecustomize; print(sitecustomize.__file__)\n")
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert Path(out.stdout.strip()).parent == netguard.SITE_DIR
    assert not (tmp_path / "net.jsonl").exists()


def test_a_users_own_sitecustomize_still_runs(tmp_path: Path) -> None:
    user = tmp_path / "user"
    user.mkdir()
    (user / "sitecustomize.py").write_text("import os\nos.environ['USER_SITE_RAN'] = '1'\n")
    env = netguard.guard_env({"PATH": "/usr/bin:/bin", "PYTHONPATH": str(user)},
                             tmp_path / "net.jsonl")
    script = ("import os, socket\nprint(os.environ.get('USER_SITE_RAN'))\n"
              "try:\n    socket.getaddrinfo('example.org', 80)\n"
              "except socket.gaierror:\n    print('blocked')\n")
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                         text=True, timeout=60)
    assert out.stdout.split() == ["1", "blocked"], out.stderr


def _own_address() -> str | None:
    for addrs in psutil.net_if_addrs().values():
        for addr in addrs:
            if addr.family == socket.AF_INET and not addr.address.startswith("127."):
                return addr.address
    return None


def test_sampling_sees_a_non_python_process_connection(tmp_path: Path) -> None:
    address = _own_address()
    if address is None or shutil.which("bash") is None:
        pytest.skip("needs bash and a non-loopback interface address to connect to")
    with socket.create_server((address, 0)) as srv:  # this machine's own, non-loopback address
        port = srv.getsockname()[1]
        watch = netguard.ConnectionWatch(every_s=0.2)
        stats = run_monitored(
            ["bash", "-c", f"exec 3<>/dev/tcp/{address}/{port}; sleep 1.5"],
            env={"PATH": "/usr/bin:/bin"}, cwd=tmp_path, log_path=tmp_path / "bash.log",
            timeout_s=30, observer=watch.observe)
    assert stats.returncode == 0
    seen = [(e["process"], e["host"], e["port"], e["blocked"]) for e in watch.events()]
    # bash execs its last command, so the socket may be held by `sleep`: both are non-Python.
    assert any(p in ("bash", "sleep") and tuple(rest) == (address, port, False)
               for p, *rest in seen)
    assert 3 <= watch.samples <= 12  # rate-limited: not at the 10 Hz of the resource sampler


def test_mlflow_server_scenario_loopback_is_unaffected(tmp_path: Path,
                                                      mlflow_server_sqlite: MlflowServer) -> None:
    srv = mlflow_server_sqlite
    (tmp_path / "cells").mkdir()
    env = psutil.Process(srv.pids()[0]).environ()  # the server is guarded like the cells
    assert env["PYTHONPATH"].split(os.pathsep)[0] == str(netguard.SITE_DIR)
    assert env[netguard.LOG_VAR] == str(srv.network.path)
    record = run_cell(Cell("mlflow", "server-sqlite"), plan(), tmp_path / "cells",
                      {"mlflow-server-sqlite": srv})
    assert record["status"] == "ok", record["error"]
    for kind in ("params", "points", "artifacts"):
        fid = record["fidelity"][kind]
        assert fid["kept"] == fid["logged"] > 0, fid
    assert record["network"]["attempts"] == []


SDK_MODULE = {"mlflow": "mlflow", "wandb": "wandb", "neptune": "neptune", "comet": "comet_ml"}
REAL_OFFLINE = [("mlflow", "sqlite"), ("wandb", "offline"), ("neptune", "offline"),
                ("comet", "offline")]


@pytest.mark.parametrize(("tool", "scenario"), REAL_OFFLINE)
def test_real_offline_tool_under_the_guard(tool: str, scenario: str, tmp_path: Path) -> None:
    pytest.importorskip(SDK_MODULE[tool], reason=f"{tool} is not installed (the `tools` extra)")
    record = run_cell(Cell(tool, scenario), plan(), tmp_path)
    assert record["status"] == "ok", record["error"]  # offline, blocked, and it still works
    net = record["network"]
    # What the Python hook saw is blocked; only connections seen by sampling can have gone out.
    assert all(a["blocked"] != a["event"].startswith("connection seen")
               for a in net["attempts"]), net
    lines = report_offline.render(Page(results_with(record)))
    label = cell_label(tool, scenario)
    if not net["attempts"]:
        assert f"No attempt seen in: {tool}:{scenario}." in lines
        return
    row = next(line for line in lines if line.startswith(f"| {label} |"))
    assert f"| {net['seen']} |" in row and f"{net['blocked']} of {net['seen']}" in row
    for a in net["attempts"][:report_offline.MAX_LISTED]:
        where = f"{a['host']}:{a['port']}" if a["port"] is not None else a["host"]
        assert where in row and a["process"] in row


def test_guard_log_hands_each_line_once_and_waits_for_whole_lines(tmp_path: Path) -> None:
    log = netguard.GuardLog(tmp_path / "net.jsonl")
    assert log.take_new() == []  # nothing written yet
    with open(log.path, "a") as fh:
        fh.write('{"host": "a"}\n{"host": "b"}\n{"host": ')
    assert [e["host"] for e in log.take_new()] == ["a", "b"]
    with open(log.path, "a") as fh:
        fh.write('"c"}\n')
    assert [e["host"] for e in log.take_new()] == ["c"]
    assert log.take_new() == []


def test_results_without_network_records_render_no_section() -> None:
    old = {"cells": [{"tool": "mlflow", "scenario": "sqlite", "status": "ok"}], "probes": []}
    assert report_offline.render(Page(old)) == []


def test_run_progress_and_report_show_the_attempts(tmp_path: Path) -> None:
    lines: list[str] = []
    tool = f"{FAKES}:PhoneHomeAdapter"
    data = runner.execute(Plan(tools=[tool], workload=WORKLOAD, repeats=1, probes=False),
                          tmp_path / "results.json", progress=lines.append)
    assert any(tool in line and "offline guard: 3 network attempt(s)" in line for line in lines)
    text = report.render(data)
    section = text.split("## Offline honesty")[1].split("## Failures and findings")[0]
    # Every guarded run is read: the measured cell, each crash kill, one bad-input run, 3 each.
    runs = 1 + len(CRASH_AT) + 1
    row = next(line for line in section.splitlines() if line.startswith(f"| {tool}:default |"))
    assert f"| {tool}:default | {3 * runs} |" in row and "(crash)" in row and "(bad-input)" in row
    assert "`bad-input`, `crash`, `log`, `read`" in section
    assert "No attempt seen in" not in section  # the baseline and the floor are not listed
