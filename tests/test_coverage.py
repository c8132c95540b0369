"""Coverage probes: verdicts come from what the probes did; the report shows them with their
evidence, checks the seed's claims against them, and applies ``--require``."""

from __future__ import annotations

import copy
import hashlib
import json
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import adapters
from harness import options, results
from harness.plan import Cell, Plan
from harness.probes import coverage, server_coverage
from harness.report import seed_claims
from harness.report.page import Page
from harness.results.coverage import FEATURES, NOT_AS_RUN, STATUSES, requirement_gaps
from harness.services.pool import ServicePool
from harness.stages import server_probes
from harness.stages.context import StageContext
from harness.stages.feature_probes import probe_cell
from tests.report_pages import full_text

ROOT = Path(__file__).resolve().parent.parent
DOCS = "https://example.org/docs"
STORED = {"datasets": [], "system_metrics": {}, "models": [], "alerts": []}
READ = {"status": "ok", "stored": STORED}
FAILED_READ = {"status": "failed", "error": "OSError: store gone"}


def _fid(kept: int, logged: int) -> dict[str, Any]:
    kind = {"logged": logged, "kept": kept, "missing": logged - kept, "altered": 0}
    return {"params": {**kind, "logged": 1, "kept": 1, "missing": 0},
            "points": {**kind, "logged": 5, "kept": 5, "missing": 0}, "artifacts": kind}


def _bundle(read: dict[str, Any]) -> dict[str, Any]:
    return {"outcome": "copied", "name": "run-dir", "files": 3, "bytes": 100, "read": read}


def _with(**stored: Any) -> dict[str, Any]:
    return {"status": "ok", "stored": {**STORED, **stored}}


TWO_LOGGED = {"outcome": "logged", "message": "two versions logged", "sha256": ["v1", "v2"]}
TWO_IDS = [["probe-dataset", "aaa"], ["probe-dataset", "bbb"]]


# (feature, probe-log additions, read-back, verdicts() keywords, expected status)
CASES = [
    ("auth", {}, READ, {}, "absent"),
    ("auth", {}, READ, {"hosted_auth_docs": DOCS}, "not testable offline"),
    ("auth", {}, FAILED_READ, {}, "error"),
    ("isolation", {}, READ, {}, "absent"),
    ("isolation", {}, READ, {"hosted_auth_docs": DOCS}, "not testable offline"),
    ("isolation", {}, FAILED_READ, {}, "error"),
    ("data-versioning", {"dataset_probe": TWO_LOGGED},
     _with(datasets=TWO_IDS, dataset_sha256=["v1", None]), {}, "verified"),
    ("data-versioning", {"dataset_probe": TWO_LOGGED},
     _with(datasets=TWO_IDS, dataset_sha256=[None, "v2"]), {}, "absent"),
    ("data-versioning", {"dataset_probe": TWO_LOGGED},
     _with(datasets=[["probe-dataset", "aaa"], ["probe-dataset", "aaa"]],
           dataset_sha256=["v1", "v2"]), {}, "absent"),
    ("data-versioning", {"dataset_probe": TWO_LOGGED}, _with(datasets=TWO_IDS), {}, "error"),
    ("data-versioning", {"dataset_probe": {"outcome": "hosted", "message": "m", "docs": DOCS}},
     READ, {}, "not testable offline"),
    ("data-versioning", {"dataset_probe": {"outcome": "error", "message": "boom"}}, READ, {},
     "error"),
    ("monitoring", {}, _with(system_metrics={"cpu": 4}), {}, "verified"),
    ("monitoring", {}, READ, {}, "absent"),
    ("monitoring", {}, FAILED_READ, {}, "error"),
    ("alerts", {"alert_probe": {"outcome": "logged", "message": "sent"}}, _with(alerts=["t"]),
     {}, "verified"),
    ("alerts", {"alert_probe": {"outcome": "unsupported", "message": "no call"}}, READ, {},
     "absent"),
    ("alerts", {"alert_probe": {"outcome": "hosted", "message": "m", "docs": DOCS}}, READ, {},
     "not testable offline"),
    ("alerts", {"alert_probe": {"outcome": "logged", "message": "sent"}}, READ, {}, "error"),
    ("model-registry", {"registry_probe": {"outcome": "logged", "message": "ok"}},
     _with(models=[["m", "1"]]), {}, "verified"),
    ("model-registry", {"registry_probe": {"outcome": "unsupported", "message": "none"}}, READ,
     {}, "absent"),
    ("model-registry", {"registry_probe": {"outcome": "hosted", "message": "m", "docs": DOCS}},
     READ, {}, "not testable offline"),
    ("model-registry", {"registry_probe": {"outcome": "error", "message": "KeyError"}}, READ, {},
     "error"),
    ("offline-sync", {}, READ, {"bundle": _bundle({"status": "ok", "fidelity": _fid(1, 1)})},
     "verified"),
    ("offline-sync", {}, READ, {"bundle": _bundle({"status": "ok", "fidelity": _fid(0, 1)})},
     "absent"),
    ("offline-sync", {}, READ, {"bundle": _bundle({"status": "ok", "fidelity": _fid(1, 1),
                                                    "unresolved": ["bytes staged elsewhere"]})},
     "absent"),
    ("offline-sync", {}, READ, {"bundle": {"outcome": "unsupported", "message": "no mode"}},
     "absent"),
    ("offline-sync", {}, READ, {"bundle": {"outcome": "hosted", "message": "m", "docs": DOCS}},
     "not testable offline"),
    ("offline-sync", {}, READ, {"bundle": _bundle({"status": "failed", "error": "bad zip"})},
     "error"),
    ("query-api", {"query_probe": {"outcome": "found", "message": "found"}}, READ, {},
     "verified"),
    ("query-api", {"query_probe": {"outcome": "unsupported", "message": "none"}}, READ, {},
     "absent"),
    ("query-api", {"query_probe": {"outcome": "hosted", "message": "m", "docs": DOCS}}, READ, {},
     "not testable offline"),
    ("query-api", {"query_probe": {"outcome": "wrong", "message": "other run"}}, READ, {},
     "error"),
    ("rest-api", {}, READ, {}, "absent"),
    ("rest-api", {}, READ, {"hosted_api_docs": DOCS}, "not testable offline"),
    ("rest-api", {}, READ, {"server": True}, "error"),
]


@pytest.mark.parametrize("feature, log, read, kwargs, expected", CASES,
                         ids=[f"{c[0]}-{c[4]}-{i}" for i, c in enumerate(CASES)])
def test_each_verdict_follows_what_the_probe_did(feature: str, log: dict, read: dict,
                                                 kwargs: dict, expected: str) -> None:
    kwargs = dict(kwargs)
    auth_docs = kwargs.pop("hosted_auth_docs", None)
    entry = coverage.verdicts({"status": "ok", **log}, read, auth_docs, **kwargs)[feature]
    assert entry["status"] == expected, entry
    assert entry["evidence"]
    if expected == "not testable offline":
        assert entry["docs"] == DOCS


def test_every_feature_reaches_every_status() -> None:
    reached = {(c[0], c[4]) for c in CASES}
    server_only = {("rest-api", "verified"), ("auth", "verified"), ("isolation", "verified")}
    # System metrics are recorded by the client, whatever the service: always testable.
    local_only = {("monitoring", "not testable offline")}
    # "available" and "not probed" come from the server probes alone (tested below).
    wanted = {(f, s) for f in FEATURES for s in STATUSES if s not in ("available", "not probed")}
    assert wanted - reached == server_only | local_only  # server ones: tested with real servers


def test_a_failed_probe_run_is_an_error_everywhere() -> None:
    out = coverage.verdicts({"status": "timeout", "error": "no result"}, {}, None)
    assert set(out) == set(FEATURES)
    assert {e["status"] for e in out.values()} == {"error"}


def test_server_auth_keeps_the_scenario_as_run_beside_it() -> None:
    local = coverage.verdicts({"status": "ok"}, READ, None, server=True)
    server = {"auth": {"status": "available", "evidence": "with --app-name basic-auth: 401",
                       "docs": DOCS},
              "rest-api": {"status": "verified", "evidence": "7/9 work", "docs": None}}
    merged = coverage.merge(local, server)
    assert merged["auth"]["status"] == "available"
    assert NOT_AS_RUN in merged["auth"]["evidence"]
    assert merged["auth"]["as_run"] == "absent"
    assert merged["rest-api"]["status"] == "verified"
    assert merged["isolation"]["status"] == "absent"


BASIC_AUTH = [{"probe": name, "expected": 401, "status": 401, "outcome": "verified",
               "evidence": "-"} for name in ("anonymous POST experiments/search",
                                             "wrong password", "bob reads alice's experiment")]


def test_auth_of_an_extra_basic_auth_server_is_available_not_met() -> None:
    """The harness's own basic-auth server proves the feature exists; the scenario's server
    ran without it, so a must-have of auth is not met there."""
    probes = {"rest_api": {"mlflow:server-sqlite": []}, "auth": BASIC_AUTH, "own_auth": {}}
    entries = server_coverage.coverage_for("mlflow:server-sqlite", probes)
    assert entries["auth"]["status"] == entries["isolation"]["status"] == "available"
    assert "available: verified on a server started with --app-name basic-auth" in \
        entries["auth"]["evidence"]
    data = results.new_results({"tools": ["mlflow"], "scenarios": ["mlflow:server-sqlite"],
                                "profile": "lean", "repeats": 1, "workload": "digits",
                                "require": ["auth"]}, {"mlflow": "3"})
    data["probes"] = [{"tool": "mlflow", "scenario": "server-sqlite", "status": "ok",
                       "coverage": entries}]
    assert requirement_gaps(entries, ["auth"]) == {"auth": "available"}


@pytest.mark.parametrize("status, expected", [(401, "verified"), (200, "absent")])
def test_a_teams_own_server_is_probed_as_it_runs(status: int, expected: str) -> None:
    """With --tracking-uri, the basic-auth server the harness starts says nothing of the team's
    server: its own answer to an anonymous request decides, and isolation is not probed."""
    own = {"probe": "anonymous POST experiments/search", "expected": 401, "status": status,
           "outcome": "verified" if status == 401 else "not as expected", "evidence": "-"}
    probes = {"rest_api": {"mlflow:server-postgres-s3": []}, "auth": BASIC_AUTH,
              "own_auth": {"mlflow:server-postgres-s3": own}}
    entries = server_coverage.coverage_for("mlflow:server-postgres-s3", probes)
    assert entries["auth"]["status"] == expected
    assert "team's own server as it runs" in entries["auth"]["evidence"]
    assert entries["isolation"]["status"] == "not probed"


def test_probe_through_real_worker_processes(tmp_path: Path) -> None:
    """A fake with a registry, a query API, hosted alerts and a bundle lacking the bytes."""
    tool = "tests.fakes:FeatureAdapter"
    rec = probe_cell(Cell(tool, "default", 0, "probe"), Plan(tools=[tool]), tmp_path)
    got = {f: e["status"] for f, e in rec["coverage"].items()}
    assert got == {
        "auth": "absent", "isolation": "absent", "data-versioning": "absent",
        "monitoring": "absent", "alerts": "not testable offline", "model-registry": "verified",
        "offline-sync": "absent", "query-api": "verified", "rest-api": "absent",
    }
    sync = rec["coverage"]["offline-sync"]["evidence"]
    assert "artifacts 0/1" in sync and "its bytes are not beside the run" in sync
    assert re.search(r"lowest probe_loss_\w{8} \(0.1\)", rec["coverage"]["query-api"]["evidence"])
    assert rec["coverage"]["alerts"]["docs"] == "https://example.org/alerts"


@pytest.mark.parametrize("reached, expected", [
    (["v1", "v2"], "the first version's bytes (and the second's) are retrievable"),
    ([None, "v2"], "now the second version's bytes"),
    ([None, None], "leads to nothing"),
    (["v0", None], "matching neither version"),
])
def test_data_versioning_evidence_says_where_the_reference_leads(reached: list,
                                                                  expected: str) -> None:
    read = _with(datasets=TWO_IDS, dataset_sha256=reached)
    entry = coverage.verdicts({"status": "ok", "dataset_probe": TWO_LOGGED}, read, None)
    assert expected in entry["data-versioning"]["evidence"]
    assert "told apart" in entry["data-versioning"]["evidence"]


@pytest.mark.parametrize("tool, status, evidence", [
    ("tests.fakes:DatasetCopyAdapter", "verified", "the first version's bytes (and the second's) "
     "are retrievable"),
    ("tests.fakes:DatasetRefAdapter", "absent", "only a reference to the source is kept: the "
     "first version's bytes are gone once the file changes (the stored reference leads to "
     "nothing"),
])
def test_data_versioning_needs_the_first_versions_bytes(tool: str, status: str, evidence: str,
                                                        tmp_path: Path) -> None:
    """Both fakes tell the versions apart; only the one keeping bytes can give v1 back."""
    rec = probe_cell(Cell(tool, "default", 0, "probe"), Plan(tools=[tool]), tmp_path)
    entry = rec["coverage"]["data-versioning"]
    assert entry["status"] == status, entry
    assert "2 versions of one dataset told apart by distinct ids" in entry["evidence"]
    assert evidence in entry["evidence"]
    assert len(rec["dataset_probe"]["sha256"]) == 2


# ---------------------------------------------------------------- real tools

def _in(*texts: str) -> Any:
    return lambda evidence: all(text in evidence for text in texts)


# MLflow's log_input keeps a digest and the source path; the probe's file is gone at read-back.
REFERENCE_ONLY = ("told apart by distinct ids", "but only a reference to the source is kept",
                  "is a path to the user's file")


EXPECTED: dict[str, dict[str, tuple[str, Any]]] = {
    "mlflow:sqlite": {
        "auth": ("absent", None), "isolation": ("absent", None),
        "data-versioning": ("absent", _in(*REFERENCE_ONLY)), "monitoring": ("verified", None),
        "alerts": ("absent", _in("no alert or notification call")),
        "model-registry": ("verified", _in("trackbench-probe-model:1")),
        "offline-sync": ("absent", _in("MLflow has no offline mode")),
        "query-api": ("verified", lambda e: re.search(r"lowest probe_loss_\w{8} \(0.1\)", e)),
        "rest-api": ("absent", _in("no server in this scenario")),
    },
    "mlflow:server-sqlite": {
        "auth": ("available", _in("not enabled in this scenario as run")),
        "isolation": ("available", _in("bob")),
        "data-versioning": ("absent", _in(*REFERENCE_ONLY)), "monitoring": ("verified", None),
        "alerts": ("absent", None), "model-registry": ("verified", None),
        "offline-sync": ("absent", None), "query-api": ("verified", None),
        "rest-api": ("verified", _in("endpoint probes work")),
    },
    "wandb:offline": {
        "auth": ("not testable offline", None), "isolation": ("not testable offline", None),
        # Each version's bytes are staged in W&B's data dir until `wandb sync`.
        "data-versioning": ("verified", _in("the first version's bytes (and the second's) are "
                                            "retrievable")),
        "monitoring": ("verified", None),
        "alerts": ("not testable offline", _in("read back: alert trackbench probe")),
        "model-registry": ("not testable offline", _in("run.link_model() offline raised")),
        # The dataset's bytes are staged in W&B's data dir under HOME, outside the run dir.
        "offline-sync": ("absent", _in("missing or differ")),
        "query-api": ("not testable offline", _in("wandb.Run has no run-query method")),
        "rest-api": ("not testable offline", None),
    },
    "neptune:offline": {
        "auth": ("not testable offline", None), "isolation": ("not testable offline", None),
        "data-versioning": ("not testable offline", None), "monitoring": ("verified", None),
        "alerts": ("absent", _in("no alert or notification call")),
        "model-registry": ("not testable offline", _in("can't be initialized in OFFLINE")),
        # Uploads are path references: the bundle holds no artifact bytes.
        "offline-sync": ("absent", _in("artifacts 0/1")),
        "query-api": ("not testable offline", _in("init_project(mode='offline') raised")),
        "rest-api": ("not testable offline", None),
    },
    "comet:offline": {
        "auth": ("not testable offline", None), "isolation": ("not testable offline", None),
        "data-versioning": ("not testable offline", None), "monitoring": ("verified", None),
        "alerts": ("not testable offline", _in("read back: no alert stored")),
        "model-registry": ("not testable offline", _in("model version trackbench-probe-model")),
        "offline-sync": ("verified", _in("artifacts 1/1")),
        "query-api": ("not testable offline", _in("OfflineExperiment has no run-query method")),
        "rest-api": ("not testable offline", None),
    },
}
EXPECTED["mlflow:file"] = {**EXPECTED["mlflow:sqlite"]}


@pytest.fixture(scope="module")
def pool(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServicePool]:
    root = tmp_path_factory.mktemp("services")
    services = ServicePool(root / "work", root / "logs", {}, progress=lambda _: None)
    try:
        yield services
    finally:
        services.close()


@pytest.fixture
def short_tmp() -> Iterator[Path]:
    """Cells under a short path: wandb-symon's unix socket in TMPDIR fails past ~65 chars."""
    path = Path(tempfile.mkdtemp(prefix="tbc-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.mark.parametrize("label", sorted(EXPECTED))
def test_real_tool_probe_verdicts_and_report(label: str, short_tmp: Path,
                                             pool: ServicePool) -> None:
    tool, _, scenario = label.partition(":")
    pytest.importorskip(tool if tool != "comet" else "comet_ml",
                        reason=f"{tool} is not installed (pip install .[tools])")
    names = adapters.load(tool).services_for(scenario)
    plan = Plan(tools=[tool], scenarios=[label])
    record = probe_cell(Cell(tool, scenario, 0, "probe"), plan, short_tmp,
                        pool.get(names) if names else None)
    assert record["status"] == "ok", record.get("error")
    ctx = StageContext(plan=plan, pairs=[(tool, scenario)], data={}, results_path=None,
                       pool=pool, tmp_root=short_tmp, progress=lambda _: None)
    server = server_probes.probe(ctx) if names else {}
    if server.get("auth") is not None:  # the basic-auth server's probes, every one as expected
        assert len(server["auth"]) >= 10, server["auth"]
        assert [p for p in server["auth"] if p["outcome"] != "verified"] == []
    record["coverage"] = coverage.merge(record["coverage"],
                                        server_coverage.coverage_for(label, server))
    for feature, (status, check) in EXPECTED[label].items():
        entry = record["coverage"][feature]
        assert entry["status"] == status, (feature, entry)
        assert check is None or check(entry["evidence"]), (feature, entry["evidence"])
    data = results.new_results({"tools": [tool], "scenarios": [label], "profile": "lean",
                                "repeats": 1, "workload": "digits", "require": ["query-api"]},
                               {tool: record["tool_version"]})
    data["probes"] = [record]
    text = full_text(data)
    for feature, entry in record["coverage"].items():
        assert f"| {label} | **{entry['status']}** | {entry['evidence'][:40]}" in text, feature
    # Only verified, on the scenario as run, meets a must-have.
    for feature, (status, _) in EXPECTED[label].items():
        assert bool(requirement_gaps(record["coverage"], [feature])) == (status != "verified")


LOG_TWO_VERSIONS = """
import json, sys
from pathlib import Path
from adapters.base import AdapterSettings
from adapters.mlflow import MlflowAdapter
store, dataset = Path(sys.argv[1]), Path(sys.argv[2])
adapter = MlflowAdapter(AdapterSettings(storage_dir=store, scenario="sqlite"))
adapter.import_sdk()
adapter.start_run("in-place", {})
for version in (1, 2):
    dataset.write_text("".join(f"{i},{i * version}\\n" for i in range(100)))
    adapter.log_dataset(dataset, "probe-dataset")
print(json.dumps(adapter.finish()))
"""


def test_mlflow_dataset_reference_is_not_storage_even_with_the_file_in_place(
        tmp_path: Path) -> None:
    """The user's file is still there, changed in place: MLflow kept a path to it and a digest,
    not the bytes. Following the path would credit MLflow with the user's disk; the read-back
    must not, so neither version counts as retrievable and the verdict names the path."""
    pytest.importorskip("mlflow", reason="mlflow is not installed (pip install .[tools])")
    store, dataset = tmp_path / "store", tmp_path / "data.csv"
    store.mkdir()
    done = subprocess.run([sys.executable, "-c", LOG_TWO_VERSIONS, str(store), str(dataset)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    spec = {"mode": "read", "tool": "mlflow", "scenario": "sqlite", "profile": "lean",
            "storage_dir": str(store), "ref": json.loads(done.stdout.splitlines()[-1]),
            "result_path": str(tmp_path / "read.json")}
    (tmp_path / "read.spec.json").write_text(json.dumps(spec))
    subprocess.run([sys.executable, "-m", "harness.measure.worker",
                    str(tmp_path / "read.spec.json")], cwd=ROOT, timeout=300, check=True)
    read = json.loads((tmp_path / "read.json").read_text())
    assert dataset.is_file()
    assert read["stored"]["dataset_sha256"] == [None, None]
    assert len({d for _, d in read["stored"]["datasets"]}) == 2
    assert set(read["stored"]["referenced"].values()) == {str(dataset)}
    first = hashlib.sha256("".join(f"{i},{i}\n" for i in range(100)).encode()).hexdigest()
    second = hashlib.sha256(dataset.read_bytes()).hexdigest()
    log = {"status": "ok", "dataset_probe": {**TWO_LOGGED, "sha256": [first, second]}}
    entry = coverage.verdicts(log, read, None)["data-versioning"]
    assert entry["status"] == "absent"
    assert f"is a path to the user's file ({dataset})" in entry["evidence"]


# ---------------------------------------------------------------- --require

def _cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "harness.cli", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


def test_require_unknown_feature_is_a_usage_error(tmp_path: Path) -> None:
    out = _cli("run", "--require", "auth,telepathy", "--out", str(tmp_path))
    assert out.returncode == 2
    assert "unknown feature(s) for --require: telepathy" in out.stderr
    assert ", ".join(FEATURES) in out.stderr


def test_require_without_probes_is_a_usage_error(tmp_path: Path) -> None:
    out = _cli("run", "--require", "auth", "--no-probes", "--out", str(tmp_path))
    assert out.returncode == 2 and "needs the coverage probes" in out.stderr


def test_require_is_a_pytest_option_too() -> None:
    import argparse

    parser = argparse.ArgumentParser()
    options.add_to(parser.add_argument, prefix="trackbench_")
    values = vars(parser.parse_args(["--trackbench-require", "auth,query-api"]))
    assert options.plan_from(values, prefix="trackbench_").require == ["auth", "query-api"]
    values = vars(parser.parse_args(["--trackbench-require", "nope"]))
    with pytest.raises(ValueError, match="unknown feature"):
        options.plan_from(values, prefix="trackbench_")


def test_require_marks_who_meets_the_must_haves(tmp_path: Path) -> None:
    out_dir = tmp_path / "out"
    run = _cli("run", "--tools", "tests.fakes:FeatureAdapter,tests.fakes:JsonFileAdapter",
               "--workload", "tests.fakes:small_workload", "--repeats", "1",
               "--no-reliability", "--require", "model-registry,query-api",
               "--out", str(out_dir))
    assert run.returncode == 0, run.stderr
    data = results.load(out_dir / "results.json")
    assert data["invocation"]["require"] == ["model-registry", "query-api"]
    page_one = (out_dir / "REPORT.md").read_text().split("## Cost for your training run")[0]
    assert "Must-haves: `model-registry`, `query-api`" in page_one
    assert "| 1 | tests.fakes:FeatureAdapter:default |" in page_one
    assert ("Missing a must-have: `tests.fakes:JsonFileAdapter:default` (model-registry absent, "
            "query-api absent)." in page_one)


# ---------------------------------------------------------------- seed claims

# A copy of the seed document is kept in the repository, so the quotes are checked everywhere.
SEED_FILE = Path(__file__).resolve().parents[1] / seed_claims.SEED


def test_each_claim_quotes_the_seed_at_its_line() -> None:
    lines = SEED_FILE.read_text().splitlines()
    for claim in seed_claims.CLAIMS:
        assert claim.source in lines[claim.line - 1], (claim.line, claim.source)


def _results_with(coverage_by_label: dict[str, dict[str, str]]) -> dict[str, Any]:
    data = results.new_results({"tools": [], "scenarios": [], "profile": "lean", "repeats": 1,
                                "workload": "digits"}, {})
    for label, statuses in coverage_by_label.items():
        tool, _, scenario = label.partition(":")
        data["probes"].append({
            "tool": tool, "scenario": scenario, "status": "ok",
            "coverage": {f: {"status": s, "evidence": f"{f} measured", "docs": None}
                         for f, s in statuses.items()}})
    return data


def _row(text: str, source: str) -> str:
    return next(line for line in text.splitlines() if source in line and line.startswith("| L"))


def test_seed_claims_follow_the_results() -> None:
    data = _results_with({"mlflow:sqlite": {"data-versioning": "verified", "alerts": "absent"},
                          "neptune:offline": {"alerts": "absent", "auth": "not testable offline"}})
    text = "\n".join(seed_claims.render(Page(data)))
    assert _row(text, "Data versioning - no in-built").endswith("| **contradicted** |")
    assert _row(text, "alerts are required").endswith("| **confirmed** |")
    assert _row(text, "Nepture.ai").endswith("| **contradicted** |")
    assert "[alerts](#coverage-alerts): absent in mlflow:sqlite" in text
    flipped = copy.deepcopy(data)
    flipped["probes"][0]["coverage"]["data-versioning"]["status"] = "absent"
    flipped["probes"][0]["coverage"]["alerts"]["status"] = "verified"
    text = "\n".join(seed_claims.render(Page(flipped)))
    assert _row(text, "Data versioning - no in-built").endswith("| **confirmed** |")
    assert _row(text, "alerts are required").endswith("| **contradicted** |")


def test_seed_endpoint_claims_follow_the_rest_probe() -> None:
    data = _results_with({})
    probe = {"method": "GET", "endpoint": "/api/2.0/mlflow/experiments/list", "status": 404,
             "outcome": "gone", "named_in_seed": True, "evidence": "404",
             "replaced_by": "POST /api/2.0/mlflow/experiments/search"}
    data["server_probes"] = {"rest_api": {"mlflow:server-sqlite": [probe]}, "auth": None}
    text = "\n".join(seed_claims.render(Page(data)))
    row = _row(text, "experiments/list")
    assert "HTTP 404 (gone), replaced by POST" in row and row.endswith("| **contradicted** |")
    probe.update(status=200, outcome="works")
    assert _row("\n".join(seed_claims.render(Page(data))), "experiments/list").endswith(
        "| **confirmed** |")


def test_report_renders_old_results_without_the_new_keys() -> None:
    data = results.load(Path(__file__).parent / "data" / "results_fixed.json")
    text = full_text(data)
    assert "## Seed claims" in text and "Must-haves:" not in text
