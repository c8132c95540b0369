"""Probes that need a running MLflow-API server: the REST endpoints the seed names, and
MLflow's basic-auth app (authentication and per-experiment isolation), measured for real.

The REST probe runs against each server scenario's own server; the auth probe against one extra
``mlflow server --app-name basic-auth`` that the harness starts and stops here. Their outcomes
become coverage entries (``rest-api``, ``auth``, ``isolation``) for the server scenarios.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import adapters
from harness.mlflow_auth import probe_auth
from harness.mlflow_rest import probe_rest_api
from harness.services.base import ServiceError
from harness.services.mlflow_server import MlflowServer
from harness.services.pool import ServicePool

MLFLOW_SERVERS = ("mlflow-server-sqlite", "mlflow-server-postgres-s3")
REST_SERVERS = (*MLFLOW_SERVERS, "fasttrackml")
AUTH_DOCS = "https://mlflow.org/docs/latest/self-hosting/security/basic-http-auth/"


def _server_of(tool: str, scenario: str) -> str | None:
    cls = adapters.load(tool)
    names = cls.services_for(scenario) if cls is not None else ()
    return next((n for n in names if n in REST_SERVERS), None)


def run(pairs: Iterable[tuple[str, str]], pool: ServicePool, workdir: Path, log_dir: Path,
        progress: Callable[[str], None]) -> dict[str, Any]:
    """REST probe per server scenario; one auth probe if any scenario runs an MLflow server."""
    out: dict[str, Any] = {"rest_api": {}, "auth": None}
    needs_auth_probe = False
    for tool, scenario in pairs:
        server = _server_of(tool, scenario)
        if server is None or "+" in scenario:  # a variant shares its base scenario's server
            continue
        needs_auth_probe |= server in MLFLOW_SERVERS
        label = f"{tool}:{scenario}"
        try:
            services = adapters.load(tool).services_for(scenario)
            uri = pool.get(services)[server].endpoints()["tracking_uri"]
        except ServiceError as exc:
            out["rest_api"][label] = {"error": str(exc)}
            continue
        progress(f"probing the REST API of {label}")
        out["rest_api"][label] = probe_rest_api(uri)
    if needs_auth_probe:
        progress("probing MLflow basic-auth on a server started with --app-name basic-auth")
        server = MlflowServer(workdir / "auth", log_dir, name="mlflow-server-auth",
                              app_name="basic-auth")
        try:
            with server:
                ep = server.endpoints()
                out["auth"] = probe_auth(ep["tracking_uri"], ep["admin_username"],
                                         ep["admin_password"])
        except ServiceError as exc:
            out["auth"] = {"error": str(exc)}
    return out


def _entry(status: str, evidence: str, docs: str | None = None) -> dict[str, Any]:
    return {"status": status, "evidence": evidence, "docs": docs}


def _rest_entry(probes: Any) -> dict[str, Any]:
    if isinstance(probes, dict):
        return _entry("error", probes["error"])
    works = [p for p in probes if p["outcome"] == "works"]
    gone = [f"{p['method']} {p['endpoint']}" for p in probes if p["outcome"] == "gone"]
    status = "verified" if any("log-metric" in p["endpoint"] for p in works) else "error"
    evidence = f"{len(works)}/{len(probes)} endpoint probes work over plain HTTP"
    return _entry(status, evidence + (f"; gone: {', '.join(gone)}" if gone else ""))


def _auth_entries(probes: Any) -> dict[str, dict[str, Any]]:
    if probes is None:
        return {}
    if isinstance(probes, dict):
        failed = _entry("error", probes["error"])
        return {"auth": failed, "isolation": failed}
    by_name = {p["probe"]: p for p in probes}

    def summary(names: list[str]) -> tuple[bool, str]:
        chosen = [by_name[n] for n in names if n in by_name]
        ok = len(chosen) == len(names) and all(p["outcome"] == "verified" for p in chosen)
        return ok, "; ".join(f"{p['probe']}: {p['status']}" for p in chosen)

    auth_ok, auth_text = summary(["anonymous POST experiments/search", "wrong password"])
    iso_names = [n for n in by_name if n.startswith("bob ")]
    iso_ok, iso_text = summary(iso_names)
    prefix = "with --app-name basic-auth: "
    return {
        "auth": _entry("verified" if auth_ok else "error", prefix + auth_text, AUTH_DOCS),
        "isolation": _entry("verified" if iso_ok else "error", prefix + iso_text, AUTH_DOCS),
    }


def coverage_for(label: str, server_probes: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Coverage entries these probes give the scenario ``label`` (empty for serverless ones)."""
    tool, _, scenario = label.rpartition(":")
    server = _server_of(tool, scenario)
    label = f"{tool}:{scenario.partition('+')[0]}"  # a variant is probed as its base
    if server is None or label not in server_probes.get("rest_api", {}):
        return {}
    entries = {"rest-api": _rest_entry(server_probes["rest_api"][label])}
    if server in MLFLOW_SERVERS:
        entries.update(_auth_entries(server_probes.get("auth")))
    return entries
