"""The seed document's claims about MLflow and its alternatives, next to what this run measured.

Each claim is the seed's own words (line cited); its verdict (confirmed / contradicted / not
tested here) is computed from the results file by the claim's check, never written by hand.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from harness.report.coverage import anchor, label, probed
from harness.report.page import Page
from harness.results.derived import kept_fraction
from harness.results.team_scale import scalability_verdict

SEED = "seed/000_2be1d610ecdf44b5.txt"
CONFIRMED, CONTRADICTED, UNTESTED = "confirmed", "contradicted", "not tested here"
Verdict = tuple[str, str]  # (verdict, what was measured: markdown)


@dataclass(frozen=True)
class Claim:
    line: int
    context: str  # where in the seed, in our words
    source: str  # the seed's own words, exactly as on ``line``
    check: Callable[[Mapping[str, Any]], Verdict]


def _entries(results: Mapping[str, Any], tool: str, feature: str,
             local: bool | None = None) -> list[tuple[str, dict[str, Any]]]:
    """(label, entry) of ``feature`` for ``tool``'s probes; ``local``: only/no server ones."""
    servers = {k.partition("+")[0] for k in _rest(results)}
    out = []
    for probe in probed(results):
        name = label(probe)
        if probe["tool"] != tool or feature not in (probe.get("coverage") or {}):
            continue
        if local is not None and (name.partition("+")[0] in servers) == local:
            continue
        out.append((name, probe["coverage"][feature]))
    return out


def _rest(results: Mapping[str, Any]) -> Mapping[str, Any]:
    return (results.get("server_probes") or {}).get("rest_api") or {}


def _listed(entries: list[tuple[str, dict[str, Any]]], feature: str) -> str:
    by_status: dict[str, list[str]] = {}
    for name, entry in entries:
        by_status.setdefault(entry["status"], []).append(name)
    parts = [f"{status} in {', '.join(names)}" for status, names in by_status.items()]
    return f"[{feature}]({anchor(feature)}): " + "; ".join(parts)


def _lacks(tool: str, feature: str, local: bool | None = None
           ) -> Callable[[Mapping[str, Any]], Verdict]:
    """The seed says ``tool`` lacks ``feature``: contradicted if any scenario verified it, as
    run or configured for it (available)."""
    def check(results: Mapping[str, Any]) -> Verdict:
        entries = _entries(results, tool, feature, local)
        statuses = {e["status"] for _, e in entries}
        if not entries or statuses <= {"error", "not testable offline", "not probed"}:
            return UNTESTED, _listed(entries, feature) if entries else "no probe result"
        verdict = CONTRADICTED if statuses & {"verified", "available"} else CONFIRMED
        return verdict, _listed(entries, feature)
    return check


def _has(tool: str, feature: str, local: bool | None = None
         ) -> Callable[[Mapping[str, Any]], Verdict]:
    """The seed says ``tool`` has ``feature``: confirmed if verified, contradicted if absent."""
    def check(results: Mapping[str, Any]) -> Verdict:
        entries = _entries(results, tool, feature, local)
        statuses = {e["status"] for _, e in entries}
        if "verified" in statuses:
            return CONFIRMED, _listed(entries, feature)
        if "absent" in statuses:
            return CONTRADICTED, _listed(entries, feature)
        return UNTESTED, _listed(entries, feature) if entries else "no probe result"
    return check


def _endpoint(method: str, endpoint: str) -> Callable[[Mapping[str, Any]], Verdict]:
    """A REST endpoint the seed names: confirmed if it works on MLflow's own servers."""
    def check(results: Mapping[str, Any]) -> Verdict:
        seen = []
        for name, probes in _rest(results).items():
            if not name.startswith("mlflow:") or not isinstance(probes, list):
                continue
            seen += [(name, p) for p in probes
                     if p["method"] == method and p["endpoint"].endswith(endpoint)]
        if not seen:
            return UNTESTED, "no MLflow server was probed"
        outcomes = {p["outcome"] for _, p in seen}
        text = "; ".join(f"{n}: HTTP {p['status']} ({p['outcome']})"
                         + (f", replaced by {p['replaced_by']}" if p.get("replaced_by") else "")
                         for n, p in seen)
        verdict = CONFIRMED if outcomes == {"works"} else (
            CONTRADICTED if "gone" in outcomes else UNTESTED)
        return verdict, f"[REST API](#rest-api): {text}"
    return check


def _scenario_works(tool: str, scenario: str) -> Callable[[Mapping[str, Any]], Verdict]:
    """A deployment the seed describes: confirmed if its cells kept every value."""
    def check(results: Mapping[str, Any]) -> Verdict:
        cells = [c for c in results.get("cells", [])
                 if c["tool"] == tool and c["scenario"] == scenario]
        if not cells:
            return UNTESTED, f"{tool}:{scenario} was not run"
        ok = [c for c in cells if c["status"] == "ok" and c.get("fidelity")]
        kept = [kept_fraction(c["fidelity"]) for c in ok]
        notes = sorted({n for c in cells for n in c.get("notes") or [] if "refuses" in n})
        text = (f"[fidelity](#fidelity): {len(ok)}/{len(cells)} repeats ok, worst "
                f"{100 * min(kept):.1f}% kept" if kept else f"{len(ok)}/{len(cells)} repeats ok")
        text += "".join(f"; {n}" for n in notes)
        if not ok or min(kept) < 1 or notes:
            return CONTRADICTED, text
        return CONFIRMED, text
    return check


def _alternative(tool: str) -> Callable[[Mapping[str, Any]], Verdict]:
    """An alternative for what MLflow lacks (seed lines 95-98): each of those features."""
    features = ("auth", "data-versioning", "monitoring", "alerts")

    def check(results: Mapping[str, Any]) -> Verdict:
        found = {f: e["status"] for f in features for _, e in _entries(results, tool, f)}
        if not found:
            return UNTESTED, f"{tool} was not probed"
        text = ", ".join(f"[{f}]({anchor(f)}): {s}" for f, s in found.items())
        if any(s in ("absent", "error") for s in found.values()):
            return CONTRADICTED, text
        if all(s == "verified" for s in found.values()):
            return CONFIRMED, text
        return UNTESTED, text + " (the rest needs the hosted service)"
    return check


def _scalability(results: Mapping[str, Any]) -> Verdict:
    """From the team-scale stage: whether MLflow's own servers stopped holding concurrent
    training jobs within the levels tried (see Team scale)."""
    verdict = scalability_verdict(results.get("load"))
    if verdict is None:
        return UNTESTED, ("no team-scale figures in these results (`trackbench load` measures "
                          "them; `--no-load` skips the stage)")
    found, evidence = verdict
    return (CONFIRMED if found == "confirmed" else CONTRADICTED), evidence + " (Team scale)"


def _drift(results: Mapping[str, Any]) -> Verdict:
    entries = _entries(results, "mlflow", "monitoring")
    return UNTESTED, ("drift and accuracy-decay detection are not probed; system metrics: "
                      + (_listed(entries, "monitoring") if entries else "not probed"))


CLAIMS: tuple[Claim, ...] = (
    Claim(27, "Scenario 1 (no tracking server)", "Backend store: local filesystem",
          _scenario_works("mlflow", "file")),
    Claim(40, "Scenario 2", "mlflow server --backend-store-uri sqlite:///backend.db",
          _scenario_works("mlflow", "server-sqlite")),
    Claim(65, "Scenario 3 (line 66: S3 artifacts)", "Backend store: postgresql database.",
          _scenario_works("mlflow", "server-postgres-s3")),
    Claim(49, "`mlflow ui` (no server)", "No REST API = no remote logging.",
          _lacks("mlflow", "rest-api", local=True)),
    Claim(51, "`mlflow server`", "Full **tracking server**, **with REST API**",
          _has("mlflow", "rest-api", local=False)),
    Claim(53, "REST API", "`POST /api/2.0/mlflow/runs/log-metric` → Log metrics",
          _endpoint("POST", "/runs/log-metric")),
    Claim(55, "REST API", "`GET /api/2.0/mlflow/experiments/list` → List experiments",
          _endpoint("GET", "/experiments/list")),
    Claim(57, "REST API", "`DELETE /api/2.0/mlflow/runs/delete` → Delete a run",
          _endpoint("DELETE", "/runs/delete")),
    Claim(76, "Model selection: look at (find the best run by it)", "The loss metric",
          _has("mlflow", "query-api")),
    Claim(91, "MLflow limitations", "Security - restricting access to the server",
          _lacks("mlflow", "auth")),
    Claim(92, "MLflow limitations", "Scalability", _scalability),
    Claim(93, "MLflow limitations", "Isolation - restricting access to certain artifacts",
          _lacks("mlflow", "isolation")),
    Claim(96, "When not to use MLflow", "Authentication and user profiling is required",
          _lacks("mlflow", "auth")),
    Claim(97, "When not to use MLflow", "Data versioning - no in-built functionality",
          _lacks("mlflow", "data-versioning")),
    Claim(98, "When not to use MLflow (drift, accuracy decay)",
          "Real-time model/data monitoring", _drift),
    Claim(98, "When not to use MLflow (raising alerts on failures)", "alerts are required",
          _lacks("mlflow", "alerts")),
    Claim(101, "Alternates", "Nepture.ai", _alternative("neptune")),
    Claim(102, "Alternates", "Comet.ai", _alternative("comet")),
    Claim(103, "Alternates", "Weights and Biases", _alternative("wandb")),
)


def render(page: Page) -> list[str]:
    """The seed-claims section: claim, measured, verdict."""
    rows = []
    for claim in CLAIMS:
        verdict, measured = claim.check(page.results)
        rows.append([f"L{claim.line}", f"{claim.context}: “{claim.source}”", measured,
                     f"**{verdict}**"])
    header = ["seed line", "claim (seed's words)", "measured in this run", "verdict"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in rows]
    return ["## Seed claims", "",
            f"Each claim of the seed document (`{SEED}`) about MLflow and its alternatives, next "
            "to what this run measured. *Alternates* are checked against the features the seed "
            "says MLflow lacks (lines 95-98), offline.", "", *lines, ""]
