"""Comet adapter: offline round trip, system-metrics probe, lean profile, no network.

Every Comet run happens in a subprocess, and each read-back in another one: importing comet_ml
patches import hooks, ``sys.excepthook`` and stdout for the whole process, and read_back must
work from the archive alone, in a process that never saw the run.
"""

from __future__ import annotations

import json
import math
import os
import random
import struct
import subprocess
import sys
import textwrap
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from adapters.base import AdapterSettings, HostedOnly, sha256_bytes
from adapters.comet import CometAdapter, sdk_environment

# comet_ml starts Sentry error reporting (and with it a cloud-metadata probe) at import, half
# of the time: import it here with the adapter's settings, restored right after the import.
with pytest.MonkeyPatch.context() as _patch:
    for _key, _value in sdk_environment(AdapterSettings(storage_dir=Path())).items():
        _patch.setenv(_key, _value)
    pytest.importorskip("comet_ml", reason="comet-ml is not installed (the `tools` extra)")

REPO = Path(__file__).resolve().parents[1]
NONFINITE = (math.nan, math.inf, -math.inf)
LOCAL_HOSTS = (None, "", "127.0.0.1", "::1", "localhost", b"127.0.0.1", b"localhost")

# Runs one Comet experiment through the adapter; prints a JSON report as its last line.
WRITE_SCRIPT = textwrap.dedent(
    """
    import json, socket, sys, threading, time
    from pathlib import Path

    import psutil

    LOCAL_HOSTS = {local_hosts!r}
    remote = []

    def audit(event, args):
        if event in ("socket.getaddrinfo", "socket.gethostbyname") and args[0] not in LOCAL_HOSTS:
            remote.append(f"{{event}} {{args[0]!r}}")

    sys.addaudithook(audit)
    original_connect = socket.socket.connect

    def connect(sock, address):  # sees host names before the C code resolves them
        if isinstance(address, tuple) and address[0] not in LOCAL_HOSTS:
            remote.append(f"connect {{address!r}}")
        return original_connect(sock, address)

    socket.socket.connect = connect

    from adapters.base import AdapterSettings
    from adapters.comet import CometAdapter

    spec = json.loads(Path(sys.argv[2]).read_text())  # argv: --spec <file>
    adapter = CometAdapter(
        AdapterSettings(
            storage_dir=Path(spec["storage_dir"]),
            profile=spec["profile"],
            system_metrics=spec["system_metrics"],
        )
    )
    adapter.import_sdk()
    import comet_ml

    adapter.start_run("roundtrip", {{}})
    adapter.log_params(spec["params"])
    for step, metrics in spec["points"] + spec["nonfinite_points"]:
        adapter.log_metrics(metrics, step=step)
    adapter.log_artifact(Path(spec["artifact"]), "model.bin")
    print("training output, for stdout capture to record")
    time.sleep(spec["sleep"])
    ref = adapter.finish()
    report = {{
        "ref": ref,
        "cpu_interval": comet_ml.get_config()["comet.system_cpu_interval"],
        "framework_patching": hasattr(comet_ml, "MODULE_FINDER"),  # import hooks installed
        "threads": [thread.name for thread in threading.enumerate()],
        "children": len(psutil.Process().children(recursive=True)),
        "remote": remote,
    }}
    print(json.dumps(report))
    """
).format(local_hosts=LOCAL_HOSTS)

# Reads a run back in a process that never imported comet_ml.
READ_SCRIPT = textwrap.dedent(
    """
    import dataclasses, json, sys
    from pathlib import Path

    from adapters.base import AdapterSettings
    from adapters.comet import CometAdapter

    adapter = CometAdapter(AdapterSettings(storage_dir=Path(".")))
    stored = adapter.read_back(json.loads(sys.argv[1]))
    report = dataclasses.asdict(stored) | {"sdk_imported": "comet_ml" in sys.modules}
    print(json.dumps(report))
    """
)

PARAMS: dict[str, Any] = {
    "optimizer": "adam – ünïcødé ☃ 学习",
    "learning_rate": 0.1 + 0.2,
    "epochs": 50,
    "shuffle": True,
}


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """HOME, XDG_*, TMPDIR and the working directory under tmp_path; no COMET_* settings."""
    real_home = Path.home()
    comet_files_before = sorted(real_home.glob(".comet*"))
    for var in [name for name in os.environ if name.startswith("COMET_")]:
        monkeypatch.delenv(var)
    home = tmp_path / "home"
    dirs = {
        "HOME": home,
        "XDG_CONFIG_HOME": home / ".config",
        "XDG_CACHE_HOME": home / ".cache",
        "XDG_DATA_HOME": home / ".local" / "share",
        "XDG_STATE_HOME": home / ".local" / "state",
        "TMPDIR": tmp_path / "tmp",
    }
    for var, path in dirs.items():
        path.mkdir(parents=True, exist_ok=True)
        monkeypatch.setenv(var, str(path))
    (tmp_path / "cwd").mkdir()
    yield tmp_path
    assert sorted(real_home.glob(".comet*")) == comet_files_before
    assert not list(home.rglob(".comet*")), "Comet wrote its config/runs into HOME"
    assert not list((tmp_path / "tmp").iterdir()), "Comet left files in TMPDIR"
    assert not list((tmp_path / "cwd").iterdir()), "Comet wrote into the working directory"


def _workload(sandbox: Path, profile: str, system_metrics: bool = False, sleep: float = 0) -> dict:
    """~50 steps x 3 metrics of awkward floats, the params above and 4 KiB of random bytes."""
    rng = random.Random(7)
    points = [
        (
            3 * i + 1,
            {
                "loss": rng.random() * 10.0 ** rng.randint(-300, 300),
                "accuracy": i / 49,
                "lr/é": (0.1 + 0.2) * i if i % 7 else 5e-324,
            },
        )
        for i in range(50)
    ]
    artifact = sandbox / f"{profile}-model.bin"
    artifact.write_bytes(os.urandom(4096))
    return {
        "storage_dir": str(sandbox / "store" / profile),
        "profile": profile,
        "system_metrics": system_metrics,
        "params": PARAMS,
        "points": points,
        "nonfinite_points": [(1000 + i, {"nonfinite": value}) for i, value in enumerate(NONFINITE)],
        "artifact": str(artifact),
        "sleep": sleep,
    }


def _start_writer(sandbox: Path, spec: dict) -> subprocess.Popen[str]:
    spec_file = sandbox / f"spec-{spec['profile']}-{spec['system_metrics']}.json"
    spec_file.write_text(json.dumps(spec))
    return subprocess.Popen(
        [sys.executable, "-c", WRITE_SCRIPT, "--spec", str(spec_file)],
        cwd=sandbox / "cwd",
        env=os.environ | {"PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _report(process: subprocess.Popen[str]) -> dict:
    """The writer's JSON report, after checking it left nothing running and stayed local."""
    try:
        stdout, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 0, stderr
    report = json.loads(stdout.splitlines()[-1])
    assert report["threads"] == ["MainThread"], "Comet threads outlived finish()"
    assert report["children"] == 0
    assert report["remote"] == [], "Comet tried to reach the network"
    return report


def _write(sandbox: Path, spec: dict) -> dict:
    return _report(_start_writer(sandbox, spec))


def _read_back(sandbox: Path, ref: dict) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", READ_SCRIPT, json.dumps(ref)],
        cwd=sandbox / "cwd",
        env=os.environ | {"PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    stored = json.loads(result.stdout)
    assert not stored.pop("sdk_imported"), "read_back must not need the SDK"
    return stored


def _bits(points: list) -> list[tuple[int, bytes]]:
    return [(step, struct.pack("<d", value)) for step, value in points]


def _messages(archive: str) -> list[dict]:
    with zipfile.ZipFile(archive) as zf:
        return [json.loads(line) for line in zf.read("messages.json").decode().splitlines()]


def test_round_trip_returns_every_param_point_and_artifact(sandbox: Path) -> None:
    spec = _workload(sandbox, "lean")
    ref = _write(sandbox, spec)["ref"]
    assert Path(ref["archive"]).is_relative_to(sandbox / "store" / "lean")

    stored = _read_back(sandbox, ref)

    assert stored["params"] == PARAMS
    assert {name: type(value) for name, value in stored["params"].items()} == {
        name: type(value) for name, value in PARAMS.items()
    }
    expected: dict[str, list] = {}
    for step, metrics in spec["points"]:
        for name, value in metrics.items():
            expected.setdefault(name, []).append((step, value))
    nonfinite = stored["metrics"].pop("nonfinite")
    assert {name: _bits(points) for name, points in stored["metrics"].items()} == {
        name: _bits(points) for name, points in expected.items()
    }
    # Comet's JSON encoding turns non-finite floats into strings; read_back keeps them as such.
    assert nonfinite == [[1000, "NaN"], [1001, "Infinity"], [1002, "-Infinity"]]
    artifact_sha = sha256_bytes(Path(spec["artifact"]).read_bytes())
    assert stored["artifacts"] == {"model.bin": artifact_sha}
    assert stored["system_metrics"] == {}
    assert stored["datasets"] == []
    # What Comet adds on its own is reported, not returned: a curr_step param per logged step.
    notes = stored["notes"]
    assert "Comet's automatic parameters, not returned: curr_step (auto-logged) x53" in notes
    assert "Comet's automatic metrics, not returned: process duration x1" in notes
    assert any(note.endswith("returned as stored in: nonfinite") for note in notes)


def test_system_metrics_setting_records_monitor_points(sandbox: Path) -> None:
    report = _write(sandbox, _workload(sandbox, "lean", system_metrics=True, sleep=1.5))

    assert report["cpu_interval"] == 10  # Comet's floor; lower values are raised to it
    stored = _read_back(sandbox, report["ref"])
    for series in ("sys.cpu.percent.avg", "sys.ram.used", "sys.load.avg"):
        assert stored["system_metrics"].get(series, 0) >= 1, stored["system_metrics"]
    assert not any(name.startswith("sys.") for name in stored["metrics"])


def test_lean_profile_turns_comet_extras_off(sandbox: Path) -> None:
    writers = {
        profile: _start_writer(sandbox, _workload(sandbox, profile))
        for profile in ("lean", "defaults")
    }
    reports = {profile: _report(writer) for profile, writer in writers.items()}
    archives = {profile: report["ref"]["archive"] for profile, report in reports.items()}
    assert reports["defaults"]["framework_patching"]
    assert not reports["lean"]["framework_patching"]

    def recorded(profile: str) -> dict[str, set[str]]:
        messages = _messages(archives[profile])
        params = [
            m["payload"].get("param") or m["payload"]["params"]
            for m in messages
            if m["type"] == "parameter_msg"
        ]
        return {
            "types": {m["type"] for m in messages},
            "uploads": {
                m["payload"]["upload_type"] for m in messages if m["type"] == "file_upload"
            },
            "auto_params": {p["paramName"] for p in params if p["source"] != "manual"},
            "sys_metrics": {
                m["payload"]["metric"]["metricName"]
                for m in messages
                if m["type"] == "metric_msg"
                and m["payload"]["metric"]["metricName"].startswith("sys.")
            },
        }

    lean, defaults = recorded("lean"), recorded("defaults")
    extras = {"standard_output", "installed_packages", "os_packages", "system_details"}
    # The defaults run shows each extra exists, so its absence under lean means something.
    assert extras <= defaults["types"]
    assert "source_code" in defaults["uploads"]
    assert "spec" in defaults["auto_params"]  # the writer's --spec, parsed from sys.argv
    assert defaults["sys_metrics"]
    assert lean["types"] == {"parameter_msg", "metric_msg", "file_upload", "log_other"}
    assert lean["uploads"] == {"asset"}
    assert lean["auto_params"] == {"curr_step"}  # Comet logs the step as a param regardless
    assert lean["sys_metrics"] == set()


def test_dataset_versioning_is_hosted_only(tmp_path: Path) -> None:
    dataset = tmp_path / "data.csv"
    dataset.write_text("x,y\n1,2\n")
    adapter = CometAdapter(AdapterSettings(storage_dir=tmp_path))

    with pytest.raises(HostedOnly) as raised:
        adapter.log_dataset(dataset, "data")

    assert raised.value.docs_url.startswith("https://www.comet.com/docs/")
