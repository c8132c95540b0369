"""What the report makes of the ``load`` section: who held how many jobs, the seed's Scalability
verdict, page one's red flag, and the Team scale section itself (no tracker, no server)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness import report
from harness.report import seed_claims
from harness.report.page import Page
from harness.results import team_scale
from harness.results.decision import _team_scale_flags


def _level(target: str, model: str, users: int, p99: float, *, errors: dict | None = None,
           lost: int = 0, status: str = "ok", bound: bool = False) -> dict[str, Any]:
    sent = 1000 * users
    return {"target": target, "model": model, "users": users, "status": status,
            "rate": 2.0 if model == "open" else 0.0, "seconds": 4.0,
            "endpoints": {team_scale.BATCH: {"requests": sent // 20, "failures": 0,
                                             "p50_ms": p99 / 3, "p95_ms": p99 / 2,
                                             "p99_ms": p99, "max_ms": p99}},
            "errors": errors or {}, "stored_points_per_s": (sent - lost) / 4.0,
            "points": {"runs": users, "runs_unread": 0, "sent": sent, "acked": sent,
                       "stored": sent - lost, "acked_lost": lost, "stored_unacked": 0},
            "server": {"cpu_s": 1.0, "peak_rss_bytes": 1 << 28, "cores": 0.25},
            "backends": {"cpu_s": 0.0, "peak_rss_bytes": 0, "cores": 0.0},
            "generator": {"cpu_s": 1.0, "cores": 0.25, "processes": 2, "workers": 0,
                          "bound": bound, "why": "each of its 2 process(es) used 90% of a core"
                          if bound else None},
            "machine_cpu": 0.5, "wall_s": 4.0, "db_growth_bytes": 4096, "network": []}


def _load() -> dict[str, Any]:
    sqlite, ftml = "mlflow:server-sqlite", "mlflow:fasttrackml"
    return {
        "spec": {"name": "quick", "rate": 2.0, "seconds": 4.0, "steps": 50, "metrics": 20,
                 "query_repeats": 3},
        "backends": {sqlite: "sqlite", ftml: "sqlite"},
        "levels": [
            _level(sqlite, "open", 1, 30), _level(sqlite, "closed", 1, 40),
            _level(sqlite, "open", 4, 90), _level(sqlite, "closed", 4, 600),
            _level(sqlite, "open", 16, 1400), _level(sqlite, "closed", 16, 900,
                                                     errors={"database is locked": 3}),
            _level(ftml, "open", 1, 5), _level(ftml, "closed", 1, 10, bound=True),
            _level(ftml, "open", 4, 9), _level(ftml, "closed", 4, 30, lost=20),
            _level(ftml, "open", 16, 40), _level(ftml, "closed", 16, 80),
        ],
        "queries": [{"target": sqlite, "status": "ok", "runs": n,
                     "fill": {"added": n, "asked": n, "seconds": 1.0, "runs_per_s": n},
                     "idle": {"search experiments": {"seconds": [0.01, 0.02, 0.03],
                                                     "failed": 0}},
                     "under_writers": {"search experiments": {"seconds": [0.05, 0.06, 0.07],
                                                              "failed": 0}},
                     "writers": 4} for n in (100, 1000)],
        "crosscheck": [{"target": sqlite, "users": 1, "status": "ok",
                        "real": {"calls": 50, "p50_ms": 12.0, "p95_ms": 20.0},
                        "locust": {"calls": 200, "p50_ms": 8.0, "p95_ms": 15.0},
                        "p50_ratio": 1.5}],
        "floor": {"sqlite": {"status": "ok", "rows": 20000, "seconds": 2.0,
                             "rows_per_s": 10000.0, "batch": 20}},
        "done": True,
    }


def test_saturation_is_the_largest_n_held_open_loop() -> None:
    load = _load()
    sat = team_scale.saturation(load, "mlflow:server-sqlite")
    assert sat["held"] == 4 and sat["first_not_held"]["users"] == 16
    assert "p99" in sat["first_not_held"]["why"]
    assert team_scale.saturation(load, "mlflow:fasttrackml") == {
        "held": 16, "first_not_held": None, "max_tried": 16}


def test_errors_and_loss_are_not_held() -> None:
    assert "database is locked" in team_scale.not_held(
        _level("t", "open", 2, 10, errors={"database is locked": 1}))
    assert "lost" in team_scale.not_held(_level("t", "open", 2, 10, lost=1))
    assert team_scale.not_held(_level("t", "open", 2, 10, status="failed")) == "failed"
    assert team_scale.not_held(_level("t", "open", 2, 999)) is None


def test_floor_share_and_best_throughput() -> None:
    load = _load()
    best = team_scale.best_throughput(load, "mlflow:server-sqlite")
    assert best["users"] == 16  # the most points stored, errors or not
    assert team_scale.floor_share(load, "mlflow:server-sqlite") == 16000 / 4 / 10000


def test_scalability_claim_gets_a_measured_verdict() -> None:
    results = {"load": _load()}
    verdict, evidence = seed_claims._scalability(results)
    assert verdict == seed_claims.CONFIRMED
    assert "held 4" in evidence and "not 16" in evidence
    held = _load()
    held["levels"] = [r for r in held["levels"] if r["users"] < 16]
    assert seed_claims._scalability({"load": held})[0] == seed_claims.CONTRADICTED
    assert seed_claims._scalability({})[0] == seed_claims.UNTESTED


def test_page_one_flags_an_early_saturation_and_lost_points() -> None:
    load = _load()
    assert any("held 4 concurrent jobs, not 16" in f
               for f in _team_scale_flags(load, "mlflow:server-sqlite"))
    assert any("20 acknowledged points lost" in f
               for f in _team_scale_flags(load, "mlflow:fasttrackml"))
    assert _team_scale_flags(load, "mlflow:sqlite") == []
    assert _team_scale_flags(None, "mlflow:server-sqlite") == []


def test_the_section_renders_tables_charts_and_flags(tmp_path: Path) -> None:
    from harness.report import team_scale as section

    results = {"created": "now", "load": _load()}
    text = "\n".join(section.render(Page(results, tmp_path)))
    assert "| mlflow:server-sqlite | **4** (not 16: p99 of a log-batch 1.4 s > 1 s)" in text
    assert "held at every level, up to 16 jobs" in text
    assert "3 database is locked" in text
    assert "**20 acknowledged lost**" in text
    assert "**generator-bound**" in text
    assert "| 40% |" in text  # 4,000 points/s of a 10,000 rows/s floor
    assert "1.50" in text  # the cross-check ratio
    assert (tmp_path / "team-scale.png").stat().st_size > 0
    assert (tmp_path / "team-scale-queries.png").stat().st_size > 0


def test_a_load_only_results_file_renders_alone(tmp_path: Path) -> None:
    results = {"kind": "load", "created": "now", "invocation": {}, "tools": {}, "probes": [],
               "cells": [], "reliability": {}, "load": _load(),
               "machine": {"platform": "p", "python": "3", "python_implementation": "C",
                           "cpu_model": "c", "cpu_logical": 2, "memory_bytes": 1 << 30,
                           "load_avg_at_start": [0, 0, 0]}}
    path = report.write(results, tmp_path)
    text = path.read_text()
    assert text.startswith("# trackbench team scale")
    assert "## Team scale" in text and "## Environment" in text
    assert "Which tracker" not in text
