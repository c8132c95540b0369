"""Aim adapter on the real SDK: both scenarios round trip, lean vs defaults, the system-metrics
probe, a SIGKILLed run, bad input, and the harness's ``aim server`` stopped with nothing left.

Every run is written in a subprocess and read back in another, each in a private HOME behind the
harness's offline guard: read_back must work from Aim's storage alone, and nothing may leave the
machine. One ``aim server`` is shared by the module; the last test stops it.
"""

from __future__ import annotations

import json
import math
import os
import random
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

import psutil
import pytest

from adapters.base import sha256_bytes
from harness.measure.values import same_value
from harness.services.aim_server import AimServer
from harness.services.base import port_open, tree
from harness.services.http import http_json
from tests.sandbox import assert_offline, sandbox_env

pytest.importorskip("aim", reason="aim is not installed (the `tools` extra)")

TIMEOUT_S = 60

# Logs one run through the adapter as the spec says; a kill point SIGKILLs it mid-run.
WRITE_SCRIPT = textwrap.dedent(
    """
    import json, os, signal, sys, time
    from pathlib import Path

    from adapters.aim import AimAdapter
    from adapters.base import AdapterSettings

    spec = json.loads(Path(sys.argv[1]).read_text())
    adapter = AimAdapter(AdapterSettings(
        storage_dir=Path(spec["storage_dir"]), scenario=spec["scenario"],
        profile=spec["profile"], system_metrics=spec["system_metrics"],
        services=spec["services"]))
    adapter.import_sdk()
    adapter.start_run("trackbench-test", {})
    adapter.log_params(spec["params"])
    errors = {}
    for index, (step, metrics) in enumerate(spec["points"]):
        if index == spec["kill_at"]:
            Path(spec["out"]).write_text(json.dumps({"ref": adapter.run_ref()}))
            os.kill(os.getpid(), signal.SIGKILL)
        try:
            adapter.log_metrics(metrics, step)
        except Exception as exc:
            errors[f"{index}"] = type(exc).__name__
    if spec["artifact"]:
        adapter.log_artifact(Path(spec["artifact"]), "model.bin")
    print("a line on stdout while the run is open", flush=True)
    time.sleep(spec["sleep"])
    ref = adapter.finish()
    query = None
    if spec["query"]:
        try:
            query = adapter.best_run(ref, "loss")
        except Exception as exc:
            query = f"{type(exc).__name__}: {exc}"
    Path(spec["out"]).write_text(json.dumps({"ref": ref, "errors": errors, "query": query}))
    """
)

# Reads runs back in a process that never saw them: argv is a JSON list of [scenario, ref].
READ_SCRIPT = textwrap.dedent(
    """
    import dataclasses, json, sys
    from pathlib import Path

    from adapters.aim import AimAdapter
    from adapters.base import AdapterSettings

    out = []
    for scenario, ref in json.loads(sys.argv[1]):
        adapter = AimAdapter(AdapterSettings(storage_dir=Path("."), scenario=scenario))
        out.append(dataclasses.asdict(adapter.read_back(ref)))
    print(json.dumps(out))
    """
)

PARAMS: dict[str, Any] = {
    "optimizer": "adam – ünïcødé ☃ 学习",
    "learning_rate": 0.1 + 0.2,
    "epochs": 50,
    "shuffle": True,
}
NONFINITE = (math.nan, math.inf, -math.inf)
LONG_NAME = "long_" + "n" * 315


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AimServer]:
    root = tmp_path_factory.mktemp("aim-server")
    srv = AimServer(root / "work", root / "logs")
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Path]:
    """The subprocesses' HOME, TMPDIR and cwd; Aim may write into none of them."""
    (tmp_path / "cwd").mkdir()
    yield tmp_path
    written = [p for p in (tmp_path / "proc").rglob("*") if p.is_file()]
    assert written == [], "Aim wrote into HOME or TMPDIR"
    assert list((tmp_path / "cwd").iterdir()) == [], "Aim wrote into the working directory"


def _env(sandbox: Path) -> dict[str, str]:
    """The sandbox's environment (HOME and TMPDIR under ``proc``), attempts to aim.net.jsonl."""
    return sandbox_env(sandbox / "proc", sandbox / "aim.net.jsonl")


def _spec(sandbox: Path, label: str, *, scenario: str = "local", profile: str = "lean",
          system_metrics: bool = False, services: dict[str, str] | None = None,
          points: list | None = None, kill_at: int = -1, sleep: float = 0.0,
          query: bool = False) -> dict:
    """~20 steps x 3 metrics of awkward floats, the params above and 4 KiB of random bytes."""
    rng = random.Random(label)
    if points is None:
        points = [(3 * i + 1, {"loss": rng.random() * 10.0 ** rng.randint(-300, 300),
                               "acc": i / 19, "lr/é": (0.1 + 0.2) * i if i % 7 else 5e-324})
                  for i in range(20)]
    artifact = sandbox / f"{label}-source.bin"
    payload = rng.randbytes(4096)
    artifact.write_bytes(payload)
    return {"storage_dir": str(sandbox / "store" / label), "scenario": scenario,
            "profile": profile, "system_metrics": system_metrics, "services": services or {},
            "params": PARAMS, "points": points, "kill_at": kill_at, "sleep": sleep, "query": query,
            "artifact": str(artifact), "artifact_sha256": sha256_bytes(payload),
            "out": str(sandbox / f"{label}.out.json")}


def _start(sandbox: Path, spec: dict) -> subprocess.Popen[str]:
    spec_path = Path(spec["out"]).with_suffix(".spec")
    spec_path.write_text(json.dumps(spec))
    return subprocess.Popen([sys.executable, "-c", WRITE_SCRIPT, str(spec_path)],
                            cwd=sandbox / "cwd", env=_env(sandbox), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _wait(process: subprocess.Popen[str], spec: dict, killed: bool = False) -> dict:
    try:
        _, stderr = process.communicate(timeout=TIMEOUT_S)
    finally:
        process.kill()
    expected = -9 if killed else 0
    assert process.returncode == expected, stderr
    return json.loads(Path(spec["out"]).read_text())


def _write(sandbox: Path, spec: dict, killed: bool = False) -> dict:
    return _wait(_start(sandbox, spec), spec, killed)


def _read(sandbox: Path, *runs: tuple[str, dict]) -> list[dict]:
    done = subprocess.run([sys.executable, "-c", READ_SCRIPT, json.dumps(runs)],
                          cwd=sandbox / "cwd", env=_env(sandbox), capture_output=True,
                          text=True, timeout=TIMEOUT_S, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def _alive(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _expected(points: list) -> dict[str, list]:
    out: dict[str, list] = {}
    for step, metrics in points:
        for name, value in metrics.items():
            out.setdefault(name, []).append([step, value])
    return {name: sorted(series, key=lambda p: p[0]) for name, series in out.items()}


def _same_points(stored: list, logged: list) -> bool:
    return len(stored) == len(logged) and all(
        s[0] == g[0] and same_value(g[1], s[1]) for s, g in zip(stored, logged, strict=True))


def _check_round_trip(stored: dict, spec: dict) -> None:
    assert stored["params"] == PARAMS
    assert {k: type(v) for k, v in stored["params"].items()} == {
        k: type(v) for k, v in PARAMS.items()}
    expected = _expected(spec["points"])
    for name, series in expected.items():
        assert _same_points(stored["metrics"].get(name, []), series), name
    assert stored["artifacts"] == {"model.bin": spec["artifact_sha256"]}
    assert stored["referenced"] == {}


def test_local_round_trip_with_bad_input(sandbox: Path) -> None:
    """Every param, point and artifact comes back bit for bit; NaN/inf and odd names too. Aim
    refuses text values (the call raises) and keeps one value per step (the last). The query
    API says why it cannot answer: no ``aim up`` has indexed the run."""
    plain = _spec(sandbox, "plain")["points"]
    bad = [(100 + i, {"nonfinite": value}) for i, value in enumerate(NONFINITE)] + [
        (0, {"ünïcødé 名前/with spaces": 0.5, LONG_NAME: 0.25}), (-1, {"negative_step": 0.5}),
        (1, {"duplicate": 1.0}), (1, {"duplicate": 2.0}), (2, {"text": "high"}),
    ]
    spec = _spec(sandbox, "local", points=plain + bad, query=True)
    out = _write(sandbox, spec)
    Path(spec["artifact"]).unlink()  # only Aim's own copy may answer
    ref = out["ref"]
    assert Path(ref["repo"]) == Path(spec["storage_dir"]) / "aim"
    assert out["errors"] == {str(len(plain) + len(bad) - 1): "ValueError"}  # the text value
    assert out["query"].startswith("RuntimeError: Repo.query_metrics reads only the repository "
                                   "index") and "1 of the 1 runs" in out["query"]

    (stored,) = _read(sandbox, ("local", ref))

    _check_round_trip(stored, {**spec, "points": plain})
    metrics = stored["metrics"]
    assert _same_points(metrics["nonfinite"], [[100 + i, v] for i, v in enumerate(NONFINITE)])
    assert metrics["ünïcødé 名前/with spaces"] == [[0, 0.5]]
    assert metrics[LONG_NAME] == [[0, 0.25]]
    assert metrics["negative_step"] == [[-1, 0.5]]
    assert metrics["duplicate"] == [[1, 2.0]]  # the same step again overwrites the point
    assert "text" not in metrics
    assert stored["system_metrics"] == {} and stored["alerts"] == []
    assert_offline(sandbox)


def test_server_round_trip(server: AimServer, sandbox: Path) -> None:
    """Params and points go through the server into its repository; the artifact's bytes are
    Aim's client-side copy in the server's artifacts store; read back through the server."""
    spec = _spec(sandbox, "server", scenario="server", services=server.endpoints())
    out = _write(sandbox, spec)
    ref = out["ref"]
    assert ref["repo"] == server.uri and out["errors"] == {}
    assert not (Path(spec["storage_dir"]) / "aim").exists()  # nothing in the client's storage
    assert (server.artifacts / ref["run_hash"] / "model.bin").is_file()

    (stored,) = _read(sandbox, ("server", ref))

    _check_round_trip(stored, spec)
    assert f"read through the Aim server at {server.uri}" in stored["notes"]
    assert server.disk_bytes() > 4096
    assert_offline(sandbox)


def test_server_has_no_auth_and_no_rest_api(server: AimServer) -> None:
    """Evidence for the coverage rows: an anonymous client is answered, and Aim's REST API
    (served by the UI, ``aim up``) is not part of ``aim server``."""
    base = f"http://127.0.0.1:{server.port}"
    status, body = http_json("GET", f"{base}/client/get-version/")
    assert status == 200 and body["version"] == metadata.version("aim")
    assert http_json("GET", f"{base}/api/runs/search/run?q=")[0] == 404


def test_profiles_and_the_system_metrics_probe(sandbox: Path) -> None:
    """Lean turns off what defaults record (system series, terminal output); the probe's
    setting samples at Aim's shortest interval, so a short run records several points."""
    specs = {"lean": _spec(sandbox, "lean"),
             "defaults": _spec(sandbox, "defaults", profile="defaults"),
             "probe": _spec(sandbox, "probe", system_metrics=True, sleep=0.8)}
    writers = {label: _start(sandbox, spec) for label, spec in specs.items()}
    refs = {label: _wait(writer, specs[label])["ref"] for label, writer in writers.items()}

    lean, defaults, probe = _read(sandbox, *(("local", refs[k]) for k in specs))

    for stored, label in ((lean, "lean"), (defaults, "defaults"), (probe, "probe")):
        _check_round_trip(stored, specs[label])
    assert lean["system_metrics"] == {} and lean["notes"] == []
    assert defaults["system_metrics"], "Aim's default resource tracking stored nothing"
    assert any(note.startswith("other sequences Aim stored: logs x") for note in defaults["notes"])
    assert probe["system_metrics"] and max(probe["system_metrics"].values()) >= 3
    assert all(name.startswith("__system__") for name in probe["system_metrics"])
    assert_offline(sandbox)


def test_killed_runs_read_back_what_was_kept(server: AimServer, sandbox: Path) -> None:
    """SIGKILL mid-run (no close, no atexit), the run's reference computed just before: locally
    every point handed over reads back (each write reaches RocksDB's log at once); through the
    server, what the client's send queue still held is lost, and what did arrive reads back."""
    specs = {"local": _spec(sandbox, "killed-local", kill_at=10),
             "server": _spec(sandbox, "killed-server", scenario="server", kill_at=10,
                             services=server.endpoints())}
    writers = {label: _start(sandbox, spec) for label, spec in specs.items()}
    refs = {label: _wait(writer, specs[label], killed=True)["ref"]
            for label, writer in writers.items()}

    local, remote = _read(sandbox, ("local", refs["local"]), ("server", refs["server"]))

    expected = _expected(specs["local"]["points"][:10])
    assert local["params"] == PARAMS and local["artifacts"] == {}
    assert set(local["metrics"]) == set(expected)
    for name, series in expected.items():
        assert _same_points(local["metrics"][name], series), name
    handed = _expected(specs["server"]["points"][:10])
    assert remote["params"].items() <= PARAMS.items()
    for name, points in remote["metrics"].items():
        by_step = dict(map(tuple, handed[name]))
        assert all(same_value(by_step[step], value) for step, value in points), name
    assert_offline(sandbox)


def test_server_stops_by_pid_leaving_nothing(server: AimServer) -> None:
    """Last in the module: the server and its uvicorn child go, the port closes, and neither
    tried to reach the network."""
    members = tree(server.pids()[0])
    assert len(members) >= 2  # `aim server` and the uvicorn it starts
    port = server.port
    server.stop()
    assert [p.pid for p in members if _alive(p)] == []
    assert not port_open(port)
    assert server.pids() == []
    assert server.network.take_new() == []
    assert os.path.isdir(server.repo_root / ".aim")
