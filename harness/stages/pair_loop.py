"""The loop the reliability stages share: one record per pending tool x scenario under
``data["reliability"][KEY]``, saved after each, so ``--resume`` skips the recorded pairs.

A pair that cannot run gets a record that says why instead: skipped by the stage (with its
reason), the tool unavailable, a stage precondition unmet, or its services down.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from adapters.base import REFERENCE_TOOLS
from harness.plan import Plan
from harness.services.base import Service, ServiceError
from harness.stages.cell_batch import in_order
from harness.stages.context import StageContext

Measure = Callable[[str, str, Mapping[str, Service]], dict[str, Any]]
# One pair of a stage that acts just before log_metrics call N+1 (crash, outage):
# (tool, scenario, plan, tmp_root, N, services) -> record.
AtCall = Callable[[str, str, Plan, Path, int, Mapping[str, Service]], dict[str, Any]]
NO_KILL_POINT = "no successful null cell to count the workload's calls"


def pending(data: Mapping[str, Any], key: str,
            pairs: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """The (tool, scenario) pairs with no record under ``data["reliability"][key]`` yet."""
    done = {(r["tool"], r["scenario"]) for r in data["reliability"].get(key, [])}
    return [(t, s) for t, s in pairs if t not in REFERENCE_TOOLS and (t, s) not in done]


def skip_reason(scenario: str, reasons: Mapping[str, str]) -> str | None:
    """Why ``scenario`` is skipped (by its whole name or by its "+variant"), or None."""
    _, sep, variant = scenario.partition("+")
    return reasons.get(scenario) or (reasons.get(sep + variant) if sep else None)


def workload_calls(cells: Iterable[Mapping[str, Any]]) -> int | None:
    """The workload's log_metrics calls, counted on the run's ``null`` floor cells (the same
    workload, the harness alone); None when no floor cell succeeded."""
    counts = [((c.get("calls") or {}).get("metrics") or {}).get("n") for c in cells
              if c.get("tool") == "null" and c.get("status") == "ok"]
    counts = [n for n in counts if n]
    return min(counts) if counts else None


def kill_point(calls: int | None, fraction: float) -> int | None:
    """N: the kill comes just before log_metrics call N+1."""
    return None if calls is None else max(1, min(calls - 1, round(calls * fraction)))


def at_kill_point(ctx: StageContext, one: AtCall) -> tuple[Measure, int | None]:
    """The measure of a stage acting once, at call N+1 (N: the median ``--crash-at`` fraction
    of the workload's calls), recording the calls counted and its duration; and N (None: no
    floor cell to count on)."""
    calls = workload_calls(ctx.data["cells"])
    kill_after = kill_point(calls, statistics.median(ctx.plan.crash_at))

    def measure(tool: str, scenario: str, services: Mapping[str, Service]) -> dict[str, Any]:
        began = time.perf_counter()
        record = one(tool, scenario, ctx.plan, ctx.tmp_root, kill_after or 0, services)
        record.update(workload_calls=calls, duration_s=time.perf_counter() - began)
        return record

    return measure, kill_after


def _cannot_run(ctx: StageContext, base: dict[str, Any], skip: str | None, blocked: str | None,
                missing: Mapping[str, str]) -> tuple[dict[str, Any] | None, Mapping[str, Service]]:
    """The record of a pair that cannot run, or None and the pair's services."""
    if skip:
        return {**base, "status": "skipped", "error": skip}, {}
    if base["tool"] in missing:
        return {**base, "status": "unavailable", "error": missing[base["tool"]]}, {}
    if blocked:
        return {**base, "status": "failed", "error": blocked}, {}
    try:
        return None, ctx.services(base["tool"], base["scenario"])
    except ServiceError as exc:
        return {**base, "status": "failed", "error": f"service did not start: {exc}"}, {}


def run_pairs(ctx: StageContext, key: str, pairs: Iterable[tuple[str, str]], measure: Measure,
              *, started: Callable[[str], None], finished: Callable[[int, int, dict], None],
              skip: Mapping[str, str] | None = None, blocked: str | None = None,
              workers: int = 1) -> None:
    """``measure(tool, scenario, services)`` for each pending pair, ``workers`` at a time;
    ``skip``: scenario or "+variant" -> why it is not run; ``blocked``: why no pair can run (a
    precondition unmet). ``started(label)`` and ``finished(index, count, record)`` tell the
    progress; records are kept in the pairs' order."""
    records = ctx.data["reliability"].setdefault(key, [])
    missing = ctx.unavailable()
    todo = pending(ctx.data, key, pairs)
    count = 0

    def prepare(pair: tuple[str, str]) -> Callable[[], dict[str, Any]]:
        tool, scenario = pair
        base = {"tool": tool, "scenario": scenario, "tool_version": ctx.data["tools"].get(tool)}
        record, services = _cannot_run(ctx, base, skip_reason(scenario, skip or {}), blocked,
                                       missing)
        if record is not None:
            return lambda: record
        started(f"{tool}:{scenario}")
        return lambda: measure(tool, scenario, services)

    def done(_pair: tuple[str, str], record: dict[str, Any]) -> None:
        nonlocal count
        count += 1
        records.append(record)
        ctx.save()
        finished(count, len(todo), record)

    in_order(ctx, todo, prepare, done, workers)
