"""Probe MLflow's basic-auth app: is the server closed to strangers and are experiments private?

The seed lists "authentication and user profiling" as a reason not to use MLflow. The
``basic-auth`` app answers that claim with requests that can be run: anonymous calls, two users,
one user's experiment that the other may not touch until its owner grants access. Run against a
server started with ``MlflowServer(app_name="basic-auth")``, whose config sets
``default_permission = NO_PERMISSIONS``.
"""

from __future__ import annotations

import secrets
import urllib.parse
from typing import Any

from harness.services.http import http_json

API2 = "/api/2.0/mlflow"
# MLflow 2.x per-resource grant; MLflow 3 replaced it with the unified per-user grant below.
LEGACY_GRANT = f"{API2}/experiments/permissions/create"
GRANT = "/api/3.0/mlflow/users/permissions/grant"

Creds = tuple[str, str] | None


def _probe(probe: str, expected: int, status: int | None, evidence: str) -> dict[str, Any]:
    return {"probe": probe, "expected": expected, "status": status,
            "outcome": "verified" if status == expected else "not as expected",
            "evidence": evidence}


def _grant_read(base: str, owner: Creds, admin: Creds, grantee: str,
                exp_id: str) -> tuple[int | None, str]:
    """Owner grants READ through MLflow 3's endpoint, or the 2.x one where that is missing.

    The 2.x route is also called as admin, only to record whether it still exists: for a
    non-admin an unknown route is a 403 (auth fails closed), for the admin a plain 404.
    """
    body = {"username": grantee, "resource_type": "experiment", "resource_id": exp_id,
            "permission": "READ"}
    legacy_body = {"experiment_id": exp_id, "username": grantee, "permission": "READ"}
    status, _ = http_json("POST", base + GRANT, body, owner)
    if status in (404, 405):
        legacy, _ = http_json("POST", base + LEGACY_GRANT, legacy_body, owner)
        return legacy, f"POST {GRANT}: {status}; POST {LEGACY_GRANT} as owner: {legacy}"
    legacy, _ = http_json("POST", base + LEGACY_GRANT, legacy_body, admin)
    return status, f"POST {GRANT} as owner: {status}; 2.x {LEGACY_GRANT} as admin: {legacy}"


def probe_auth(base_url: str, admin_user: str, admin_password: str) -> list[dict[str, Any]]:
    """One entry per access-control probe; every status, 401/403 included, is a finding."""
    base = base_url.rstrip("/")
    admin = (admin_user, admin_password)
    suffix = secrets.token_hex(3)  # fresh users each call: the probe can run twice on one server
    alice = (f"alice-{suffix}", secrets.token_urlsafe(18))  # MLflow wants >= 12 characters
    bob = (f"bob-{suffix}", secrets.token_urlsafe(18))
    probes: list[dict[str, Any]] = []

    def api(method: str, path: str, body: dict[str, Any] | None, who: Creds) -> int | None:
        return http_json(method, base + API2 + path, body, who)[0]

    search = "/experiments/search"
    probes.append(_probe("anonymous POST experiments/search", 401,
                         api("POST", search, {"max_results": 1}, None), "no Authorization header"))
    probes.append(_probe("wrong password", 401,
                         api("POST", search, {"max_results": 1}, (admin_user, "wrong-password")),
                         f"user {admin_user}, bad password"))
    for user in (alice, bob):
        status = api("POST", "/users/create", {"username": user[0], "password": user[1]}, admin)
        probes.append(_probe(f"admin creates user {user[0]}", 200, status,
                             f"POST {API2}/users/create as {admin_user}"))
    probes.append(_probe("non-admin creates a user", 403,
                         api("POST", "/users/create",
                             {"username": f"eve-{suffix}", "password": alice[1]}, bob),
                         f"POST {API2}/users/create as {bob[0]}"))

    status, body = http_json("POST", base + API2 + "/experiments/create",
                             {"name": f"private-{suffix}"}, alice)
    exp_id = str(body.get("experiment_id")) if isinstance(body, dict) else ""
    probes.append(_probe("alice creates an experiment", 200, status,
                         f"POST {API2}/experiments/create as {alice[0]}: id {exp_id}"))
    get = f"/experiments/get?{urllib.parse.urlencode({'experiment_id': exp_id})}"
    run = {"experiment_id": exp_id}
    read_as = f"GET {API2}/experiments/get?experiment_id={exp_id} as"
    write_as = f"POST {API2}/runs/create in experiment {exp_id} as"
    probes.append(_probe("alice (owner) reads her experiment", 200,
                         api("GET", get, None, alice), f"{read_as} {alice[0]}"))
    probes.append(_probe("bob reads alice's experiment, no grant", 403,
                         api("GET", get, None, bob), f"{read_as} {bob[0]}"))
    probes.append(_probe("bob writes to alice's experiment, no grant", 403,
                         api("POST", "/runs/create", run, bob), f"{write_as} {bob[0]}"))

    status, how = _grant_read(base, alice, admin, bob[0], exp_id)
    probes.append(_probe("alice (owner) grants bob READ", 200, status, how))
    probes.append(_probe("bob reads alice's experiment after the READ grant", 200,
                         api("GET", get, None, bob), f"{read_as} {bob[0]}"))
    probes.append(_probe("bob writes to it with READ only", 403,
                         api("POST", "/runs/create", run, bob), f"{write_as} {bob[0]}"))
    return probes


def probe_anonymous(base_url: str, path: str | None = None) -> dict[str, Any]:
    """A server as it runs (a team's own, or one without an auth option): does it answer a
    request without credentials? MLflow's experiments/search, or a GET of ``path``."""
    if path is None:
        status, _ = http_json("POST", base_url.rstrip("/") + API2 + "/experiments/search",
                              {"max_results": 1}, None)
        return _probe("anonymous POST experiments/search", 401, status, "no Authorization header")
    status, _ = http_json("GET", base_url.rstrip("/") + path, None, None)
    return _probe(f"anonymous GET {path}", 401, status, "no Authorization header")
