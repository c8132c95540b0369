"""The coverage vocabulary of a results file: which features are probed, what a verdict may
say, and who meets a team's must-haves.

The probes write entries in these terms and the report reads them back, so both live here, below
either of them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

FEATURES = ("auth", "isolation", "data-versioning", "monitoring", "alerts", "model-registry",
            "offline-sync", "query-api", "rest-api")
# verified: on the scenario as run. available: verified on the same tool configured otherwise
# (e.g. MLflow's server started with --app-name basic-auth), not on the scenario as run; a
# must-have it is not met. not probed: no probe could run against this deployment (a team's own
# server without two test users).
STATUSES = ("verified", "available", "absent", "not testable offline", "not probed", "error")
NOT_AS_RUN = "not enabled in this scenario as run"


def entry(status: str, evidence: str, docs: str | None = None) -> dict[str, Any]:
    """One feature's verdict: its status, the evidence behind it, and a docs link if any."""
    return {"status": status, "evidence": evidence, "docs": docs}


def unknown_features(names: Iterable[str]) -> list[str]:
    return [n for n in names if n not in FEATURES]


def requirement_gaps(coverage: Mapping[str, Any], required: Iterable[str]
                     ) -> dict[str, str]:
    """Must-have features an entry does not meet (only ``verified`` meets one) -> its status."""
    gaps = {}
    for feature in required:
        status = (coverage.get(feature) or {}).get("status", "not probed")
        if status != "verified":
            gaps[feature] = status
    return gaps
