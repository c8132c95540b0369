"""Coverage in the report: the matrix, each entry's evidence, and the ``--require`` verdict.

Reads only ``results["probes"][*]["coverage"]`` and ``results["invocation"]["require"]``; old
results files without them still render.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from harness.report.markdown import md_table
from harness.report.page import Page
from harness.results.coverage import FEATURES, STATUSES, requirement_gaps
from harness.results.method import PROBE_SECONDS

SHORT = {"verified": "verified", "available": "available", "absent": "absent",
         "not testable offline": "offline only", "not probed": "not probed",
         "error": "error"}


# How an unmet must-have reads in the summary.
MISSED = {"available": "available, not as run (verified on the tool configured for it)"}


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


def _evidence(results: Mapping[str, Any], features: list[str]) -> list[str]:
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
        *_matrix(results, features), *_cost(results), *_evidence(results, features),
    ]


def requirement_verdicts(results: Mapping[str, Any]) -> tuple[list[str], dict[str, dict]]:
    """(labels meeting every must-have, label -> unmet feature -> status)."""
    required = (results.get("invocation") or {}).get("require") or []
    meets, misses = [], {}
    for probe in probed(results):
        gaps = requirement_gaps(probe.get("coverage") or {}, required)
        if gaps:
            misses[label(probe)] = gaps
        else:
            meets.append(label(probe))
    return meets, misses


def requirements_summary(results: Mapping[str, Any]) -> list[str]:
    """The summary's verdict on ``--require``: who meets every must-have, and what the rest
    miss (nothing when ``--require`` was not given)."""
    required = (results.get("invocation") or {}).get("require") or []
    if not required:
        return []
    wanted = ", ".join(f"`{r}`" for r in required)
    if not probed(results):
        return [f"**Must-haves** ({wanted}): not decided, no coverage probes ran.", ""]
    meets, misses = requirement_verdicts(results)
    met = ", ".join(f"**{m}**" for m in meets) or "**none**"
    lines = [f"**Must-haves** ({wanted}; only *verified*, on the scenario as run, counts): met "
             f"by {met}."]
    if misses:
        lines += ["Not met:", ""]
        lines += [f"- {name}: " + ", ".join(f"{f} {MISSED.get(s, s)}" for f, s in gaps.items())
                  for name, gaps in misses.items()]
    return lines + [""]
