"""`trackbench run --suite mltraq-2024`: the side-by-side table on recorded results, the ratio,
ranking and disagreement logic, the published data file, and one quick real worker run."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from harness import report, results
from harness.cli import main
from harness.report import mltraq_2024 as page
from harness.results import mltraq_2024 as m24
from harness.results.stats import median_ci
from harness.stages import mltraq_suite

RECORDED = Path(__file__).resolve().parent / "data" / "mltraq_suite_results.json"


def _published() -> dict[str, Any]:
    return m24.load_published()


def _rec(tool: str, exp: str, values: list[float], status: str = "ok") -> list[dict[str, Any]]:
    return [{"tool": tool, "experiment": exp, "repeat": i, "status": status, "total_s": v,
             "init_s": v / 4, "log_s": v / 2, "finish_s": v / 4, "runs_done": 1}
            for i, v in enumerate(values)]


def _table_rows(text: str, heading: str) -> dict[str, list[str]]:
    """The rows of the markdown table under ``### heading``, by first cell."""
    block = text.split(f"### {heading}\n", 1)[1].split("\n### ", 1)[0].split("\n## ", 1)[0]
    rows = [line.strip("|").split(" | ") for line in block.splitlines()
            if line.startswith("| ") and not line.startswith("| tool")]
    return {cells[0].strip(): [c.strip() for c in cells] for cells in rows}


# --- the published figures are data, with their source -------------------------------------

def test_published_data_cites_its_source_and_maps_to_our_experiments() -> None:
    data = _published()
    assert data["source"]["url"] == "https://mltraq.com/benchmarks/speed/"
    assert re.fullmatch(r"[0-9a-f]{40}", data["source"]["commit_read"])
    assert data["source"]["versions"]["mlflow"] == "2.11.0"
    ours = {e.id for e in m24.EXPERIMENTS} | {m24.IMPORT}
    for exp in data["experiments"]:
        assert set(exp["ours"]) <= ours, exp["id"]
        assert exp["mean_s"] and all(v > 0 for v in exp["mean_s"].values())
        assert set(exp["mean_s"]) <= set(data["tools"]), exp["id"]
    # every tool they name maps onto one our suite runs
    assert set(data["tools"].values()) <= set(mltraq_suite.SUITE_TOOLS)
    for tool, notes in data["timing_includes"].items():
        assert all(n["text"] and n["source"] for n in notes), tool


def test_100_runs_only_where_they_measured_it() -> None:
    published = _published()
    assert "runs-100" in [e.id for e in mltraq_suite.planned("comet", published)]
    assert "runs-100" not in [e.id for e in mltraq_suite.planned("mlflow", published)]
    assert mltraq_suite.repeats_for(2.0, 5) == 5
    assert mltraq_suite.repeats_for(75.0, 5) == 1
    assert mltraq_suite.repeats_for(25.0, 5) == 2


# --- ratios, rankings, disagreements -------------------------------------------------------

def test_ratios_are_to_the_reference_on_each_side() -> None:
    published = _published()
    records = [*_rec("mlflow", "runs-10", [4.0, 4.2, 3.8, 4.1, 3.9]),
               *_rec("comet", "runs-10", [10.0, 10.5, 9.5, 10.2, 9.8]),
               *_rec("neptune", "runs-10", [0.2, 0.21, 0.19, 0.2, 0.2])]
    ref, rows = m24.rows(published, records, ["mlflow", "comet", "neptune", "wandb"])["runs-10"]
    assert ref == "mlflow"
    by = {r.tool: r for r in rows}
    assert by["comet"].ours_ratio == pytest.approx(10.0 / 4.0)
    assert by["comet"].theirs_ratio == pytest.approx(0.647103 / 14.165903)
    # the interval of a ratio is bounded by the two intervals
    comet_low = median_ci([10.0, 10.5, 9.5, 10.2, 9.8])[1]
    mlflow_high = median_ci([4.0, 4.2, 3.8, 4.1, 3.9])[2]
    assert by["comet"].ours_ratio_low == pytest.approx(comet_low / mlflow_high)
    # wandb: only their figure, no ratio of ours, never a disagreement
    assert by["wandb"].ours is None and not by["wandb"].disagrees
    # far apart from theirs relative to MLflow; MLflow's own factor (ours over theirs, 0.28)
    # departs most from the typical one (Neptune's 11.4): MLflow is the side that moved
    assert by["comet"].disagrees and by["neptune"].disagrees
    assert m24.moved(rows, "comet", "mlflow") == "mlflow"


def test_a_disagreement_is_beyond_tolerance_of_our_interval() -> None:
    row = m24.Row("x", "t", 1.0, m24.Figure(1.0, 0.9, 1.1, 5), theirs_ratio=1.0, ours_ratio=1.0,
                  ours_ratio_low=0.9, ours_ratio_high=1.1)
    assert not row.disagrees
    far = m24.Row("x", "t", 1.0, m24.Figure(1.0, 0.9, 1.1, 5), theirs_ratio=0.3,
                  ours_ratio=1.0, ours_ratio_low=0.9, ours_ratio_high=1.1)
    assert far.disagrees  # 0.3 < 0.9 / 2
    near = m24.Row("x", "t", 1.0, m24.Figure(1.0, 0.9, 1.1, 5), theirs_ratio=0.5,
                   ours_ratio=1.0, ours_ratio_low=0.9, ours_ratio_high=1.1)
    assert not near.disagrees  # 0.5 >= 0.45


def test_ranking_counts_ties_where_our_intervals_overlap() -> None:
    def row(tool: str, ours: tuple[float, float, float], theirs: float) -> m24.Row:
        return m24.Row("e", tool, theirs, m24.Figure(*ours, 5))

    rows = [row("a", (1.0, 0.9, 1.1), 1.0), row("b", (1.05, 1.0, 1.2), 5.0),
            row("c", (3.0, 2.8, 3.2), 2.0)]
    rank = m24.ranking(rows)
    assert rank.ours == ["a", "b", "c"] and rank.theirs == ["a", "c", "b"]
    assert rank.tied == 1  # a and b overlap
    assert rank.disagree == [("b", "c")]  # b faster here (apart), c faster there
    assert rank.agree == 1 and not rank.same_order
    assert rank.tau == pytest.approx(1 / 3)


def test_a_disagreement_is_explained_from_their_notebook() -> None:
    """MLflow, one run of 1 and 10 values: ours far cheaper relative to the others than theirs;
    the report names MLflow as the side that moved and gives the reasons read from their
    notebook, our own timing, and the variant measured to check one of them."""
    published = _published()
    records = []
    for exp in ("values-1", "values-10"):
        records += [*_rec("mlflow", exp, [0.1, 0.11, 0.09, 0.1, 0.1]),
                    *_rec("neptune", exp, [0.02, 0.021, 0.019, 0.02, 0.02]),
                    *_rec("mltraq", exp, [0.05, 0.051, 0.049, 0.05, 0.05]),
                    *_rec("aim", exp, [3.0, 3.1, 2.9, 3.0, 3.0]),
                    *_rec("mlflow-after-comet", exp, [0.3])]
    data = {"published": published, "suite": {"records": records}, "tools": {"mlflow": "3.17.2"}}
    table = m24.rows(published, records, ["mlflow", "neptune", "mltraq", "aim"])
    ref, rows = table["values-1-10"]
    assert ref == "mlflow" and all(r.disagrees for r in rows if r.tool != "mlflow")
    text = "\n".join(page._disagreements(data, table))
    assert "### one run, 1 and 10 values (reference MLflow)" in text
    assert "**Moved: MLflow**" in text
    assert "Comet's MLflow auto-logger" in text and "07 cell 3" in text
    assert "migrating the fresh SQLite file" in text  # our timing
    assert ("comet_ml imported first, as in their notebook (`values-1`): 300.0 ms per run "
            "against 100.0 ms without, end_run 75.0 ms against 25.0 ms") in text
    assert "per run in `values-1`: init 25.0 ms, log calls 50.0 ms, finish 25.0 ms" in text
    assert "versions: MLflow 2.11.0 there, 3.17.2 here" in text
    # the reasons are given once per side that moved, not once per differing tool
    assert text.count("Comet's MLflow auto-logger") == 1


# --- the suite's table on recorded results -------------------------------------------------

def test_side_by_side_table_on_recorded_results() -> None:
    data = results.load(RECORDED)
    text = report.render(data)
    assert text.startswith("# MLtraq's tracking-speed benchmark (2024)")
    assert report.render_details(data) == {}
    records = data["suite"]["records"]
    rows = _table_rows(text, "10 runs of one value")
    mlflow = rows["MLflow"]
    mid = median_ci(m24.samples(records, "mlflow", "runs-10"))[0]
    assert mlflow[1].startswith(page.fmt_s(mid))
    assert mlflow[2] == "14.17 s"  # their published mean
    assert mlflow[3].startswith("1x") and mlflow[4] == "1x"  # the reference
    for tool in ("Neptune", "Comet", "Aim", "WandB"):
        ours = m24.samples(records, tool.lower(), "runs-10")
        expected = median_ci(ours)[0] / mid
        assert rows[tool][3].startswith(f"{expected:.3g}x"), tool
    # the one-run experiment is the mean of its parts' medians
    rows = _table_rows(text, "one run, 1 and 10 values")
    parts = [median_ci(m24.samples(records, "aim", p))[0] for p in ("values-1", "values-10")]
    assert rows["Aim"][1].startswith(page.fmt_s(sum(parts) / 2))
    assert "## Do the rankings agree?" in text and "## Disagreements, explained" in text
    assert "## Did the data land?" in text


def test_report_command_renders_recorded_results_without_trackers(tmp_path: Path) -> None:
    copy = tmp_path / "results.json"
    copy.write_text(RECORDED.read_text())
    assert main(["report", str(copy)]) == 0
    assert "## Side by side" in (tmp_path / "REPORT.md").read_text()


def test_unknown_suite_and_tool_are_refused(tmp_path: Path) -> None:
    assert main(["run", "--suite", "nope", "--out", str(tmp_path)]) == 2
    assert main(["run", "--suite", "mltraq-2024", "--tools", "clearml",
                 "--out", str(tmp_path)]) == 2
    assert not (tmp_path / "results.json").exists()


def test_missing_adapter_is_a_finding() -> None:
    target, _, error = mltraq_suite.resolve("no_such_tool")
    assert target is None and "no adapter" in error


# --- one real worker: Neptune offline, 10 values, about 10 s -------------------------------

def test_one_real_experiment_in_an_isolated_process(tmp_path: Path) -> None:
    pytest.importorskip("neptune")
    spec = mltraq_suite.spec_for("neptune", "offline", (), [m24.BY_ID["values-10"]], {},
                                 ("values-10",))
    out, proc, root = mltraq_suite.run_process(tmp_path, spec, "neptune")
    assert out["status"] == "ok", out
    assert out["import_s"] > 0
    (exp,) = out["experiments"]
    assert exp["status"] == "ok" and exp["values_done"] == 10 and exp["runs_done"] == 1
    assert 0 < exp["init_s"] + exp["log_s"] + exp["finish_s"] <= exp["total_s"]
    assert proc["network"]["seen"] == 0 and not proc["leftover_processes"]
    # the run is where the adapter says, in the private storage kept for read-back
    assert Path(exp["ref"]["run_dir"]).is_relative_to(root / "store" / "values-10")
    assert json.loads((root / "suite.spec.json").read_text())["profile"] == "lean"
