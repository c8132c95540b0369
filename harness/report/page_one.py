"""Page one, "Which tracker": for each team shape, who meets the must-haves and what each would
add to the team's training run, cheapest first, ties as ranges of rank, red flags inline; one
screen."""

from __future__ import annotations

import statistics
from collections.abc import Mapping
from typing import Any

from harness.report.markdown import cell_label, fmt_s, md_table
from harness.report.page import Page
from harness.results.decision import Row, Shape, decide
from harness.results.projection import TrainingRun, check, projection

MAX_LISTED = 8  # tool:scenarios missing a must-have, named on one line


def _cost(row: Row) -> str:
    if row.added is None:
        return "-"
    mid, low, high = row.added
    return f"{fmt_s(mid)} [{fmt_s(low)}–{fmt_s(high)}]"


def _why(row: Row, parts: Mapping[str, Any]) -> str:
    split = parts.get(row.label) or {}
    text = (f"{fmt_s(split.get('fixed_s'))} once + {fmt_s(split.get('per_call_s'))} per log "
            f"call, {row.rounds} rounds")
    missing = [f"misses {f} ({s})" for f, s in row.missing.items()]
    return "; ".join([text, *missing, *row.flags])


def _table(placed: list[Row], parts: Mapping[str, Any]) -> list[str]:
    rows = [["-" if row.place is None else row.place.text, cell_label(*row.label.rsplit(":", 1)),
             _cost(row), "-" if row.share is None else f"{100 * row.share:.1f}%",
             _why(row, parts)] for row in placed]
    return md_table(["rank", "tool:scenario", "adds to your run", "share of the run",
                     "why (the cost's two parts; red flags)"], rows)


def _missing(row: Row) -> str:
    return f"`{row.label}` ({', '.join(f'{f} {s}' for f, s in row.missing.items())})"


def _shape(shape: Shape, parts: Mapping[str, Any]) -> list[str]:
    lines = [f"### {shape.title}", ""]
    if shape.qualifying:
        lines += _table(shape.qualifying, parts)
    elif shape.others:
        lines += ["None meets every must-have. Closest, in order of cost (they miss one or "
                  "more):", "", *_table(shape.others, parts)]
    else:
        lines += ["Nothing of this shape was measured.", ""]
    others = shape.others if shape.qualifying else []
    if others:
        shown = ", ".join(_missing(r) for r in others[:MAX_LISTED])
        more = f" and {len(others) - MAX_LISTED} more" if len(others) > MAX_LISTED else ""
        lines += [f"Missing a must-have: {shown}{more}.", ""]
    if shape.unmeasured:
        lines += ["Not measured: " + ", ".join(f"`{label}` ({why[:80]})"
                                              for label, why in shape.unmeasured) + ".", ""]
    return lines


def _checked(results: Mapping[str, Any]) -> list[str]:
    """How far the projection held where this run checked it, so a reader can weigh it."""
    ratios = sorted(c["ratio"] for c in check(results).values() if c["ratio"] is not None)
    if not ratios:
        return ["The projection was not checked in this run (`--quick`).", ""]
    return [f"Checked in this run at a second size (synthetic, the run's metrics per call): "
            f"the measured cost was {ratios[0]:.2f}–{ratios[-1]:.2f}× the projection (median "
            f"{statistics.median(ratios):.2f}×); read the costs with that error.", ""]


def render(page: Page) -> list[str]:
    results = page.results
    inv = results.get("invocation") or {}
    if not results.get("cells"):
        return []
    required = list(inv.get("require") or [])
    run = TrainingRun.from_dict(inv.get("training_run"))
    must = (f"Must-haves: {', '.join(f'`{r}`' for r in required)} (only *verified* on the "
            "scenario as run counts)." if required else
            "No must-haves given (`--require auth,data-versioning,...`): every tool:scenario "
            "that ran is listed.")
    lines = ["## Which tracker", "",
             f"For a training run of {run.text()} (`--training-run`): what each tool would add, "
             "projected from this run's measurements ([how, and checked](#cost-for-your-"
             "training-run)); median [interval] over rounds, cheapest first. A rank a–b is as far "
             "as this run can place a row: of the n listed with it, a−1 are shown cheaper and "
             "n−b dearer, and the rest it cannot tell apart from it (tied; "
             "[test](#how-it-was-measured)). " + must, ""]
    lines += _checked(results)
    parts = projection(results)
    for shape in decide(results):
        lines += _shape(shape, parts)
    return lines
