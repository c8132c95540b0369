"""MLtraq adapter on the real SDK, on SQLite and on an embedded PostgreSQL: round trip, coverage
probes, profiles, a killed run, odd values and the harness's bad-input cases, each logged in its
own process and read back in another.

Every process starts at once (module fixture), so the slow part (an MLtraq import per process:
pandas, pyarrow, SQLAlchemy) overlaps; the harness's own cells (contract, probe, bad input) run
beside them in threads. Every process runs under the harness's offline guard, with HOME, the XDG
dirs and TMPDIR in a sandbox. The PostgreSQL server is the harness's PostgresService, one fresh
database per use, stopped at the end of the module.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import random
import shutil
import sqlite3
import struct
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

import adapters
from adapters.base import sha256_file
from harness.measure import bad_input_cases, netguard
from harness.measure.cell import CellRun
from harness.plan import Cell, Plan
from harness.stages import bad_input, feature_probes
from tests.fakes import USER_FILES

pytest.importorskip("mltraq", reason="mltraq is not installed (the `tools` extra)")
pytest.importorskip("pgserver", reason="the postgres scenario needs pgserver")
pytest.importorskip("psycopg", reason="the postgres scenario needs psycopg (v3)")

from harness.services.postgres import PostgresService  # noqa: E402 - after the skips
from tests.sandbox import REPO, assert_offline, run_json, sandbox_env

TOOL = "mltraq"
TIMEOUT_S = 120

# Runs one after another in one process, a new adapter for each (as a benchmark suite does);
# prints a JSON report as its last line (a killed run writes it to a file first).
WRITE_SCRIPT = textwrap.dedent(
    """
    import json, os, signal, sys, threading, time
    from pathlib import Path

    import psutil
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    from adapters.base import AdapterSettings
    from adapters.mltraq import MltraqAdapter

    statements = []
    event.listen(Engine, "before_cursor_execute",
                 lambda conn, cur, sql, *rest: statements.append(sql))
    spec = json.loads(Path(sys.argv[1]).read_text())
    reports = []
    for run in spec["runs"]:
        settings = AdapterSettings(
            storage_dir=Path(spec["storage_dir"]), scenario=spec["scenario"],
            profile=run.get("profile", "lean"), system_metrics=run.get("system_metrics", False),
            services=spec.get("services", {}))
        adapter = MltraqAdapter(settings)
        adapter.import_sdk()
        del statements[:]
        adapter.start_run(run["name"], {})
        report = {"errors": {}, "features": {}}
        adapter.log_params(run.get("params", {}))
        for step, metrics in run.get("points", []):
            adapter.log_metrics(metrics, step)
        for name, path in run.get("artifacts", []):
            adapter.log_artifact(Path(path), name)
        for path in run.get("change_after", []):  # the user's file changes after logging
            Path(path).write_bytes(b"changed after logging")
        if run.get("features"):
            for feature, call in (("dataset", lambda: adapter.log_dataset(Path(path), "d")),
                                  ("registry", lambda: adapter.register_model(Path(path), "m")),
                                  ("alert", lambda: adapter.send_alert("t", "x"))):
                try:
                    call()
                except Exception as exc:
                    report["features"][feature] = f"{type(exc).__name__}: {exc}"
        if run.get("kill"):
            Path(run["kill"]).write_text(json.dumps({"ref": adapter.run_ref()}))
            os.kill(os.getpid(), signal.SIGKILL)
        time.sleep(run.get("sleep_s", 0))
        report["threads_in_run"] = [t.name for t in threading.enumerate()]
        report["mid_ref"] = adapter.run_ref()
        try:
            report["ref"] = adapter.finish()
        except Exception as exc:
            report["finish_error"] = f"{type(exc).__name__}: {exc}"
            report["ref"] = report["mid_ref"]
        if run.get("query"):  # a metric of this run's own: other runs' cannot tie
            metric = f"probe_loss_{run['name']}"
            report["query_refs"] = []
            report["best_before"] = adapter.best_run(report["ref"], metric)
            for index, value in enumerate((0.3, 0.1, 0.2)):
                other = MltraqAdapter(settings)
                other.start_run(f"query-{index}", {})
                other.log_metrics({metric: value}, step=0)
                report["query_refs"].append(other.finish())
            report["best"] = adapter.best_run(report["ref"], metric)
        report["statements"] = list(statements)
        report["threads_after"] = [t.name for t in threading.enumerate()]
        me = psutil.Process()
        report["listening"] = [c.laddr for c in me.net_connections("inet")
                               if c.status == "LISTEN"]
        report["children"] = len(me.children(recursive=True))
        reports.append(report)
    print(json.dumps(reports))
    """
)

# Reads refs back in a fresh process: (scenario, ref) pairs.
READ_SCRIPT = textwrap.dedent(
    """
    import dataclasses, json, sys
    from pathlib import Path

    from adapters.base import AdapterSettings
    from adapters.mltraq import MltraqAdapter

    spec = json.loads(sys.argv[1])
    stored = []
    for scenario, ref in spec["refs"]:
        adapter = MltraqAdapter(AdapterSettings(storage_dir=Path("."), scenario=scenario,
                                                services=spec["services"]))
        stored.append(dataclasses.asdict(adapter.read_back(ref)))
    print(json.dumps(stored))
    """
)

# MLtraq's own upstreaming, from a copied SQLite file into a PostgreSQL database.
UPSTREAM_SCRIPT = textwrap.dedent(
    """
    import sys

    import mltraq

    local = mltraq.create_session(sys.argv[1])
    remote = mltraq.create_session(sys.argv[2])
    remote.persist_experiment(local.load_experiment(sys.argv[3]))
    """
)

PARAMS: dict[str, Any] = {
    "optimizer": "adam – ünïcødé ☃ 学习",
    "learning_rate": 0.1 + 0.2,
    "epochs": 50,
    "shuffle": True,
    "nothing": None,
    "long": "".join(chr(ord("a") + i % 26) for i in range(10_000)),
    "nan": math.nan,
}


def _bits(points: list) -> list[tuple[int, bytes]]:
    return [(step, struct.pack("<d", value)) for step, value in points]




def _expected(points: list) -> dict[str, list]:
    expected: dict[str, list] = {}
    for step, metrics in points:
        for key, value in metrics.items():
            expected.setdefault(key, []).append([step, value])
    return expected


def _specs(root: Path, pg_uris: dict[str, str]) -> dict[str, dict[str, Any]]:
    rng = random.Random(7)
    points = [(3 * i + 1, {"loss": rng.random() * 10.0 ** rng.randint(-300, 300),
                           "accuracy": i / 49, "lr/é": (0.1 + 0.2) * i if i % 7 else 5e-324,
                           "neg_zero": -0.0})
              for i in range(50)]
    outside = root / "outside"  # a file outside every cell's directory
    outside.mkdir()
    model = outside / "model.bin"
    model.write_bytes(os.urandom(4096))

    def rt_run(scenario: str) -> dict[str, Any]:
        """Logs the model and a file of its own, which it changes after logging it."""
        changed = outside / f"changed-{scenario}.bin"
        changed.write_bytes(os.urandom(777))
        return {"name": "round-trip", "params": PARAMS, "points": points,
                "artifacts": [["model.bin", str(model)], ["renamed.bin", str(changed)]],
                "change_after": [str(changed)], "logged_sha256": sha256_file(changed),
                "features": True, "query": True}

    plain = {"params": {"lr": 0.5}, "points": [(0, {"loss": 1.0})]}
    odd = [(2**53 + 1, {"big_step": 0.5}), (0, {"big_int": 2**60 + 1}),
           (0, {"int": 3}), (1, {"int": 4}), (0, {"none_then_float": None}),
           (1, {"none_then_float": 2.5}), (0, {"flag": True})]
    specs: dict[str, dict[str, Any]] = {
        "rt_sqlite": {"scenario": "sqlite", "runs": [rt_run("sqlite")]},
        "rt_postgres": {"scenario": "postgres", "runs": [rt_run("postgres")],
                        "services": {"tools_postgres_uri": pg_uris["rt"]}},
        # Five runs in one process, a new adapter for each, as a benchmark suite makes them.
        "many": {"scenario": "sqlite", "runs": [
            {**plain, "name": "lean", "query": True},
            {**plain, "name": "system", "system_metrics": True, "sleep_s": 2.5},
            {**plain, "name": "defaults", "profile": "defaults", "query": True},
            {"name": "odd", "points": odd},
            {"name": "mixed", "points": [(0, {"plain": 1.0}), (0, {"mixed": 1.0}),
                                         (1, {"mixed": "text"})]}]},
        "killed": {"scenario": "sqlite", "runs": [
            {**plain, "name": "killed", "points": [(s, {"loss": s / 10}) for s in range(20)],
             "artifacts": [["model.bin", str(model)]], "kill": str(root / "killed.json")}]},
    }
    for name, spec in specs.items():
        spec.update(storage_dir=str(root / name / "store"))
        (root / name / "store").mkdir(parents=True)
    return specs


class _Database:
    """A fresh database of the embedded server, as a cell's service handle: one per test
    group, so they cannot see each other's experiments (the pool's server offers one
    ``tools_postgres_uri`` database for the run)."""

    network = None

    def __init__(self, pg: PostgresService, name: str) -> None:
        self.pg, self.name = pg, name
        self.uri = pg.fresh_database(name)

    def pids(self) -> list[int]:
        return self.pg.pids()

    def endpoints(self) -> dict[str, str]:
        return {"tools_postgres_uri": self.uri}

    def disk_bytes(self) -> int | None:
        return self.pg.database_bytes(self.name)


def _contract_cell(tmp: Path, scenario: str, services: dict | None) -> dict[str, Any]:
    """As tests/test_adapter_contract.py drives a cell, the user's file changed afterwards."""
    plan = Plan(tools=[TOOL], workload="tests.fakes:user_file_workload", repeats=1,
                probes=False, timeout_s=TIMEOUT_S)
    run = CellRun(Cell(TOOL, scenario), plan, tmp, services)
    try:
        run.log()
        (run.workdir.parent / USER_FILES / "weights.bin").write_bytes(b"changed afterwards")
        run.read()
        run.record["network"] = run.network()
        return run.record
    finally:
        run.close()


def _probe_cell(tmp: Path, scenario: str, services: dict | None) -> dict[str, Any]:
    plan = Plan(tools=[TOOL], repeats=1, timeout_s=TIMEOUT_S)
    return feature_probes.probe_cell(Cell(TOOL, scenario, 0, "probe"), plan, tmp, services)


def _bad_input(tmp: Path, scenario: str, services: dict | None) -> dict[str, Any]:
    """The bad-input stage's own pair run; its "large" file is 3 MiB here, not 100 MiB."""
    large = tmp / f"large-{scenario}.bin"
    large_sha256 = bad_input_cases.write_large_file(large, 3 << 20)
    plan = Plan(tools=[TOOL], repeats=1, timeout_s=TIMEOUT_S)
    return bad_input.run_pair(TOOL, scenario, plan, tmp, services,
                              (large, large_sha256))


@pytest.fixture(scope="module")
def runs() -> Iterator[dict[str, Any]]:
    """The PostgreSQL server, every writer process and every harness cell, all started at once;
    ``report(name)`` and ``cell(name)`` wait for one."""
    root = Path(tempfile.mkdtemp(dir="/tmp", prefix="tb-mltraq-"))  # short paths
    pg = PostgresService(root / "pg", root / "logs")
    pool = ThreadPoolExecutor(max_workers=6)
    started: dict[str, subprocess.Popen] = {}
    try:
        pg.start()
        databases = {name: _Database(pg, f"mltraq_{name}")
                     for name in ("rt", "probe", "bad", "upstream")}
        pg_uris = {name: db.uri for name, db in databases.items()}
        specs = _specs(root, pg_uris)
        for name, spec in specs.items():
            (root / f"{name}.json").write_text(json.dumps(spec))
            started[name] = subprocess.Popen(
                [sys.executable, "-c", WRITE_SCRIPT, str(root / f"{name}.json")],
                cwd=root / name, env=sandbox_env(root / name, root / name / "write.net.jsonl"),
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        (root / "cells").mkdir()
        pg_of = {name: {"postgres": db} for name, db in databases.items()}
        jobs: dict[str, Callable[[], dict[str, Any]]] = {
            "contract_sqlite": lambda: _contract_cell(root / "cells", "sqlite", None),
            "probe_sqlite": lambda: _probe_cell(root / "cells", "sqlite", None),
            "probe_postgres": lambda: _probe_cell(root / "cells", "postgres", pg_of["probe"]),
            "bad_sqlite": lambda: _bad_input(root / "cells", "sqlite", None),
            "bad_postgres": lambda: _bad_input(root / "cells", "postgres", pg_of["bad"]),
        }
        cells: dict[str, Future] = {name: pool.submit(job) for name, job in jobs.items()}
        reports: dict[str, Any] = {}

        def report(name: str) -> list[dict[str, Any]]:
            if name not in reports:
                process = started[name]
                try:
                    stdout, stderr = process.communicate(timeout=TIMEOUT_S)
                finally:
                    process.kill()
                if name == "killed":
                    assert process.returncode == -9, stderr
                    reports[name] = [json.loads((root / "killed.json").read_text())]
                else:
                    assert process.returncode == 0, stderr
                    reports[name] = json.loads(stdout.splitlines()[-1])
            return reports[name]

        yield {"root": root, "specs": specs, "report": report, "pg": pg, "uris": pg_uris,
               "cell": lambda name: cells[name].result(timeout=3 * TIMEOUT_S)}
    finally:
        for process in started.values():
            process.kill()
            process.wait()
        pool.shutdown(wait=True, cancel_futures=True)
        pg.stop()
        shutil.rmtree(root, ignore_errors=True)


def _read(runs: dict[str, Any], name: str, refs: list[tuple[str, dict[str, str]]],
          services: dict[str, str] | None = None) -> list[dict[str, Any]]:
    cell = runs["root"] / name
    spec = {"refs": refs, "services": services or {}}
    return run_json(READ_SCRIPT, json.dumps(spec), cell, TIMEOUT_S)


def _stayed_local(runs: dict[str, Any], name: str) -> None:
    """Nothing reached for the network, nothing written outside the store."""
    cell = runs["root"] / name
    assert_offline(cell)
    assert not [p for p in (cell / "home").rglob("*") if p.is_file()], "mltraq wrote to HOME"
    assert not list((cell / "tmp").iterdir()), "mltraq left files in TMPDIR"
    outside_store = [p for p in cell.iterdir() if p.name not in
                     ("home", "tmp", "store", "write.net.jsonl", "read.net.jsonl")]
    assert outside_store == [], "mltraq wrote into its working directory"


def _round_trip_checks(runs: dict[str, Any], stored: dict[str, Any], run: dict[str, Any]) -> None:
    params = dict(stored["params"])
    assert math.isnan(params.pop("nan"))
    assert params == {k: v for k, v in PARAMS.items() if k != "nan"}
    assert {k: type(v) for k, v in params.items()} == {
        k: type(v) for k, v in PARAMS.items() if k != "nan"}
    assert {k: _bits(v) for k, v in stored["metrics"].items()} == {
        k: _bits(v) for k, v in _expected(run["points"]).items()}  # -0.0, 5e-324 included
    changed = Path(run["change_after"][0])
    assert changed.read_bytes() == b"changed after logging"  # the user's file, now
    assert stored["artifacts"] == {"model.bin": sha256_file(runs["root"] / "outside/model.bin"),
                                   "renamed.bin": run["logged_sha256"]}  # the bytes as logged
    assert stored["referenced"] == {} and stored["system_metrics"] == {}


def test_round_trip_on_sqlite_keeps_everything_as_logged(runs: dict[str, Any]) -> None:
    spec, (report,) = runs["specs"]["rt_sqlite"], runs["report"]("rt_sqlite")
    ref = report["ref"]
    db = Path(spec["storage_dir"]) / "mltraq.db"
    assert ref["db_path"] == str(db) and report["mid_ref"] == ref
    assert report["listening"] == [] and report["children"] == 0
    assert report["threads_after"] == ["MainThread"]
    before = (db.stat().st_mtime_ns, sha256_file(db))
    stored, *queried = _read(runs, "rt_sqlite", [("sqlite", r) for r in
                                                 [ref, *report["query_refs"]]])
    assert (db.stat().st_mtime_ns, sha256_file(db)) == before, "read-back changed the database"
    _round_trip_checks(runs, stored, spec["runs"][0])
    assert report["best_before"] is None
    assert report["best"] == report["query_refs"][1]  # the 0.1 run
    assert [q["metrics"] for q in queried] == [{"probe_loss_round-trip": [[0, v]]}
                                               for v in (0.3, 0.1, 0.2)]
    features = report["features"]
    assert features["dataset"].startswith("Unsupported: MLtraq has no dataset versioning")
    assert features["registry"].startswith("Unsupported: MLtraq has no model registry")
    assert features["alert"].startswith("Unsupported: MLtraq has no alert")
    _stayed_local(runs, "rt_sqlite")


def test_round_trip_on_postgres_keeps_the_same_and_names_no_password(
        runs: dict[str, Any]) -> None:
    spec, (report,) = runs["specs"]["rt_postgres"], runs["report"]("rt_postgres")
    ref = report["ref"]
    assert ref.keys() == {"database", "experiment", "id_run"} and ref["database"] == "mltraq_rt"
    assert runs["pg"].password not in json.dumps(report)
    services = {"tools_postgres_uri": runs["uris"]["rt"]}
    stored, = _read(runs, "rt_postgres", [("postgres", ref)], services)
    _round_trip_checks(runs, stored, spec["runs"][0])
    assert report["best"] == report["query_refs"][1]
    assert not list(Path(spec["storage_dir"]).iterdir()), "the postgres scenario wrote files"
    _stayed_local(runs, "rt_postgres")


def test_the_sqlite_file_is_an_offline_bundle_mltraq_upstreams(runs: dict[str, Any]) -> None:
    """The file alone, original moved away, reads back whole; MLtraq's own upstreaming
    (``persist_experiment``) carries it into PostgreSQL, where it reads back whole too."""
    spec, (report,) = runs["specs"]["rt_sqlite"], runs["report"]("rt_sqlite")
    ref, carried = report["ref"], runs["root"] / "carried"
    carried.mkdir()
    copy = carried / "mltraq.db"
    shutil.copy2(ref["db_path"], copy)
    original = Path(ref["db_path"])
    hidden = original.with_name("hidden.db")
    original.rename(hidden)
    upstream_ref = {"database": "mltraq_upstream", "experiment": ref["experiment"],
                    "id_run": ref["id_run"]}
    try:
        target = runs["uris"]["upstream"].replace("postgresql://", "postgresql+psycopg://")
        done = subprocess.run(
            [sys.executable, "-c", UPSTREAM_SCRIPT, f"sqlite:///{copy}", target,
             ref["experiment"]], cwd=carried, capture_output=True, text=True,
            env=sandbox_env(carried, carried / "upstream.net.jsonl"), timeout=TIMEOUT_S,
            check=False)
        assert done.returncode == 0, done.stderr
        alone, gone, upstream = _read(
            runs, "rt_sqlite", [("sqlite", {**ref, "db_path": str(copy)}), ("sqlite", ref),
                                ("postgres", upstream_ref)],
            {"tools_postgres_uri": runs["uris"]["upstream"]})
    finally:
        hidden.rename(original)
    assert gone["metrics"] == {} and "no MLtraq database" in gone["notes"][0]
    for stored in (alone, upstream):
        _round_trip_checks(runs, stored, spec["runs"][0])
    assert netguard.GuardLog(carried / "upstream.net.jsonl").take_new() == []


def test_lean_turns_tqdm_off_and_system_metrics_turn_sysmon_on(runs: dict[str, Any]) -> None:
    lean, system, defaults, *_ = runs["report"]("many")
    counts = {name: sum("COUNT(*)" in s for s in r["statements"])
              for name, r in (("lean", lean), ("defaults", defaults))}
    assert counts["lean"] == 0 and counts["defaults"] >= 2, counts  # tqdm's row counts
    assert lean["best"] == lean["query_refs"][1] and defaults["best"] == defaults["query_refs"][1]
    assert "SystemMonitor" in system["threads_in_run"]
    assert "SystemMonitor" not in lean["threads_in_run"] + defaults["threads_in_run"]
    assert lean["threads_after"] == system["threads_after"] == ["MainThread"]
    # A tqdm bar starts tqdm's monitor thread, which outlives the bar (a daemon, every 10 s).
    assert defaults["threads_after"] == ["MainThread", "tqdm_monitor"]
    stored = _read(runs, "many", [("sqlite", r["ref"]) for r in (lean, defaults, system)])
    assert [s["system_metrics"] for s in stored[:2]] == [{}, {}]
    sysmon = stored[2]["system_metrics"]
    assert sysmon["cpu_pct"] >= 2 and sysmon["mem_used_pct"] == sysmon["cpu_pct"], sysmon
    for one in stored:
        assert one["params"] == {"lr": 0.5} and one["metrics"] == {"loss": [[0, 1.0]]}
    _stayed_local(runs, "many")


def test_a_killed_run_keeps_nothing(runs: dict[str, Any]) -> None:
    (report,) = runs["report"]("killed")
    ref = report["ref"]
    with contextlib.closing(sqlite3.connect(f"file:{ref['db_path']}?mode=ro", uri=True)) as db:
        tables = [row[0] for row in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")]
        rows = db.execute("SELECT count(*) FROM experiments").fetchone()[0]
    assert (tables, rows) == (["experiments"], 0)  # create_session's empty table, nothing else
    stored, = _read(runs, "killed", [("sqlite", ref)])
    assert stored["params"] == {} and stored["metrics"] == {} and stored["artifacts"] == {}
    assert any("only at experiment.persist()" in note for note in stored["notes"])
    _stayed_local(runs, "killed")


def test_odd_values_are_rounded_or_lose_the_whole_run(runs: dict[str, Any]) -> None:
    *_, odd, mixed = runs["report"]("many")
    assert "finish_error" not in odd
    assert mixed["finish_error"].startswith("ArrowInvalid")  # text and numbers under one key
    got, lost = _read(runs, "many", [("sqlite", odd["ref"]), ("sqlite", mixed["ref"])])
    metrics = got["metrics"]
    assert metrics["big_step"] == [[2**53, 0.5]]  # steps are float64 in a Sequence
    assert metrics["big_int"] == [[0, float(2**60)]] and metrics["int"] == [[0, 3.0], [1, 4.0]]
    assert math.isnan(metrics["none_then_float"][0][1])  # None beside floats: NaN
    assert metrics["flag"] == [[0, True]]
    assert any("float64" in note for note in got["notes"])
    assert lost["metrics"] == {} and any("persist()" in n for n in lost["notes"])  # "plain" too
    _stayed_local(runs, "many")


def test_the_registry_form_and_a_real_cell_work_before_registration(
        runs: dict[str, Any]) -> None:
    from adapters.mltraq import MltraqAdapter

    assert adapters.load(TOOL) is MltraqAdapter
    code = (f"import sys, adapters; adapters.load({TOOL!r}); "
            "print([m for m in sys.modules if m.split('.')[0] == 'mltraq'])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=REPO)
    assert out.stdout.strip() == "[]", "importing the adapter imported mltraq"
    record = runs["cell"]("contract_sqlite")
    assert record["status"] == "ok", record["error"]
    assert record["leftover_processes"] == []
    assert record["logged"] == {"params": 4, "points": 100, "artifacts": 1}
    fid = record["fidelity"]
    assert [fid[k]["kept"] for k in ("params", "points", "artifacts")] == [4, 100, 1], fid
    assert fid["artifacts"]["referenced"] == 0  # the bytes are in MLtraq's database
    assert sum(fid[k]["missing"] + fid[k]["altered"] + fid[k]["extra"] for k in fid) == 0
    assert record["network"]["attempts"] == [], record["network"]
    assert record["disk_bytes"] > 0


PROBE_VERDICTS = {"auth": "absent", "isolation": "absent", "data-versioning": "absent",
                  "monitoring": "verified", "alerts": "absent", "model-registry": "absent",
                  "query-api": "verified"}


def test_probe_cells_give_the_nine_verdicts(runs: dict[str, Any]) -> None:
    found = {}
    for scenario in ("sqlite", "postgres"):
        record = runs["cell"](f"probe_{scenario}")
        assert record["status"] == "ok", record["error"]
        assert record["network"]["attempts"] == [], record["network"]
        fid = record["fidelity"]  # the probe run itself, read back in full
        assert all(fid[k]["kept"] == fid[k]["logged"] > 0 for k in fid), fid
        found[scenario] = {k: v["status"] for k, v in record["coverage"].items()}
        assert {k: found[scenario][k] for k in PROBE_VERDICTS} == PROBE_VERDICTS, \
            record["coverage"]
    assert found["sqlite"]["offline-sync"] == "verified"
    assert found["sqlite"]["rest-api"] == "absent"
    assert found["postgres"]["offline-sync"] == "absent"
    assert found["postgres"]["rest-api"] != "verified"  # a database, no HTTP API
    growth = runs["cell"]("probe_postgres")["services"]["postgres"]["disk_growth_bytes"]
    assert growth > 0  # the run landed in the database, not in the cell's directory


def test_bad_input_cases_are_kept_as_logged(runs: dict[str, Any]) -> None:
    for scenario in ("sqlite", "postgres"):
        record = runs["cell"](f"bad_{scenario}")
        assert record["status"] == "ok", record["error"]
        outcomes = {case: c["outcome"] for case, c in record["cases"].items()}
        assert outcomes == {c.id: "faithful" for c in bad_input_cases.CASES}, record["cases"]
        assert record["network"]["attempts"] == [], record["network"]
