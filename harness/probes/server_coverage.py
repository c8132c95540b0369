"""Coverage entries from the probes of real servers: ``rest-api`` from each server scenario's
REST probe, ``auth`` and ``isolation`` from the probe of MLflow's basic-auth app.

The probes themselves are :mod:`harness.probes.rest` and :mod:`harness.probes.auth`; the stage
that runs them is :mod:`harness.stages.server_probes`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import adapters
from harness.results.coverage import entry
from harness.services.mlflow_server import (
    MLFLOW_SERVERS,
    OTHER_SERVERS,
    REST_SERVERS,
    TRACKING_SERVERS,
)

AUTH_DOCS = "https://mlflow.org/docs/latest/self-hosting/security/basic-http-auth/"


def server_of(tool: str, scenario: str, among: tuple[str, ...] = REST_SERVERS) -> str | None:
    """The service of the scenario that speaks MLflow's REST API (read from the adapter), or,
    with ``among=TRACKING_SERVERS``, its tracking server of any protocol."""
    cls = adapters.load(tool)
    names = cls.services_for(scenario) if cls is not None else ()
    return next((n for n in names if n in among), None)


def _rest_entry(probes: Any) -> dict[str, Any]:
    if isinstance(probes, dict):
        return entry("error", probes["error"])
    works = [p for p in probes if p["outcome"] == "works"]
    gone = [f"{p['method']} {p['endpoint']}" for p in probes if p["outcome"] == "gone"]
    if len(gone) == len(probes):  # a server of another protocol: no such API at all
        return entry("absent", f"none of the {len(probes)} REST endpoint probes exists on "
                     f"this server (404/405): {', '.join(gone)}")
    status = "verified" if any("log-metric" in p["endpoint"] for p in works) else "error"
    evidence = f"{len(works)}/{len(probes)} endpoint probes work over plain HTTP"
    return entry(status, evidence + (f"; gone: {', '.join(gone)}" if gone else ""))


def _auth_entries(probes: Any) -> dict[str, dict[str, Any]]:
    if probes is None:
        return {}
    if isinstance(probes, dict):
        failed = entry("error", probes["error"])
        return {"auth": failed, "isolation": failed}
    by_name = {p["probe"]: p for p in probes}

    def summary(names: list[str]) -> tuple[bool, str]:
        chosen = [by_name[n] for n in names if n in by_name]
        ok = len(chosen) == len(names) and all(p["outcome"] == "verified" for p in chosen)
        return ok, "; ".join(f"{p['probe']}: {p['status']}" for p in chosen)

    auth_ok, auth_text = summary(["anonymous POST experiments/search", "wrong password"])
    iso_names = [n for n in by_name if n.startswith("bob ")]
    iso_ok, iso_text = summary(iso_names)
    prefix = ("available: verified on a server started with --app-name basic-auth (not the "
              "scenario's own server): ")
    return {
        "auth": entry("available" if auth_ok else "error", prefix + auth_text, AUTH_DOCS),
        "isolation": entry("available" if iso_ok else "error", prefix + iso_text, AUTH_DOCS),
    }


def _own_auth_entries(probe: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """A team's own server, probed as it runs: closed to an anonymous request, or not."""
    where = f"on the team's own server as it runs: {probe['probe']}: HTTP {probe['status']}"
    status = "verified" if probe["outcome"] == "verified" else (
        "absent" if probe["status"] == 200 else "error")
    return {
        "auth": entry(status, where, AUTH_DOCS),
        "isolation": entry("not probed", "a team's own server: per-experiment permissions need "
                           "two users created on it, which the harness does not do", AUTH_DOCS),
    }


def _open_server_entries(probe: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """A server with no auth option, as the harness runs it (Aim's): anonymous access."""
    where = f"the scenario's own server: {probe['probe']}: HTTP {probe['status']}"
    if probe["status"] != 200:
        return {"auth": entry("error", where), "isolation": entry("error", where)}
    return {"auth": entry("absent", f"{where}; the server has no auth option"),
            "isolation": entry("absent", f"{where}: any client reaches every run")}


def coverage_for(label: str, server_probes: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Coverage entries these probes give the scenario ``label`` (empty for serverless ones)."""
    tool, _, scenario = label.rpartition(":")
    server = server_of(tool, scenario, TRACKING_SERVERS)
    label = f"{tool}:{scenario.partition('+')[0]}"  # a variant is probed as its base
    if server is None or label not in server_probes.get("rest_api", {}):
        return {}
    entries = {"rest-api": _rest_entry(server_probes["rest_api"][label])}
    own = (server_probes.get("own_auth") or {}).get(label)
    if own is not None and server in OTHER_SERVERS:
        entries.update(_open_server_entries(own))
    elif own is not None:
        entries.update(_own_auth_entries(own))
    elif server in MLFLOW_SERVERS:
        entries.update(_auth_entries(server_probes.get("auth")))
    return entries
