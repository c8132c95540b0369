"""W&B adapter: offline round trip read back in a fresh process, system metrics, lean profile.

Every test runs in a sandbox: HOME, the XDG dirs and W&B's own dirs point into ``tmp_path``,
TMPDIR into a fresh short temp dir, and no wandb-core/wandb-symon helper may outlive the test.
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
import tempfile
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from adapters.base import AdapterSettings, StoredRun, sha256_bytes, sha256_file
from adapters.wandb import WandbAdapter, read_wandb_records

wandb = pytest.importorskip("wandb", reason="wandb is not installed (the `tools` extra)")

REPO = Path(__file__).resolve().parents[1]

# Reads a run back in a process that never logged it; also checks the module imports no SDK.
READ_BACK_SCRIPT = textwrap.dedent(
    """
    import dataclasses, json, sys
    from pathlib import Path

    from adapters.base import AdapterSettings
    from adapters.wandb import WandbAdapter

    sdk_at_import = "wandb" in sys.modules
    adapter = WandbAdapter(AdapterSettings(storage_dir=Path(sys.argv[2])))
    stored = dataclasses.asdict(adapter.read_back(json.loads(sys.argv[1])))
    print(json.dumps({"sdk_at_import": sdk_at_import, "stored": stored}))
    """
)


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Keep W&B out of the real home and environment; reap its helper processes afterwards."""
    for key in list(os.environ):
        if key.startswith("WANDB_"):
            monkeypatch.delenv(key)
    dirs = {
        "HOME": "home",
        "XDG_CACHE_HOME": "cache",
        "XDG_CONFIG_HOME": "config",
        "XDG_DATA_HOME": "data",
        "WANDB_CACHE_DIR": "cache/wandb",
        "WANDB_CONFIG_DIR": "config/wandb",
        "WANDB_DATA_DIR": "data/wandb",
    }
    for var, sub in dirs.items():
        (tmp_path / sub).mkdir(parents=True, exist_ok=True)
        monkeypatch.setenv(var, str(tmp_path / sub))
    # wandb-symon listens on a unix socket in TMPDIR; under pytest's long tmp_path that socket
    # path exceeds SUN_LEN and W&B silently samples no system metrics. So: a short temp dir.
    short_tmp = Path(tempfile.mkdtemp(prefix="wb-"))
    monkeypatch.setenv("TMPDIR", str(short_tmp))
    monkeypatch.setattr(tempfile, "tempdir", None)  # re-read TMPDIR
    yield tmp_path
    helpers = [p for p in psutil.Process().children(recursive=True) if _is_wandb(p)]
    wandb.teardown()
    _, alive = psutil.wait_procs(helpers, timeout=15)
    shutil.rmtree(short_tmp, ignore_errors=True)
    assert not alive, f"wandb helpers still running: {alive}"


def _is_wandb(process: psutil.Process) -> bool:
    try:
        return process.name().startswith("wandb")
    except psutil.NoSuchProcess:
        return False


def _bits(value: float) -> bytes:
    return struct.pack("<d", value)


def _adapter(store: Path, **settings: Any) -> WandbAdapter:
    adapter = WandbAdapter(AdapterSettings(storage_dir=store, **settings))
    adapter.import_sdk()
    return adapter


def _read_back_fresh(ref: dict[str, str], store: Path) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", READ_BACK_SCRIPT, json.dumps(ref), str(store)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.splitlines()[-1])
    assert not report["sdk_at_import"], "adapters.wandb imported wandb at module level"
    return report["stored"]


def _record_kinds(ref: dict[str, str]) -> set[str]:
    log = Path(ref["run_dir"]) / f"run-{ref['run_id']}.wandb"
    return {record.WhichOneof("record_type") for record in read_wandb_records(log)}


def test_round_trip_read_back_in_fresh_process(sandbox: Path) -> None:
    rng = random.Random(20240611)
    params = {"optimizer": "adam – ünïcødé ☃ 学习", "lr": 0.1 * 3, "epochs": 50, "shuffle": True}
    metrics = {
        step: {
            "loss": rng.random(),
            "acc": rng.uniform(-1e6, 1e6),
            "grad_norm": rng.lognormvariate(0.0, 20.0),
        }
        for step in range(50)
    }
    specials = [-0.0, math.nan, math.inf, -math.inf, 5e-324, sys.float_info.max, 1.0, 2.0**60]
    for step, value in zip(range(0, 50, 6), specials, strict=False):
        metrics[step]["grad_norm"] = value
    payload = rng.randbytes(64 * 1024 + 17)
    store = sandbox / "store"

    adapter = _adapter(store)
    adapter.start_run("round-trip", {})
    adapter.log_params(params)
    for step, row in metrics.items():
        adapter.log_metrics(row, step)
    source = sandbox / "weights.bin"
    source.write_bytes(payload)
    adapter.log_artifact(source, "model.bin")
    dataset = sandbox / "data.csv"
    versions = []
    for version in (1, 2):
        dataset.write_text("".join(f"{i},{i * version}\n" for i in range(100)))
        versions.append(sha256_file(dataset))
        adapter.log_dataset(dataset, "probe-dataset")
    ref = adapter.finish()
    del adapter
    source.unlink()  # the run must hold its own copy
    dataset.unlink()  # of the dataset's versions too

    assert json.loads(json.dumps(ref)) == ref
    assert Path(ref["run_dir"]).parent == store / "wandb"
    assert Path(ref["run_dir"]).name.startswith("offline-run-")
    stored = _read_back_fresh(ref, store)

    assert stored["params"] == params
    assert {k: type(v) for k, v in stored["params"].items()} == {
        k: type(v) for k, v in params.items()
    }
    assert set(stored["metrics"]) == {"loss", "acc", "grad_norm"}
    for key in ("loss", "acc", "grad_norm"):
        logged = [(step, _bits(row[key])) for step, row in metrics.items()]
        assert [(step, _bits(value)) for step, value in stored["metrics"][key]] == logged
    assert stored["artifacts"] == {"model.bin": sha256_bytes(payload)}
    names, digests = zip(*stored["datasets"], strict=True)
    assert names == ("probe-dataset", "probe-dataset")
    assert len(set(digests)) == 2  # two versions told apart
    # ... and each version's bytes are retrievable: W&B staged a copy per version until sync.
    assert stored["dataset_sha256"] == versions
    assert sum("match their manifest digests" in note for note in stored["notes"]) == 2
    assert any("_step" in note and "_timestamp" in note for note in stored["notes"])


def test_system_metrics_setting_yields_series(sandbox: Path) -> None:
    adapter = _adapter(sandbox / "store", system_metrics=True)  # on top of the lean profile
    adapter.start_run("probe", {})
    adapter.log_metrics({"loss": 1.0}, 0)
    time.sleep(2.0)
    stored = adapter.read_back(adapter.finish())
    assert stored.system_metrics, "no system series stored"
    assert max(stored.system_metrics.values()) >= 2


def _profile_run(store: Path, profile: str) -> tuple[dict[str, str], StoredRun]:
    adapter = _adapter(store, profile=profile)
    adapter.start_run(profile, {})
    print("a line on stdout while the run is open", flush=True)
    adapter.log_metrics({"loss": 0.5}, 0)
    ref = adapter.finish()
    return ref, adapter.read_back(ref)


def test_lean_profile_disables_extras(sandbox: Path) -> None:
    ref, stored = _profile_run(sandbox / "lean", "lean")
    # No output.log, requirements.txt, metadata or code copy next to the run.
    assert not any((Path(ref["run_dir"]) / "files").rglob("*"))
    kinds = _record_kinds(ref)
    assert not kinds & {"output", "output_raw", "stats", "environment", "files"}, kinds
    assert stored.system_metrics == {}
    assert stored.metrics == {"loss": [(0, 0.5)]}

    # The same run as W&B comes shows what lean switched off.
    ref, stored = _profile_run(sandbox / "defaults", "defaults")
    files = {p.name for p in (Path(ref["run_dir"]) / "files").iterdir()}
    assert {"output.log", "requirements.txt"} <= files
    assert {"output_raw", "stats", "environment", "files"} <= _record_kinds(ref)
    assert stored.metrics == {"loss": [(0, 0.5)]}


def test_parser_rejects_a_corrupted_log(sandbox: Path) -> None:
    adapter = _adapter(sandbox / "store")
    adapter.start_run("corrupt", {})
    adapter.log_metrics({"loss": 0.25}, 0)
    ref = adapter.finish()
    log = Path(ref["run_dir"]) / f"run-{ref['run_id']}.wandb"
    data = bytearray(log.read_bytes())
    data[20] ^= 0xFF  # inside the payload of the first chunk (file header 7 + chunk header 7)
    log.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="checksum"):
        list(read_wandb_records(log))
    # The read-back keeps what precedes the damage (here nothing) and says why (crash safety).
    stored = adapter.read_back(ref)
    assert stored.metrics == {} and any("checksum" in note for note in stored.notes)


def test_a_saved_file_missing_from_the_run_dir_is_one_missing_artifact(sandbox: Path) -> None:
    adapter = _adapter(sandbox / "store")
    adapter.start_run("missing-file", {})
    adapter.log_params({"lr": 0.5})
    adapter.log_metrics({"loss": 0.25}, 0)
    for name in ("model.bin", "kept.bin"):
        source = sandbox / name
        source.write_bytes(name.encode())
        adapter.log_artifact(source, name)
    ref = adapter.finish()
    (Path(ref["run_dir"]) / "files" / "model.bin").unlink()

    stored = adapter.read_back(ref)
    assert stored.params == {"lr": 0.5}
    assert stored.metrics == {"loss": [(0, 0.25)]}
    assert stored.artifacts == {"kept.bin": sha256_bytes(b"kept.bin")}
    missing = [note for note in stored.notes if "not in the run's files/ directory" in note]
    assert len(missing) == 1 and "'model.bin'" in missing[0], stored.notes
