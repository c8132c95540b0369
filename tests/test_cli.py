"""The CLI as a user runs it: a subprocess, exit codes, the files it writes."""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

import adapters
from tests.sandbox import interruptible

ROOT = Path(__file__).resolve().parent.parent
REQUIRED = ("tool", "tool_version", "scenario", "profile", "repeat", "status", "error",
            "import_s", "init_s", "blocked_s", "calls", "finish_s", "e2e_s", "overhead_s",
            "cpu_s", "peak_rss_bytes", "disk_bytes", "logged", "read_back", "coverage")


SCRIPT = Path(sys.executable).parent / "trackbench"


def trackbench(*args: str, cwd: Path = ROOT, timeout: float = 300) -> subprocess.CompletedProcess:
    """The installed console script, as a user runs it."""
    return subprocess.run([str(SCRIPT), *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout)


def test_console_script_is_installed() -> None:
    assert SCRIPT.exists(), "pip install . should install the trackbench console script"


def test_list_shows_tools_scenarios_and_install_state() -> None:
    out = trackbench("list")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    for tool in ("none", "null", *adapters.trackers()):
        assert any(line.startswith(f"{tool} ") for line in lines), out.stdout
    assert "installed" in out.stdout
    # The default run's scenarios are starred; the rest, and what cannot run here, are named.
    mlflow = "scenarios: sqlite*, file*, server-sqlite*, server-postgres-s3*, fasttrackml,"
    assert mlflow in out.stdout
    assert "scenarios: sqlite*, postgres" in out.stdout  # mltraq
    assert "not run: server: ClearML's server needs" in out.stdout


def test_run_then_report_regenerates_the_same_markdown(tmp_path: Path) -> None:
    out_dir = tmp_path / "out"
    run = trackbench("run", "--tools", "tests.fakes:JsonFileAdapter,tests.fakes:MissingAdapter",
                     "--workload", "tests.fakes:small_workload", "--repeats", "2",
                     "--no-probes", "--out", str(out_dir))
    assert run.returncode == 0, run.stderr
    assert "[  1/" in run.stderr and "eta" in run.stderr
    data = json.loads((out_dir / "results.json").read_text())
    assert data["machine"]["cpu_logical"] >= 1 and "tools" in data
    for cell in data["cells"]:
        missing = [k for k in REQUIRED if k not in cell]
        assert cell["status"] == "unavailable" or not missing, missing
    statuses = {c["tool"]: c["status"] for c in data["cells"]}
    assert statuses["tests.fakes:MissingAdapter"] == "unavailable"
    assert statuses["tests.fakes:JsonFileAdapter"] == "ok"
    first = (out_dir / "REPORT.md").read_text()
    again = trackbench("report", str(out_dir / "results.json"), "--out", str(tmp_path / "re"))
    assert again.returncode == 0, again.stderr
    assert (tmp_path / "re" / "REPORT.md").read_text() == first


@pytest.mark.parametrize("args, message", [
    (["run", "--tools", "nosuchtool"], "unknown tool"),
    (["run", "--workload", "nosuchmodule:train"], "No module named 'nosuchmodule'"),
    (["run", "--workload", "digits", "--repeats", "0"], "at least 1"),
    (["run", "--workload-config", "novalue"], "key=value"),
    (["report", "/nonexistent/results.json"], "no results file"),
])
def test_bad_input_gets_a_clear_error(args: list[str], message: str, tmp_path: Path) -> None:
    out = trackbench(*args, *(["--out", str(tmp_path / "out")] if args[0] == "run" else []))
    assert out.returncode != 0
    assert message in out.stderr


@pytest.mark.parametrize("bad", [["--require", "bogus"], ["--scenarios", "mlflow:nope"],
                                 ["--workload", "nosuchmodule:train"], ["--repeats", "0"]])
def test_a_bad_option_leaves_the_previous_results_as_they_were(bad: list[str],
                                                               tmp_path: Path) -> None:
    """The previous run's results are the history the next report compares against: a typo
    must not move or touch them."""
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    before = b'{"schema_version": 3, "kept": "byte for byte"}\n'
    (out_dir / "results.json").write_bytes(before)
    run = trackbench("run", *bad, "--out", str(out_dir))
    assert run.returncode == 2, run.stderr
    assert run.stderr.startswith("trackbench: ") and "Traceback" not in run.stderr
    assert (out_dir / "results.json").read_bytes() == before
    assert sorted(p.name for p in out_dir.iterdir()) == ["results.json"]


def test_users_own_workload_through_mlflow(tmp_path: Path) -> None:
    """The issue's acceptance run: 337 steps x 3 metrics, a unicode param, one artifact."""
    pytest.importorskip("mlflow", reason="mlflow is not installed (pip install .[tools])")
    (tmp_path / "mymod.py").write_text(textwrap.dedent('''
        def train(tracker, config):
            tracker.log_params({"optimizer": "adam", "note": "über-模型 ✓", "lr": 3e-4})
            for step in range(337):
                tracker.log_metrics({"loss": 1 / (step + 1), "acc": step / 337,
                                     "lr": 3e-4 * 0.99 ** step}, step=step)
            path = tracker.workdir / "model.bin"
            path.write_bytes(b"weights" * 1000)
            tracker.log_artifact(path)
    '''))
    # --quick: the stages this test does not assert on (probes, projection check, reliability,
    # load) would add ~20 s.
    run = trackbench("run", "--quick", "--tools", "mlflow", "--workload", "mymod:train",
                     "--repeats", "1", "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    data = json.loads((tmp_path / "out" / "results.json").read_text())
    cell = next(c for c in data["cells"] if c["tool"] == "mlflow")
    assert cell["status"] == "ok", cell["error"]
    assert cell["logged"] == cell["read_back"] == {"params": 3, "points": 1011, "artifacts": 1}
    report = (tmp_path / "out" / "REPORT.md").read_text()
    assert "| mlflow:sqlite | 3/3 | 1011/1011 | 1/1 | nothing |" in report


def test_pytest_benchmark_option(tmp_path: Path) -> None:
    """`pytest --benchmark` runs the tool benchmarks and writes the markdown report."""
    out_dir = tmp_path / "bench"
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "--benchmark", "-p", "no:cacheprovider", "-q",
         "--trackbench-tools", "null", "--trackbench-repeats", "2",
         "--trackbench-workload", "synthetic", "--trackbench-workload-config", "steps=20",
         "--trackbench-out", str(out_dir), "--benchmark-json", str(tmp_path / "pb.json")],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "2 passed" in run.stdout
    report = (out_dir / "REPORT.md").read_text()
    assert "| null:default |" in report and "| none:baseline |" in report
    bench = json.loads((tmp_path / "pb.json").read_text())
    tools = {b["extra_info"]["tool"] for b in bench["benchmarks"]
             if b["name"].startswith("test_tracker[")}
    assert tools == {"none", "null"}
    assert "machine_info" in bench


def test_plain_pytest_deselects_the_benchmarks() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
         "tests/benchmarks"], cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert "deselected" in run.stdout and "test_tracker" not in run.stdout.split("deselected")[0]


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_ctrl_c_stops_every_process_and_keeps_finished_cells(tmp_path: Path, signum) -> None:
    out_dir = tmp_path / "out"
    proc = subprocess.Popen(
        [sys.executable, "-m", "harness.cli", "run", "--tools", "tests.fakes:HangingAdapter",
         "--workload", "tests.fakes:small_workload", "--repeats", "1", "--no-probes",
         "--timeout", "120", "--out", str(out_dir)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=interruptible,
    )
    deadline = time.monotonic() + 60
    workers: list[psutil.Process] = []
    while time.monotonic() < deadline and not workers:  # wait for the hanging cell's worker
        time.sleep(0.5)
        # Its measured (log) worker: the warm-up's import worker names the adapter too, and an
        # interrupt then (a loaded machine makes it last) would come before any cell was saved.
        workers = [p for p in psutil.Process(proc.pid).children(recursive=True)
                   if _is_measured_cell_of("HangingAdapter", p)]
    assert workers, "the hanging cell never started"
    proc.send_signal(signum)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "interrupted" in stderr
    assert not [p for p in workers if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    data = json.loads((out_dir / "results.json").read_text())
    assert [c["tool"] for c in data["cells"]] == ["none", "null"]


def _is_measured_cell_of(tool: str, proc: psutil.Process) -> bool:
    """Whether ``proc`` is the worker of a measured cell of ``tool`` (not its warm-up import);
    the command line only names the spec file, so the spec is read."""
    try:
        path = next(a for a in proc.cmdline() if a.endswith(".spec.json"))
        spec = json.loads(Path(path).read_text())
    except (StopIteration, OSError, ValueError, psutil.Error):
        return False
    return tool in spec["tool"] and spec["mode"] == "log"


def test_sweep_command_writes_and_regenerates_its_report(tmp_path: Path) -> None:
    out_dir = tmp_path / "sweeps"
    run = trackbench("sweep", "--tools", "tests.fakes:JsonFileAdapter", "--sweeps", "points",
                     "--quick", "--out", str(out_dir))
    assert run.returncode == 0, run.stderr
    first = (out_dir / "SWEEPS.md").read_text()
    assert "### Points per run" in first and "tests.fakes:JsonFileAdapter:default" in first
    again = trackbench("report", str(out_dir / "sweeps.json"), "--out", str(tmp_path / "re"))
    assert again.returncode == 0, again.stderr
    assert (tmp_path / "re" / "SWEEPS.md").read_text() == first
    bad = trackbench("sweep", "--sweeps", "nosuch", "--out", str(tmp_path / "bad"))
    assert bad.returncode == 2 and "unknown sweep" in bad.stderr


def _cell_set(data: dict) -> set[tuple]:
    cells = {(c["tool"], c["scenario"], c["repeat"], c["mode"], c["status"])
             for c in [*data["probes"], *data["cells"]]}
    checks = {(kind, r["tool"], r["scenario"])
              for kind, records in data.get("reliability", {}).items() for r in records}
    return cells | checks


def test_interrupted_run_resumes_to_the_same_cells(tmp_path: Path) -> None:
    args = ["--tools", "tests.fakes:JsonFileAdapter,tests.fakes:LossyAdapter",
            "--workload", "tests.fakes:small_workload", "--repeats", "2", "--no-probes"]
    full = trackbench("run", *args, "--out", str(tmp_path / "full"))
    assert full.returncode == 0, full.stderr
    out_dir = tmp_path / "cut"
    proc = subprocess.Popen(
        [sys.executable, "-m", "harness.cli", "run", *args, "--out", str(out_dir)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=interruptible,
    )
    results_path = out_dir / "results.json"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # interrupt once a few cells are saved
        time.sleep(0.2)
        with contextlib.suppress(OSError, json.JSONDecodeError):
            if len(json.loads(results_path.read_text())["cells"]) >= 3:
                break
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "--resume" in stderr, stderr
    cut = json.loads(results_path.read_text())
    assert 3 <= len(cut["cells"]) < 8

    resumed = trackbench("run", "--resume", "--out", str(out_dir))
    assert resumed.returncode == 0, resumed.stderr
    assert f"{len(cut['cells'])} cell(s) kept" in resumed.stderr
    data = json.loads(results_path.read_text())
    expected = _cell_set(json.loads((tmp_path / "full" / "results.json").read_text()))
    assert _cell_set(data) == expected
    assert len(data["cells"]) == len({(c["tool"], c["repeat"]) for c in data["cells"]}) == 8
    assert data["resumed"][0]["cells_kept"] == len(cut["cells"])
    assert "resumed" in (out_dir / "REPORT.md").read_text()


def test_resume_needs_an_interrupted_run(tmp_path: Path) -> None:
    run = trackbench("run", "--resume", "--out", str(tmp_path))
    assert run.returncode == 2 and "nothing to resume" in run.stderr


def test_second_run_keeps_the_first_and_reports_run_to_run_change(tmp_path: Path) -> None:
    args = ["run", "--tools", "tests.fakes:JsonFileAdapter", "--workload",
            "tests.fakes:small_workload", "--repeats", "2", "--no-probes", "--out", str(tmp_path)]
    assert trackbench(*args).returncode == 0
    first = json.loads((tmp_path / "results.json").read_text())
    second = trackbench(*args)
    assert second.returncode == 0, second.stderr
    assert json.loads((tmp_path / "results.previous.json").read_text()) == first
    data = json.loads((tmp_path / "results.json").read_text())
    assert data["previous_run"]["created"] == first["created"]
    assert "Run-to-run, against the previous run" in (tmp_path / "REPORT.md").read_text()
