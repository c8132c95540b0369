"""DVCLive adapter on the real SDK: round trip, coverage features, profiles, a killed run and bad
input, each logged in its own process and read back in another that never imports dvc or
dvclive; then the harness's own cell, probe and bad-input runs of the adapter as ``module:Class``.

All of them start at once (module fixture), so the slow part (importing DVC, creating a Git +
DVC repository per cell) overlaps. Every process runs under the harness's offline guard, with
HOME, the XDG dirs and TMPDIR in a sandbox.
"""

from __future__ import annotations

import ctypes
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
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from adapters.base import sha256_bytes, sha256_file
from tests.sandbox import REPO, assert_offline, run_json, sandbox_env

pytest.importorskip("dvclive", reason="dvclive is not installed (the `tools` extra)")

TOOL = "dvclive"
TIMEOUT_S = 150

# One DVCLive run through the adapter; prints a JSON report as its last line (a killed run
# writes it to a file first).
WRITE_SCRIPT = textwrap.dedent(
    """
    import json, os, signal, sys, threading, time
    from pathlib import Path

    import psutil

    from adapters.base import AdapterSettings, Unsupported
    from adapters.dvclive import DvcliveAdapter

    spec = json.loads(Path(sys.argv[1]).read_text())
    adapter = DvcliveAdapter(AdapterSettings(
        storage_dir=Path(spec["storage_dir"]), profile=spec["profile"],
        system_metrics=spec["system_metrics"]))
    adapter.import_sdk()
    adapter.start_run(spec["name"], {})
    ref = adapter.run_ref()
    run = Path(ref["repo"]) / ref["live_dir"]
    report = {"ref_mid_run": ref, "errors": {},
              "threads_in_run": [t.name for t in threading.enumerate()]}
    adapter.log_params(spec["params"])
    for step, metrics in spec["points"]:
        try:
            adapter.log_metrics(metrics, step)
        except Exception as exc:
            report["errors"][",".join(metrics)] = f"{type(exc).__name__}: {exc}"[:200]
    for name, path in spec["artifacts"]:
        try:
            adapter.log_artifact(Path(path), name)
        except Exception as exc:
            report["errors"][name] = f"{type(exc).__name__}: {exc}"[:200]
    adapter.log_params(spec["late_params"])
    report["summary_mid_run"] = (run / "metrics.json").exists()
    if spec.get("dataset"):
        dataset = Path(spec["dataset"])
        for version in (1, 2):  # the second overwrites the first in place
            dataset.write_text("".join(f"{i},{i * version}\\n" for i in range(100)))
            adapter.log_dataset(dataset, "probe-dataset")
        adapter.register_model(Path(spec["artifacts"][0][1]), "test-model")
        try:
            adapter.send_alert("loss spike", "loss went up")
        except Unsupported as exc:
            report["alert"] = f"Unsupported: {exc}"
    if spec.get("kill"):
        Path(spec["kill"]["report"]).write_text(json.dumps({"ref": adapter.run_ref()}))
        os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(spec["sleep_s"])
    from dvc.repo import Repo

    with Repo(ref["repo"]) as repo:
        report["config_files"] = dict(repo.config.files)
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
    report["threads_after"] = [[t.name, t.daemon] for t in threading.enumerate()]
    report["children"] = len(me.children(recursive=True))
    print(json.dumps(report))
    """
)

# Reads runs back in a process that never imports dvc or dvclive.
READ_SCRIPT = textwrap.dedent(
    """
    import dataclasses, json, sys
    from pathlib import Path

    from adapters.base import AdapterSettings
    from adapters.dvclive import DvcliveAdapter

    adapter = DvcliveAdapter(AdapterSettings(storage_dir=Path(".")))
    stored = [dataclasses.asdict(adapter.read_back(ref)) for ref in json.loads(sys.argv[1])]
    sdk = sorted(m for m in sys.modules if m.split(".")[0] in ("dvc", "dvclive"))
    print(json.dumps({"stored": stored, "sdk_imported": sdk}))
    """
)

PARAMS: dict[str, Any] = {
    "optimizer": "adam – ünïcødé ☃ 学习",
    "learning_rate": 0.1 + 0.2,
    "epochs": 50,
    "shuffle": True,
    "yes_text": "yes",  # YAML 1.1 readers (PyYAML) would turn it into True
    "none": None,
    "nested": {"layers": [64, 32], "act": "relu"},
    "long": "".join(chr(ord("a") + i % 26) for i in range(10_000)),
    "nan": math.nan,
}
# Planted in the sandbox of the defaults run: the adapter must not let any of them act (left in
# place, the Studio settings make DVCLive post to studio.example.com, which the guard records).
LEAKY_ENV = {"DVC_STUDIO_TOKEN": "isat_not-a-real-token", "STUDIO_TOKEN": "isat_not-real",
             "DVC_STUDIO_URL": "https://studio.example.com",
             "DVC_STUDIO_REPO_URL": "https://git.example.com/x", "DVC_EXP_AUTO_PUSH": "true",
             "DVC_EXP_GIT_REMOTE": "https://git.example.com/x.git", "DVCLIVE_TEST": "true"}
GLOBAL_DVC_CONFIG = ("[studio]\n    token = isat_global-not-real\n"
                     "    url = https://studio.example.com\n    repo_url = https://git.example.com/x\n")


def _bits(points: list) -> list[tuple[int, bytes]]:
    return [(step, struct.pack("<d", value)) for step, value in points]


def _nvml_loadable() -> bool:
    try:
        ctypes.CDLL("libnvidia-ml.so.1")
    except OSError:
        return False
    return True




def _specs(root: Path) -> dict[str, dict[str, Any]]:
    rng = random.Random(11)
    points = [(3 * i + 1, {"loss": rng.random() * 10.0 ** rng.randint(-300, 300),
                           "accuracy": i / 49, "lr/é": (0.1 + 0.2) * i if i % 7 else 5e-324,
                           "epoch": i})
              for i in range(50)]
    # The user's files lie outside the cell (its store and its scratch dir).
    model, other, kept = root / "model.bin", root / "other.bin", root / "kept.bin"
    for path, size in ((model, 4096), (other, 300), (kept, 1000)):
        path.write_bytes(os.urandom(size))
    empty = root / "empty.bin"
    empty.write_bytes(b"")
    plain = {"profile": "lean", "system_metrics": False, "params": {"lr": 0.5},
             "points": [(0, {"loss": 1.0})], "artifacts": [], "late_params": {}, "sleep_s": 0}
    specs: dict[str, dict[str, Any]] = {
        "round_trip": {**plain, "params": PARAMS, "points": points,
                       "artifacts": [("model.bin", str(model)), ("renamed.bin", str(other))],
                       "dataset": str(root / "d.csv"), "query": True},
        "lean": plain,
        "defaults": {**plain, "profile": "defaults", "points": [(0, {"loss": 1.0}),
                                                                (1, {"loss": 0.5})]},
        "system": {**plain, "system_metrics": True, "sleep_s": 2.5},
        "killed": {**plain, "points": [(step, {"loss": step / 10}) for step in range(40)],
                   "artifacts": [("kept.bin", str(kept))],
                   "kill": {"report": str(root / "killed.report.json")}},
        "odd_input": {**plain, "points": [
            (0, {"flag": True}), (0, {"step": 0.5}), (1, {"mixed_ok": 1.0, "mixed_bad": None}),
            (2, {"tab\there": "a\tb"})],
            "artifacts": [("empty.bin", str(empty)), ("bad name.bin", str(empty))],
            "late_params": {"late": "after the first log_metrics"}},
    }
    for name, spec in specs.items():
        spec.update(name=name, storage_dir=str(root / name / "store"))
    return specs


def _harness_runs(root: Path) -> dict[str, Future]:
    """The harness driving the adapter as ``module:Class``: the contract's cell, a probe cell,
    the bad-input cases; each in a thread (their work is in subprocesses)."""
    from harness.measure import bad_input_cases as cases
    from harness.measure.cell import CellRun
    from harness.plan import Cell, Plan
    from harness.stages.bad_input import run_pair
    from harness.stages.feature_probes import probe_cell
    from tests.fakes import USER_FILES

    plan = Plan(tools=[TOOL], workload="tests.fakes:user_file_workload", repeats=1,
                probes=False, timeout_s=TIMEOUT_S)

    def contract() -> dict[str, Any]:
        run = CellRun(Cell(TOOL, "local"), plan, root)
        try:
            run.log()
            # The user's file is still in place, but no longer what was logged.
            (run.workdir.parent / USER_FILES / "weights.bin").write_bytes(b"changed afterwards")
            run.read()
            run.record["network"] = run.network()
            return run.record
        finally:
            run.close()

    def bad_input() -> dict[str, Any]:
        large = root / cases.BY_ID["bi15"].name
        return run_pair(TOOL, "local", plan, root, None, (large, cases.write_large_file(large)))

    pool = ThreadPoolExecutor(3)
    futures = {"contract": pool.submit(contract),
               "probe": pool.submit(probe_cell, Cell(TOOL, "local", 0, "probe"), plan, root),
               "bad_input": pool.submit(bad_input)}
    pool.shutdown(wait=False)
    return futures


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Every spec's writer started at once, and the harness's runs; ``report(name)`` waits."""
    root = tmp_path_factory.mktemp("dvclive")
    specs = _specs(root)
    started = {}
    for name, spec in specs.items():
        cell = root / name
        cell.mkdir()
        (root / f"{name}.json").write_text(json.dumps(spec))
        extra = None
        if name == "defaults":  # a user's Studio token, auto-push and global DVC config
            extra = LEAKY_ENV
            planted = cell / "home" / ".config" / "dvc" / "config"
            planted.parent.mkdir(parents=True)
            planted.write_text(GLOBAL_DVC_CONFIG)
        started[name] = subprocess.Popen(
            [sys.executable, "-c", WRITE_SCRIPT, str(root / f"{name}.json")],
            cwd=cell, env=sandbox_env(cell, cell / "write.net.jsonl", extra),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    (root / "harness-cells").mkdir()
    harness = _harness_runs(root / "harness-cells")
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
            reports[name]["stderr"] = stderr
        return reports[name]

    yield {"root": root, "specs": specs, "report": report,
           "harness": lambda name: harness[name].result(timeout=2 * TIMEOUT_S)}
    for process in started.values():
        process.kill()


def _read(runs: dict[str, Any], name: str, refs: list[dict[str, str]]) -> list[dict[str, Any]]:
    cell = runs["root"] / name
    out = run_json(READ_SCRIPT, json.dumps(refs), cell, TIMEOUT_S)
    assert out["sdk_imported"] == [], "read_back must not need dvc or dvclive"
    return out["stored"]


def _stayed_local(runs: dict[str, Any], name: str, planted: tuple[str, ...] = ()) -> None:
    """Nothing reached for the network, nothing written outside the store."""
    cell = runs["root"] / name
    assert_offline(cell)
    home = cell / "home"
    written = sorted(p.relative_to(home).as_posix() for p in home.rglob("*") if p.is_file())
    assert written == sorted(planted), "DVC wrote to HOME"
    assert not list((cell / "tmp").iterdir()), "DVC left files in TMPDIR"


def _run_dir(ref: dict[str, str]) -> Path:
    return Path(ref["repo"]) / ref["live_dir"]


def test_round_trip_keeps_every_param_point_artifact_and_feature(runs: dict[str, Any]) -> None:
    spec, report = runs["specs"]["round_trip"], runs["report"]("round_trip")
    ref, store = report["ref"], Path(spec["storage_dir"])
    assert report["ref_mid_run"] == ref  # run_ref() works mid-run
    assert ref == {"repo": str(store / "repo"), "live_dir": "dvclive/round_trip"}
    assert report["listening"] == [] and report["children"] == 0
    # DVCLive's Studio queue worker and tqdm's monitors outlive end(), all daemons.
    assert all(daemon for name, daemon in report["threads_after"] if name != "MainThread")
    assert report["errors"] == {}
    assert report["alert"].startswith("Unsupported")
    # DVC's global and system config and its site cache are the cell's, not ~ or /var/tmp.
    assert {level: Path(p).is_relative_to(store) for level, p in
            report["config_files"].items()} == dict.fromkeys(("system", "global", "repo",
                                                              "local"), True)
    assert any((store / "dvc-site-cache").rglob("*.db"))
    # Only the DVC cache may answer: the user's files change, the workspace copies are spoiled.
    originals = {name: sha256_file(Path(path)) for name, path in spec["artifacts"]}
    for _, path in spec["artifacts"]:
        Path(path).write_bytes(b"changed after logging")
    for copy in (_run_dir(ref) / "artifacts").glob("*.bin"):
        copy.chmod(0o644)
        copy.write_bytes(b"workspace copy spoiled")
    Path(spec["dataset"]).unlink()
    stored, *queried = _read(runs, "round_trip", [ref, *report["query_refs"]])

    assert math.isnan(stored["params"].pop("nan"))
    assert stored["params"] == {k: v for k, v in PARAMS.items() if k != "nan"}
    assert {k: type(v) for k, v in stored["params"].items()} == {
        k: type(v) for k, v in PARAMS.items() if k != "nan"}
    expected: dict[str, list] = {}
    for step, metrics in spec["points"]:
        for key, value in metrics.items():
            expected.setdefault(key, []).append((step, value))
    assert {k: _bits(v) for k, v in stored["metrics"].items()} == {
        k: _bits(v) for k, v in expected.items()}
    assert all(type(v) is int for _, v in stored["metrics"]["epoch"])
    assert stored["artifacts"] == originals and stored["referenced"] == {}
    assert stored["unresolved"] == []
    versions = [sha256_bytes("".join(f"{i},{i * v}\n" for i in range(100)).encode())
                for v in (1, 2)]
    assert [name for name, _ in stored["datasets"]] == ["probe-dataset"] * 2
    assert len({digest for _, digest in stored["datasets"]}) == 2  # md5 of each version
    assert stored["dataset_sha256"] == versions  # each version's bytes, from the DVC cache
    assert stored["models"] == [["test-model", "v0.0.1"]]
    assert stored["alerts"] == [] and stored["system_metrics"] == {}
    assert report["best"] == report["query_refs"][1]  # the 0.1 run
    assert [q["metrics"] for q in queried] == [{"probe_loss": [[0, v]]} for v in (0.3, 0.1, 0.2)]
    _stayed_local(runs, "round_trip")


def test_read_back_fails_loudly_when_the_cache_lost_the_bytes(runs: dict[str, Any]) -> None:
    """On a copy of the repository with the DVC cache emptied, artifacts and dataset versions
    are unresolved, not passed off as kept from the workspace copies still beside them."""
    report = runs["report"]("round_trip")
    copy = runs["root"] / "round_trip" / "cacheless" / "repo"
    shutil.copytree(report["ref"]["repo"], copy)
    shutil.rmtree(copy / ".dvc" / "cache")
    stored, = _read(runs, "round_trip", [{**report["ref"], "repo": str(copy)}])
    assert stored["artifacts"] == {}
    assert sorted(u.split("'")[1] for u in stored["unresolved"]
                  if u.startswith("artifact")) == ["model.bin", "renamed.bin"]
    assert stored["dataset_sha256"] == [None, None] and len(stored["datasets"]) == 2
    assert stored["models"] == []  # the tag's model bytes are gone too
    assert any("test-model@v0.0.1" in u for u in stored["unresolved"])


def test_offline_bundle_is_read_alone(runs: dict[str, Any]) -> None:
    report = runs["report"]("round_trip")
    repo = Path(report["ref"]["repo"])
    carried = runs["root"] / "round_trip" / "carried" / repo.name
    shutil.copytree(repo, carried)
    hidden = repo.with_name("repo.hidden")
    repo.rename(hidden)
    try:
        alone, = _read(runs, "round_trip", [{**report["ref"], "repo": str(carried)}])
    finally:
        hidden.rename(repo)
    original, = _read(runs, "round_trip", [report["ref"]])
    for kind in ("metrics", "artifacts", "datasets", "dataset_sha256", "models"):
        assert alone[kind] == original[kind], kind
    assert alone["params"].keys() == original["params"].keys()


def _git_refs(repo: Path) -> list[str]:
    from dulwich.repo import Repo

    with Repo(str(repo)) as git:
        return sorted(ref.decode() for ref in git.refs.allkeys())


def test_lean_and_defaults(runs: dict[str, Any]) -> None:
    """lean: no experiment saved, metrics.json only at the end, Studio and analytics off in the
    repository's config; defaults: ``dvc exp save`` at the end, metrics.json on every metric
    call. A user's Studio token, auto-push settings and global DVC config reach neither."""
    lean, defaults = runs["report"]("lean"), runs["report"]("defaults")
    lean_repo, defaults_repo = (Path(r["ref"]["repo"]) for r in (lean, defaults))
    assert (lean["summary_mid_run"], defaults["summary_mid_run"]) == (False, True)
    assert [r for r in _git_refs(lean_repo) if r.startswith("refs/exps/")] == []
    saved = [r for r in _git_refs(defaults_repo) if r.startswith("refs/exps/")]
    assert [r.rsplit("/", 1)[1] for r in saved if "/exec/" not in r] == ["defaults"], saved
    lean_config = (lean_repo / ".dvc" / "config").read_text().lower()
    assert "analytics = false" in lean_config and "offline = true" in lean_config
    assert (defaults_repo / ".dvc" / "config").read_text() == ""
    assert Path(defaults["config_files"]["global"]).is_relative_to(defaults_repo.parent)
    stored_lean, = _read(runs, "lean", [lean["ref"]])
    stored_defaults, = _read(runs, "defaults", [defaults["ref"]])
    assert stored_lean["params"] == stored_defaults["params"] == {"lr": 0.5}
    assert stored_lean["metrics"] == {"loss": [[0, 1.0]]}
    assert stored_defaults["metrics"] == {"loss": [[0, 1.0], [1, 0.5]]}
    assert not any("metrics.json" in n for n in stored_lean["notes"] + stored_defaults["notes"])
    _stayed_local(runs, "lean")
    _stayed_local(runs, "defaults", planted=(".config/dvc/config",))


def test_system_metrics_start_dvclives_monitor(runs: dict[str, Any]) -> None:
    """``monitor_system`` starts a sampling thread; its series are read back as system metrics.
    DVCLive 3.49 asks NVML first in every sample and drops the whole sample when NVML fails: on
    a machine without NVIDIA's library (pynvml is a dependency of dvclive) nothing is stored,
    CPU and RAM included, and a traceback is logged."""
    report, lean = runs["report"]("system"), runs["report"]("lean")
    assert sum("_monitoring_loop" in t for t in report["threads_in_run"]) == 1
    assert not any("_monitoring_loop" in t for t in lean["threads_in_run"])
    assert not any("_monitoring_loop" in name for name, _ in report["threads_after"])
    stored, = _read(runs, "system", [report["ref"]])
    assert stored["metrics"] == {"loss": [[0, 1.0]]}  # the monitor's series stay apart
    if _nvml_loadable():
        assert stored["system_metrics"]["system/cpu/usage (%)"] >= 2, stored["system_metrics"]
    else:
        assert stored["system_metrics"] == {}
        assert "Failed to monitor GPU metrics" in report["stderr"]
    _stayed_local(runs, "system")


def test_a_killed_run_keeps_what_was_written_before_the_kill(runs: dict[str, Any]) -> None:
    spec, report = runs["specs"]["killed"], runs["report"]("killed")
    stored, = _read(runs, "killed", [report["ref"]])
    logged = [[step, metrics["loss"]] for step, metrics in spec["points"]]
    assert stored["metrics"] == {"loss": logged}  # every row appended before the kill
    assert stored["params"] == {"lr": 0.5}
    assert stored["artifacts"] == {"kept.bin": sha256_file(Path(spec["artifacts"][0][1]))}
    assert any("did not reach Live.end()" in n for n in stored["notes"])
    # A line cut short mid-write is skipped and said, the rows before it kept.
    tsv = _run_dir(report["ref"]) / "plots" / "metrics" / "loss.tsv"
    with open(tsv, "a", encoding="utf-8") as fh:
        fh.write("40\t4.")
    cut, = _read(runs, "killed", [report["ref"]])
    assert cut["metrics"] == {"loss": logged}
    assert any("cut short" in n and "loss" in n for n in cut["notes"])
    _stayed_local(runs, "killed")


def test_odd_input(runs: dict[str, Any]) -> None:
    """Input beyond the harness's cases: a bool metric, a metric named ``step``, a value DVCLive
    rejects beside one it takes, tabs, an empty file and a name with a space, late params."""
    report = runs["report"]("odd_input")
    stored, = _read(runs, "odd_input", [report["ref"]])
    metrics = stored["metrics"]
    assert metrics["flag"] == [[0, "True"]]  # DVCLive takes a bool as a number, writes True
    assert "step" not in metrics  # its value overwrote the step column: nothing to read
    assert any("named 'step'" in n for n in stored["notes"])
    assert report["errors"]["mixed_ok,mixed_bad"].startswith("InvalidDataTypeError")
    assert metrics["mixed_ok"] == [[1, 1.0]] and "mixed_bad" not in metrics
    assert metrics["tab\there"] == [[2, "a\tb"]]  # quoted by csv, read back whole
    assert stored["artifacts"] == {"empty.bin": sha256_bytes(b""),
                                   "bad name.bin": sha256_bytes(b"")}
    assert stored["params"] == {"lr": 0.5, "late": "after the first log_metrics"}
    _stayed_local(runs, "odd_input")


def test_harness_cell_with_the_adapter_as_module_class(runs: dict[str, Any]) -> None:
    record = runs["harness"]("contract")
    assert record["status"] == "ok", record["error"]
    assert record["leftover_processes"] == []
    assert record["logged"] == {"params": 4, "points": 100, "artifacts": 1}
    fid = record["fidelity"]
    assert [fid[k]["kept"] for k in ("params", "points", "artifacts")] == [4, 100, 1], fid
    assert fid["artifacts"]["referenced"] == fid["artifacts"]["altered"] == 0
    assert record["network"]["attempts"] == []
    assert record["disk_bytes"] > 0 and record["cpu_s"] > 0


def test_probe_cell_verdicts(runs: dict[str, Any]) -> None:
    record = runs["harness"]("probe")
    assert record["status"] == "ok", record["error"]
    coverage = record["coverage"]
    monitoring = "verified" if _nvml_loadable() else "absent"
    assert {f: v["status"] for f, v in coverage.items()} == {
        "auth": "not testable offline", "isolation": "not testable offline",
        "data-versioning": "verified", "monitoring": monitoring, "alerts": "absent",
        "model-registry": "verified", "offline-sync": "verified", "query-api": "verified",
        "rest-api": "not testable offline"}, coverage
    assert "first version's bytes (and the second's) are retrievable" in (
        coverage["data-versioning"]["evidence"])
    assert record["network"]["attempts"] == []


def test_harness_bad_input_cases(runs: dict[str, Any]) -> None:
    record = runs["harness"]("bad_input")
    assert record["status"] == "ok", record["error"]
    outcomes = {case: found["outcome"] for case, found in record["cases"].items()}
    altered = {"bi06"}  # the numeric text reads back as the number (.tsv keeps text only)
    rejected = {"bi04", "bi10"}  # None: InvalidDataTypeError; 320 chars: file name too long
    assert outcomes == {case: "altered" if case in altered else "rejected" if case in rejected
                        else "faithful" for case in outcomes}, record["cases"]
    assert "File name too long" in record["cases"]["bi10"]["detail"]
    assert record["network"]["attempts"] == []


def test_loading_the_adapter_imports_no_sdk() -> None:
    code = ("import sys, adapters; cls = adapters.load('adapters.dvclive:DvcliveAdapter'); "
            "print(cls.name, sorted(m for m in sys.modules if m.split('.')[0] in "
            "('dvc', 'dvclive', 'gto', 'scmrepo', 'dulwich')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=REPO)
    assert out.stdout.strip() == "dvclive []"
