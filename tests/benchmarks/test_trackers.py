"""The comparative benchmarks: one per tool, same workload. Run with ``pytest --benchmark``.

pytest-benchmark times each round: one fresh worker process that imports the tool, runs the
workload through it and finishes (what a user waits for). Read-back and fidelity happen after the
timed rounds, and every round's full record goes into the markdown report.
"""

from __future__ import annotations

import dataclasses
import statistics

import pytest

import adapters
from harness import runner


@pytest.mark.benchmark_cell
def test_tracker(benchmark, bench_cell, bench_plan, bench_tmp, bench_services, bench_records):
    cls = adapters.load(bench_cell.tool)
    names = cls.scenario_services.get(bench_cell.scenario, ()) if cls is not None else ()
    services = bench_services.get(names)  # a service that cannot start fails the benchmark
    runs: list[runner.CellRun] = []

    def one_round() -> None:
        cell = dataclasses.replace(bench_cell, repeat=len(runs))
        run = runner.CellRun(cell, bench_plan, bench_tmp, services)
        runs.append(run)
        run.log()

    benchmark.pedantic(one_round, rounds=bench_plan.repeats, iterations=1, warmup_rounds=0)
    for run in runs:
        run.read()
        run.close()
        bench_records.append(run.record)
    records = [run.record for run in runs]
    benchmark.extra_info.update(
        tool=bench_cell.tool, scenario=bench_cell.scenario,
        tool_version=records[0].get("tool_version"),
        e2e_s_median=statistics.median(r.get("e2e_s") or 0.0 for r in records),
        blocked_s_median=statistics.median(r.get("blocked_s") or 0.0 for r in records),
    )
    statuses = {r["status"] for r in records}
    if statuses == {"unavailable"}:
        pytest.skip(f"{bench_cell.tool} is not installed or failed to import: "
                    f"{records[0]['error']}")
    assert statuses == {"ok"}, [r.get("error") for r in records]
