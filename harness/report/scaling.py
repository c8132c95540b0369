"""The Scaling section: the curves of a ``trackbench sweep`` from the same machine, when given;
the sweep is a separate, long run, so the section otherwise says how to add it."""

from __future__ import annotations

from harness.report.page import Page
from harness.report.sweeps import render_sweeps
from harness.results import IncomparableResults, check_same_machine


def render(page: Page) -> list[str]:
    sweeps = page.sweeps
    if sweeps is None:
        return ["## Scaling", "",
                "Not in this report: `trackbench sweep` measures how each tool's cost grows with "
                "points per run, metrics per step, runs per process and artifact size (about 40 "
                "minutes); `trackbench report results.json --sweeps sweeps.json` adds its curves "
                "here.", ""]
    try:
        check_same_machine(sweeps, page.results)
    except IncomparableResults as exc:
        return ["## Scaling", "", f"The sweeps given were not shown: {exc}.", ""]
    lines = render_sweeps(sweeps["records"], page.chart_dir)
    return [*lines[:2], f"From `sweeps.json` of {sweeps['created']} (`trackbench sweep`, same "
            "machine, measured apart from this run's cells).", "", *lines[2:]]
