"""Page one from hand-made results: the projection onto a training run, ties where the rounds
cannot tell tools apart, who qualifies, and whether page one repeats between runs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd

from harness import report, results
from harness.results import decision, projection
from harness.results.derived import baseline_overheads
from harness.results.frame import cells_frame

ROOT = Path(__file__).resolve().parent.parent
CALLS = 400


def cell(tool: str, scenario: str, repeat: int, fixed: float, per_call: float,
         services: dict | None = None) -> dict[str, Any]:
    """A measured cell whose overhead over the baseline is ``fixed + per_call x CALLS``."""
    blocked = per_call * CALLS
    return {"tool": tool, "scenario": scenario, "repeat": repeat, "mode": "log", "status": "ok",
            "e2e_s": 1.0 + fixed + blocked, "workload_s": 0.5 + blocked, "blocked_s": blocked,
            "cpu_s": 1.0, "calls": {"metrics": {"n": CALLS, "total_s": blocked, "p50_s": per_call}},
            "services": services or {}}


def data(tools: dict[str, list[tuple[float, float]]], require: list[str] | None = None,
         coverage: dict[str, dict] | None = None) -> dict[str, Any]:
    """``tools``: label -> (fixed, per call) per round; the baseline runs in every round."""
    rounds = max(len(v) for v in tools.values())
    cells = [{"tool": "none", "scenario": "baseline", "repeat": r, "mode": "log",
              "status": "ok", "e2e_s": 1.0, "workload_s": 0.5, "blocked_s": 0.0, "cpu_s": 0.8,
              "calls": {}} for r in range(rounds)]
    for label, values in tools.items():
        tool, scenario = label.split(":")
        services = {"postgres": {}} if "shared" in scenario else {}
        cells += [cell(tool, scenario, r, f, c, services) for r, (f, c) in enumerate(values)]
    baseline_overheads(cells)
    out = results.new_results({"tools": ["none"], "scenarios": [], "profile": "lean",
                               "repeats": rounds, "workload": "digits",
                               "require": require or [],
                               "training_run": {"steps": 10_000, "metrics": 20,
                                                "step_ms": 50, "log_every": 1}}, {})
    out["cells"] = cells
    out["probes"] = [{"tool": lbl.split(":")[0], "scenario": lbl.split(":")[1], "status": "ok",
                      "coverage": cov} for lbl, cov in (coverage or {}).items()]
    return out


def test_the_projection_is_fixed_plus_per_call_times_the_runs_calls() -> None:
    got = projection.projection(data({"a:local": [(2.0, 0.001)] * 3}))["a:local"]
    assert abs(got["added_s"][0] - (2.0 + 0.001 * 10_000)) < 1e-9
    assert abs(got["share"] - 12.0 / 500.0) < 1e-9
    assert abs(got["fixed_s"] - 2.0) < 1e-9 and abs(got["per_call_s"] - 0.001) < 1e-12


def test_tools_the_rounds_cannot_separate_are_tied_the_others_ordered() -> None:
    noisy = [(2.0, 0.001 * f) for f in (1.0, 1.3, 0.8, 1.1, 0.9)]
    close = [(2.0, 0.001 * f) for f in (1.2, 0.9, 1.0, 1.0, 1.1)]
    costly = [(2.0, 0.010 * f) for f in (1.0, 1.05, 0.95, 1.02, 0.98)]
    shape = next(s for s in decision.decide(data({"a:local": noisy, "b:local": close,
                                                  "c:local": costly}))
                 if s.key == "solo")
    assert [(r.label, r.place.text) for r in shape.qualifying] == [("a:local", "1–2"),
                                                                   ("b:local", "1–2"),
                                                                   ("c:local", "3")]


def test_rows_keep_the_cost_order_and_a_noisy_one_gets_a_range_not_a_shared_rank() -> None:
    """A steady tool shown dearer than the leader stays above a noisier, dearer one that the
    rounds cannot separate from the leader (a grouping by leader put it below)."""
    steady = [(2.0, 0.001 * f) for f in (1.0, 1.01, 0.99, 1.0, 1.0)]
    above = [(2.0, 0.0012 * f) for f in (1.0, 1.01, 0.99, 1.0, 1.0)]
    noisy = [(2.0, 0.0014 * f) for f in (0.5, 2.0, 0.6, 1.0, 1.9)]
    shape = next(s for s in decision.decide(data({"n:local": noisy, "a:local": above,
                                                  "s:local": steady}))
                 if s.key == "solo")
    assert [(r.label, r.place.text) for r in shape.qualifying] == [("s:local", "1–2"),
                                                                   ("a:local", "2–3"),
                                                                   ("n:local", "1–3")]
    costs = [r.added[0] for r in shape.qualifying]
    assert costs == sorted(costs)


def test_must_haves_decide_who_qualifies_per_team_shape() -> None:
    verified = {"auth": {"status": "verified"}}
    given = data({"a:local": [(1.0, 0.001)] * 3, "b:local": [(1.0, 0.002)] * 3,
                  "c:shared": [(1.0, 0.003)] * 3}, require=["auth"],
                 coverage={"a:local": {"auth": {"status": "absent"}}, "b:local": verified,
                           "c:shared": verified})
    shapes = {s.key: s for s in decision.decide(given)}
    assert [r.label for r in shapes["solo"].qualifying] == ["b:local"]
    assert [r.label for r in shapes["solo"].others] == ["a:local"]
    assert [r.label for r in shapes["team-shared"].qualifying] == ["c:shared"]
    page = report.render(given)
    one = page.split("## Cost for your training run")[0]
    assert "| 1 | b:local |" in one and "Missing a must-have: `a:local` (auth absent)." in one
    assert len(one.splitlines()) <= 60


def test_page_one_repeats_unless_a_set_changes_or_an_order_reverses() -> None:
    cheap = [(1.0, 0.001 * f) for f in (1.0, 1.02, 0.98, 1.01, 0.99)]
    dear = [(1.0, 0.01 * f) for f in (1.0, 1.02, 0.98, 1.01, 0.99)]
    first = decision.summary(data({"a:local": cheap, "b:local": dear}))
    assert first["solo"]["ordered"] == [["a:local", "b:local"]]
    assert decision.repeats(first, first) == {"changed_sets": [], "contradicted": []}
    swapped = decision.summary(data({"a:local": dear, "b:local": cheap}))
    assert decision.repeats(swapped, first)["contradicted"] == [("solo", "b:local", "a:local")]
    fewer = decision.summary(data({"a:local": cheap}))
    assert decision.repeats(fewer, first)["changed_sets"] == ["solo"]


def test_the_committed_sample_page_one_fits_one_screen() -> None:
    text = (ROOT / "reports" / "sample" / "REPORT.md").read_text()
    one = text.split("## Which tracker")[1].split("## Cost for your training run")[0]
    assert 10 < len(one.splitlines()) <= 60


def test_cells_frame_and_the_csv_export_have_one_row_per_cell(tmp_path: Path) -> None:
    sample = ROOT / "reports" / "sample" / "results.json"
    frame = cells_frame(sample)
    loaded = results.load(sample)
    assert len(frame) == len(loaded["cells"]) + len(loaded.get("projection_check", []))
    assert {"label", "repeat", "status", "e2e_s", "overhead_s", "kept_fraction"} <= set(frame)
    out = tmp_path / "cells.csv"
    done = subprocess.run([sys.executable, "-m", "harness.cli", "export", str(sample), "--out",
                           str(out)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    csv = pd.read_csv(out)
    assert len(csv) == len(frame) and list(csv.columns) == list(frame.columns)


def test_a_run_checks_its_projection_at_a_second_size(tmp_path: Path) -> None:
    from harness import runner
    from harness.plan import Plan

    fake = "tests.fakes:JsonFileAdapter"
    run = runner.execute(Plan(tools=[fake], workload="tests.fakes:small_workload", repeats=2,
                              probes=False, reliability=False),
                         tmp_path / "results.json", progress=lambda _: None)
    checked = {(c["tool"], c["mode"], c["status"]) for c in run["projection_check"]}
    assert checked == {("none", "check", "ok"), (fake, "check", "ok")}
    found = projection.check(run)[f"{fake}:default"]
    assert found["calls"] == projection.CHECK_STEPS
    assert found["projected_s"] is not None and found["measured_s"] is not None
    text = report.render(run)
    assert "| tests.fakes:JsonFileAdapter:default | 250 |" in text
