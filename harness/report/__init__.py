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
    crash,
    environment,
    fidelity,
    findings,
    header,
    method,
    mitigations,
    notes,
    offline,
    overhead,
    resources,
    scaling,
    seed_claims,
    server_probes,
    server_side,
    stability,
    summary,
)
from harness.report.page import Page

SECTIONS = (
    header,  # title, workload, profile and repeats
    summary,  # baseline time, --require verdict, one row per tool:scenario, overhead chart
    overhead,  # import, init, log calls, finish, exit; latency chart
    resources,  # CPU, RSS, disk, processes of the process tree
    mitigations,  # variants against their base scenario; bounds for the rest
    scaling,  # sweep curves, when a sweeps.json is given
    server_side,  # cost of the services a scenario runs
    fidelity,  # what was kept of what was logged
    coverage,  # feature matrix and its evidence
    server_probes,  # REST API; authentication and isolation
    crash,  # crash safety; server outage
    offline,  # network attempts while offline
    bad_input,  # odd values fed to each tool
    seed_claims,  # the seed document's claims, checked
    findings,  # failures, leftover processes, hangs, call errors
    stability,  # interval widths, run-to-run change
    notes,  # what the tools reported
    environment,  # machine, invocation, versions
    method,  # how it was measured
)


def render(results: Mapping[str, Any], chart_dir: Path | None = None,
           sweeps: Mapping[str, Any] | None = None) -> str:
    """The whole report as markdown; charts (PNG) are written to ``chart_dir`` when given;
    ``sweeps`` (a sweeps.json of the same machine) adds the scaling curves."""
    page = Page(results, chart_dir, sweeps)
    return "\n".join(line for section in SECTIONS for line in section.render(page))


def write(results: Mapping[str, Any], out_dir: Path,
          sweeps: Mapping[str, Any] | None = None) -> Path:
    """REPORT.md and its charts in ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "REPORT.md"
    path.write_text(render(results, out_dir, sweeps))
    return path
