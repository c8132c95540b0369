"""trackio adapter on the real SDK: round trip, coverage features, profiles, a killed run and bad
input, each logged in its own process and read back in another that never imports trackio.

trackio fixes its data directory when it is imported, so every run happens in a subprocess with
the adapter's environment; all of them start at once (module fixture), so the slow part (a
trackio import per process) overlaps. Every process runs under the harness's offline guard,
with HOME, the XDG dirs and TMPDIR in a sandbox.
"""

from __future__ import annotations

import json
import math
import os
import random
import shutil
import struct
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from adapters.base import sha256_bytes, sha256_file
from tests.sandbox import assert_offline, run_json, sandbox_env

pytest.importorskip("trackio", reason="trackio is not installed (the `tools` extra)")

TIMEOUT_S = 90

# One trackio run through the adapter, as the spec says; prints a JSON report as its last line
# (a killed run writes it to a file first).
WRITE_SCRIPT = textwrap.dedent(
    """
    import json, os, signal, sys, threading, time
    from pathlib import Path

    import psutil

    from adapters.base import AdapterSettings
    from adapters.trackio import TrackioAdapter

    spec = json.loads(Path(sys.argv[1]).read_text())
    adapter = TrackioAdapter(AdapterSettings(
        storage_dir=Path(spec["storage_dir"]), profile=spec["profile"],
        system_metrics=spec["system_metrics"]))
    adapter.import_sdk()
    adapter.start_run(spec["name"], {})
    report = {"threads_in_run": [t.name for t in threading.enumerate()], "errors": {}}
    adapter.log_params(spec["params"])
    for step, metrics in spec["points"]:
        adapter.log_metrics(metrics, step)
    for name, path in spec["artifacts"]:
        try:
            adapter.log_artifact(Path(path), name)
        except Exception as exc:
            report["errors"][name] = f"{type(exc).__name__}: {exc}"
    adapter.log_params(spec["late_params"])
    if spec.get("dataset"):
        dataset = Path(spec["dataset"])
        for version in (1, 2):  # the second overwrites the first in place
            dataset.write_text("".join(f"{i},{i * version}\\n" for i in range(100)))
            adapter.log_dataset(dataset, "probe-dataset")
        adapter.register_model(Path(spec["artifacts"][0][1]), "test-model")
        adapter.send_alert("loss spike", "loss went up")
    if spec.get("kill"):
        time.sleep(spec["kill"]["wait_s"])  # the writer thread flushes every 0.5 s
        for step, metrics in spec["kill"]["points"]:
            adapter.log_metrics(metrics, step)
        Path(spec["kill"]["report"]).write_text(json.dumps({"ref": adapter.run_ref()}))
        os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(spec["sleep_s"])
    me = psutil.Process()
    report["listening"] = [c.laddr for c in me.net_connections("inet") if c.status == "LISTEN"]
    report["ref"] = adapter.finish()
    if spec.get("query"):
        report["query_refs"] = []
        for index, value in enumerate((0.3, 0.1, 0.2)):
            adapter.start_run(f"query-{index}", {})
            adapter.log_metrics({"probe_loss": value}, step=0)
            report["query_refs"].append(adapter.finish())
        report["best"] = adapter.best_run(report["ref"], "probe_loss")
    report["threads_after"] = [t.name for t in threading.enumerate()]
    report["children"] = len(me.children(recursive=True))
    print(json.dumps(report))
    """
)

# Reads runs back in a process that never imports trackio (nor lets it be imported).
READ_SCRIPT = textwrap.dedent(
    """
    import dataclasses, json, sys
    from pathlib import Path

    from adapters.base import AdapterSettings
    from adapters.trackio import TrackioAdapter

    adapter = TrackioAdapter(AdapterSettings(storage_dir=Path(".")))
    stored = [dataclasses.asdict(adapter.read_back(ref)) for ref in json.loads(sys.argv[1])]
    print(json.dumps({"stored": stored, "sdk_imported": "trackio" in sys.modules}))
    """
)

PARAMS: dict[str, Any] = {
    "optimizer": "adam – ünïcødé ☃ 学习",
    "learning_rate": 0.1 + 0.2,
    "epochs": 50,
    "shuffle": True,
    "long": "".join(chr(ord("a") + i % 26) for i in range(10_000)),
    "nan": math.nan,
}
ODD_NAMES = ("ünïcødé_名前_μ", "slash/a/b", "with spaces in it", "n" * 320)


def _bits(points: list) -> list[tuple[int, bytes]]:
    return [(step, struct.pack("<d", value)) for step, value in points]




def _specs(root: Path) -> dict[str, dict[str, Any]]:
    rng = random.Random(11)
    points = [(3 * i + 1, {"loss": rng.random() * 10.0 ** rng.randint(-300, 300),
                           "accuracy": i / 49, "lr/é": (0.1 + 0.2) * i if i % 7 else 5e-324})
              for i in range(50)]
    model, kept = root / "model.bin", root / "kept.bin"
    model.write_bytes(os.urandom(4096))
    kept.write_bytes(os.urandom(1000))
    empty = root / "empty.bin"
    empty.write_bytes(b"")
    plain = {"profile": "lean", "system_metrics": False, "params": {"lr": 0.5},
             "points": [(0, {"loss": 1.0})], "artifacts": [], "late_params": {}, "sleep_s": 0}
    specs: dict[str, dict[str, Any]] = {
        "round_trip": {**plain, "params": PARAMS, "points": points,
                       "artifacts": [("model.bin", str(model))], "dataset": str(root / "d.csv"),
                       "query": True},
        "lean": plain,
        "defaults": {**plain, "profile": "defaults"},
        "system": {**plain, "system_metrics": True, "sleep_s": 3.0},
        "killed": {**plain, "points": [(step, {"loss": step / 10}) for step in range(20)],
                   "artifacts": [("model.bin", str(kept))],
                   "kill": {"wait_s": 1.5, "report": str(root / "killed.report.json"),
                            "points": [(step, {"loss": step / 10}) for step in range(20, 40)]}},
        "bad_input": {**plain, "points": [
            (-1, {"negative_step": 0.5}), (0, {"nan": math.nan, "pos_inf": math.inf,
                                               "neg_inf": -math.inf, "none": None,
                                               "text": "high", "numeric_text": "0.5"}),
            (0, {name: 0.5 for name in ODD_NAMES}), (1, {"dup": 1.0}), (1, {"dup": 2.0})],
            "artifacts": [("empty.bin", str(empty)), ("bad name.bin", str(empty))],
            "late_params": {"late": "after the first log()"}},
    }
    for name, spec in specs.items():
        spec.update(name=name, storage_dir=str(root / name / "store"))
    return specs


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Every spec's writer started at once; ``report(name)`` waits for one."""
    root = tmp_path_factory.mktemp("trackio")
    specs = _specs(root)
    started = {}
    for name, spec in specs.items():
        (root / name).mkdir()
        (root / f"{name}.json").write_text(json.dumps(spec))
        started[name] = subprocess.Popen(
            [sys.executable, "-c", WRITE_SCRIPT, str(root / f"{name}.json")],
            cwd=root / name, env=sandbox_env(root / name, root / name / "write.net.jsonl"),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    reports: dict[str, Any] = {}

    def report(name: str) -> dict[str, Any]:
        if name not in reports:
            process = started[name]
            try:
                stdout, stderr = process.communicate(timeout=TIMEOUT_S)
            finally:
                process.kill()
            if "kill" in specs[name]:
                assert process.returncode == -9, stderr
                reports[name] = json.loads(Path(specs[name]["kill"]["report"]).read_text())
            else:
                assert process.returncode == 0, stderr
                reports[name] = json.loads(stdout.splitlines()[-1])
        return reports[name]

    yield {"root": root, "specs": specs, "report": report}
    for process in started.values():
        process.kill()


def _read(runs: dict[str, Any], name: str, refs: list[dict[str, str]]) -> list[dict[str, Any]]:
    cell = runs["root"] / name
    out = run_json(READ_SCRIPT, json.dumps(refs), cell, TIMEOUT_S)
    assert not out["sdk_imported"], "read_back must not need trackio"
    return out["stored"]


def _stayed_local(runs: dict[str, Any], name: str) -> None:
    """Nothing reached for the network, nothing served, nothing written outside the store."""
    cell = runs["root"] / name
    assert_offline(cell)
    assert not [p for p in (cell / "home").rglob("*") if p.is_file()], "trackio wrote to HOME"
    assert not list((cell / "tmp").iterdir()), "trackio left files in TMPDIR"


def test_round_trip_keeps_every_param_point_artifact_and_feature(runs: dict[str, Any]) -> None:
    spec, report = runs["specs"]["round_trip"], runs["report"]("round_trip")
    ref = report["ref"]
    assert Path(ref["trackio_dir"]) == Path(spec["storage_dir"]) / "trackio"
    assert report["listening"] == [] and report["children"] == 0, "a dashboard was started"
    assert report["threads_after"] == ["MainThread"], "trackio threads outlived finish()"
    shutil.move(Path(spec["artifacts"][0][1]), runs["root"] / "moved.bin")  # the run's copy only
    Path(spec["dataset"]).unlink()
    stored, *queried = _read(runs, "round_trip", [ref, *report["query_refs"]])

    assert math.isnan(stored["params"].pop("nan"))  # trackio writes "NaN" and reads it back
    assert stored["params"] == {k: v for k, v in PARAMS.items() if k != "nan"}
    assert {k: type(v) for k, v in stored["params"].items()} == {
        k: type(v) for k, v in PARAMS.items() if k != "nan"}
    expected: dict[str, list] = {}
    for step, metrics in spec["points"]:
        for key, value in metrics.items():
            expected.setdefault(key, []).append((step, value))
    assert {k: _bits(v) for k, v in stored["metrics"].items()} == {
        k: _bits(v) for k, v in expected.items()}
    model = sha256_file(runs["root"] / "moved.bin")
    assert stored["artifacts"] == {"model.bin": model} and stored["referenced"] == {}
    versions = [sha256_bytes("".join(f"{i},{i * v}\n" for i in range(100)).encode())
                for v in (1, 2)]
    assert [name for name, _ in stored["datasets"]] == ["probe-dataset"] * 2
    assert len({digest for _, digest in stored["datasets"]}) == 2
    assert stored["dataset_sha256"] == versions  # each version's bytes kept by trackio
    assert stored["models"] == [["test-model", "v0"]]
    assert stored["alerts"] == ["loss spike"]
    assert stored["system_metrics"] == {}  # lean: no monitor
    assert report["best"] == report["query_refs"][1]  # the 0.1 run
    assert [q["metrics"] for q in queried] == [{"probe_loss": [[0, v]]} for v in (0.3, 0.1, 0.2)]
    _stayed_local(runs, "round_trip")


def test_offline_bundle_is_read_alone(runs: dict[str, Any]) -> None:
    report = runs["report"]("round_trip")
    adapter_dir = Path(report["ref"]["trackio_dir"])
    copy = runs["root"] / "round_trip" / "carried" / adapter_dir.name
    shutil.copytree(adapter_dir, copy)
    hidden = adapter_dir.with_name("trackio.hidden")
    adapter_dir.rename(hidden)
    try:
        alone, = _read(runs, "round_trip", [{**report["ref"], "trackio_dir": str(copy)}])
    finally:
        hidden.rename(adapter_dir)
    original, = _read(runs, "round_trip", [report["ref"]])
    for kind in ("metrics", "artifacts", "datasets", "dataset_sha256", "alerts"):
        assert alone[kind] == original[kind], kind
    assert alone["params"].keys() == original["params"].keys()


def test_lean_turns_the_monitors_off_and_system_metrics_turn_them_on(
        runs: dict[str, Any]) -> None:
    reports = {name: runs["report"](name) for name in ("lean", "defaults", "system")}
    monitors = {name: sum("_monitor_loop" in t for t in r["threads_in_run"])
                for name, r in reports.items()}
    assert monitors == {"lean": 0, "defaults": 1, "system": 1}  # CPU only: no GPU here
    lean, defaults, system = (_read(runs, name, [r["ref"]])[0] for name, r in reports.items())
    assert lean["system_metrics"] == {}
    assert defaults["system_metrics"] == {}  # on, but its first sample is due after 10 s
    assert system["system_metrics"]["cpu/utilization"] >= 2, system["system_metrics"]
    assert system["system_metrics"]["memory/used"] >= 2
    for stored in (lean, defaults, system):
        assert stored["params"] == {"lr": 0.5} and stored["metrics"] == {"loss": [[0, 1.0]]}
    for name in reports:
        _stayed_local(runs, name)


def test_a_killed_run_reads_back_what_the_writer_thread_committed(runs: dict[str, Any]) -> None:
    spec, report = runs["specs"]["killed"], runs["report"]("killed")
    stored, = _read(runs, "killed", [report["ref"]])

    head = [[step, metrics["loss"]] for step, metrics in spec["points"]]
    tail = [[step, metrics["loss"]] for step, metrics in spec["kill"]["points"]]
    kept = stored["metrics"]["loss"]
    assert kept[:len(head)] == head  # logged 1.5 s before the kill: flushed and committed
    assert kept[len(head):] == tail[:len(kept) - len(head)]  # whatever of the tail, in order
    assert stored["params"] == {"lr": 0.5}
    assert stored["artifacts"] == {"model.bin": sha256_file(Path(spec["artifacts"][0][1]))}
    _stayed_local(runs, "killed")


def test_bad_input_does_not_break_the_read_back(runs: dict[str, Any]) -> None:
    report = runs["report"]("bad_input")
    stored, = _read(runs, "bad_input", [report["ref"]])
    metrics = stored["metrics"]

    assert metrics["negative_step"] == [[-1, 0.5]]
    assert math.isnan(metrics["nan"][0][1])
    assert metrics["pos_inf"] == [[0, math.inf]] and metrics["neg_inf"] == [[0, -math.inf]]
    assert metrics["none"] == [[0, None]]
    assert metrics["text"] == [[0, "high"]] and metrics["numeric_text"] == [[0, "0.5"]]
    assert all(metrics[name] == [[0, 0.5]] for name in ODD_NAMES)
    assert metrics["dup"] == [[1, 1.0], [1, 2.0]]
    assert stored["artifacts"] == {"empty.bin": sha256_bytes(b"")}
    assert report["errors"]["bad name.bin"].startswith("ValueError")  # [A-Za-z0-9._-] only
    assert "late" not in stored["params"]  # set after the first log(): never written
    assert any("after the first log() call are not stored" in n for n in stored["notes"])
    assert any("stored as text" in note for note in stored["notes"])
    _stayed_local(runs, "bad_input")
