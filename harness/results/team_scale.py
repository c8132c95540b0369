"""Team-scale figures from the ``load`` section of results.json: what each level held, each
server's saturation point, its best throughput against the floor, and the seed's Scalability
claim judged from them. Pure functions of the records, shared by the stage and the report."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

P99_LIMIT_S = 1.0  # a server holds N open-loop jobs while the p99 of a log-batch stays within it
LATE_LIMIT = 0.1  # ... and while at most this share of their steps started late
BATCH = "runs/log-batch metrics"

Record = Mapping[str, Any]


def p99_ms(record: Record) -> float | None:
    return (record.get("endpoints") or {}).get(BATCH, {}).get("p99_ms")


def error_count(record: Record) -> int:
    return sum((record.get("errors") or {}).values())


def late_share(record: Record) -> float | None:
    """Open loop: the share of the jobs' scheduled steps that started more than a step late."""
    if not record.get("rate") or not record.get("seconds"):
        return None
    scheduled = record["users"] * record["rate"] * record["seconds"]
    return min(1.0, record.get("late_steps", 0) / scheduled)


def not_held(record: Record) -> str | None:
    """Why a level did not hold (failed, errors, loss, p99 past the limit, jobs behind their
    schedule), or None."""
    if record.get("status") != "ok":
        return record.get("error") or record.get("status") or "failed"
    if record.get("generator_killed"):
        return "the jobs' requests did not end within 30 s of the level's end"
    points = record.get("points") or {}
    if errors := error_count(record):
        kinds = ", ".join(f"{n} {k}" for k, n in sorted(record["errors"].items()))
        return f"{errors} error(s): {kinds}"
    if points.get("acked_lost"):
        return f"{points['acked_lost']} acknowledged point(s) lost"
    if points.get("runs_unread"):
        return f"{points['runs_unread']} run(s) could not be read back"
    p99 = p99_ms(record)
    if p99 is None:
        return "no log-batch answered"
    if p99 > 1000 * P99_LIMIT_S:
        return f"p99 of a log-batch {p99 / 1000:.1f} s > {P99_LIMIT_S:g} s"
    if (late := late_share(record)) is not None and late > LATE_LIMIT:
        return f"the jobs fell behind: {late:.0%} of their steps started late"
    return None


def levels(load: Mapping[str, Any], target: str, model: str) -> list[Record]:
    return sorted((r for r in load.get("levels", [])
                   if r["target"] == target and r["model"] == model and r["status"] != "skipped"),
                  key=lambda r: r["users"])


def targets(load: Mapping[str, Any]) -> list[str]:
    return list(dict.fromkeys(r["target"] for r in load.get("levels", [])))


def saturation(load: Mapping[str, Any], target: str) -> dict[str, Any]:
    """Open loop: the largest N held with every smaller N held too, the first N not held (and
    why), and the largest N tried."""
    held, first_bad = None, None
    for record in levels(load, target, "open"):
        reason = not_held(record)
        if reason is None and first_bad is None:
            held = record["users"]
        elif reason is not None and first_bad is None:
            first_bad = {"users": record["users"], "why": reason}
    tried = [r["users"] for r in levels(load, target, "open")]
    return {"held": held, "first_not_held": first_bad, "max_tried": max(tried, default=None)}


def best_throughput(load: Mapping[str, Any], target: str) -> Record | None:
    """The closed-loop level with the most points stored per second."""
    ok = [r for r in levels(load, target, "closed") if r["status"] == "ok"]
    return max(ok, key=lambda r: r["stored_points_per_s"], default=None)


def floor_share(load: Mapping[str, Any], target: str) -> float | None:
    """Best stored throughput over the raw insert rate of the target's backend."""
    best = best_throughput(load, target)
    floor = (load.get("floor") or {}).get(load.get("backends", {}).get(target, ""), {})
    rate = floor.get("rows_per_s")
    return best["stored_points_per_s"] / rate if best and rate else None


def generator_bound_levels(load: Mapping[str, Any], target: str) -> list[Record]:
    return [r for r in load.get("levels", []) if r["target"] == target
            and (r.get("generator") or {}).get("bound")]


def scalability_verdict(load: Mapping[str, Any] | None,
                        mlflow_targets: Sequence[str] = ("mlflow:server-sqlite",
                                                         "mlflow:server-postgres-s3")
                        ) -> tuple[str, str] | None:
    """(verdict, evidence) for the seed's "MLflow limitations: Scalability", from MLflow's own
    servers; None without a load section. *confirmed*: an MLflow server stopped holding
    open-loop jobs within the levels tried; *not confirmed*: every level held."""
    if not load or not load.get("levels"):
        return None
    parts, limited = [], False
    for target in mlflow_targets:
        if not levels(load, target, "open"):
            continue
        sat = saturation(load, target)
        best = best_throughput(load, target)
        rate = f", at most {best['stored_points_per_s']:,.0f} points/s stored" if best else ""
        if sat["first_not_held"] is not None:
            limited = True
            parts.append(f"{target} held {sat['held'] or 0} open-loop job(s) at "
                         f"{load['spec']['rate']:g} steps/s, not {sat['first_not_held']['users']}"
                         f" ({sat['first_not_held']['why']}){rate}")
        else:
            parts.append(f"{target} held every level up to {sat['max_tried']} job(s){rate}")
    if not parts:
        return None
    return ("confirmed" if limited else "not confirmed"), "; ".join(parts)
