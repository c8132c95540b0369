"""The page's title and the one sentence that says what was run."""

from __future__ import annotations

from harness.report.figures import coverage_of, repeats_text
from harness.report.page import Page


def render(page: Page) -> list[str]:
    results = page.results
    inv = results["invocation"]
    return [
        "# trackbench report",
        "",
        f"Workload `{inv['workload']}`, profile **{inv['profile']}** "
        + ("(each tool's extras such as git/code/console capture and system metrics off, so core "
           "logging is compared like for like)" if inv["profile"] == "lean"
           else "(each tool as it comes out of the box, offline)")
        + f", {repeats_text(results)}, generated from `results.json` of {results['created']}. "
        f"Figures are medians with [low–high], the median's distribution-free interval, whose "
        f"coverage is {coverage_of(results)}.",
        "",
    ]
