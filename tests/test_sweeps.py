"""Scaling sweeps: the growth fit on known curves, the markdown from hand-made records, and one
quick sweep end to end on the null floor and fake adapters (each point a real subprocess)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import psutil
import pytest

from harness import runner
from harness.report.sweeps import render_sweeps
from harness.results.scaling import SWEEPS, fit_growth

XS = [100, 1_000, 10_000, 100_000]


def test_exact_linear_is_flat_with_exponent_one() -> None:
    fit = fit_growth(XS, [2e-5 * x for x in XS])
    assert fit["growth"] == "flat per call"
    assert fit["exponent"] == pytest.approx(1.0)
    assert fit["loglog_r2"] == pytest.approx(1.0)
    assert fit["slope"] == pytest.approx(2e-5)
    assert fit["intercept"] == pytest.approx(0.0, abs=1e-12)
    assert fit["linear_r2"] == pytest.approx(1.0)
    assert fit["per_unit_ratio"] == pytest.approx(1.0)


def test_quadratic_is_growing_with_exponent_two() -> None:
    fit = fit_growth(XS, [3e-9 * x * x for x in XS])
    assert fit["growth"] == "growing"
    assert fit["exponent"] == pytest.approx(2.0)
    assert fit["linear_r2"] < 1.0


def test_constant_is_sublinear_with_exponent_zero() -> None:
    fit = fit_growth(XS, [0.25] * len(XS))
    assert fit["growth"] == "sublinear"
    assert fit["exponent"] == pytest.approx(0.0)
    assert fit["slope"] == pytest.approx(0.0)
    assert fit["intercept"] == pytest.approx(0.25)


def test_noise_within_tolerance_stays_flat_and_linear_fit_splits_fixed_part() -> None:
    noisy = [1e-4 * x * f for x, f in zip(XS, (1.2, 0.85, 1.0, 1.1), strict=True)]
    assert fit_growth(XS, noisy)["growth"] == "flat per call"
    fit = fit_growth(XS, [0.5 + 1e-4 * x for x in XS])
    assert fit["intercept"] == pytest.approx(0.5)
    assert fit["slope"] == pytest.approx(1e-4)


def test_points_at_the_noise_floor_are_left_out_of_the_log_fit() -> None:
    fit = fit_growth(XS, [None, -1e-6, 2e-3, 2e-2])
    assert fit["n"] == 3 and fit["exponent"] == pytest.approx(1.0)
    assert fit_growth(XS, [-1.0, 0.0, None, 1.0])["growth"] == "n/a"


def _records() -> list[dict[str, Any]]:
    """A points sweep: mlflow costs 10 µs a point (flat), wandb 1 µs * (x / 100) ** 0.5 a point."""
    out = []
    for x in (100, 1_000, 10_000):
        for tool, scenario, cost in (("none", "baseline", 0.0), ("mlflow", "sqlite", 1e-5 * x),
                                     ("wandb", "offline", 1e-6 * x * math.sqrt(x / 100))):
            out.append({"sweep": "points", "x": x, "repeat": 0, "tool": tool,
                        "scenario": scenario, "status": "ok", "e2e_s": 1.0 + cost,
                        "overhead_s": cost, "cost_s": cost, "metrics_p50_s": cost / x * 10})
    out.append({"sweep": "artifact", "x": 1_000, "repeat": 0, "tool": "mlflow",
                "scenario": "sqlite", "status": "failed", "e2e_s": None, "overhead_s": None,
                "cost_s": None, "artifact_call_s": None})
    return out


def test_render_sweeps_tables_and_growth_lines() -> None:
    text = "\n".join(render_sweeps(_records(), None))
    assert "### Points per run" in text and "### Artifact bytes" in text
    assert "| tool:scenario | 100 | 1,000 | 10,000 |" in text
    assert "| none:baseline | 1.00 s e2e | 1.00 s e2e | 1.00 s e2e |" in text
    assert "| mlflow:sqlite | +1.0 ms · 100 µs | +10.0 ms · 100 µs | +100.0 ms · 100 µs |" in text
    assert ("- **mlflow:sqlite**: time in log_metrics 10 µs per point, fixed part 0 µs, "
            "flat per call "
            "(exponent 1.00, R² 1.00); end to end 10 µs per point over none "
            "(linear fit, R² 1.00; fixed part 0 µs)") in text
    assert "- **wandb:offline**: time in log_metrics" in text
    assert "growing (exponent 1.50, R² 1.00)" in text
    assert "| mlflow:sqlite | failed |" in text
    assert "n/a (under two points above the noise floor)" in text
    assert "![" not in text  # no chart without a chart directory


def test_render_sweeps_draws_one_chart_per_sweep(tmp_path: Path) -> None:
    lines = render_sweeps(_records(), tmp_path)
    assert "![Scaling with points per run](sweep-points.png)" in lines
    assert (tmp_path / "sweep-points.png").stat().st_size > 0
    assert not (tmp_path / "sweep-artifact.png").exists()  # nothing measurable to plot


def test_quick_sweep_end_to_end(tmp_path: Path) -> None:
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    fake, multi = "tests.fakes:JsonFileAdapter", "tests.sweep_fakes:MultiRunJsonAdapter"
    out = tmp_path / "sweeps.json"
    records = runner.sweep(["null", fake], ["points", "metrics", "artifact"], quick=True,
                           out_path=out, progress=lambda _: None)
    records += runner.sweep(["null", multi], ["runs"], quick=True, progress=lambda _: None)
    assert out.exists()
    for name, sweep in SWEEPS.items():
        tools = ("none", "null", multi if name == "runs" else fake)
        got = {(r["x"], r["tool"]) for r in records if r["sweep"] == name}
        assert got == {(x, t) for x in sweep.quick_xs for t in tools}
    for rec in records:
        assert rec["status"] == "ok", rec["error"]
        assert rec["overhead_s"] is not None and rec["cost_s"] is not None
        cfg = rec["config"]
        runs = rec["x"] if rec["sweep"] == "runs" else 1
        assert rec["points_logged"] == runs * cfg["steps"] * cfg["metrics"]
        if rec["tool"] == fake:
            assert rec["points_kept"] == rec["points_logged"]  # read back, fidelity checked
    for rec in (r for r in records if r["sweep"] == "runs"):
        assert len(rec["run_s"]) == rec["x"]  # N runs, timed one by one, in one worker process
        assert rec["calls"]["params"]["n"] == (0 if rec["tool"] == "none" else rec["x"])
    after = {p.pid for p in psutil.Process().children(recursive=True)}
    assert after <= before
    assert "### Runs per process" in render_sweeps(records, None)


def test_a_one_run_store_fails_the_runs_sweep_with_the_reason(tmp_path: Path) -> None:
    fake = "tests.fakes:JsonFileAdapter"
    records = runner.sweep([fake], ["runs"], quick=True, progress=lambda _: None,
                           out_path=tmp_path / "sweeps.json")
    failed = [r for r in records if r["tool"] == fake and r["x"] > 1]
    assert failed and all(r["status"] == "failed" for r in failed)
    assert all(r["error"].startswith("run 2: FileExistsError") for r in failed)
    assert all(len(r["run_s"]) == 1 for r in failed)  # the run that worked is kept


def test_unknown_sweep_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown sweep"):
        runner.sweep(["null"], ["nope"], quick=True)


def test_the_runs_per_process_worker_is_guarded(tmp_path: Path) -> None:
    """The one worker that runs many runs is behind the offline guard, and its log is read."""
    fake = "tests.sweep_fakes:MultiRunPhoneHomeAdapter"
    records = runner.sweep([fake], ["runs"], quick=True, progress=lambda _: None, repeats=1)
    mine = [r for r in records if r["tool"] == fake]
    assert mine and all(r["status"] == "ok" for r in mine), [r["error"] for r in mine]
    for rec in mine:
        net = rec["network"]
        assert net["seen"] == net["blocked"] == 3 * rec["x"], net  # 3 attempts per run
