"""The bad-input stage of a run: each (tool, scenario) fed every case of
:mod:`harness.bad_input` in a fresh worker, read back in another, each case classified.

A case that kills or hangs the tool's process is attributed to that case, and the remaining
cases run again in a fresh run without it.
"""

from __future__ import annotations

import shutil
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from adapters.base import TrackerAdapter
from harness import bad_input
from harness.crash_safety import unavailable_tools
from harness.runner import ALWAYS, Cell, CellRun, Plan, _worker, disk_bytes
from harness.services.base import Service, ServiceError

# Variants fed bad input too, once per tool (the client's queue behaves alike whatever the
# store): async logging moves errors out of the call. The last such scenario is taken (for
# MLflow, against a tracking server: where a user would turn async logging on). "+batch" is
# not fed: the adapter converts its values (float()) before the tool sees them.
BAD_INPUT_VARIANTS = ("async",)


def bad_input_pairs(pairs: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """Base scenarios, then the last scenario of each variant in BAD_INPUT_VARIANTS, per tool."""
    pairs = list(pairs)
    chosen: list[tuple[str, str]] = []
    for tool in dict.fromkeys(t for t, _ in pairs if t not in ALWAYS):
        scenarios = [s for t, s in pairs if t == tool]
        chosen += [(tool, s) for s in scenarios if TrackerAdapter.VARIANT_SEP not in s]
        for variant in BAD_INPUT_VARIANTS:
            last = [s for s in scenarios
                    if s.partition(TrackerAdapter.VARIANT_SEP)[2] == variant][-1:]
            chosen += [(tool, s) for s in last]
    return chosen


def run(data: dict[str, Any], pairs: Iterable[tuple[str, str]], plan: Plan, tmp_root: Path,
        get_services: Callable[[str, str], Mapping[str, Service]],
        save: Callable[[], None], progress: Callable[[str], None]) -> None:
    """Every bad-input case for each (tool, base scenario) not already recorded
    (``data["reliability"]["bad_input"]``), saved after each pair."""
    done = data["reliability"].setdefault("bad_input", [])
    have = {(r["tool"], r["scenario"]) for r in done}
    todo = [p for p in bad_input_pairs(pairs) if p not in have]
    missing = unavailable_tools(data["cells"])
    if not todo:
        return
    # One large file for every pair, hard-linked into each run's scratch (no copy, no extra disk).
    large_dir = tmp_root / "bad-input"
    large_dir.mkdir(exist_ok=True)
    large = large_dir / bad_input.BY_ID["bi15"].name
    started = time.perf_counter()
    large_sha256 = bad_input.write_large_file(large)
    data["invocation"]["bad_input_cases"] = {
        c.id: c.description for c in sorted(bad_input.CASES, key=lambda c: c.id)}
    progress(f"bad input: {len(bad_input.CASES)} cases x {len(todo)} tool/scenario pair(s)")
    try:
        for index, (tool, scenario) in enumerate(todo, 1):
            label = f"{tool}:{scenario}"
            if tool in missing:
                record = {"tool": tool, "scenario": scenario, "status": "unavailable",
                          "error": missing[tool], "cases": {}}
            else:
                record = _with_services(tool, scenario, plan, tmp_root, get_services,
                                        (large, large_sha256))
            done.append(record)
            save()
            tally = Counter(c["outcome"] for c in record["cases"].values())
            detail = ", ".join(f"{tally[o]} {o}" for o in bad_input.OUTCOMES if tally[o])
            if record["status"] != "ok":
                detail = f"{record['status']}: {str(record['error'])[:90]} {detail}"
            progress(f"[bad input {index}/{len(todo)}] {label:<22} {detail}")
        # Services keep what was logged to them (the large artifact included) until the end.
        progress(f"bad input: done in {time.perf_counter() - started:.0f} s; "
                 f"{disk_bytes(tmp_root) / 2**20:.0f} MiB now in the run's temp dir")
    finally:
        shutil.rmtree(large_dir, ignore_errors=True)


def _with_services(tool: str, scenario: str, plan: Plan, tmp_root: Path,
                   get_services: Callable[[str, str], Mapping[str, Service]],
                   large: tuple[Path, str]) -> dict[str, Any]:
    try:
        services = get_services(tool, scenario)
    except ServiceError as exc:
        return {"tool": tool, "scenario": scenario, "status": "failed",
                "error": f"service did not start: {exc}", "cases": {}}
    return run_pair(tool, scenario, plan, tmp_root, services, large)


def run_pair(tool: str, scenario: str, plan: Plan, tmp_root: Path,
                  services: Mapping[str, Service] | None, large: tuple[Path, str]
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
        for attempt in range(bad_input.MAX_ATTEMPTS):
            run = CellRun(Cell(tool, scenario, attempt, "bad_input"), plan, tmp_root, services)
            runs.append(run)
            progress_path = run.dir / "bad-input.progress"
            spec = {**run.spec, "bad_input": {"progress_path": str(progress_path),
                                              "large_path": str(large[0]),
                                              "skip": sorted(crashed)}}
            out, _ = _worker(spec, run.dir, "bad-input", plan.timeout_s, run.env,
                             plan.exit_grace_s)
            current, calls = bad_input.in_flight(progress_path)
            if out.get("status") == "ok" or current not in bad_input.BY_ID:
                break
            crashed[current] = f"worker {out.get('status')}: {out.get('error')}"
            current = None  # attributed to that case; the next attempt runs without it
        stored = None
        if out.get("status") == "ok":
            calls = out["calls"]
            shutil.rmtree(run.workdir, ignore_errors=True)  # only the tool's storage may answer
            read, _ = _worker({**run.spec, "mode": "read", "ref": out["ref"]}, run.dir, "read",
                              plan.timeout_s, run.env, plan.exit_grace_s)
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
        record["cases"] = bad_input.classify_all(calls, stored, large[1], crashed,
                                                 record["said_later"])
    finally:
        for run in runs:
            run.close()
    record["seconds"] = time.perf_counter() - started
    return record
