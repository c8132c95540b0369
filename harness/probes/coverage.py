"""Coverage probes: executable checks whose outcome, not a hand-written table, gives each verdict.

One probe run per tool and scenario (worker mode ``probe``) runs the probe workload with system
metrics forced on, then calls each optional adapter feature for real: two versions of a
dataset, a model-registry entry, an alert, and (after the run) a query for the best of several
runs. A fresh read-back process holding no credentials then reads the store and copies the
tool's offline bundle; a third process reads only that copy, originals hidden. :func:`verdicts`
turns what happened into one entry per feature: ``verified``, ``absent``, ``not testable
offline`` (with a docs link) or ``error`` (with the message).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from harness.results.coverage import FEATURES, NOT_AS_RUN, entry
from harness.results.method import PROBE_SECONDS


def _read_failed(read: Mapping[str, Any]) -> dict[str, Any] | None:
    if read.get("status") != "ok":
        return entry("error", f"read-back failed: {read.get('error')}")
    return None


DATABASE_ACCESS = ("the tool has no access control of its own: a fresh process given only "
                   "the database's connection string (PostgreSQL's password, which every job "
                   "writing to it holds)")


def _auth(read: Mapping[str, Any], hosted_auth_docs: str | None,
          database: bool = False) -> dict[str, Any]:
    if failed := _read_failed(read):
        return failed
    if database:
        return entry("absent", f"{DATABASE_ACCESS} wrote a run to the store and read it back")
    if hosted_auth_docs:
        return entry(
            "not testable offline",
            "a fresh process holding no credentials read the offline run back; access control "
            "exists only in the hosted service",
            hosted_auth_docs,
        )
    return entry(
        "absent",
        "a fresh process holding no credentials wrote a run to the store and read it back",
    )


def _isolation(read: Mapping[str, Any], hosted_auth_docs: str | None,
               database: bool = False) -> dict[str, Any]:
    if failed := _read_failed(read):
        return failed
    if database:
        return entry("absent", f"{DATABASE_ACCESS} read the run's params, metrics and "
                     "artifacts: no permission of the tool separates one user's or "
                     "experiment's data from another's")
    if hosted_auth_docs:
        return entry(
            "not testable offline",
            "the offline run is plain local files any process can read (read back without "
            "credentials); per-user and per-project permissions exist only in the hosted service",
            hosted_auth_docs,
        )
    return entry(
        "absent",
        "a fresh process holding no credentials read the run's params, metrics and artifacts: "
        "no permission separates one user's or experiment's data from another's",
    )


def _attempt_entry(probe: Mapping[str, Any] | None, found: list[str], what: str | None
                   ) -> dict[str, Any]:
    """Verdict for a feature call made in the probe run, with what the read-back found
    (``what`` None: the feature leaves nothing in the store to look for)."""
    probe = probe or {}
    outcome, message = probe.get("outcome"), probe.get("message") or ""
    seen = f"read back: {what} {', '.join(found)}" if found else f"read back: no {what} stored"
    if outcome == "hosted":
        text = f"{message}; {seen}" if what else message
        return entry("not testable offline", text, probe.get("docs"))
    if outcome == "unsupported":
        return entry("absent", message)
    if outcome != "logged":
        return entry("error", message or "probe call did not run")
    if found:
        return entry("verified", f"{message}; {seen}")
    return entry("error", f"{message}, but {seen}")


def _data_versioning(log: Mapping[str, Any], read: Mapping[str, Any]) -> dict[str, Any]:
    """Told apart (distinct ids) and retrievable: some stored reference still leads to the first
    version's bytes, after the probe overwrote the file in place with the second version and
    its scratch dir was deleted (a reference to the user's file is then not enough)."""
    probe = log.get("dataset_probe") or {}
    if probe.get("outcome") != "logged":
        return _attempt_entry(probe, [], "dataset")
    if failed := _read_failed(read):
        return failed
    stored = read["stored"]
    digests = {d for name, d in stored["datasets"] if name == "probe-dataset"}
    if len(digests) == 1:
        return entry("absent", "two different versions were stored under one id")
    if not digests:
        return entry("error", "two versions were logged but none was read back")
    told = (f"2 versions of one dataset told apart by distinct ids "
            f"({', '.join(sorted(d[:10] for d in digests))})")
    followed = stored.get("dataset_sha256") or []
    if len(followed) != len(stored["datasets"]):
        return entry("error", f"{told}; the read-back did not follow the stored references to "
                      "the versions' bytes, so retrieval is unchecked")
    first, second = probe["sha256"]
    reached = {sha for (name, _), sha in zip(stored["datasets"], followed, strict=True)
               if name == "probe-dataset"}
    if first in reached:
        both = " (and the second's)" if second in reached else ""
        return entry("verified", f"{told}; the first version's bytes{both} are retrievable "
                      "through the tool's stored reference (sha256 matches), after the file was "
                      "overwritten in place and then deleted with the probe's scratch dir")
    paths = sorted({where for key, where in (stored.get("referenced") or {}).items()
                    if key.startswith("dataset probe-dataset ")})
    if second in reached:
        led = "leads to the file as changed in place, now the second version's bytes"
    elif reached - {None}:
        led = "leads to bytes matching neither version"
    elif paths:
        led = (f"is a path to the user's file ({', '.join(paths)}), which is not the tool's "
               "storage")
    else:
        led = ("leads to nothing: the file, overwritten in place by the second version, was then "
               "deleted with the probe's scratch dir")
    return entry("absent", f"{told}, but only a reference to the source is kept: the first "
                  f"version's bytes are gone once the file changes (the stored reference {led})")


def _monitoring(read: Mapping[str, Any], seconds: float) -> dict[str, Any]:
    if failed := _read_failed(read):
        return failed
    series = read["stored"]["system_metrics"]
    points = sum(series.values())
    if points:
        names = ", ".join(sorted(series)[:3])
        return entry(
            "verified",
            f"{len(series)} system series, {points} points stored in a {seconds:.0f} s run "
            f"(e.g. {names})",
        )
    return entry("absent", f"system metrics enabled, none stored in a {seconds:.0f} s run")


def _stored(read: Mapping[str, Any], key: str) -> list[str]:
    values = (read.get("stored") or {}).get(key) or []
    return [":".join(map(str, v)) if isinstance(v, list | tuple) else str(v) for v in values]


def _query(log: Mapping[str, Any]) -> dict[str, Any]:
    probe = log.get("query_probe") or {}
    if probe.get("outcome") == "found":
        return entry("verified", probe["message"])
    if probe.get("outcome") == "wrong":
        return entry("error", probe["message"])
    return _attempt_entry(probe, [], None)


def _offline_sync(bundle: Mapping[str, Any] | None) -> dict[str, Any]:
    if not bundle:
        return entry("error", "no bundle check ran (the read-back failed)")
    outcome = bundle.get("outcome")
    if outcome != "copied":
        return _attempt_entry(bundle, [], None)
    read = bundle.get("read") or {}
    where = (f"a copy of only {bundle['name']} ({bundle['files']} file(s), {bundle['bytes']} B), "
             "read in a fresh directory and HOME with the originals moved away")
    if read.get("status") != "ok":
        return entry("error", f"{where} could not be read: {read.get('error')}")
    fid = read["fidelity"]
    counts = ", ".join(f"{kind} {fid[kind]['kept']}/{fid[kind]['logged']}" for kind in fid)
    gaps = [f"{kind}: {fid[kind]['missing']} missing, {fid[kind]['altered']} altered"
            for kind in fid if fid[kind]["missing"] or fid[kind]["altered"]]
    gaps += [f"{kind}: {fid[kind]['referenced']} referenced, not stored" for kind in fid
             if fid[kind].get("referenced")]
    gaps += dict.fromkeys(read.get("unresolved") or [])  # one line per distinct gap
    if not read.get("datasets_same", True):
        gaps.append("dataset versions differ from the original store's")
    if gaps:
        return entry("absent", f"incomplete: {where} kept {counts}; " + "; ".join(gaps))
    return entry("verified", f"{where} kept {counts}")


def _rest_api(read: Mapping[str, Any], hosted_api_docs: str | None,
              server: bool) -> dict[str, Any]:
    if server:
        return entry("error", "this scenario runs a server but no REST probe result exists")
    if failed := _read_failed(read):
        return failed
    if hosted_api_docs:
        return entry("not testable offline", "the offline run was written and read back as "
                      "local files; the tool's REST API is served only by its hosted service",
                      hosted_api_docs)
    return entry("absent", "no server in this scenario: the run was written and read back "
                  "through the tool's client (local files or a database connection), with no "
                  "HTTP endpoint")


def verdicts(
    log: Mapping[str, Any], read: Mapping[str, Any], hosted_auth_docs: str | None,
    seconds: float = PROBE_SECONDS, *, hosted_api_docs: str | None = None,
    server: bool = False, database: bool = False, bundle: Mapping[str, Any] | None = None,
) -> dict[str, dict[str, Any]]:
    """One entry per feature from the probe's log, read-back and bundle-copy results.
    ``server``: the scenario runs a tracking server (its REST probe fills rest-api);
    ``database``: the tool's client writes to a database server directly."""
    if log.get("status") != "ok":
        failed = entry("error", f"probe run {log.get('status')}: {log.get('error')}")
        return {feature: failed for feature in FEATURES}
    return {
        "auth": _auth(read, hosted_auth_docs, database),
        "isolation": _isolation(read, hosted_auth_docs, database),
        "data-versioning": _data_versioning(log, read),
        "monitoring": _monitoring(read, seconds),
        "alerts": _attempt_entry(log.get("alert_probe"), _stored(read, "alerts"), "alert"),
        "model-registry": _attempt_entry(log.get("registry_probe"), _stored(read, "models"),
                                         "model version"),
        "offline-sync": _offline_sync(bundle),
        "query-api": _query(log),
        "rest-api": _rest_api(read, hosted_api_docs, server),
    }


def merge(local: Mapping[str, Any], server: Mapping[str, Any]) -> dict[str, Any]:
    """Server-probe entries replace local ones; where the server's auth is only *available*
    (verified on a server configured for it), the local evidence of the scenario as run (a
    credential-less read succeeded) is kept beside it."""
    merged = dict(local)
    for feature, found in server.items():
        before = local.get(feature) or {}
        if found["status"] == "available" and before.get("status") == "absent":
            found = {**found, "evidence": f"{found['evidence']}; {NOT_AS_RUN} "
                     f"({before['evidence']})", "as_run": "absent"}
        merged[feature] = found
    return merged
