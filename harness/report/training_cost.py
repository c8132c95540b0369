"""Cost for your training run: the projection per tool:scenario, its two parts, and the check
cells at a second size, projected against measured."""

from __future__ import annotations

from harness.report.markdown import cell_label, fmt_s, md_table
from harness.report.page import Page
from harness.results.projection import TrainingRun, check, projection


def render(page: Page) -> list[str]:
    results = page.results
    cost = projection(results)
    if not cost:
        return []
    run = TrainingRun.from_dict((results.get("invocation") or {}).get("training_run"))
    rows = [[cell_label(*label.rsplit(":", 1)), fmt_s(c["fixed_s"]), fmt_s(c["per_call_s"]),
             f"{fmt_s(c['added_s'][0])} [{fmt_s(c['added_s'][1])}–{fmt_s(c['added_s'][2])}]",
             f"{100 * c['share']:.1f}%"] for label, c in cost.items()]
    lines = ["## Cost for your training run", "",
             f"A run of {run.text()}, {run.calls:,} log calls. Within each measured round, "
             "against the baseline of the same round: *per call* is the time blocked in "
             "`log_metrics` plus the loop slowdown, over the calls; *once* is the rest of the "
             "overhead (import, init, params, artifact, finish, interpreter exit). Added = once "
             "+ per call × calls, a median over rounds; share = added / the run's compute.", "",
             *md_table(["tool:scenario", "once", "per log call", "adds to your run",
                        "share of the run"], rows)]
    checked = check(results)
    if checked:
        lines += ["The projection assumes a log call costs the same whatever it holds. Checked "
                  "in this run: one synthetic cell per tool:scenario at the training run's "
                  f"{run.metrics} metrics per call and another number of calls, its overhead "
                  "over the baseline of the same round against what the projection predicts "
                  "for it (one round: a single measurement, not a median).", "",
                  *md_table(["tool:scenario", "calls", "projected", "measured",
                             "measured / projected"],
                            [[cell_label(*label.rsplit(":", 1)), str(c["calls"]),
                              fmt_s(c["projected_s"]), fmt_s(c["measured_s"]),
                              "-" if c["ratio"] is None else f"{c['ratio']:.2f}"]
                             for label, c in checked.items()])]
    else:
        lines += ["No check cells in this results file (`--quick` skips them), so the "
                  "projection is unchecked here.", ""]
    return lines
