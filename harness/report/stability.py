"""The Stability section: how repeatable this run's figures are, which conclusions its noise
could reverse, and how far the figures moved from the previous run's."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from harness.report.figures import by_scenario, ok_cells, values_of
from harness.report.markdown import cell_label, fmt_s, md_table
from harness.report.page import Page
from harness.results import REFERENCE_TOOLS, decision, ranking, repeatability
from harness.results.precision import MIN_SAMPLES
from harness.results.stats import coverage_text, relative_width


def _page_one_repeated(results: Mapping[str, Any]) -> list[str]:
    """The repeatability criterion: the previous run's page one against this one's."""
    before = (results.get("previous_run") or {}).get("page_one")
    if before is None:
        return []
    now = decision.summary(results)
    verdict = decision.repeats(now, before)
    orders = sum(len(s["ordered"]) for s in now.values())
    earlier = sum(len(s.get("ordered", [])) for s in before.values())
    if not verdict["changed_sets"] and not verdict["contradicted"]:
        sets = "; ".join(f"{dict(decision.SHAPES)[key]}: "
                         f"{', '.join(shape['qualifying']) or 'none'}"
                         for key, shape in now.items())
        return [f"**Page one repeated** against the previous run: the same tool:scenarios "
                f"qualify in every team shape ({sets}), and none of the orderings either run "
                f"calls significant among the tool:scenarios page one lists, qualifying or "
                f"closest ({orders} now, {earlier} then), is reversed in the other.", ""]
    lines = ["**Page one did not repeat** against the previous run:", ""]
    titles = dict(decision.SHAPES)
    lines += [f"- {titles[key]}: a different set qualifies (now "
              f"{', '.join(now[key]['qualifying']) or 'none'}; then "
              f"{', '.join(before.get(key, {}).get('qualifying', [])) or 'none'})"
              for key in verdict["changed_sets"]]
    lines += [f"- {titles[key]}: {a} cheaper than {b} now, the reverse then (both significant)"
              for key, a, b in verdict["contradicted"]]
    return lines + [""]


def _run_to_run(results: Mapping[str, Any]) -> list[str]:
    """How far this run's headline medians moved from the previous run's (same machine, plan)."""
    changes = [c for c in repeatability.changes(results)
               if c[0].partition(":")[0] not in REFERENCE_TOOLS]
    if not changes:
        return ["Run-to-run: no previous comparable run in this output directory; run the same "
                "command again to measure how far the medians move between runs.", ""]
    tolerance = 100 * repeatability.TOLERANCE
    lines = [*_page_one_repeated(results),
             f"Run-to-run, against the previous run of the same plan on this machine "
             f"({results['previous_run']['created']}), the medians themselves (they drift with "
             "the machine's speed; the criterion is page one's, above):"]
    overlaps = repeatability.overlaps(results)

    def noise(label: str, key: str) -> str:
        overlap = overlaps.get((label, key))
        return "-" if overlap is None else ("overlap" if overlap else "apart")

    for name, key in repeatability.HEADLINE:
        moved = [c for c in changes if c[1] == key]
        off = [c for c in moved if c[4] is None or abs(c[4]) > repeatability.TOLERANCE]
        worst = max(moved, key=lambda c: abs(c[4] or 0.0))
        lines.append(f"- *{name}*: {len(moved) - len(off)} of {len(moved)} tool medians within "
                     f"±{tolerance:.0f}% (largest change {100 * (worst[4] or 0):+.1f}%, "
                     f"{worst[0]})" + (": " + ", ".join(
                         f"{c[0]} {100 * (c[4] or 0):+.1f}% (intervals {noise(c[0], key)})"
                         for c in off) if off else "."))
    rows = [[label, fmt_s(before), fmt_s(now), f"{100 * change:+.1f}%" if change is not None
             else "-", noise(label, key)]
            for label, key, before, now, change in changes if key == "e2e_s"]
    return [*lines, "", "*intervals*: whether the two runs' intervals of the median overlap. "
            "Overlapping intervals mean the change is within what the runs' own repeat-to-repeat "
            "spread explains; intervals apart mean a shift larger than that spread (the machine's "
            "speed, or the tool, changed between the runs).", "",
            *md_table(["tool:scenario", "end to end, previous run", "this run", "change",
                       "intervals"], rows)]


def _order(results: Mapping[str, Any]) -> list[str]:
    """The conclusions the headline supports: each tool:scenario against the next slower one,
    compared round by round; only a pair whose order the noise could reverse is flagged."""
    pairs = ranking.neighbours(ranking.by_round(results))
    if not pairs:
        return []
    loose = [p for p in pairs if not p.settled]
    lines = [f"Order by end to end: each tool:scenario against the next slower one "
             f"({len(pairs)} pair(s); paired t-test on the differences within each interleaved "
             f"round, so the machine's drift cancels; Holm-corrected, family-wise "
             f"{100 * ranking.ALPHA:.0f}%): {len(pairs) - len(loose)} settled by this run"
             + (f", {len(loose)} could swap places within its noise (tied here):" if loose
                else ", none could swap places within its noise."), ""]
    lines += [f"- {p.faster} vs {p.slower}: {fmt_s(p.difference)} slower over {p.rounds} rounds "
              f"(p = {p.p_value:.2g} before correction): unstable; more repeats could separate "
              "them, or they cost the same" for p in loose]
    return lines + ([""] if loose else [])


def render(page: Page) -> list[str]:
    results = page.results
    warnings = []
    widths: list[tuple[float, str]] = []
    counts: list[int] = []
    for (tool, scenario), cells in by_scenario(results).items():
        values = values_of(ok_cells(cells), lambda c: c["e2e_s"])
        if not values:
            continue
        if len(values) < MIN_SAMPLES:
            warnings.append(f"- {cell_label(tool, scenario)}: only {len(values)} sample(s); "
                            f"use --repeats {MIN_SAMPLES} or more for a usable median.")
            continue
        counts.append(len(values))
        widths.append((relative_width(values), cell_label(tool, scenario)))
    lines = ["## Stability", ""]
    if widths:
        stable = sorted(w for w, _ in widths)
        widest = max(widths)
        lines += [f"Repeatability of this run: the intervals of the end-to-end medians span a "
                  f"median of {100 * stable[len(stable) // 2]:.0f}% of the median (widest: "
                  f"{100 * widest[0]:.0f}%, {widest[1]}); their coverage is "
                  f"{coverage_text(counts)}.", ""]
    lines += _order(results)
    lines += _run_to_run(results)
    for resumed in results.get("resumed") or []:
        lines += [f"This run was interrupted and resumed at {resumed['at']}: "
                  f"{resumed['cells_kept']} cell(s) were measured before the break, the rest "
                  "after it, so machine drift across the break is not spread evenly over the "
                  "tools.", ""]
    return lines + ((warnings + [""]) if warnings else [])
