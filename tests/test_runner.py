"""The runner end to end on fake adapters: each cell a real subprocess, read back in another."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import psutil
import pytest

from harness import runner
from harness.measure.cell import cell_env, run_cell
from harness.plan import Cell, Plan, matrix

FAKES = "tests.fakes"
WORKLOAD = f"{FAKES}:small_workload"


def plan(**kw) -> Plan:
    return Plan(tools=[], workload=WORKLOAD, repeats=1, probes=False, **kw)


def cell(adapter: str) -> Cell:
    return Cell(f"{FAKES}:{adapter}", "default")


def test_faithful_adapter_has_full_fidelity(tmp_path: Path) -> None:
    record = run_cell(cell("JsonFileAdapter"), plan(), tmp_path)
    assert record["status"] == "ok", record["error"]
    assert record["logged"] == {"params": 4, "points": 100, "artifacts": 1}
    assert record["read_back"] == record["logged"]
    for kind in ("params", "points", "artifacts"):
        fid = record["fidelity"][kind]
        assert fid["kept"] == fid["logged"] and fid["missing"] == fid["altered"] == 0


def test_fidelity_catches_a_lossy_adapter(tmp_path: Path) -> None:
    record = run_cell(cell("LossyAdapter"), plan(), tmp_path)
    assert record["status"] == "ok", record["error"]
    fid = record["fidelity"]
    assert fid["params"]["missing"] == 1
    assert "missing: secret='s3cr3t'" in fid["params"]["examples"]
    assert fid["points"]["missing"] == 5  # loss at steps 0, 10, 20, 30, 40
    assert "missing: loss@0=1.0" in fid["points"]["examples"]
    rounded = [s for s in range(50) if round(s / 49, 2) != s / 49]
    assert fid["points"]["altered"] == len(rounded)
    assert fid["points"]["kept"] == 100 - 5 - len(rounded)
    assert fid["artifacts"]["altered"] == 1 and fid["artifacts"]["kept"] == 0


def test_missing_tool_is_unavailable_with_reason(tmp_path: Path) -> None:
    record = run_cell(cell("MissingAdapter"), plan(), tmp_path)
    assert record["status"] == "unavailable"
    assert "trackbench_no_such_sdk" in record["error"]


def test_an_adapter_bug_at_import_is_a_failure_not_a_missing_tool(tmp_path: Path) -> None:
    """Only an ImportError means "not installed"; a bug in the adapter must fail loudly, not
    pass as unavailable (which a benchmark would skip)."""
    record = run_cell(cell("BuggyImportAdapter"), plan(), tmp_path)
    assert record["status"] == "failed"
    assert "AttributeError" in record["error"] and "no_such_function" in record["error"]


def test_crashing_tool_is_a_failed_cell(tmp_path: Path) -> None:
    record = run_cell(cell("CrashingAdapter"), plan(), tmp_path)
    assert record["status"] == "failed"
    assert "server said no" in record["error"]


def test_hanging_tool_times_out_and_leaves_nothing_running(tmp_path: Path) -> None:
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    record = run_cell(cell("HangingAdapter"), plan(timeout_s=8), tmp_path)
    assert record["status"] == "timeout"
    assert record["process_wall_s"] < 20
    after = {p.pid for p in psutil.Process().children(recursive=True)}
    assert after <= before


def test_tool_hanging_at_exit_is_killed_and_its_results_kept(tmp_path: Path) -> None:
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    record = run_cell(cell("HangingAtExitAdapter"), plan(exit_grace_s=2), tmp_path)
    assert record["status"] == "ok" and record["fidelity"]["points"]["kept"] == 100
    assert record["hung_at_exit_s"] == 2
    assert 2 <= record["exit_s"] < 10
    # End to end is what the user waits for: the hang at exit is in it.
    assert record["e2e_s"] == pytest.approx(record["e2e_to_finish_s"] + record["exit_s"])
    assert record["e2e_s"] >= 2
    after = {p.pid for p in psutil.Process().children(recursive=True)}
    assert after <= before


def test_cleanup_is_not_cut_short_by_a_second_interrupt() -> None:
    before = signal.getsignal(signal.SIGINT)
    with runner.interrupts_held():
        os.kill(os.getpid(), signal.SIGINT)  # without the hold: KeyboardInterrupt right here
        time.sleep(0.2)
    assert signal.getsignal(signal.SIGINT) is before


def test_cell_environment_is_isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WANDB_API_KEY", "real-key")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://example.invalid")
    env = cell_env(tmp_path)
    assert "WANDB_API_KEY" not in env and "MLFLOW_TRACKING_URI" not in env
    for var in ("HOME", "XDG_CACHE_HOME", "XDG_CONFIG_HOME", "TMPDIR"):
        assert Path(env[var]).is_relative_to(tmp_path)
        assert Path(env[var]).is_dir()
    assert env["HOME"] != os.path.expanduser("~")


def test_execute_interleaves_and_computes_overhead(tmp_path: Path) -> None:
    results_path = tmp_path / "out" / "results.json"
    lines: list[str] = []
    data = runner.execute(
        Plan(tools=[f"{FAKES}:JsonFileAdapter"], workload=WORKLOAD, repeats=2,
                    probes=False),
        results_path, progress=lines.append,
    )
    order = [(c["tool"], c["repeat"]) for c in data["cells"]]
    assert order == [("none", 0), ("null", 0), (f"{FAKES}:JsonFileAdapter", 0),
                     ("none", 1), ("null", 1), (f"{FAKES}:JsonFileAdapter", 1)]
    assert results_path.exists()
    for c in data["cells"]:
        assert c["status"] == "ok"
        base = next(b for b in data["cells"] if b["tool"] == "none" and b["repeat"] == c["repeat"])
        assert c["overhead_s"] == pytest.approx(c["e2e_s"] - base["e2e_s"])
        assert c["cpu_s"] > 0 and c["peak_rss_bytes"] > 10_000_000
    assert any("eta" in line for line in lines) and any("warm-up" in line for line in lines)


def test_unavailable_tool_does_not_stop_the_run(tmp_path: Path) -> None:
    data = runner.execute(
        Plan(tools=[f"{FAKES}:MissingAdapter", f"{FAKES}:JsonFileAdapter"],
                    workload=WORKLOAD, repeats=2, probes=False),
        tmp_path / "results.json", progress=lambda _: None,
    )
    by_tool = {}
    for c in data["cells"]:
        by_tool.setdefault(c["tool"], set()).add(c["status"])
    assert by_tool[f"{FAKES}:MissingAdapter"] == {"unavailable"}
    assert by_tool[f"{FAKES}:JsonFileAdapter"] == {"ok"}


def test_matrix_rejects_unknown_tools_and_scenarios() -> None:
    with pytest.raises(ValueError, match="unknown tool"):
        matrix(["nosuchtool"], None)
    with pytest.raises(ValueError, match="unknown scenario"):
        matrix(["null", "mlflow"], ["mlflow:nosuch"])
    assert matrix(["none", "mlflow"], ["all"]) == [
        ("none", "baseline"), ("mlflow", "sqlite"), ("mlflow", "file"),
        ("mlflow", "server-sqlite"), ("mlflow", "server-postgres-s3"), ("mlflow", "fasttrackml"),
        ("mlflow", "fasttrackml-postgres"), ("mlflow", "sqlite+async"), ("mlflow", "sqlite+batch"),
        ("mlflow", "server-sqlite+async"), ("mlflow", "server-sqlite+batch")]
    assert matrix(["none", "mlflow"], ["default"]) == [
        ("none", "baseline"), ("mlflow", "sqlite"), ("mlflow", "file"),
        ("mlflow", "server-sqlite"), ("mlflow", "server-postgres-s3")]
    assert matrix(["mlflow"], ["mlflow:file", "server-sqlite"]) == [
        ("mlflow", "file"), ("mlflow", "server-sqlite")]


class GrowingService:
    """A service whose database grows by 1000 bytes each time it is sized; or cannot be."""

    network = None

    def __init__(self, broken: bool = False) -> None:
        self.size, self.broken = 10_000, broken

    def pids(self) -> list[int]:
        return []

    def endpoints(self) -> dict[str, str]:
        return {}

    def disk_bytes(self) -> int | None:
        if self.broken:
            raise OSError("the database went away")
        self.size += 1000
        return self.size


def test_a_services_disk_is_counted_per_cell(tmp_path: Path) -> None:
    """Disk is what the store grew by during this cell, not what all earlier runs left in it."""
    service = GrowingService()
    record = run_cell(cell("JsonFileAdapter"), plan(), tmp_path, {"db": service})
    assert record["services"]["db"]["disk_growth_bytes"] == 1000
    assert record["services"]["db"]["disk_bytes"] == 12_000


def test_a_service_that_cannot_be_sized_does_not_fail_the_cell(tmp_path: Path) -> None:
    record = run_cell(cell("JsonFileAdapter"), plan(), tmp_path, {"db": GrowingService(True)})
    assert record["status"] == "ok", record["error"]
    assert record["services"]["db"]["disk_bytes"] is None
