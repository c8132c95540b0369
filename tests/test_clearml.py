"""ClearML adapter, offline: round trip, the session zip read alone, lean vs defaults, system
metrics, a killed run, bad input, and no network.

Every ClearML run happens in a writer subprocess (``Task.init`` forks a reporting process,
installs signal and exception hooks and patches ``os.fork``), behind the harness's offline
guard, with a HOME and TMPDIR of its own; each read-back runs in another process that never
imports clearml. ``close()`` takes 5 to 11 s however small the run (the reporting process
wakes only every 5 s, and close waits for it twice), so the module's writers start together,
once.
"""

from __future__ import annotations

import json
import math
import os
import random
import re
import shutil
import struct
import subprocess
import sys
import textwrap
import time
import zipfile
from pathlib import Path
from typing import Any

import psutil
import pytest

from adapters.base import AdapterSettings, sha256_bytes
from adapters.clearml import FRAMEWORKS, ClearmlAdapter
from harness.measure.isolation import private_env
from harness.measure.netguard import GuardLog, guard_env

clearml = pytest.importorskip("clearml", reason="clearml is not installed (the `tools` extra)")

REPO = Path(__file__).resolve().parents[1]

# Runs one ClearML task through the adapter (argv: SPEC.json); prints a JSON report last.
WRITE_SCRIPT = textwrap.dedent(
    """
    import json, os, random, signal, sys, threading, time
    from pathlib import Path

    import psutil

    from adapters.base import AdapterSettings
    from adapters.clearml import ClearmlAdapter

    spec = json.loads(Path(sys.argv[1]).read_text())
    adapter = ClearmlAdapter(AdapterSettings(
        storage_dir=Path(spec["storage_dir"]), profile=spec["profile"],
        system_metrics=spec["system_metrics"]))
    adapter.import_sdk()
    if spec.get("standalone_script"):
        import clearml
        clearml.Task.force_store_standalone_script()
    adapter.start_run(spec["name"], {})
    report = {"first_random": random.random(), "errors": {}}
    adapter.log_params(spec["params"])

    def feed(points):
        for step, metrics in points:
            for key, value in metrics.items():
                try:
                    adapter.log_metrics({key: value}, step=step)
                except Exception as exc:
                    report["errors"][key] = type(exc).__name__

    feed(spec["points"])
    for name, source in spec["artifacts"].items():
        adapter.log_artifact(Path(source), name)
    print("training output, for stdout capture to record", flush=True)
    time.sleep(spec["sleep"])

    def attempt(call):
        try:
            call()
        except Exception as exc:
            return [type(exc).__name__, str(exc), getattr(exc, "docs_url", None)]
        return ["returned", "", None]

    if spec.get("features"):
        source = Path(spec["artifacts"]["model.bin"])
        report["features"] = {
            "dataset": attempt(lambda: adapter.log_dataset(source, "probe-dataset")),
            "registry": attempt(lambda: adapter.register_model(source, "probe-model")),
            "alert": attempt(lambda: adapter.send_alert("probe", "alert test")),
        }
    if spec.get("kill_record"):
        ref = adapter.run_ref()
        metrics = Path(ref["session_dir"]) / "metrics.jsonl"
        deadline = time.monotonic() + 30
        while not metrics.is_file() and time.monotonic() < deadline:
            time.sleep(0.05)  # until the reporter has written its first batch
        feed(spec["points_after"])
        record = {"ref": ref, "written_before": metrics.is_file(), "killed_at": time.time(),
                  "children": [p.pid for p in psutil.Process().children(recursive=True)]}
        Path(spec["kill_record"]).write_text(json.dumps(record))
        os.kill(os.getpid(), signal.SIGKILL)
    report["ref"] = adapter.finish()
    closed = time.perf_counter()
    # close() may return while its reporting process is still exiting, and never reaps it.
    _, alive = psutil.wait_procs(psutil.Process().children(recursive=True), timeout=5)
    report["helpers_alive_5s_after_close"] = len(alive)
    report["helpers_exited_s"] = time.perf_counter() - closed
    if spec.get("features"):
        report["features"]["query"] = attempt(lambda: adapter.best_run(report["ref"], "loss"))
    report["threads"] = sorted(t.name for t in threading.enumerate() if t.is_alive())
    print(json.dumps(report))
    """
)

# Reads a run back in a process that never imported clearml (argv: REF, STORAGE_DIR).
READ_SCRIPT = textwrap.dedent(
    """
    import dataclasses, json, sys
    from pathlib import Path

    from adapters.base import AdapterSettings
    from adapters.clearml import ClearmlAdapter

    adapter = ClearmlAdapter(AdapterSettings(storage_dir=Path(sys.argv[2])))
    stored = dataclasses.asdict(adapter.read_back(json.loads(sys.argv[1])))
    print(json.dumps({"stored": stored, "sdk_imported": "clearml" in sys.modules}))
    """
)

PARAMS: dict[str, Any] = {
    "optimizer": "adam – ünïcødé ☃ 学习",
    "learning_rate": 0.1 + 0.2,
    "epochs": 50,
    "shuffle": True,
    "layers": [64, 32],
    "path/with/slashes": "kept under its full name",
}
LONG_NAME = "bi10_long_" + "n" * 310
LONG_PARAM = "".join(chr(ord("a") + i % 26) for i in range(10_000))
BAD_POINTS = [
    (-1, {"bi12_negative_step": 0.5}), (0, {"bi01_nan": math.nan}), (0, {"bi02_pos_inf": math.inf}),
    (0, {"bi03_neg_inf": -math.inf}), (0, {"bi04_none": None}), (0, {"bi05_text": "high"}),
    (0, {"bi06_numeric_text": "0.5"}), (0, {"bi07_ünïcødé_名前_μ": 0.5}),
    (0, {"bi08_slash/a/b": 0.5}), (0, {"bi09_with spaces in it": 0.5}), (0, {LONG_NAME: 0.5}),
    (1, {"bi11_duplicate_step": 1.0}), (1, {"bi11_duplicate_step": 2.0}),
]
LATE_POINTS = [(1000 + i, {"late": float(i)}) for i in range(20)]


class Sandbox:
    """Writers and readers of this module: each writer with its own HOME/XDG/TMPDIR, store and
    offline-guard log, all with one working directory that nothing may write into."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.cwd = root / "cwd"
        self.cwd.mkdir()
        self.script = root / "writer.py"  # a real file: ClearML's script detection reads it
        self.script.write_text(WRITE_SCRIPT)

    def store(self, label: str) -> Path:
        return self.root / "store" / label

    def env(self, label: str) -> dict[str, str]:
        return private_env(self.root / "private" / label, {"PYTHONPATH": str(REPO)})

    def start(self, label: str, spec: dict[str, Any]) -> subprocess.Popen[str]:
        spec_file = self.root / f"{label}.spec.json"
        spec_file.write_text(json.dumps({"storage_dir": str(self.store(label)), **spec}))
        env = guard_env(self.env(label), self.root / f"{label}.net.jsonl")
        return subprocess.Popen([sys.executable, str(self.script), str(spec_file)],
                                cwd=self.cwd, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)

    def network(self, label: str) -> list[str]:
        log = GuardLog(self.root / f"{label}.net.jsonl")
        return [f"{e['event']} {e['host']}" for e in log.take_new()]

    def read_back(self, ref: dict[str, str], storage: Path) -> dict[str, Any]:
        done = subprocess.run(
            [sys.executable, "-c", READ_SCRIPT, json.dumps(ref), str(storage)], cwd=self.cwd,
            env=self.env("reader"), capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 0, done.stderr[-3000:]
        out = json.loads(done.stdout.splitlines()[-1])
        assert not out["sdk_imported"], "read_back must not need the SDK"
        return out["stored"]


def _points(steps: int = 40) -> list[tuple[int, dict[str, float]]]:
    """Awkward floats: huge and tiny magnitudes, a subnormal, repeating decimals."""
    rng = random.Random(7)
    return [(3 * i + 1, {"loss": rng.random() * 10.0 ** rng.randint(-300, 300),
                         "accuracy": i / (steps - 1),
                         "lr/é": (0.1 + 0.2) * i if i % 7 else 5e-324}) for i in range(steps)]


def _spec(box: Sandbox, label: str, **extra: Any) -> dict[str, Any]:
    artifact = box.root / f"{label}-weights.bin"
    artifact.write_bytes(os.urandom(4096))
    return {"name": f"trackbench-{label}", "profile": "lean", "system_metrics": False,
            "params": PARAMS, "points": _points(), "artifacts": {"model.bin": str(artifact)},
            "sleep": 0, **extra}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Every writer of the module, started together; label -> spec, report (or kill record)."""
    box = Sandbox(tmp_path_factory.mktemp("clearml"))
    empty = box.root / "empty.bin"
    empty.write_bytes(b"")
    specs = {
        "lean": _spec(box, "lean"),
        # Defaults, but the script stored as a file instead of asking git/hg: ClearML's
        # repository detection runs `git status` in a thread while Task.init forks its
        # reporting process; the fork can inherit that Popen's pipe, the thread then never
        # returns and close() waits 300 s for it (seen here in 2 of 5 concurrent runs).
        "defaults": _spec(box, "defaults", profile="defaults", standalone_script=True),
        "monitor": _spec(box, "monitor", system_metrics=True, sleep=3.5, features=True),
        "killed": _spec(box, "killed", kill_record=str(box.root / "kill.json"),
                        points_after=LATE_POINTS),
        "bad": {**_spec(box, "bad"), "points": BAD_POINTS,
                "params": {"bi13_long_param": LONG_PARAM},
                "artifacts": {"bi14_empty.bin": str(empty)}},
    }
    writers = {label: box.start(label, spec) for label, spec in specs.items()}
    out: dict[str, Any] = {"box": box, "specs": specs}
    for label, writer in writers.items():
        try:
            stdout, stderr = writer.communicate(timeout=150)
        finally:
            writer.kill()
        if label == "killed":  # communicate() also waited for the orphaned reporting
            assert writer.returncode == -9, stderr[-3000:]  # process: it holds the pipes
            out[label] = {**json.loads((box.root / "kill.json").read_text()),
                          "reaped_at": time.time()}
            continue
        assert writer.returncode == 0, stderr[-3000:]
        out[label] = json.loads(stdout.splitlines()[-1])
    return out


def _expected(points: list) -> dict[str, list[tuple[int, float]]]:
    out: dict[str, list[tuple[int, float]]] = {}
    for step, metrics in points:
        for name, value in metrics.items():
            out.setdefault(name, []).append((step, value))
    return out


def _bits(series: dict[str, list]) -> dict[str, list[tuple[int, bytes]]]:
    return {name: [(int(step), struct.pack("<d", value)) for step, value in points]
            for name, points in series.items()}


def _session_file(ref: dict[str, str], name: str) -> str:
    with zipfile.ZipFile(ref["session_zip"]) as archive:
        return archive.read(name).decode() if name in archive.namelist() else ""


def test_round_trip_and_the_session_zip_read_alone(runs: dict[str, Any]) -> None:
    box, spec, ref = runs["box"], runs["specs"]["lean"], runs["lean"]["ref"]
    assert Path(ref["session_zip"]).is_relative_to(box.store("lean"))
    artifact_sha = sha256_bytes(Path(spec["artifacts"]["model.bin"]).read_bytes())
    Path(spec["artifacts"]["model.bin"]).unlink()  # the session must hold its own copy

    stored = box.read_back(ref, box.store("lean"))

    assert stored["params"] == PARAMS
    assert {k: type(v) for k, v in stored["params"].items()} == {
        k: type(v) for k, v in PARAMS.items()}
    assert _bits(stored["metrics"]) == _bits(_expected(spec["points"]))
    assert stored["artifacts"] == {"model.bin": artifact_sha}
    assert stored["referenced"] == {} and stored["unresolved"] == []
    assert stored["system_metrics"] == {}

    # The bundle alone: the zip carried elsewhere, the store gone, read in a fresh process.
    carried = box.root / "carried"
    carried.mkdir()
    key, bundle = ClearmlAdapter(AdapterSettings(storage_dir=carried)).offline_bundle(ref)
    shutil.copy2(bundle, carried)
    hidden = box.store("lean").rename(box.root / "lean-store-hidden")
    try:
        alone = box.read_back({**ref, key: str(carried / bundle.name)}, carried)
    finally:
        hidden.rename(box.store("lean"))
    assert (alone["params"], alone["metrics"], alone["artifacts"]) == (
        stored["params"], stored["metrics"], stored["artifacts"])


def test_close_leaves_nothing_running_and_nothing_outside_the_store(runs: dict[str, Any]) -> None:
    box = runs["box"]
    for label in ("lean", "defaults", "monitor", "bad"):
        assert runs[label]["helpers_alive_5s_after_close"] == 0, label  # the reporting process
        assert runs[label]["threads"] == ["MainThread"], (label, runs[label]["threads"])
        private = box.root / "private" / label
        assert not list((private / "tmp").iterdir()), f"{label}: ClearML left files in TMPDIR"
        # Its last-task cache (for task reuse): a fixed ~/.clearml path no setting moves, written
        # with reuse_last_task_id=False too. Nothing else of ClearML's lands in HOME.
        home = private / "home"
        written = sorted(name for name in (p.relative_to(home).as_posix() for p in home.rglob("*"))
                         if "clearml" in name.lower())
        assert written == [".clearml", ".clearml/.session.json"], (label, written)
    assert not list(box.cwd.iterdir()), "ClearML wrote into the working directory"


def test_lean_profile_turns_clearml_extras_off(runs: dict[str, Any]) -> None:
    lean, defaults = runs["lean"]["ref"], runs["defaults"]["ref"]
    # The defaults run shows each extra exists, so its absence under lean means something.
    assert "training output" in _session_file(defaults, "log.jsonl")  # stdout captured
    assert "training output" not in _session_file(lean, "log.jsonl")
    task = {p: json.loads(_session_file(ref, "task.json")) for p, ref in
            (("lean", lean), ("defaults", defaults))}
    assert task["defaults"]["script"]["entry_point"] == "writer.py"  # script detection
    assert "adapter.start_run" in task["defaults"]["script"]["diff"]  # no repository: the code
    assert not (task["lean"].get("script") or {}).get("entry_point")
    assert runs["defaults"]["first_random"] == random.Random(1337).random()  # Task.init seeds
    assert runs["lean"]["first_random"] != random.Random(1337).random()
    # Defaults asks updates.clear.ml for a newer version (blocked here: a finding); lean asks
    # nothing.
    assert set(runs["box"].network("defaults")) <= {"socket.getaddrinfo updates.clear.ml"}
    assert runs["box"].network("lean") == []
    assert runs["box"].read_back(defaults, runs["box"].store("defaults"))["params"] == PARAMS


def test_lean_names_every_framework_switch_of_the_installed_clearml() -> None:
    """A switch missing from lean's dict would count as on: compare with Task.init's source."""
    import inspect

    known = set(re.findall(r'should_connect\("(\w+)"', inspect.getsource(clearml.Task.init)))
    assert known and known | {"detect_repository"} == set(FRAMEWORKS)


def test_system_metrics_setting_records_monitor_points(runs: dict[str, Any]) -> None:
    box = runs["box"]
    stored = box.read_back(runs["monitor"]["ref"], box.store("monitor"))

    assert box.network("monitor") == []
    for series in (":monitor:machine/cpu_usage", ":monitor:machine/memory_used_gb"):
        assert stored["system_metrics"].get(series, 0) >= 2, stored["system_metrics"]
    assert set(stored["metrics"]) == {"loss", "accuracy", "lr/é"}


def test_coverage_calls_offline_give_what_clearml_does(runs: dict[str, Any]) -> None:
    """The probe's feature calls inside an open run (the monitor writer's): what each raised."""
    features = runs["monitor"]["features"]
    kind, message, docs = features["dataset"]
    assert kind == "HostedOnly" and "raised UsageError" in message, message
    assert docs.startswith("https://clear.ml/docs/")
    # ClearML 2.1.12's offline OutputModel.update_weights raises before queueing the entry.
    assert features["registry"][0] in ("AttributeError", "HostedOnly"), features["registry"]
    assert features["alert"][0] == "HostedOnly" and "no alert call" in features["alert"][1]
    kind, message, docs = features["query"]
    assert kind == "HostedOnly" and "Task.query_tasks" in message and docs
    # The refused calls left the run intact.
    box = runs["box"]
    assert box.read_back(runs["monitor"]["ref"], box.store("monitor"))["params"] == PARAMS


def test_a_killed_run_is_read_back_as_far_as_it_was_written(runs: dict[str, Any]) -> None:
    box, spec, record = runs["box"], runs["specs"]["killed"], runs["killed"]
    # The reporting process outlives the kill: it writes what it holds at its next tick (every
    # 5 s) and exits once it sees its parent gone, at once or up to 30 s later.
    assert all(not psutil.pid_exists(pid) or psutil.Process(pid).status() == "zombie"
               for pid in record["children"])
    assert record["reaped_at"] - record["killed_at"] < 40
    stored = box.read_back(record["ref"], box.store("killed"))

    assert stored["params"] == PARAMS  # task.json is rewritten at every edit
    assert stored["artifacts"] == {  # copied at the call (wait_on_upload)
        "model.bin": sha256_bytes(Path(spec["artifacts"]["model.bin"]).read_bytes())}
    assert any("never reached close()" in note for note in stored["notes"])
    # The points are read as written: a prefix of what was logged, never altered; at least the
    # batch the reporter had written before the kill.
    expected = _bits(_expected(spec["points"] + LATE_POINTS))
    kept = _bits(stored["metrics"])
    assert all(points == expected[name][: len(points)] for name, points in kept.items())
    assert record["written_before"] and len(kept["loss"]) == len(spec["points"])
    assert box.network("killed") == []
    leftovers = [p.name for p in (box.root / "private" / "killed" / "tmp").iterdir()]
    assert leftovers == [f"clearml_{record['ref']['task_id']}.lock"]  # close() removes it


def test_bad_input_is_stored_as_clearml_does_and_read_back(runs: dict[str, Any]) -> None:
    box, report = runs["box"], runs["bad"]
    stored = box.read_back(report["ref"], box.store("bad"))

    assert box.network("bad") == []
    # float(value) inside report_scalar: None and text refused, numeric text converted.
    assert report["errors"] == {"bi04_none": "TypeError", "bi05_text": "ValueError"}
    metrics = stored["metrics"]
    for name in ("bi01_nan", "bi02_pos_inf", "bi03_neg_inf"):
        assert metrics[name] == [[0, 0.0]]  # ClearML's documented replacement of NaN and inf
    for name in ("bi06_numeric_text", "bi07_ünïcødé_名前_μ", "bi08_slash/a/b",
                 "bi09_with spaces in it", LONG_NAME):
        assert metrics[name] == [[0, 0.5]]
    assert metrics["bi12_negative_step"] == [[-1, 0.5]]
    assert metrics["bi11_duplicate_step"] == [[1, 1.0], [1, 2.0]]
    assert stored["params"] == {"bi13_long_param": LONG_PARAM}
    assert stored["artifacts"] == {"bi14_empty.bin": sha256_bytes(b"")}


def test_a_missing_session_is_a_note_not_a_crash(tmp_path: Path) -> None:
    ref = {"task_id": "offline-0", "session_dir": str(tmp_path / "gone"),
           "session_zip": str(tmp_path / "gone.zip")}
    stored = ClearmlAdapter(AdapterSettings(storage_dir=tmp_path)).read_back(ref)
    assert stored.params == {} and stored.metrics == {} and stored.notes
