"""One contract over every tracker adapter, no per-tool branches: log through the harness in a
fresh isolated process, read back in another, and find every value again. An artifact counts as
kept only if its bytes come back from the tool's own storage; one the tool only points at is
*referenced*, and that is said, never passed off as kept.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import adapters
from harness.measure.cell import CellRun
from harness.plan import Cell, Plan
from tests.fakes import USER_FILES

TOOLS = adapters.trackers()  # every registered tracker: a new adapter is picked up here


@pytest.fixture(scope="module")
def tmp_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("contract")


@pytest.mark.parametrize("tool", TOOLS)
def test_round_trip(tool: str, tmp_root: Path) -> None:
    cls = adapters.load(tool)
    if cls.version() is None:
        pytest.skip(f"{tool} is not installed in this environment (pip install .[tools])")
    plan = Plan(tools=[tool], workload="tests.fakes:user_file_workload", repeats=1,
                probes=False, timeout_s=180)
    run = CellRun(Cell(tool, cls.scenarios[0]), plan, tmp_root)
    try:
        run.log()
        # The user's file is still in place, but no longer what was logged.
        (run.workdir.parent / USER_FILES / "weights.bin").write_bytes(b"changed afterwards")
        run.read()
        record = run.record
    finally:
        run.close()
    assert record["status"] == "ok", record["error"]
    assert record["leftover_processes"] == []
    assert record["logged"] == {"params": 4, "points": 100, "artifacts": 1}
    fid = record["fidelity"]
    # Every value is found again; one the tool alters (TensorBoard keeps float32) is there, and
    # the adapter's read-back says why in its notes, which the report lists under Fidelity.
    for kind, logged in (("params", 4), ("points", 100)):
        assert fid[kind]["missing"] == fid[kind]["extra"] == 0, fid[kind]["examples"]
        assert fid[kind]["kept"] + fid[kind]["altered"] == logged, fid[kind]["examples"]
        if fid[kind]["altered"]:
            assert record.get("notes"), f"{kind} altered with no note: {fid[kind]['examples']}"
    artifacts = fid["artifacts"]
    # Kept (bytes back from the tool's storage), referenced (said so), or refused by a tool
    # that stores no files (Unsupported): never counted as kept.
    assert (artifacts["kept"] + artifacts["referenced"] + artifacts.get("unsupported", 0)
            == 1), artifacts["examples"]
    assert artifacts["altered"] == artifacts["missing"] == 0, artifacts["examples"]
    assert record["disk_bytes"] > 0 and record["cpu_s"] > 0
    for key in ("import_s", "init_s", "finish_s", "e2e_s", "blocked_s"):
        assert record[key] >= 0


@pytest.mark.parametrize("tool", TOOLS)
def test_importing_the_adapter_does_not_import_the_sdk(tool: str) -> None:
    import subprocess
    import sys

    sdks = tuple(m for name in TOOLS for m in adapters.load(name).sdk_modules)
    assert adapters.load(tool).sdk_modules, f"{tool} names no SDK module (sdk_modules)"
    code = (f"import sys, adapters; cls = adapters.load({tool!r}); "
            f"print(sorted(m for m in sys.modules if m.split('.')[0] in {sdks!r}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=Path(__file__).parent.parent)
    assert out.stdout.strip() == "[]"
