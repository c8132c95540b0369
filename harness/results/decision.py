"""The answer a team came for, drawn from the results alone: for each of the seed's three team
shapes, which tool:scenarios meet the must-haves (``--require``; only *verified* on the scenario
as run counts), in order of what they would add to the team's training run, with the ones the
run cannot tell apart given a range of ranks, and the red flags beside each.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from adapters.base import REFERENCE_TOOLS
from harness.results import ranking
from harness.results.coverage import requirement_gaps
from harness.results.derived import kept_fraction
from harness.results.projection import TrainingRun, projected_rounds, projection
from harness.results.team_scale import levels, saturation

SHAPES = (
    ("solo", "One data scientist, no server"),
    ("team-local", "A cross-functional team: one data scientist, a local tracking server"),
    ("team-shared", "Several data scientists sharing a server on PostgreSQL and S3"),
)


@dataclass
class Row:
    label: str
    added: tuple[float, float, float] | None  # projected seconds (median, low, high)
    share: float | None  # of the training run's compute
    rounds: int
    missing: dict[str, str]  # unmet must-have -> its status
    flags: list[str] = field(default_factory=list)
    place: ranking.Placing | None = None  # among the rows it is listed with

    @property
    def qualifies(self) -> bool:
        return not self.missing


@dataclass
class Shape:
    key: str
    title: str
    qualifying: list[Row]  # cheapest first, each placed among the qualifying
    others: list[Row]  # measured rows missing a must-have, in the same kind of order
    unmeasured: list[tuple[str, str]]  # (label, why): no successful cell


def shape_of(results: Mapping[str, Any], label: str) -> str:
    """The recorded team shape of a tool:scenario, else one read off its services."""
    recorded = ((results.get("invocation") or {}).get("shapes") or {}).get(label)
    if recorded:
        return recorded
    names = {name for c in results["cells"] if f"{c['tool']}:{c['scenario']}" == label
             for name in (c.get("services") or {})}
    if not names:
        return "solo"
    shared = {"postgres", "s3", "external-tracking", "mlflow-server-postgres-s3"}
    return "team-shared" if names & shared else "team-local"


def _flags(results: Mapping[str, Any], label: str) -> list[str]:
    """Red flags of a tool:scenario: data lost, crash losses, attempts to leave the machine."""
    cells = [c for c in results["cells"] if f"{c['tool']}:{c['scenario']}" == label]
    flags = []
    failed = [c for c in cells if c["status"] != "ok"]
    if failed:
        flags.append(f"{len(failed)} of {len(cells)} runs {failed[0]['status']}")
    kept = [k for c in cells if c["status"] == "ok" and c.get("fidelity")
            if (k := kept_fraction(c["fidelity"])) is not None]
    if kept and min(kept) < 1:
        flags.append(f"fidelity {100 * min(kept):.1f}%")
    for record in (results.get("reliability") or {}).get("crash") or []:
        if f"{record['tool']}:{record['scenario']}" != label:
            continue
        kills = [k for k in record.get("kills") or [record] if k.get("recovered_pct") is not None]
        if kills and min(k["recovered_pct"] for k in kills) < 100:
            flags.append(f"crash: {min(k['recovered_pct'] for k in kills):.0f}% kept at worst "
                         f"({len(kills)} kills)")
    attempts = sum((c.get("network") or {}).get("seen") or 0
                   for c in [*cells, *results.get("probes", [])]
                   if f"{c['tool']}:{c['scenario']}" == label)
    if attempts:
        flags.append(f"{attempts} network attempts while offline")
    return flags + _team_scale_flags(results.get("load"), label.split("+")[0])


def _team_scale_flags(load: Mapping[str, Any] | None, server: str) -> list[str]:
    """A shared server that stopped holding concurrent jobs, or lost acknowledged points."""
    if not load or not levels(load, server, "open") and not levels(load, server, "closed"):
        return []
    flags = []
    sat = saturation(load, server)
    if (first := sat["first_not_held"]) is not None:
        flags.append(f"team scale: held {sat['held'] or 0} concurrent jobs, not {first['users']} "
                     f"({first['why']})")
    lost = sum((r.get("points") or {}).get("acked_lost", 0) for r in load["levels"]
               if r["target"] == server)
    if lost:
        flags.append(f"team scale: {lost:,} acknowledged points lost")
    return flags


def decide(results: Mapping[str, Any]) -> list[Shape]:
    """Page one, shape by shape."""
    required = (results.get("invocation") or {}).get("require") or []
    coverage = {f"{p['tool']}:{p['scenario']}": p.get("coverage") or {}
                for p in results.get("probes") or []}
    cost = projection(results)
    run = TrainingRun.from_dict((results.get("invocation") or {}).get("training_run"))
    rounds = projected_rounds(results["cells"], run.calls)
    labels = list(dict.fromkeys(f"{c['tool']}:{c['scenario']}" for c in results["cells"]
                                if c["tool"] not in REFERENCE_TOOLS))
    shapes = []
    for key, title in SHAPES:
        rows, unmeasured = [], []
        for label in (lbl for lbl in labels if shape_of(results, lbl) == key):
            if label not in cost:
                why = next((str(c.get("error")) for c in results["cells"]
                            if f"{c['tool']}:{c['scenario']}" == label and c.get("error")),
                           "no successful cell")
                unmeasured.append((label, why))
                continue
            rows.append(Row(label, cost[label]["added_s"], cost[label]["share"],
                            cost[label]["rounds"], requirement_gaps(coverage.get(label, {}),
                                                                    required),
                            _flags(results, label)))
        shapes.append(Shape(key, title, _placed([r for r in rows if r.qualifies], rounds),
                            _placed([r for r in rows if not r.qualifies], rounds), unmeasured))
    return shapes


def _placed(rows: list[Row], rounds: Mapping[str, Mapping[int, float]]) -> list[Row]:
    by_label = {row.label: row for row in rows}
    return [replace(by_label[p.label], place=p)
            for p in ranking.placings(rounds, list(by_label))]


def summary(results: Mapping[str, Any]) -> dict[str, Any]:
    """What page one concludes, kept with the next run's results to check it repeats: per
    shape, the qualifying tool:scenarios and the orderings among them it calls significant."""
    run = TrainingRun.from_dict((results.get("invocation") or {}).get("training_run"))
    rounds = projected_rounds(results["cells"], run.calls)
    out = {}
    for shape in decide(results):
        qualifying = sorted(r.label for r in shape.qualifying)
        # When none qualifies, page one orders the closest: that order must repeat too.
        closest = sorted(r.label for r in shape.others)
        out[shape.key] = {"qualifying": qualifying, "closest": closest,
                          "ordered": sorted(map(list, ranking.significant_pairs(
                              rounds, qualifying + closest)))}
    return out


def repeats(now: Mapping[str, Any], before: Mapping[str, Any]) -> dict[str, Any]:
    """Whether page one repeated: the same qualifying sets, and no pair of tool:scenarios on
    page one (qualifying or closest) that one run calls significantly different in the opposite
    order in the other."""
    changed, contradicted = [], []
    for key, _ in SHAPES:
        mine, theirs = now.get(key) or {}, before.get(key) or {}
        if mine.get("qualifying", []) != theirs.get("qualifying", []):
            changed.append(key)
        earlier = {tuple(pair) for pair in theirs.get("ordered", [])}
        contradicted += [(key, a, b) for a, b in mine.get("ordered", []) if (b, a) in earlier]
    return {"changed_sets": changed, "contradicted": contradicted}
