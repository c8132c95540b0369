"""Bad input: every case fed to every tool without a harness crash; classification checked on
fakes whose behaviour is known (each fake in tests/fakes.py stores its data in files and is read
back in a fresh process, like a real tool)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from harness import report, runner
from harness.measure import bad_input_cases as bad_input
from harness.measure.bad_input_cases import ALTERED, CASES, CRASHED, DROPPED, FAITHFUL, REJECTED
from harness.measure.bad_input_verdicts import classify
from harness.plan import Plan, matrix, with_reference_tools
from harness.report import bad_input as report_bad_input
from harness.services.mlflow_server import MlflowServer
from harness.stages import bad_input as bad_input_stage
from tests.contexts import stage_context

FAKES = "tests.fakes"
NUMBER_CASES = {"bi00", "bi07", "bi08", "bi09", "bi10", "bi11", "bi12"}


@pytest.fixture(scope="module")
def large(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    path = tmp_path_factory.mktemp("large") / bad_input.BY_ID["bi15"].name
    return path, bad_input.write_large_file(path)


def feed(tool: str, tmp_path: Path, large: tuple[Path, str], scenario: str = "default",
         services: dict | None = None, timeout_s: float = 240) -> dict:
    plan = Plan(tools=[], repeats=1, probes=False, timeout_s=timeout_s)
    record = bad_input_stage.run_pair(tool, scenario, plan, tmp_path, services, large)
    json.dumps(record, allow_nan=False)  # results.json stays valid JSON, whatever was fed
    assert set(record["cases"]) == {case.id for case in CASES}
    return record


def outcomes(record: dict) -> dict[str, str]:
    return {cid: c["outcome"] for cid, c in record["cases"].items()}


def test_large_file_is_real_random_bytes(large: tuple[Path, str]) -> None:
    path, digest = large
    assert path.stat().st_size == bad_input.LARGE_BYTES
    head = path.read_bytes()[:4096]
    assert len(set(head)) > 200 and digest == bad_input.expected_sha256(CASES[-1], digest)


def test_faithful_fake_stores_every_case_faithfully(tmp_path: Path, large) -> None:
    record = feed(f"{FAKES}:JsonFileAdapter", tmp_path, large)
    assert record["status"] == "ok", record["error"]
    assert set(outcomes(record).values()) == {FAITHFUL}, record["cases"]
    assert "nan" in record["cases"]["bi01"]["detail"]


def test_nan_dropping_fake(tmp_path: Path, large) -> None:
    record = feed(f"{FAKES}:NanDroppingAdapter", tmp_path, large)
    got = outcomes(record)
    assert got["bi01"] == got["bi02"] == got["bi03"] == DROPPED
    assert record["cases"]["bi01"]["detail"].startswith("silently")
    assert {got[c] for c in NUMBER_CASES} == {FAITHFUL}


def test_string_rejecting_fake(tmp_path: Path, large) -> None:
    record = feed(f"{FAKES}:StringRejectingAdapter", tmp_path, large)
    got = outcomes(record)
    assert got["bi05"] == got["bi06"] == REJECTED
    assert record["cases"]["bi05"]["detail"].startswith("TypeError: metric 'bi05_text'")
    assert got["bi04"] == got["bi01"] == got["bi15"] == FAITHFUL  # later cases still ran


def test_slash_renaming_fake(tmp_path: Path, large) -> None:
    record = feed(f"{FAKES}:SlashRenamingAdapter", tmp_path, large)
    assert outcomes(record)["bi08"] == ALTERED
    assert record["cases"]["bi08"]["detail"] == "name stored as 'bi08_slash_a_b'"
    assert outcomes(record)["bi09"] == FAITHFUL


def test_param_truncating_fake(tmp_path: Path, large) -> None:
    record = feed(f"{FAKES}:ParamTruncatingAdapter", tmp_path, large)
    case = record["cases"]["bi13"]
    assert case["outcome"] == ALTERED
    assert case["detail"].startswith("value truncated to 250 of 10,000 chars")
    assert "paramtruncating: param bi13_long_param truncated" in case["detail"]


def test_a_case_that_kills_the_process_is_attributed_and_the_rest_still_run(
        tmp_path: Path, large) -> None:
    record = feed(f"{FAKES}:InfCrashingAdapter", tmp_path, large)
    assert record["status"] == "ok", record["error"]
    got = outcomes(record)
    assert got["bi02"] == got["bi03"] == CRASHED  # +inf, then -inf on the re-run
    assert "exited with code 3" in record["cases"]["bi02"]["detail"]
    assert {o for c, o in got.items() if c not in ("bi02", "bi03")} == {FAITHFUL}


def test_a_case_that_hangs_is_attributed_and_the_rest_still_run(tmp_path: Path, large) -> None:
    record = feed(f"{FAKES}:HangOnNoneAdapter", tmp_path, large, timeout_s=8)
    assert record["status"] == "ok", record["error"]
    assert record["cases"]["bi04"] == {"outcome": CRASHED,
                                       "detail": "worker timeout: no result after 8 s"}
    assert {o for c, o in outcomes(record).items() if c != "bi04"} == {FAITHFUL}


def test_errors_said_after_the_call_are_quoted(tmp_path: Path, large) -> None:
    record = feed(f"{FAKES}:QueueingAdapter", tmp_path, large)
    got = outcomes(record)
    assert got["bi05"] == got["bi06"] == DROPPED
    assert record["cases"]["bi05"]["detail"] == (
        "no error at the call; said later (outside any call): "
        "queueing: dropped metric bi05_text: not a number")
    assert record["said_later"] == ["queueing: dropped metric bi05_text: not a number",
                                    "queueing: dropped metric bi06_numeric_text: not a number"]
    assert report_bad_input.short(record["cases"]["bi05"]) == (
        "**dropped**: warned later: queueing: dropped metric bi05_text: not a number")


def test_variants_fed_once_per_tool_and_never_batch() -> None:
    pairs = matrix(with_reference_tools(["mlflow", "null"]), ["all"])
    assert bad_input_stage.bad_input_pairs(pairs) == [
        ("mlflow", "sqlite"), ("mlflow", "file"), ("mlflow", "server-sqlite"),
        ("mlflow", "server-postgres-s3"), ("mlflow", "fasttrackml"),
        ("mlflow", "fasttrackml-postgres"), ("mlflow", "server-sqlite+async")]
    only = matrix(["mlflow", "wandb"], ["sqlite+async", "sqlite+batch", "offline"])
    assert bad_input_stage.bad_input_pairs(only) == [
        ("mlflow", "sqlite+async"), ("wandb", "offline")]


def test_classify_duplicate_and_negative_steps() -> None:
    dup, neg = bad_input.BY_ID["bi11"], bad_input.BY_ID["bi12"]
    call = {"error": None, "said": ""}

    def stored(name: str, points: list) -> dict:
        return {"metrics": {name: points}, "params": {}, "artifacts": {}, "notes": []}

    last = classify(dup, call, stored(dup.name, [[1, 2.0]]), "")
    assert last == {"outcome": ALTERED, "detail": "only the last value kept"}
    moved = classify(neg, call, stored(neg.name, [[0, 0.5]]), "")
    assert moved == {"outcome": ALTERED, "detail": "step -1 stored as step 0"}
    text = classify(bad_input.BY_ID["bi01"], call, stored("bi01_nan", [[0, "NaN"]]), "")
    assert text == {"outcome": ALTERED, "detail": "value stored as 'NaN' (str)"}
    capped = classify(bad_input.BY_ID["bi02"], call,
                                stored("bi02_pos_inf", [[0, 1.7976931348623157e308]]), "")
    assert capped["outcome"] == ALTERED and "1.7976931348623157e+308" in capped["detail"]
    assert classify(bad_input.BY_ID["bi01"], call,
                              stored("bi01_nan", [[0, math.nan]]), "")["outcome"] == FAITHFUL


# --- real tools: every case, no harness crash, a read-back that answers ------------------------

REAL = [("mlflow", "sqlite"), ("mlflow", "file"), ("mlflow", "sqlite+async"),
        ("wandb", "offline"), ("neptune", "offline"), ("comet", "offline")]


_FED: dict[tuple[str, str], dict] = {}


@pytest.fixture
def fed(tmp_path_factory: pytest.TempPathFactory, large):
    """Each real (tool, scenario) is fed once per session; later tests reuse its record."""
    def get(tool: str, scenario: str) -> dict:
        pytest.importorskip({"comet": "comet_ml"}.get(tool, tool),
                            reason=f"{tool} is not installed (pip install .[tools])")
        if (tool, scenario) not in _FED:
            _FED[tool, scenario] = feed(tool, tmp_path_factory.mktemp(tool), large, scenario)
        return _FED[tool, scenario]
    return get


@pytest.mark.parametrize(("tool", "scenario"), REAL, ids=[f"{t}:{s}" for t, s in REAL])
def test_real_tool_takes_every_bad_input(tool: str, scenario: str, fed) -> None:
    record = fed(tool, scenario)
    assert record["status"] == "ok", record["error"]
    assert record["cases"]["bi00"]["outcome"] == FAITHFUL  # the control: read-back works
    assert all(c["outcome"] in bad_input.OUTCOMES and c["detail"]
               for c in record["cases"].values())


def test_mlflow_async_logging_drops_what_sync_logging_rejects(fed) -> None:
    """The finding behind feeding one +async variant: the error leaves the call."""
    sync, queued = fed("mlflow", "sqlite"), fed("mlflow", "sqlite+async")
    assert sync["cases"]["bi05"]["outcome"] == REJECTED
    assert queued["cases"]["bi05"]["outcome"] == DROPPED
    # The queue's complaint comes whenever its thread gets to it: after the call, or during a
    # later one; either way it is heard, not lost.
    heard = [*queued["said_later"], *(c["detail"] for c in queued["cases"].values())]
    assert any('"high"' in line or "not str" in line for line in heard), heard


def test_mlflow_server_takes_every_bad_input(tmp_path: Path, large,
                                             mlflow_server_sqlite: MlflowServer) -> None:
    record = feed("mlflow", tmp_path, large, "server-sqlite",
                  {"mlflow-server-sqlite": mlflow_server_sqlite})
    assert record["status"] == "ok", record["error"]
    assert record["cases"]["bi00"]["outcome"] == FAITHFUL


def _strict(text: str) -> dict:
    def refuse(token: str) -> None:
        raise ValueError(f"results.json holds a bare {token}")
    return json.loads(text, parse_constant=refuse)


def test_runner_stage_records_renders_and_resumes(tmp_path: Path) -> None:
    results_path = tmp_path / "results.json"
    tools = [f"{FAKES}:MissingAdapter", f"{FAKES}:NanDroppingAdapter"]
    data = runner.execute(Plan(tools=tools, workload=f"{FAKES}:small_workload", repeats=1,
                               probes=False), results_path, progress=lambda _: None)
    saved = _strict(results_path.read_text())
    records = saved["reliability"]["bad_input"]
    assert [(r["tool"], r["status"]) for r in records] == [
        (tools[0], "unavailable"), (tools[1], "ok")]  # null and the baseline are not fed
    assert "trackbench_no_such_sdk" in records[0]["error"]
    assert records[1]["cases"]["bi01"]["outcome"] == DROPPED

    text = report.render_details(saved)["details/reliability.md"]
    assert "## Bad input" in text
    row = next(line for line in text.splitlines() if line.startswith("| bi01 NaN |"))
    assert row.endswith("| - | **dropped**: silently (no error, no warning) |")
    assert "Legend:" in text and f"`{tools[0]}:default`: unavailable" in text

    lines: list[str] = []  # a resumed run feeds nothing twice
    bad_input_stage.run(stage_context(Plan(tools=tools), [(t, "default") for t in tools], data,
                                      tmp_path, lines.append))
    assert lines == [] and len(data["reliability"]["bad_input"]) == 2

