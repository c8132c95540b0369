"""Bad input: each (tool, scenario) fed every case of :mod:`harness.measure.bad_input_cases`
in a fresh worker, read back in another, each case classified. Records in
``data["reliability"]["bad_input"]``.

A case that kills or hangs the tool's process is attributed to that case, and the remaining
cases run again in a fresh run without it.
"""

from __future__ import annotations

import shutil
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from adapters.base import REFERENCE_TOOLS, TrackerAdapter
from harness.measure import bad_input_cases as cases
from harness.measure.bad_input_feed import in_flight
from harness.measure.bad_input_verdicts import classify_all
from harness.measure.cell import CellRun, ServiceHandle, disk_bytes
from harness.measure.netguard import merged_network
from harness.plan import Cell, Plan
from harness.stages.context import StageContext
from harness.stages.pair_loop import pending, run_pairs

KEY = "bad_input"

# Variants fed bad input too, once per tool (the client's queue behaves alike whatever the
# store): async logging moves errors out of the call. The last such scenario is taken (for
# MLflow, against a tracking server: where a user would turn async logging on). "+batch" is
# not fed: the adapter converts its values (float()) before the tool sees them.
BAD_INPUT_VARIANTS = ("async",)


def bad_input_pairs(pairs: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """Base scenarios, then the last scenario of each variant in BAD_INPUT_VARIANTS, per tool."""
    pairs = list(pairs)
    chosen: list[tuple[str, str]] = []
    for tool in dict.fromkeys(t for t, _ in pairs if t not in REFERENCE_TOOLS):
        scenarios = [s for t, s in pairs if t == tool]
        chosen += [(tool, s) for s in scenarios if TrackerAdapter.VARIANT_SEP not in s]
        for variant in BAD_INPUT_VARIANTS:
            last = [s for s in scenarios
                    if s.partition(TrackerAdapter.VARIANT_SEP)[2] == variant][-1:]
            chosen += [(tool, s) for s in last]
    return chosen


def estimate_s(ctx: StageContext) -> float:
    """Feeding the cases and reading them back takes about one measured cell per pair;
    ``plan.check_workers`` pairs run at once."""
    if not ctx.plan.reliability:
        return 0.0
    todo = pending(ctx.data, KEY, bad_input_pairs(ctx.pairs))
    return sum(ctx.cell_s(f"{t}:{s}") for t, s in todo) / ctx.plan.check_workers


def run(ctx: StageContext) -> None:
    """Every bad-input case for each pair of :func:`bad_input_pairs` not already recorded."""
    if not ctx.plan.reliability:
        return
    pairs = bad_input_pairs(ctx.pairs)
    todo = pending(ctx.data, KEY, pairs)
    if not todo:
        return
    # One large file for every pair, hard-linked into each run's scratch (no copy, no extra disk).
    large_dir = ctx.tmp_root / "bad-input"
    large_dir.mkdir(exist_ok=True)
    large = large_dir / cases.BY_ID["bi15"].name
    started = time.perf_counter()
    large_sha256 = cases.write_large_file(large)
    ctx.data["invocation"]["bad_input_cases"] = {
        c.id: c.description for c in sorted(cases.CASES, key=lambda c: c.id)}
    ctx.progress(f"bad input: {len(cases.CASES)} cases x {len(todo)} tool/scenario pair(s)")

    def measure(tool: str, scenario: str, services: Mapping[str, ServiceHandle]) -> dict:
        return run_pair(tool, scenario, ctx.plan, ctx.tmp_root, services, (large, large_sha256))

    def finished(index: int, count: int, record: dict[str, Any]) -> None:
        tally = Counter(c["outcome"] for c in (record.get("cases") or {}).values())
        detail = ", ".join(f"{tally[o]} {o}" for o in cases.OUTCOMES if tally[o])
        if record["status"] != "ok":
            detail = f"{record['status']}: {str(record['error'])[:90]} {detail}"
        label = f"{record['tool']}:{record['scenario']}"
        ctx.progress(f"[bad input {index}/{count}] {label:<22} {detail}")

    try:
        run_pairs(ctx, KEY, pairs, measure, started=lambda label: None, finished=finished,
                  workers=ctx.plan.check_workers)
        # Services keep what was logged to them (the large artifact included) until the end.
        ctx.progress(f"bad input: done in {time.perf_counter() - started:.0f} s; "
                     f"{disk_bytes(ctx.tmp_root) / 2**20:.0f} MiB now in the run's temp dir")
    finally:
        shutil.rmtree(large_dir, ignore_errors=True)


def run_pair(tool: str, scenario: str, plan: Plan, tmp_root: Path,
             services: Mapping[str, ServiceHandle] | None, large: tuple[Path, str]
             ) -> dict[str, Any]:
    """Feed the cases in a fresh worker, read back in another, classify each case.

    A case in flight when the worker died or hung is recorded as ``crashed`` and the remaining
    cases run again in a fresh run (fresh storage) without it.
    """
    started = time.perf_counter()
    record: dict[str, Any] = {"tool": tool, "scenario": scenario, "status": "ok", "error": None}
    crashed: dict[str, str] = {}
    runs: list[CellRun] = []
    try:
        for attempt in range(cases.MAX_ATTEMPTS):
            run = CellRun(Cell(tool, scenario, attempt, "bad_input"), plan, tmp_root, services)
            runs.append(run)
            progress_path = run.dir / "bad-input.progress"
            spec = {**run.spec, "bad_input": {"progress_path": str(progress_path),
                                              "large_path": str(large[0]),
                                              "skip": sorted(crashed)}}
            out, _ = run.worker(spec, "bad-input", exit_grace_s=plan.exit_grace_s)
            current, calls = in_flight(progress_path)
            if out.get("status") == "ok" or current not in cases.BY_ID:
                break
            crashed[current] = f"worker {out.get('status')}: {out.get('error')}"
            current = None  # attributed to that case; the next attempt runs without it
        stored = None
        if out.get("status") == "ok":
            calls = out["calls"]
            shutil.rmtree(run.workdir, ignore_errors=True)  # only the tool's storage may answer
            read, _ = run.worker({**run.spec, "mode": "read", "ref": out["ref"]}, "read",
                                 exit_grace_s=plan.exit_grace_s)
            if read.get("status") == "ok":
                stored = read["stored"]
                record["notes"] = [str(n)[:300] for n in stored.get("notes", [])]
            else:
                record.update(status="failed",
                              error=f"read-back {read.get('status')}: {read.get('error')}")
        else:
            where = f"in {current}" if current else "worker"
            record.update(status=out.get("status"), error=f"{where}: {out.get('error')}")
        record["said_later"] = out.get("said_later", [])
        record["cases"] = classify_all(calls, stored, large[1], crashed, record["said_later"])
    finally:
        record["network"] = merged_network([run.network() for run in runs])
        for run in runs:
            run.close()
    record["seconds"] = time.perf_counter() - started
    return record
