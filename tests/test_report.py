"""The renderer on a fixed results.json, against the expected markdown checked in beside it.

After an intended change to the report format, regenerate the expected file with
``TRACKBENCH_REGEN=1 pytest tests/test_report.py`` and review the diff.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from harness import report, results
from harness.results import repeatability
from tests.report_pages import full_text

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
FIXED = DATA / "results_fixed.json"
SAMPLE = ROOT / "reports" / "sample"


def test_report_matches_expected_markdown() -> None:
    data = results.load(FIXED)
    pages = {"REPORT.md": report.render(data), **report.render_details(data)}
    for name, rendered in pages.items():
        expected = DATA / "expected" / name
        if os.environ.get("TRACKBENCH_REGEN"):
            expected.parent.mkdir(parents=True, exist_ok=True)
            expected.write_text(rendered)
        assert rendered == expected.read_text(), name


def test_committed_sample_report_regenerates_identically(tmp_path: Path) -> None:
    """The sample report is the README's showcase: it must be what its results.json (and the
    sweep sample) render today, not a hand-kept page that drifted from the renderer."""
    sweeps = results.load(ROOT / "reports" / "sweep-sample" / "sweeps.json")
    path = report.write(results.load(SAMPLE / "results.json"), tmp_path, sweeps)
    assert path.read_text() == (SAMPLE / "REPORT.md").read_text()
    for name in report.DETAILS:
        assert (tmp_path / name).read_text() == (SAMPLE / name).read_text(), name


def test_report_states_what_was_lost() -> None:
    text = report.render(results.load(FIXED))
    lossy = next(line for line in text.splitlines()
                 if line.startswith("| tests.fakes:LossyAdapter:default | 3/4"))
    assert "| 3/4 | " in lossy and "| 0/1 |" in lossy
    assert "missing: secret='s3cr3t'" in text
    assert "MissingAdapter:default** unavailable: ModuleNotFoundError" in text


def test_report_shows_coverage_evidence() -> None:
    text = full_text(results.load(FIXED))
    assert "| **absent** | jsonfile has no dataset-versioning call |" in text
    assert "MissingAdapter:default: probe unavailable: ModuleNotFoundError" in text
    assert "system metrics enabled, none stored" in text


def test_chart_is_written(tmp_path: Path) -> None:
    path = report.write(results.load(FIXED), tmp_path)
    assert (tmp_path / "overhead.png").stat().st_size > 1000
    assert "![End-to-end time per tool](overhead.png)" in path.read_text()


@pytest.mark.parametrize("content, message", [
    ("not json", "not valid JSON"),
    (json.dumps({"schema_version": 999}), "schema_version 999"),
])
def test_bad_results_files_are_refused(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "results.json"
    path.write_text(content)
    with pytest.raises(SystemExit, match=message):
        results.load(path)


def test_mitigation_is_compared_with_its_base_scenario() -> None:
    data = results.load(FIXED)
    variants = []
    for cell in data["cells"]:
        if cell["tool"] == "tests.fakes:JsonFileAdapter":
            faster = dict(cell, scenario="default+fast", blocked_s=cell["blocked_s"] / 2)
            variants.append(faster)
    data["cells"] += variants
    text = full_text(data)
    row = next(line for line in text.splitlines()
               if line.startswith("| tests.fakes:JsonFileAdapter:default | fast |"))
    assert "| 2.0× |" in row and row.endswith("| 100% |")


def test_latency_histogram_and_chart(tmp_path: Path) -> None:
    from harness.measure.worker import latency_histogram

    hist = latency_histogram([1_000, 1_100, 5_000, 100_000])
    assert hist == {"1e-06": 2, "3.98e-06": 1, "0.0001": 1}
    data = results.load(FIXED)
    for cell in data["cells"]:
        if cell["tool"] == "tests.fakes:JsonFileAdapter" and cell["status"] == "ok":
            cell["calls"]["metrics"]["histogram"] = hist
    report.write(data, tmp_path)
    text = (tmp_path / "details" / "overhead.md").read_text()
    assert "![Per-call latency distribution](latency.png)" in text
    assert (tmp_path / "details" / "latency.png").stat().st_size > 1000


def test_version_1_results_still_render(tmp_path: Path) -> None:
    """Schema 2 only added ``reliability``; an older results file renders without it."""
    data = json.loads(FIXED.read_text())
    data["schema_version"] = 1
    data.pop("reliability", None)
    path = tmp_path / "results.json"
    path.write_text(json.dumps(data))
    assert report.render(results.load(path)).startswith("# trackbench report")


def test_hang_at_exit_is_listed_as_a_finding() -> None:
    data = results.load(FIXED)
    data["cells"][-1]["hung_at_exit_s"] = 30.0
    text = report.render(data)
    assert "hung at interpreter exit: still alive 30 s after writing its results" in text


def test_run_to_run_change_against_the_previous_run() -> None:
    data = results.load(FIXED)
    old = json.loads(json.dumps(data))
    for cell in (c for c in old["cells"] if c["status"] == "ok"):
        factor = 1.25 if "Lossy" in cell["tool"] else 1.04
        cell["e2e_s"] *= factor
        cell["blocked_s"] *= factor
    data["previous_run"] = repeatability.previous_run(old, data)
    text = report.render(data)
    assert "Run-to-run, against the previous run of the same plan on this machine" in text
    assert "*end to end*: 1 of 2 tool medians within ±10%" in text
    assert "tests.fakes:LossyAdapter:default -20.0% (intervals apart)" in text
    row = next(line for line in text.splitlines()
               if line.startswith("| tests.fakes:JsonFileAdapter:default | ")
               and line.endswith("| -3.8% | overlap |"))
    assert row
    # A previous run recorded before intervals were kept: the change, without the verdict.
    del data["previous_run"]["intervals"]
    assert "| -3.8% | - |" in report.render(data)


def test_previous_run_from_another_plan_or_machine_is_not_compared() -> None:
    data = results.load(FIXED)
    other_plan = json.loads(json.dumps(data))
    other_plan["invocation"]["repeats"] += 1
    other_machine = json.loads(json.dumps(data))
    other_machine["machine"]["cpu_logical"] += 2
    assert repeatability.previous_run(other_plan, data) is None
    assert repeatability.previous_run(other_machine, data) is None


def test_scaling_curves_come_from_a_sweeps_file_of_the_same_machine(tmp_path: Path) -> None:
    data = results.load(FIXED)
    sweeps = json.loads((ROOT / "reports" / "sweep-sample" / "sweeps.json").read_text())
    assert "Not in this report: `trackbench sweep`" in full_text(data)
    same = dict(sweeps, machine=data["machine"])
    text = full_text(data, tmp_path, same)
    assert "### Points per run" in text and "(`trackbench sweep`, same machine" in text
    assert (tmp_path / "sweep-points.png").exists()
    other = dict(sweeps, machine={**data["machine"], "cpu_logical": 64})
    assert "The sweeps given were not shown: results come from different machines" in (
        full_text(data, None, other))


def test_a_finding_every_repeat_gave_is_listed_once_with_its_count() -> None:
    from harness.report import findings
    from harness.report.page import Page

    def cell(repeat: int, error: str) -> dict:
        return {"tool": "tensorboard", "scenario": "local", "status": "ok", "repeat": repeat,
                "call_error_count": 1, "call_errors": [error]}

    cells = [cell(0, "artifact: Unsupported"), cell(1, "artifact: Unsupported"),
             cell(2, "metric: ValueError")]
    lines = findings.render(Page({"cells": cells, "probes": []}))
    assert [line for line in lines if line.startswith("- ")] == [
        "- tensorboard:local raised on 1 log call(s): artifact: Unsupported (in 2 cells)",
        "- tensorboard:local raised on 1 log call(s): metric: ValueError"]
