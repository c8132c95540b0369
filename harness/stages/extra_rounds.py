"""Extra rounds: more interleaved rounds of the baseline, the floor and the tool:scenarios whose
end-to-end or blocked-time interval is still wide (see :mod:`harness.results.precision`), until
none is, ``max_repeats`` is reached, or the next round would overrun the time budget."""

from __future__ import annotations

from adapters.base import REFERENCE_TOOLS
from harness.plan import Cell
from harness.results import precision
from harness.stages.cell_batch import fmt_clock, run_measured
from harness.stages.context import StageContext


def run(ctx: StageContext) -> None:
    plan, data = ctx.plan, ctx.data
    labels = [f"{t}:{s}" for t, s in ctx.pairs if t not in REFERENCE_TOOLS]
    spread = f"{100 * precision.UNSTABLE_SPREAD:.0f}%"
    for repeat in range(plan.repeats, plan.max_repeats or plan.repeats):
        earlier = [c for c in data["cells"] if c["repeat"] < repeat]
        wide = precision.imprecise(earlier, labels)
        if not wide:
            ctx.progress(f"every headline interval spans under {spread} of its median after "
                         f"{repeat} repeats: no extra round needed")
            return
        done = ctx.done()
        batch = [Cell(t, s, repeat) for t, s in ctx.pairs
                 if (t in REFERENCE_TOOLS or f"{t}:{s}" in wide)
                 and (t, s, repeat, "log") not in done]
        new_round = len(batch) == len(wide) + len(REFERENCE_TOOLS)
        estimate = precision.round_estimate_s(earlier, [c.label for c in batch])
        if new_round and not ctx.fits(estimate):
            budget = plan.time_budget_s or 0.0
            ctx.progress(f"no extra round {repeat + 1}: it would end at "
                         f"{fmt_clock(ctx.elapsed_s() + estimate)} and the checks after it (about "
                         f"{fmt_clock(ctx.reserved_s)}) at "
                         f"{fmt_clock(ctx.elapsed_s() + estimate + ctx.reserved_s)}, past the "
                         f"{fmt_clock(budget)} budget; {', '.join(wide)} keep(s) a wide interval")
            return
        ctx.progress(f"extra round {repeat + 1} (up to {plan.max_repeats}) for the interval(s) "
                     f"still spanning >= {spread} of the median: {', '.join(wide)}")
        run_measured(ctx, batch, " (extra)")
