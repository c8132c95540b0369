"""``pytest --benchmark`` times the cell's process and nothing of the harness around it: with
the harness's flush before a cell made one second slower, the timed rounds do not move."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SLOW_SYNC = """
import os, time
_sync = os.sync
def slow_sync():
    time.sleep(1.0)
    _sync()
os.sync = slow_sync
"""


def test_the_timed_round_is_the_cells_process_alone(tmp_path: Path) -> None:
    (tmp_path / "slow_sync.py").write_text(SLOW_SYNC)
    out, bench = tmp_path / "out", tmp_path / "bench.json"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)])}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "slow_sync", "-p", "no:cacheprovider", "-q",
         "--benchmark", "--trackbench-tools", "tests.fakes:JsonFileAdapter",
         "--trackbench-workload", "tests.fakes:small_workload", "--trackbench-repeats", "2",
         "--trackbench-out", str(out), f"--benchmark-json={bench}", "-k", "JsonFileAdapter",
         "tests/benchmarks/test_trackers.py"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    timed = json.loads(bench.read_text())["benchmarks"][0]["stats"]["max"]
    cells = [c for c in json.loads((out / "results.json").read_text())["cells"]
             if c["tool"] == "tests.fakes:JsonFileAdapter"]
    assert len(cells) == 2
    # The process's own wall time, plus a little for starting it; the 1 s flush is not in it.
    assert timed < max(c["process_wall_s"] for c in cells) + 0.5, (timed, cells)
