"""The measured cells: every tool x scenario x planned repeat, interleaved across tools
(A B C A B C ...) so machine drift hits every tool alike, with the ``none`` baseline and the
``null`` floor in every round. Records go to ``data["cells"]``."""

from __future__ import annotations

from harness.plan import Cell
from harness.stages.cell_batch import run_measured
from harness.stages.context import StageContext


def run(ctx: StageContext) -> None:
    done = ctx.done()
    batch = [Cell(t, s, r) for r in range(ctx.plan.repeats) for t, s in ctx.pairs
             if (t, s, r, "log") not in done]
    run_measured(ctx, batch, f"/{ctx.plan.repeats}")
