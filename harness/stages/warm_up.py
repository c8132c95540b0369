"""Warm-up, unrecorded: one baseline cell and one import of each tool's SDK, so no measured
cell pays for a cold disk cache or a first .pyc build (stated in the report's method)."""

from __future__ import annotations

from adapters.base import REFERENCE_TOOLS
from harness.measure.cell import warm_up
from harness.stages.context import StageContext


def run(ctx: StageContext) -> None:
    ctx.progress("warm-up: one unrecorded baseline cell and one SDK import per tool "
                 "(disk caches, .pyc files)")
    tools = dict.fromkeys(t for t, _ in ctx.pairs if t not in REFERENCE_TOOLS)
    warm_up(list(tools), ctx.plan, ctx.tmp_root)
