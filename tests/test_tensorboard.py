"""TensorBoard adapter on the real SDK: round trip, profiles, a killed run, a truncated event file
and bad input, each logged with tensorboardX in its own process and read back in another that
never imports tensorboardX; then one harness cell and one probe cell driven as the runner does.

All the processes start at once (module fixture), so their imports overlap. Every process runs
under the harness's offline guard, with HOME, the XDG dirs and TMPDIR in a sandbox.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import random
import shutil
import struct
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.sandbox import assert_offline, run_json, sandbox_env

pytest.importorskip("tensorboardX", reason="tensorboardX is not installed")
pytest.importorskip("tensorboard", reason="tensorboard is not installed")

TOOL = "tensorboard"
TIMEOUT_S = 120
OPTIONAL = ("comet_ml", "boto3", "matplotlib", "sentry_sdk")

# One run through the adapter; prints a JSON report as its last line (a killed run writes it to
# a file first).
WRITE_SCRIPT = textwrap.dedent(
    """
    import importlib, json, os, signal, sys, threading, time
    from pathlib import Path

    import psutil

    from adapters.base import AdapterSettings
    from adapters.tensorboard import TensorboardAdapter

    spec = json.loads(Path(sys.argv[1]).read_text())
    adapter = TensorboardAdapter(AdapterSettings(
        storage_dir=Path(spec["storage_dir"]), scenario="local", profile=spec["profile"]))
    adapter.import_sdk()
    report = {"modules": [m for m in spec["watch_modules"] if m in sys.modules], "errors": {}}
    adapter.start_run(spec["name"], {})
    report["threads_in_run"] = [t.name for t in threading.enumerate()]

    def attempt(key, call):
        try:
            call()
        except Exception as exc:
            report["errors"][key] = f"{type(exc).__name__}: {exc}"

    adapter.log_params(spec["params"])
    for step, metrics in spec["points"]:
        attempt(next(iter(metrics)), lambda: adapter.log_metrics(metrics, step))
    for name, path in spec["artifacts"]:
        attempt(name, lambda: adapter.log_artifact(Path(path), name))
    if spec["late_params"]:
        adapter.log_params(spec["late_params"])
    if spec.get("features"):
        path, ref = Path(spec["artifacts"][0][1]), adapter.run_ref()
        attempt("dataset", lambda: adapter.log_dataset(path, "probe-dataset"))
        attempt("registry", lambda: adapter.register_model(path, "test-model"))
        attempt("alert", lambda: adapter.send_alert("loss spike", "loss went up"))
        attempt("query", lambda: adapter.best_run(ref, "loss"))
        attempt("bundle", lambda: adapter.offline_bundle(ref))
    if spec.get("kill"):
        time.sleep(spec["kill"]["wait_s"])  # the writer thread drains its queue meanwhile
        Path(spec["kill"]["report"]).write_text(json.dumps({"ref": adapter.run_ref()}))
        os.kill(os.getpid(), signal.SIGKILL)
    me = psutil.Process()
    report["listening"] = [c.laddr for c in me.net_connections("inet") if c.status == "LISTEN"]
    report["ref"] = adapter.finish()
    report["threads_after"] = [t.name for t in threading.enumerate()]
    for _ in range(100):  # multiprocessing's feeder thread ends on its own, after close()
        if threading.active_count() == 1:
            break
        time.sleep(0.01)
    report["threads_settled"] = [t.name for t in threading.enumerate()]
    report["children"] = len(me.children(recursive=True))
    if spec.get("import_after"):  # the lean profile's block on imports is lifted again
        report["imported_after"] = importlib.import_module(spec["import_after"]).__name__
    print(json.dumps(report))
    """
)

# Reads runs back in a process that never imports tensorboardX.
READ_SCRIPT = textwrap.dedent(
    """
    import dataclasses, json, sys
    from pathlib import Path

    from adapters.base import AdapterSettings
    from adapters.tensorboard import TensorboardAdapter

    adapter = TensorboardAdapter(AdapterSettings(storage_dir=Path(".")))
    stored = [dataclasses.asdict(adapter.read_back(ref)) for ref in json.loads(sys.argv[1])]
    print(json.dumps({"stored": stored, "writer_imported": "tensorboardX" in sys.modules}))
    """
)

PARAMS: dict[str, Any] = {
    "optimizer": "adam – ünïcødé ☃ 学习",
    "learning_rate": 0.1 + 0.2,
    "epochs": 50,
    "shuffle": True,
    "long": "".join(chr(ord("a") + i % 26) for i in range(10_000)),
    "nan": math.nan,
    "none": None,
    "layers": [64, 32],
}
# Logged name -> the tag TensorBoard keeps (tensorboardX's _clean_tag).
ODD_NAMES = {"ünïcødé_名前_μ": "ünïcødé_名前_μ", "slash/a/b": "slash/a/b",
             "with spaces in it": "with_spaces_in_it", "/leading": "leading",
             "n" * 320: "n" * 320}


def _f32(value: float) -> float:
    with np.errstate(over="ignore", under="ignore"):
        return float(np.float32(value))


def _bits(points: list) -> list[tuple[int, bytes]]:
    return [(step, struct.pack("<d", value)) for step, value in points]




def _specs(root: Path) -> dict[str, dict[str, Any]]:
    rng = random.Random(11)
    points = [(3 * i + 1, {"loss": rng.random() * 10.0 ** rng.randint(-300, 300),
                           "accuracy": i / 49, "lr/é": (0.1 + 0.2) * i if i % 7 else 5e-324})
              for i in range(50)]
    model = root / "model.bin"
    model.write_bytes(os.urandom(4096))
    plain = {"profile": "lean", "params": {"lr": 0.5}, "points": [(0, {"loss": 1.0})],
             "artifacts": [], "late_params": {}, "watch_modules": OPTIONAL}
    bad_points = [(-1, {"negative_step": 0.5}), (0, {"nan": math.nan}),
                  (0, {"pos_inf": math.inf}), (0, {"neg_inf": -math.inf}), (0, {"none": None}),
                  (0, {"text": "high"}), (0, {"numeric_text": "0.5"}),
                  (1, {"dup": 1.0}), (1, {"dup": 2.0})]
    specs: dict[str, dict[str, Any]] = {
        "round_trip": {**plain, "params": PARAMS, "points": points,
                       "artifacts": [("model.bin", str(model))], "features": True},
        "lean": {**plain, "import_after": "boto3"},
        "defaults": {**plain, "profile": "defaults"},
        "killed": {**plain, "points": [(step, {"loss": step / 10}) for step in range(1000)],
                   "kill": {"wait_s": 1.0, "report": str(root / "killed.report.json")}},
        "bad_input": {**plain, "points": bad_points + [(0, {n: 0.5}) for n in ODD_NAMES],
                      "late_params": {"late": "after the first log_params", "lr": 0.25}},
    }
    for name, spec in specs.items():
        spec.update(name=name, storage_dir=str(root / name / "store"))
    return specs


def _in_thread(target: Callable[[], Any]) -> Callable[[], Any]:
    """Start ``target`` now; the returned callable waits for its result (or its error)."""
    out: dict[str, Any] = {}

    def run() -> None:
        try:
            out["value"] = target()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test that waits
            out["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()

    def wait() -> Any:
        thread.join(TIMEOUT_S)
        assert not thread.is_alive(), "timed out"
        if "error" in out:
            raise out["error"]
        return out["value"]

    return wait


def _harness_cell(tmp: Path) -> dict[str, Any]:
    """One measured cell (log + read) through the harness, as the contract test drives it."""
    from harness.measure.cell import CellRun
    from harness.plan import Cell, Plan

    plan = Plan(tools=[TOOL], workload="tests.fakes:user_file_workload", repeats=1,
                probes=False, timeout_s=TIMEOUT_S)
    run = CellRun(Cell(TOOL, "local"), plan, tmp)
    try:
        run.log()
        run.read()
        return run.record
    finally:
        run.close()


def _probe_cell(tmp: Path) -> dict[str, Any]:
    from harness.plan import Cell, Plan
    from harness.stages.feature_probes import probe_cell

    plan = Plan(tools=[TOOL], repeats=1, timeout_s=TIMEOUT_S)
    return probe_cell(Cell(TOOL, "local", 0, "probe"), plan, tmp)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Every spec's writer and both harness cells started at once; ``report(name)`` waits."""
    root = tmp_path_factory.mktemp("tensorboard")
    specs = _specs(root)
    started = {}
    for name, spec in specs.items():
        (root / name).mkdir()
        (root / f"{name}.json").write_text(json.dumps(spec))
        started[name] = subprocess.Popen(
            [sys.executable, "-c", WRITE_SCRIPT, str(root / f"{name}.json")],
            cwd=root / name, env=sandbox_env(root / name, root / name / "write.net.jsonl"),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for name in ("cell", "probe"):
        (root / name).mkdir()
    cells = {"cell": _in_thread(lambda: _harness_cell(root / "cell")),
             "probe": _in_thread(lambda: _probe_cell(root / "probe"))}
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
                reports[name] = {**json.loads(stdout.splitlines()[-1]), "stderr": stderr}
        return reports[name]

    yield {"root": root, "specs": specs, "report": report, "cells": cells}
    for process in started.values():
        process.kill()


def _read(runs: dict[str, Any], name: str, refs: list[dict[str, str]]) -> list[dict[str, Any]]:
    cell = runs["root"] / name
    out = run_json(READ_SCRIPT, json.dumps(refs), cell, TIMEOUT_S)
    assert not out["writer_imported"], "read_back must not need tensorboardX"
    return out["stored"]


def _stayed_local(runs: dict[str, Any], name: str, home: frozenset[str] = frozenset()
                  ) -> None:
    """Nothing reached for the network; in HOME only the top directories ``home``; nothing in
    TMPDIR; in the store, only the run's event file."""
    cell = runs["root"] / name
    assert_offline(cell)
    written = {p.relative_to(cell / "home").parts[0] for p in (cell / "home").rglob("*")
               if p.is_file()}
    assert written == set(home), f"written to HOME: {written}"
    assert not list((cell / "tmp").iterdir()), "left files in TMPDIR"
    store = cell / "store"
    files = [p.relative_to(store).parts for p in store.rglob("*") if p.is_file()]
    assert [parts[:2] for parts in files] == [("tensorboard", name)], files
    assert files[0][2].startswith("events.out.tfevents."), files


def _expected(points: list) -> dict[str, list]:
    expected: dict[str, list] = {}
    for step, metrics in points:
        for key, value in metrics.items():
            expected.setdefault(key, []).append((step, _f32(value)))
    return expected


def test_round_trip_keeps_params_and_float32_points_and_no_files(runs: dict[str, Any]) -> None:
    spec, report = runs["specs"]["round_trip"], runs["report"]("round_trip")
    ref = report["ref"]
    assert Path(ref["run_dir"]) == Path(spec["storage_dir"]) / "tensorboard" / "round_trip"
    assert report["listening"] == [] and report["children"] == 0, "a server was started"
    assert len(report["threads_in_run"]) > 1  # the writer thread (and the queue's feeder)
    # The writer thread is joined by finish(); the queue's feeder thread ends just after.
    assert set(report["threads_after"]) <= {"MainThread", "QueueFeederThread"}
    assert report["threads_settled"] == ["MainThread"], "writer threads outlived finish()"
    stored, = _read(runs, "round_trip", [ref])

    params = stored["params"]
    assert math.isnan(params.pop("nan"))
    assert params == {"optimizer": PARAMS["optimizer"], "learning_rate": 0.1 + 0.2,
                      "epochs": 50.0, "shuffle": True, "long": PARAMS["long"]}
    assert type(params["epochs"]) is float and type(params["shuffle"]) is bool
    assert any("an int param reads back as a float" in n for n in stored["notes"])
    assert {k: _bits(v) for k, v in stored["metrics"].items()} == {
        k: _bits(v) for k, v in _expected(spec["points"]).items()}
    losses = [value for _, value in stored["metrics"]["loss"]]
    assert math.inf in losses and 0.0 in losses  # beyond float32's range: rounded off
    assert any("stores scalars as float32" in n for n in stored["notes"])
    assert stored["artifacts"] == stored["referenced"] == {}
    errors = report["errors"]
    assert set(errors) == {"model.bin", "dataset", "registry", "alert", "query", "bundle"}
    assert all(e.startswith("Unsupported: TensorBoard") for e in errors.values()), errors
    assert stored["datasets"] == stored["models"] == stored["alerts"] == []
    assert stored["system_metrics"] == {}
    assert not [n for n in stored["notes"] if "session_end_info" in n or "whole record" in n]
    _stayed_local(runs, "round_trip")


def test_lean_keeps_the_optional_integrations_out_defaults_imports_them(
        runs: dict[str, Any]) -> None:
    lean, defaults = runs["report"]("lean"), runs["report"]("defaults")
    assert lean["modules"] == []
    assert lean["imported_after"] == "boto3"  # the block lasts only while tensorboardX imports
    installed = {m for m in ("comet_ml", "boto3") if importlib.util.find_spec(m) is not None}
    assert installed <= set(defaults["modules"])  # as it comes: whatever is installed
    for name, report in (("lean", lean), ("defaults", defaults)):
        stored, = _read(runs, name, [report["ref"]])
        assert stored["params"] == {"lr": 0.5} and stored["metrics"] == {"loss": [[0, 1.0]]}
    _stayed_local(runs, "lean")
    # comet_ml imports matplotlib, which builds its font cache in (the private) HOME.
    _stayed_local(runs, "defaults",
                  frozenset({".config"} if "matplotlib" in defaults["modules"] else ()))


def test_a_killed_run_keeps_what_spilled_and_stops_at_the_cut(runs: dict[str, Any]) -> None:
    spec, report = runs["specs"]["killed"], runs["report"]("killed")
    stored, = _read(runs, "killed", [report["ref"]])

    logged = [[step, metrics["loss"]] for step, metrics in spec["points"]]
    kept = stored["metrics"]["loss"]
    assert kept == [[s, _f32(v)] for s, v in logged[:len(kept)]]  # a prefix, in order
    # Not flushed since the first event (flush_secs=120): only full 4 KiB blocks reached the
    # file; the block in the buffer (never empty: its last write is in it) was lost.
    assert len(logged) - 150 <= len(kept) < len(logged), len(kept)
    assert stored["params"] == {"lr": 0.5}  # the first event: flushed at once
    assert any("no hparams session_end_info" in n for n in stored["notes"])
    _stayed_local(runs, "killed")


def test_a_truncated_event_file_is_read_up_to_the_last_whole_record(
        runs: dict[str, Any]) -> None:
    ref = runs["report"]("round_trip")["ref"]
    source, = Path(ref["run_dir"]).iterdir()
    cut_dir = runs["root"] / "round_trip" / "cut" / "round_trip"
    cut_dir.mkdir(parents=True)
    data = source.read_bytes()
    (cut_dir / source.name).write_bytes(data[:-2000])  # the params come first: 10 KB
    full, cut = _read(runs, "round_trip", [ref, {**ref, "run_dir": str(cut_dir)}])

    assert 0 < sum(map(len, cut["metrics"].values())) < sum(map(len, full["metrics"].values()))
    for key, points in cut["metrics"].items():
        assert points == full["metrics"][key][:len(points)], key
    assert cut["params"].keys() == full["params"].keys()  # logged first
    assert any("are not a whole record" in n for n in cut["notes"]), cut["notes"]
    assert any("no hparams session_end_info" in n for n in cut["notes"])


def test_bad_input_is_rejected_renamed_or_kept(runs: dict[str, Any]) -> None:
    report = runs["report"]("bad_input")
    stored, = _read(runs, "bad_input", [report["ref"]])
    metrics = stored["metrics"]

    assert metrics["negative_step"] == [[-1, 0.5]]
    assert math.isnan(metrics["nan"][0][1])
    assert metrics["pos_inf"] == [[0, math.inf]] and metrics["neg_inf"] == [[0, -math.inf]]
    assert report["stderr"].count("NaN or Inf found in input tensor.") == 3
    assert report["errors"]["none"].startswith("NotImplementedError")
    assert report["errors"]["text"].startswith("TypeError")  # numpy's, from tensorboardX's
    assert report["errors"]["numeric_text"].startswith("TypeError")  # NaN check
    assert not {"none", "text", "numeric_text"} & metrics.keys()
    assert all(metrics[tag] == [[0, 0.5]] for tag in ODD_NAMES.values())
    assert not set(ODD_NAMES) - set(ODD_NAMES.values()) & metrics.keys()
    assert metrics["dup"] == [[1, 1.0], [1, 2.0]]
    assert stored["params"] == {"lr": 0.5}  # TensorBoard reads a run's first session only
    late = [n for n in stored["notes"] if "later log_params calls" in n]
    assert late and "(late, lr)" in late[0], stored["notes"]
    _stayed_local(runs, "bad_input")


def test_a_harness_cell_finds_the_float32_and_int_alterations(runs: dict[str, Any]) -> None:
    record = runs["cells"]["cell"]()
    assert record["status"] == "ok", record["error"]
    assert record["leftover_processes"] == []
    assert record["logged"] == {"params": 4, "points": 100, "artifacts": 1}
    fid = record["fidelity"]
    assert (fid["params"]["kept"], fid["params"]["altered"]) == (3, 1)
    assert fid["params"]["examples"] == ["altered: layers: 3 -> 3.0"]
    values = [v for step in range(50) for v in (1.0 / (step + 1), step / 49)]
    exact = sum(_f32(v) == v for v in values)
    assert (fid["points"]["kept"], fid["points"]["altered"]) == (exact, 100 - exact)
    assert fid["points"]["missing"] == fid["points"]["extra"] == 0
    # Refused as a feature TensorBoard lacks: unsupported, neither kept nor lost.
    assert fid["artifacts"]["unsupported"] == 1
    assert fid["artifacts"]["kept"] == fid["artifacts"]["missing"] == 0
    errors = record["call_errors"]
    assert len(errors) == 1 and errors[0].startswith("artifact: Unsupported: TensorBoard stores no")
    assert record["disk_bytes"] > 0 and record["cpu_s"] > 0


def test_the_probe_cell_finds_every_feature_absent(runs: dict[str, Any]) -> None:
    record = runs["cells"]["probe"]()
    assert record["status"] == "ok", record["error"]
    coverage = record["coverage"]
    assert {k: v["status"] for k, v in coverage.items()} == dict.fromkeys(
        ("auth", "isolation", "data-versioning", "monitoring", "alerts", "model-registry",
         "offline-sync", "query-api", "rest-api"), "absent")
    for feature in ("data-versioning", "alerts", "model-registry", "offline-sync", "query-api"):
        assert coverage[feature]["evidence"].startswith("TensorBoard has no"), feature
    assert coverage["monitoring"]["evidence"].startswith("system metrics enabled, none stored")
    assert record["network"]["attempts"] == []
    shutil.rmtree(runs["root"] / "probe", ignore_errors=True)
