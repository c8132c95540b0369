"""REPORT.md from results.json, and nothing else: every figure here is regenerated from the file.

One module per section, each with ``render(page) -> list[str]`` (empty when it has nothing to
show); a new section is a new module and one line in SECTIONS.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from harness.report import (
    bad_input,
    coverage,
    coverage_evidence,
    crash,
    environment,
    fidelity,
    findings,
    header,
    method,
    mitigations,
    mltraq_2024,
    notes,
    offline,
    overhead,
    page_one,
    resources,
    scaling,
    seed_claims,
    server_probes,
    server_side,
    stability,
    summary,
    team_scale,
    training_cost,
)
from harness.report.page import Page

# REPORT.md: the answer first, then the key tables a reader checks it against.
SECTIONS = (
    header,  # title, workload, profile, repeats, the intervals' coverage
    page_one,  # which tracker, per team shape: qualifying, by cost, ties and red flags
    training_cost,  # the projection onto the team's training run, and its check
    summary,  # one row per tool:scenario on this run's workload, overhead chart
    fidelity,  # what was kept of what was logged
    coverage,  # feature matrix (its evidence is a details page)
    crash,  # crash safety; server outage
    team_scale,  # many jobs on one shared server: saturation, loss, queries as the store grows
    offline,  # network attempts while offline
    findings,  # failures, leftover processes, hangs, call errors
    stability,  # interval widths, ties, run-to-run repeatability
    environment,  # machine, invocation, versions
    method,  # how it was measured
)
# The long evidence, one page each, linked from REPORT.md.
DETAILS = {
    "details/overhead.md": (overhead, resources, mitigations, server_side, scaling),
    "details/coverage.md": (coverage_evidence, server_probes, seed_claims),
    "details/reliability.md": (bad_input, notes),
}


# REPORT.md of `trackbench load`: the team-scale figures alone.
LOAD_SECTIONS = (team_scale, environment)
# REPORT.md of `trackbench run --suite NAME`, by the results' kind.
SUITE_SECTIONS = {"mltraq-2024": (mltraq_2024,)}


def _page(sections: tuple, page: Page) -> str:
    return "\n".join(line for section in sections for line in section.render(page))


def render(results: Mapping[str, Any], chart_dir: Path | None = None,
           sweeps: Mapping[str, Any] | None = None) -> str:
    """REPORT.md as markdown; its charts (PNG) are written to ``chart_dir`` when given;
    ``sweeps`` (a sweeps.json of the same machine) is for the overhead details page."""
    sections = LOAD_SECTIONS if results.get("kind") == "load" else SECTIONS
    sections = SUITE_SECTIONS.get(results.get("kind"), sections)
    return _page(sections, Page(results, chart_dir, sweeps))


def render_details(results: Mapping[str, Any], chart_dir: Path | None = None,
                   sweeps: Mapping[str, Any] | None = None) -> dict[str, str]:
    """Each details page (path relative to REPORT.md -> markdown); charts beside the page."""
    if results.get("kind") == "load" or results.get("kind") in SUITE_SECTIONS:
        return {}
    return {name: "\n".join(["[← REPORT.md](../REPORT.md)", "",
                             _page(sections, Page(results, chart_dir, sweeps))])
            for name, sections in DETAILS.items()}


def write(results: Mapping[str, Any], out_dir: Path,
          sweeps: Mapping[str, Any] | None = None) -> Path:
    """REPORT.md, its details pages and their charts in ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "REPORT.md"
    path.write_text(render(results, out_dir, sweeps))
    details = out_dir / "details"
    details.mkdir(exist_ok=True)
    for name, text in render_details(results, details, sweeps).items():
        (out_dir / name).write_text(text)
    return path
