"""Neptune adapter: offline round trip read back in a fresh process, monitoring, lean profile."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("neptune", reason="the neptune adapter needs the neptune 1.x client")

from adapters.base import AdapterSettings, HostedOnly, StoredRun, sha256_bytes  # noqa: E402
from adapters.neptune import (  # noqa: E402
    NeptuneAdapter,
    read_operations,
    stored_run_from_operations,
)

REPO_ROOT = Path(__file__).resolve().parents[1]

READ_BACK_SCRIPT = """
import dataclasses, json, sys
from pathlib import Path
from adapters.base import AdapterSettings
from adapters.neptune import NeptuneAdapter
adapter = NeptuneAdapter(AdapterSettings(storage_dir=Path(sys.argv[1])))
stored = adapter.read_back(json.loads(sys.argv[2]))
print(json.dumps(dataclasses.asdict(stored)))
"""

PROFILE_SCRIPT = """
import json, sys
from pathlib import Path
from adapters.base import AdapterSettings
from adapters.neptune import NeptuneAdapter
adapter = NeptuneAdapter(AdapterSettings(storage_dir=Path(sys.argv[1]), profile=sys.argv[2]))
adapter.import_sdk()
adapter.start_run(sys.argv[2], {})
print("to stdout")
print("to stderr", file=sys.stderr)
print(json.dumps(adapter.finish()))
"""


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Home, XDG dirs, temp dir and cwd under tmp_path, no NEPTUNE_* settings; checks leftovers."""
    home = tmp_path / "home"
    for name, sub in [
        ("HOME", "home"),
        ("XDG_CONFIG_HOME", "xdg/config"),
        ("XDG_CACHE_HOME", "xdg/cache"),
        ("XDG_DATA_HOME", "xdg/data"),
        ("XDG_STATE_HOME", "xdg/state"),
        ("TMPDIR", "tmp"),
    ]:
        (tmp_path / sub).mkdir(parents=True)
        monkeypatch.setenv(name, str(tmp_path / sub))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    for name in [n for n in os.environ if n.startswith("NEPTUNE_")]:
        monkeypatch.delenv(name)
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    threads_before = set(threading.enumerate())
    yield tmp_path
    assert not [t for t in set(threading.enumerate()) - threads_before if t.is_alive()]
    assert list(home.iterdir()) == [], "neptune wrote into HOME"
    assert list(workdir.iterdir()) == [], "neptune wrote into the cwd (e.g. ./.neptune)"
    assert "NEPTUNE_DATA_DIRECTORY" not in os.environ


def make_adapter(root: Path, **settings: object) -> NeptuneAdapter:
    adapter = NeptuneAdapter(AdapterSettings(storage_dir=root / "store", **settings))
    adapter.import_sdk()
    return adapter


def read_back_in_fresh_process(root: Path, ref: dict[str, str]) -> dict:
    """Run read_back in a new interpreter, so nothing can come from the logging process."""
    done = subprocess.run(
        [sys.executable, "-c", READ_BACK_SCRIPT, str(root / "store"), json.dumps(ref)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(done.stdout)


def test_round_trip_read_back_in_fresh_process(sandbox: Path) -> None:
    params = {"optimizer": "adamw—ünïcødé ☃", "lr": 3e-4, "epochs": 50, "shuffle": True}
    metrics = {
        key: [(step, fn(step)) for step in range(50)]
        for key, fn in {
            "loss": lambda s: 1 / (s + 3),
            "acc": lambda s: math.sin(s) * 1e-7 + 0.1,
            "lr": lambda s: 3e-4 * 0.97**s,
        }.items()
    }
    payload = os.urandom(4096)
    artifact = sandbox / "weights.bin"
    artifact.write_bytes(payload)

    adapter = make_adapter(sandbox)
    adapter.start_run("round-trip", params)
    adapter.log_params(params)
    for step in range(50):
        adapter.log_metrics({key: points[step][1] for key, points in metrics.items()}, step)
    adapter.log_artifact(artifact, "weights.bin")
    ref = adapter.finish()

    stored = read_back_in_fresh_process(sandbox, ref)
    assert {k: (type(v), v) for k, v in stored["params"].items()} == {
        k: (type(v), v) for k, v in params.items()
    }
    assert stored["metrics"].keys() == metrics.keys()
    for key, points in metrics.items():
        got = [(step, value.hex()) for step, value in stored["metrics"][key]]
        assert got == [(step, value.hex()) for step, value in points], key
    # The file is still in place, unchanged: Neptune points at it but stored none of its bytes.
    assert artifact.read_bytes() == payload
    assert stored["artifacts"] == {}
    assert stored["referenced"] == {"weights.bin": str(artifact.resolve())}
    assert any("bytes were not copied" in note for note in stored["notes"])
    assert stored["system_metrics"] == {}  # lean: no hardware monitoring


def test_nonfinite_values_are_dropped_by_neptune(sandbox: Path) -> None:
    """Neptune skips NaN/inf (with a warning): read_back reports the absence, not a value."""
    adapter = make_adapter(sandbox)
    adapter.start_run("nonfinite", {})
    adapter.log_params({"nan": math.nan, "huge_int": 2**40, "kept": -0.0})
    for step, value in enumerate([1.5, math.nan, math.inf, -math.inf, -0.0]):
        adapter.log_metrics({"x": value}, step)
    stored = adapter.read_back(adapter.finish())
    assert stored.params == {"kept": -0.0}
    assert [(step, value.hex()) for step, value in stored.metrics["x"]] == [
        (0, (1.5).hex()),
        (4, (-0.0).hex()),
    ]


def test_system_metrics_recorded_offline(sandbox: Path) -> None:
    """Neptune samples hardware every 10 s, the first time at start: a short run gets 1 point.

    Zero readings are dropped by Neptune, and psutil's first CPU reading is 0.0, so the CPU
    series exists but stays empty until the second sample; memory gets its point at once.
    """
    adapter = make_adapter(sandbox, system_metrics=True)
    adapter.start_run("monitoring", {})
    time.sleep(1)
    stored = adapter.read_back(adapter.finish())
    assert stored.system_metrics, "no monitoring series recorded"
    assert all(series.startswith("monitoring/") for series in stored.system_metrics)
    assert max(stored.system_metrics.values()) >= 1
    assert any(series.endswith("/memory") for series in stored.system_metrics)


def test_lean_profile_disables_neptune_extras(sandbox: Path) -> None:
    """Lean: no stdout/stderr capture, hardware metrics or source upload; "defaults" has them.

    Runs as a script, as the harness does: Neptune only captures sources of a script entrypoint.
    Traceback capture only writes on an uncaught exception, so it is not visible here.
    """

    def operations(profile: str) -> list[dict]:
        done = subprocess.run(
            [sys.executable, str(entry), str(sandbox / "store"), profile],
            env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        ref = json.loads(done.stdout.splitlines()[-1])
        return list(read_operations(Path(ref["run_dir"])))

    entry = sandbox / "entry.py"
    entry.write_text(PROFILE_SCRIPT)
    lean, defaults = operations("lean"), operations("defaults")

    def monitoring(ops: list[dict]) -> set[str]:
        return {op["path"][-1] for op in ops if op["path"][0] == "monitoring"}

    def sources(ops: list[dict]) -> list[str]:
        return [glob for op in ops if op["type"] == "UploadFileSet" for glob in op["file_globs"]]

    assert monitoring(lean) == set() and sources(lean) == []
    assert monitoring(defaults) >= {"stdout", "stderr", "cpu", "memory"}
    assert sources(defaults) == [str(entry)]


def test_operation_parser_handles_copies_clears_and_missing_files(tmp_path: Path) -> None:
    """Parser cases the adapter's own runs do not produce: copied bytes, clears, lost files."""
    (tmp_path / "blob.bin").write_bytes(b"copied")
    operations = [
        {"type": "LogFloats", "path": ["metrics", "a/b"], "values": [{"value": 1.0, "step": 0}]},
        {"type": "ClearFloatLog", "path": ["metrics", "a/b"]},
        {"type": "LogFloats", "path": ["metrics", "a/b"], "values": [{"value": 2.0, "step": 1}]},
        {"type": "UploadFile", "path": ["artifacts", "c"], "tmp_file_name": "blob.bin"},
        {
            "type": "UploadFile",
            "path": ["artifacts", "gone"],
            "tmp_file_name": None,
            "file_path": str(tmp_path / "missing.bin"),
        },
    ]
    stored = stored_run_from_operations(operations, tmp_path)
    assert stored == StoredRun(
        metrics={"a/b": [(1, 2.0)]},
        artifacts={"c": sha256_bytes(b"copied")},
        referenced={"gone": str(tmp_path / "missing.bin")},
        notes=stored.notes,
    )
    assert len(stored.notes) == 1 and "bytes were not copied" in stored.notes[0]


def test_dataset_versioning_is_hosted_only(tmp_path: Path) -> None:
    adapter = NeptuneAdapter(AdapterSettings(storage_dir=tmp_path))
    with pytest.raises(HostedOnly) as raised:
        adapter.log_dataset(tmp_path / "data.csv", "train")
    assert raised.value.docs_url.startswith("https://docs-legacy.neptune.ai/")
