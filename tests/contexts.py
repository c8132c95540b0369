"""A stage context for tests: a stage run on a given plan, matrix and results, in memory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.plan import Plan
from harness.services.pool import ServicePool
from harness.stages.context import StageContext


def stage_context(plan: Plan, pairs: list[tuple[str, str]], data: dict[str, Any], tmp: Path,
                  progress: Any = lambda _: None) -> StageContext:
    """Services (if a scenario needs any) start under ``tmp``; nothing is written to disk as
    results: ``save`` counts its calls in ``ctx.saves``."""
    data.setdefault("probes", [])
    data.setdefault("cells", [])
    data.setdefault("reliability", {})
    data.setdefault("tools", {})
    ctx = StageContext(plan=plan, pairs=pairs, data=data, results_path=None,
                       pool=ServicePool(tmp / "services", tmp / "logs", {}, progress),
                       tmp_root=tmp, progress=progress)
    ctx.saves = 0  # type: ignore[attr-defined]

    def save() -> None:
        ctx.saves += 1  # type: ignore[attr-defined]

    ctx.save = save  # type: ignore[method-assign]
    return ctx
