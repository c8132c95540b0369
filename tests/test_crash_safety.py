"""Crash safety and server outage, end to end: real worker processes killed with SIGKILL, real
read-backs in fresh processes, on fakes with known outcomes and on every installed tool."""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path
from typing import Any

import psutil
import pytest

from harness.plan import Plan
from harness.report import crash as report_crash
from harness.report.page import Page
from harness.services.base import port_open
from harness.services.mlflow_server import FastTrackMLServer, MlflowServer
from harness.stages import crash_safety, server_outage
from harness.stages.pair_loop import kill_point, skip_reason
from tests.contexts import stage_context

FAKES = "tests.fakes"
KILL_AFTER = 20  # small_workload makes 50 calls of two points each


def fake_plan() -> Plan:
    return Plan(tools=[], workload=f"{FAKES}:small_workload", repeats=1, probes=False)


def tool_plan() -> Plan:
    """A brisk synthetic workload: 60 calls of 3 points, no artifact."""
    return Plan(tools=[], workload="synthetic", repeats=1, probes=False,
                workload_config={"steps": 60, "metrics": 3, "params": 2, "artifact_bytes": 0})


def processes_under(root: Path) -> list[str]:
    """Processes (other than this one) whose HOME lies under ``root``: every cell sets it."""
    found = []
    for proc in psutil.process_iter(["pid", "name"]):
        if proc.pid == os.getpid():
            continue
        try:
            if proc.environ().get("HOME", "").startswith(str(root)):
                found.append(f"{proc.info['name']} ({proc.pid})")
        except psutil.Error:
            continue
    return found


def report_row(results: dict[str, Any], label: str) -> str:
    rows = [line for line in report_crash.render(Page(results)) if line.startswith(f"| {label} ")]
    assert len(rows) == 1, report_crash.render(Page(results))
    return rows[0]


def test_a_tool_writing_only_at_finish_recovers_nothing(tmp_path: Path) -> None:
    record = crash_safety.crash_one(f"{FAKES}:JsonFileAdapter", "default", fake_plan(), tmp_path,
                                    KILL_AFTER)
    assert record["status"] == "ok" and record["exit_code"] == -9
    assert record["logged_points"] == 2 * KILL_AFTER  # the call being made is not counted
    assert record["recovered_points"] == 0 and record["recovered_pct"] == 0.0
    assert record["read_error"] and "FileNotFoundError" in record["error"]
    # Everything handed over is lost: the window at risk is the whole run up to the kill.
    assert record["window_steps"] == KILL_AFTER and record["window_s"] > 0
    assert processes_under(tmp_path) == []


def test_a_tool_writing_every_call_recovers_everything(tmp_path: Path) -> None:
    record = crash_safety.crash_one(f"{FAKES}:JournalAdapter", "default", fake_plan(), tmp_path,
                                    KILL_AFTER)
    assert record["status"] == "ok" and record["error"] is None
    assert record["recovered_points"] == record["logged_points"] == 2 * KILL_AFTER
    assert record["recovered_params"] == record["logged_params"] == 4
    assert record["recovered_pct"] == 100.0
    assert record["window_s"] == 0.0 and record["window_steps"] == 0


def test_several_kills_give_the_spread_and_the_worst_window(tmp_path: Path) -> None:
    """A tool that buffers the last 10 calls loses a window of 10 steps at every kill point."""
    record = crash_safety.crash_pair(f"{FAKES}:BufferingJournalAdapter", "default", fake_plan(),
                                     tmp_path, [10, 20, 30, 40, 45])
    assert record["status"] == "ok" and len(record["kills"]) == 5
    assert [k["window_steps"] for k in record["kills"]] == [10] * 5
    shares = [k["recovered_pct"] for k in record["kills"]]
    assert shares == [0.0, 50.0, 100 * 20 / 30, 75.0, 100 * 35 / 45]
    assert record["recovered_pct_min"] == 0.0 and record["recovered_pct_max"] == 100 * 35 / 45
    assert record["recovered_pct_median"] == 100 * 20 / 30
    assert record["window_steps_max"] == 10 and record["window_s_max"] > 0
    row = report_row({"reliability": {"crash": [record]}},
                     f"{FAKES}:BufferingJournalAdapter:default")
    assert "| 5 | **0%** / 66.7% / 77.8% |" in row and ", 10 steps |" in row

def test_a_raising_read_back_is_recorded_as_nothing_recovered(tmp_path: Path) -> None:
    record = crash_safety.crash_one(f"{FAKES}:UnreadableAdapter", "default", fake_plan(),
                                    tmp_path, KILL_AFTER)
    assert record["status"] == "ok" and record["recovered_points"] == 0
    assert "RuntimeError: storage is corrupt beyond repair" in record["error"]


def test_a_helper_outliving_the_kill_gets_its_grace_then_is_stopped(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(crash_safety, "HELPER_GRACE_S", 0.5)
    record = crash_safety.crash_one(f"{FAKES}:HelperProcessAdapter", "default", fake_plan(),
                                    tmp_path, KILL_AFTER)
    assert len(record["helpers_left"]) == 1 and record["helpers_stopped"] == record["helpers_left"]
    assert "still alive after the grace, stopped" in report_row(
        {"reliability": {"crash": [record]}}, f"{FAKES}:HelperProcessAdapter:default")
    assert processes_under(tmp_path) == []


def test_the_stage_records_skips_resumes_and_renders(tmp_path: Path) -> None:
    journal, missing = f"{FAKES}:JournalAdapter", f"{FAKES}:MissingAdapter"
    data: dict[str, Any] = {
        "tools": {}, "reliability": {"crash": [{"tool": "done", "scenario": "default",
                                                "status": "ok", "recovered_points": 1,
                                                "logged_points": 1, "recovered_pct": 100.0,
                                                "recovered_params": 0, "logged_params": 0,
                                                "kill_after_calls": 1}]},
        "cells": [{"tool": "null", "status": "ok", "calls": {"metrics": {"n": 50}}},
                  {"tool": missing, "status": "unavailable", "error": "no such SDK"}],
    }
    pairs = [("null", "default"), ("done", "default"), (journal, "default"),
             (journal, "default+batch"), (missing, "default")]
    ctx = stage_context(Plan(tools=[], workload=f"{FAKES}:small_workload", crash_at=(0.4,),
                             probes=False), pairs, data, tmp_path)
    crash_safety.run(ctx)
    records = {(r["tool"], r["scenario"]): r for r in data["reliability"]["crash"]}
    assert len(records) == ctx.saves + 1 == 4  # "done" kept as it was, null never run
    ran = records[(journal, "default")]
    assert [k["kill_after_calls"] for k in ran["kills"]] == [20] and ran["workload_calls"] == 50
    assert records[(journal, "default+batch")]["status"] == "skipped"
    assert records[(missing, "default")] == {"tool": missing, "scenario": "default",
                                             "tool_version": None, "status": "unavailable",
                                             "error": "no such SDK"}
    assert "| 1 | **100%** / 100% / 100% | nothing lost | 40/40 | 20 of 50 |" in report_row(
        data, f"{journal}:default")
    assert "| skipped |" in report_row(data, f"{journal}:default+batch")


def test_results_without_the_checks_render_no_section() -> None:
    assert report_crash.render(Page({"cells": []})) == []
    assert report_crash.render(Page({"reliability": {"bad_input": [{}]}})) == []


def test_kill_point_leaves_a_call_to_kill_before() -> None:
    assert kill_point(461, 0.5) == 230
    assert kill_point(2, 0.99) == 1
    assert kill_point(None, 0.5) is None


def test_skips_name_a_variant_or_a_scenario() -> None:
    assert "die with the process" in skip_reason("server-sqlite+batch", crash_safety.SKIPPED)
    assert "same MLflow async queue" in skip_reason("server-sqlite+async", crash_safety.SKIPPED)
    assert skip_reason("sqlite+async", crash_safety.SKIPPED) is None
    assert skip_reason("file", crash_safety.SKIPPED) is None
    assert "only queue" in skip_reason("server-sqlite+async", server_outage.SKIPPED)


TOOLS = [("mlflow", "sqlite", "mlflow"), ("mlflow", "sqlite+async", "mlflow"),
         ("wandb", "offline", "wandb"), ("neptune", "offline", "neptune"),
         ("comet", "offline", "comet_ml")]


@pytest.mark.parametrize(("tool", "scenario", "module"), TOOLS,
                         ids=[f"{t}:{s}" for t, s, _ in TOOLS])
def test_a_real_tool_killed_mid_run(tool: str, scenario: str, module: str,
                                    tmp_path: Path) -> None:
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{tool} is not installed (pip install .[tools])")
    record = crash_safety.crash_one(tool, scenario, tool_plan(), tmp_path, 30)
    assert record["status"] == "ok", record["error"]
    assert record["exit_code"] == -9 and record["logged_points"] == 90
    assert record["altered_points"] == 0  # what survives a crash is intact, or absent
    lost = 90 - record["recovered_points"]
    # A loss has a window: at least the calls whose points are gone, never more than all 30.
    assert (record["window_steps"] > 0) == (lost > 0) and record["window_steps"] <= 30
    assert (record["window_s"] > 0) == (lost > 0)
    if lost:
        assert record["window_steps"] >= -(-lost // 3)  # 3 points per call
    if scenario == "sqlite":
        assert lost == 0, record  # one committed transaction per call
    if tool == "comet":  # no zip before end(): nothing `comet upload` could send
        assert record["recovered_points"] == 0
        assert any("comet upload" in note for note in record["notes"]), record["notes"]
    data = {"reliability": {"crash": [record]}}
    pct = report_crash._pct(record["recovered_pct"])
    row = report_row(data, f"{tool}:{scenario}")
    assert f"| 1 | **{pct}** / {pct} / {pct} |" in row
    assert f"| {record['recovered_points']}/90 | 30 of ? |" in row
    assert processes_under(tmp_path) == []


SERVERS = [("server-sqlite", lambda root: MlflowServer(root / "work", root / "logs",
                                                     name="mlflow-server-sqlite")),
           ("fasttrackml", lambda root: FastTrackMLServer(root / "work", root / "logs"))]


@pytest.mark.parametrize(("scenario", "make"), SERVERS, ids=[s for s, _ in SERVERS])
def test_a_tracking_server_killed_and_restarted_mid_run(scenario: str, make: Any,
                                                        tmp_path: Path) -> None:
    if importlib.util.find_spec("mlflow") is None:
        pytest.skip("mlflow is not installed (pip install .[tools])")
    server = make(tmp_path / "server")
    if scenario == "fasttrackml" and shutil.which(server.binary) is None:
        pytest.skip("the FastTrackML binary is not installed (pip install .[tools])")
    server.start()
    try:
        first_pid, port = server.pids(), server.port
        record = server_outage.outage_one("mlflow", scenario, tool_plan(), tmp_path,
                                          30, {server.name: server})
        assert record["status"] == "ok", record["error"]
        assert record["outage_s"] > 0 and record["restart_error"] is None
        assert server.port == port and server.pids() != first_pid and port_open(port)
        client = record["client"]
        assert client["calls"] == 30 and record["logged_points"] == 180
        # MLflow's client retries (with backoff) through a restart of a few seconds: it blocks,
        # raises nothing, and every point reaches the store.
        assert record["behaviour"] == "retry", record["evidence"]
        assert client["errors"] == 0 and record["stored_points"] == 180
        assert client["max_call_s"] >= 0.5 * record["outage_s"], record["evidence"]
        data = {"reliability": {"outage": [record]}}
        assert f"| **{record['behaviour']}** |" in report_row(data, f"mlflow:{scenario}")
    finally:
        server.stop()
    assert not port_open(port)
    assert processes_under(tmp_path) == []
