"""The projection's check: one synthetic cell per tool:scenario (and the baseline) at a second
size, with the training run's metrics per call and another number of calls, so the report can
set what the projection predicts for it beside what it measured
(:mod:`harness.results.projection`). Records go to ``data["projection_check"]``."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from adapters.base import FLOOR
from harness.measure.cell import ServiceHandle, run_cell
from harness.plan import Cell
from harness.results.projection import CHECK_STEPS, TrainingRun
from harness.stages.cell_batch import run_batch
from harness.stages.context import StageContext

KEY = "projection_check"


def _config(ctx: StageContext) -> dict[str, int]:
    run = TrainingRun.from_dict(ctx.plan.training_run)
    return {"steps": CHECK_STEPS, "metrics": run.metrics, "params": 10, "artifact_bytes": 0}


def _todo(ctx: StageContext) -> list[Cell]:
    done = {(c["tool"], c["scenario"]) for c in ctx.data.get(KEY, [])}
    return [Cell(t, s, 0, "check") for t, s in ctx.pairs if t != FLOOR and (t, s) not in done]


def estimate_s(ctx: StageContext) -> float:
    """About one measured cell per tool:scenario."""
    if not ctx.plan.projection_check:
        return 0.0
    return sum(ctx.cell_s(cell.label) for cell in _todo(ctx))


def run(ctx: StageContext) -> None:
    if not ctx.plan.projection_check:
        return
    ctx.data.setdefault(KEY, [])
    plan = dataclasses.replace(ctx.plan, workload="synthetic", workload_config=_config(ctx))

    def measure(cell: Cell, services: Mapping[str, ServiceHandle]) -> dict[str, Any]:
        return run_cell(cell, plan, ctx.tmp_root, services)

    run_batch(ctx, _todo(ctx), measure, into=KEY,
              describe=lambda cell: f"check x{CHECK_STEPS}")
