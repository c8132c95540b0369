"""The comparative benchmarks: one per tool, same workload. Run with ``pytest --benchmark``.

pytest-benchmark times each round: one fresh worker process that imports the tool, runs the
workload through it, finishes and exits (what a user waits for), and nothing else. The harness's
own work around it (flushing pending writes, starting the service samplers, sizing disk, the
database and the bucket) runs in the round's setup, outside the timed window; read-back and
fidelity happen after the timed rounds, and every round's full record goes into the report.
"""

from __future__ import annotations

import dataclasses
import statistics

import pytest

import adapters
from harness.measure.cell import CellRun


@pytest.mark.benchmark_cell
def test_tracker(benchmark, bench_cell, bench_plan, bench_tmp, bench_services, bench_records):
    cls = adapters.load(bench_cell.tool)
    names = cls.services_for(bench_cell.scenario) if cls is not None else ()
    services = bench_services.get(names)  # a service that cannot start fails the benchmark
    runs: list[CellRun] = []
    measured: list[tuple] = []  # the timed process's answer and tree stats, per round

    def setup() -> None:
        if measured:  # the previous round's record is completed here, outside the timing
            runs[-1].after_log(*measured[-1])
        run = CellRun(dataclasses.replace(bench_cell, repeat=len(runs)), bench_plan, bench_tmp,
                      services)
        runs.append(run)
        run.before_log()

    def one_round() -> None:
        measured.append(runs[-1].run_log())

    benchmark.pedantic(one_round, setup=setup, rounds=bench_plan.repeats, iterations=1,
                       warmup_rounds=0)
    runs[-1].after_log(*measured[-1])
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


@pytest.mark.benchmark_cell
def test_team_scale(benchmark, bench_plan, bench_load, tmp_path):
    """The quick team-scale stage (``--trackbench-load``), timed as one round; its levels,
    queries, cross-check and floor go into the session's report."""
    if bench_plan.load is None:
        pytest.skip("the team-scale stage runs with --trackbench-load")
    from harness import results, runner
    from harness.results.team_scale import saturation, targets

    data = results.new_results({}, {})
    benchmark.pedantic(lambda: runner.run_stages(runner.LOAD_STAGES, bench_plan, [], data,
                                                 None, print),
                       rounds=1, iterations=1, warmup_rounds=0)
    bench_load.update(data["load"])
    benchmark.extra_info.update({f"{t} held": saturation(data["load"], t)["held"]
                                 for t in targets(data["load"])})
    assert data["load"].get("done")
    assert all(r["status"] in ("ok", "skipped") for r in data["load"]["levels"]), [
        r.get("error") for r in data["load"]["levels"] if r["status"] not in ("ok", "skipped")]


@pytest.mark.benchmark_cell
def test_harness_cost_is_under_5_percent_of_the_fastest_tool(benchmark, bench_records, tmp_path):
    """The facade (ledger + timing) per log_metrics call, against the fastest tool's per-call
    median measured by the benchmarks above in this same session."""
    from adapters.base import AdapterSettings
    from adapters.null import NullAdapter
    from harness.measure.tracker import Tracker

    adapter = NullAdapter(AdapterSettings(storage_dir=tmp_path))
    tracker = Tracker(adapter, tmp_path)
    metrics = {"loss": 0.5, "accuracy": 0.9, "lr": 0.01}
    calls = 10_000

    def direct() -> None:
        for step in range(calls):
            adapter.log_metrics(metrics, step)

    def facade() -> None:
        for step in range(calls):
            tracker.log_metrics(metrics, step)

    direct_s = min(_timed(direct) for _ in range(5))
    benchmark.pedantic(facade, rounds=5, iterations=1)
    facade_s = benchmark.stats.stats.min
    per_call = max(0.0, facade_s - direct_s) / calls
    tools = [r for r in bench_records if r["tool"] not in ("none", "null")
             and r["status"] == "ok" and r["calls"]["metrics"]["p50_s"]]
    if not tools:
        pytest.skip("no tracker benchmark ran in this session to compare against")
    fastest = min(tools, key=lambda r: r["calls"]["metrics"]["p50_s"])
    share = per_call / fastest["calls"]["metrics"]["p50_s"]
    benchmark.extra_info.update(harness_per_call_s=per_call, fastest=fastest["tool"],
                                fastest_p50_s=fastest["calls"]["metrics"]["p50_s"], share=share)
    assert share <= 0.05, f"harness adds {per_call * 1e6:.2f} µs/call = {share:.1%} of {fastest}"


def _timed(fn) -> float:
    import time

    start = time.perf_counter()
    fn()
    return time.perf_counter() - start
