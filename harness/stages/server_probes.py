"""Probes that need a running MLflow-API server: the REST endpoints the seed names, and
MLflow's basic-auth app (authentication and per-experiment isolation), measured for real.

The REST probe runs against each server scenario's own server; the auth probe against one extra
``mlflow server --app-name basic-auth`` that the harness starts and stops here. Their outcomes
become coverage entries (``rest-api``, ``auth``, ``isolation``) for the server scenarios.
"""

from __future__ import annotations

from typing import Any

from harness.probes.auth import probe_anonymous, probe_auth
from harness.probes.rest import probe_rest_api
from harness.probes.server_coverage import server_of
from harness.services.base import ServiceError
from harness.services.mlflow_server import (
    MLFLOW_SERVERS,
    OTHER_SERVERS,
    TRACKING_SERVERS,
    MlflowServer,
)
from harness.stages.context import StageContext


def run(ctx: StageContext) -> None:
    """``data["server_probes"]``: the REST probe per server scenario, one auth probe if any
    scenario runs an MLflow server (once per run: a resumed run keeps them)."""
    if not ctx.plan.probes or "server_probes" in ctx.data:
        return
    ctx.data["server_probes"] = probe(ctx)
    ctx.save()


def probe(ctx: StageContext) -> dict[str, Any]:
    out: dict[str, Any] = {"rest_api": {}, "auth": None, "own_auth": {}}
    needs_auth_probe = False
    for tool, scenario in ctx.pairs:
        server = server_of(tool, scenario, TRACKING_SERVERS)
        if server is None or "+" in scenario:  # a variant shares its base scenario's server
            continue
        needs_auth_probe |= server in MLFLOW_SERVERS
        label = f"{tool}:{scenario}"
        try:
            service = ctx.services(tool, scenario)[server]
        except ServiceError as exc:
            out["rest_api"][label] = {"error": str(exc)}
            continue
        # A server of another protocol is probed over plain HTTP too: whether it has MLflow's
        # REST API, and whether it answers without credentials.
        uri = (service.endpoints()["aim_server_uri"].replace("aim://", "http://", 1)
               if server in OTHER_SERVERS
               else service.endpoints()["tracking_uri"])
        ctx.progress(f"probing the REST API of {label}")
        out["rest_api"][label] = probe_rest_api(uri)
        if server in OTHER_SERVERS:
            out["own_auth"][label] = probe_anonymous(uri, OTHER_SERVERS[server])
        elif not service.pids():  # a team's own server: its access control, as it runs
            out["own_auth"][label] = probe_anonymous(uri)
    if needs_auth_probe:
        ctx.progress("probing MLflow basic-auth on a server started with --app-name basic-auth")
        auth_server = MlflowServer(ctx.pool.root / "auth", ctx.pool.log_dir,
                                   name="mlflow-server-auth", app_name="basic-auth")
        try:
            with auth_server:
                ep = auth_server.endpoints()
                out["auth"] = probe_auth(ep["tracking_uri"], ep["admin_username"],
                                         ep["admin_password"])
        except ServiceError as exc:
            out["auth"] = {"error": str(exc)}
    return out
