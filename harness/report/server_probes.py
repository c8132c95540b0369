"""The REST API and Authentication and isolation sections: the seed's REST endpoints and
MLflow basic-auth, as probed on real servers (plain HTTP, no SDK)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from harness.report.markdown import md_table
from harness.report.page import Page


def _rest(entries_by_label: Mapping[str, Any]) -> list[str]:
    rows = []
    for label, entries in entries_by_label.items():
        if isinstance(entries, dict):
            rows.append([label, "-", "-", "-", "error", entries["error"], "-"])
            continue
        rows += [[label, f"{e['method']} {e['endpoint']}", "yes" if e["named_in_seed"] else "",
                  str(e["status"]), e["outcome"], e["evidence"], e.get("replaced_by") or ""]
                 for e in entries]
    if not rows:
        return []
    return ["## REST API", "",
            "Each server scenario's own server, probed over plain HTTP (no SDK). "
            "*in seed*: the seed document names this endpoint.", "",
            *md_table(["tool:scenario", "endpoint", "in seed", "HTTP", "outcome",
                       "evidence", "replaced by"], rows)]


def _auth(auth: Any) -> list[str]:
    if isinstance(auth, dict):
        return ["## Authentication and isolation", "", f"Auth probe failed: {auth['error']}", ""]
    if not auth:
        return []
    return ["## Authentication and isolation", "",
            "`mlflow server --app-name basic-auth` (sqlite, default permission "
            "NO_PERMISSIONS), started by the harness; users alice and bob created "
            "through the auth REST API.", "",
            *md_table(["probe", "expected", "got", "outcome", "evidence"],
                      [[p["probe"], str(p["expected"]), str(p["status"]), p["outcome"],
                        p["evidence"]] for p in auth])]


def render(page: Page) -> list[str]:
    probes = page.results.get("server_probes") or {}
    return [*_rest(probes.get("rest_api") or {}), *_auth(probes.get("auth"))]
