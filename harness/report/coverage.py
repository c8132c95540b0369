"""Coverage in the report: the matrix (main page) and each entry's evidence (details page);
who meets ``--require`` is page one's (harness.results.decision).

Reads only ``results["probes"][*]["coverage"]``; old results files without it still render.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from harness.report.markdown import md_table
from harness.report.page import Page
from harness.results.coverage import FEATURES, STATUSES
from harness.results.method import PROBE_SECONDS

SHORT = {"verified": "verified", "available": "available", "absent": "absent",
         "not testable offline": "offline only", "not probed": "not probed",
         "error": "error"}


def label(probe: Mapping[str, Any]) -> str:
    return f"{probe['tool']}:{probe['scenario']}"


def anchor(feature: str) -> str:
    """The markdown anchor of a feature's evidence heading."""
    return f"#coverage-{feature}"


def probed(results: Mapping[str, Any]) -> list[dict[str, Any]]:
    return list(results.get("probes") or [])


def features_of(results: Mapping[str, Any]) -> list[str]:
    """Known features first, in their order; any others an older or newer file holds after."""
    seen = {f for p in probed(results) for f in (p.get("coverage") or {})}
    return [f for f in FEATURES if f in seen] + sorted(seen - set(FEATURES))


def status_summary(coverage: Mapping[str, Any]) -> str:
    """``verified: a, b; absent: c`` for the summary table."""
    groups: dict[str, list[str]] = {}
    for feature, entry in coverage.items():
        groups.setdefault(entry["status"], []).append(feature)
    order = [s for s in STATUSES if s in groups] + sorted(set(groups) - set(STATUSES))
    return "; ".join(f"{s}: {', '.join(groups[s])}" for s in order) or "-"


def _matrix(results: Mapping[str, Any], features: list[str]) -> list[str]:
    rows, failed = [], []
    for probe in probed(results):
        cov = probe.get("coverage") or {}
        if not cov:
            rows.append([label(probe), *[f"{probe['status']}"] * len(features)])
            failed.append(f"- {label(probe)}: probe {probe['status']}: {probe.get('error')}")
            continue
        rows.append([label(probe), *[
            f"[{SHORT.get(cov[f]['status'], cov[f]['status'])}]({anchor(f)})" if f in cov
            else "-" for f in features]])
    return md_table(["tool:scenario", *features], rows) + (failed + [""] if failed else [])


def evidence(results: Mapping[str, Any], features: list[str]) -> list[str]:
    lines: list[str] = []
    for feature in features:
        rows = []
        for probe in probed(results):
            entry = (probe.get("coverage") or {}).get(feature)
            if entry is None:
                continue
            docs = f" ([docs]({entry['docs']}))" if entry.get("docs") else ""
            rows.append([label(probe), f"**{entry['status']}**", entry["evidence"] + docs])
        lines += [f"### Coverage: {feature}", "", *md_table(["tool:scenario", "status",
                                                              "evidence"], rows)]
    return lines


def _cost(results: Mapping[str, Any]) -> list[str]:
    extra = [(p.get("feature_probes_s") or 0.0) + (p.get("bundle_read_s") or 0.0)
             + ((p.get("offline_bundle") or {}).get("copy_s") or 0.0) for p in probed(results)]
    if not any(extra):
        return []
    return [f"Cost: the feature calls (dataset versions, registry, alert), the query runs and "
            f"the bundle copies and read-backs took {sum(extra):.1f} s over {len(extra)} probe "
            f"cells (largest {max(extra):.1f} s), on top of each probe's {PROBE_SECONDS:.0f} s "
            "run.", ""]


def render(page: Page) -> list[str]:
    """The coverage section: matrix (statuses), then one evidence table per feature."""
    results = page.results
    if not probed(results):
        return ["## Coverage", "", "Coverage probes were not run (`--no-probes`).", ""]
    features = features_of(results)
    return [
        "## Coverage", "",
        "Status per tool:scenario and feature; each links to its evidence below. *available*: "
        "verified on the same tool configured for it (e.g. MLflow's server started with "
        "`--app-name basic-auth`), not on the scenario as run. *offline only*: not testable "
        "offline (the feature lives in the tool's hosted service; docs linked). *not probed*: "
        "no probe could run against this deployment. Every status comes from what a probe "
        "executed and read back.", "",
        *_matrix(results, features), *_cost(results),
        "Each status's evidence: [details/coverage.md](details/coverage.md).", "",
    ]
