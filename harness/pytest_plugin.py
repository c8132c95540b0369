"""``pytest --benchmark``: the comparative tracker benchmarks, through pytest-benchmark.

Plain ``pytest`` runs the test suite and deselects the benchmarks; ``pytest --benchmark`` runs
only the benchmarks (one per tool, same workload), each round a fresh worker process timed by
pytest-benchmark, and writes results.json + REPORT.md from the same records the CLI would write.
pytest-benchmark's own flags (``--benchmark-save``, ``--benchmark-compare``, ...) keep working.

Installed as a pytest entry point, this module is loaded by every pytest session in the
environment: it imports only the options at load time, and the measuring machinery when a
benchmark session needs it.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest

from adapters.base import REFERENCE_TOOLS
from harness import options
from harness.plan import Cell, Plan, matrix, with_reference_tools

MARK = "benchmark_cell"
RECORDS = pytest.StashKey[list[dict[str, Any]]]()
LOAD = pytest.StashKey[dict[str, Any]]()  # the team-scale section (--trackbench-load)
PREFIX = "trackbench_"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("trackbench")
    group.addoption("--benchmark", action="store_true", default=False,
                    help="run the comparative tracker benchmarks (pytest-benchmark underneath) "
                         "instead of the test suite")
    options.add_to(group.addoption, prefix=PREFIX)
    group.addoption("--trackbench-load", action="store_true", default=False,
                    help="with --benchmark: also the quick team-scale load stage (under 5 "
                         "minutes), whose Team scale section joins the report")
    group.addoption("--trackbench-out", default="reports/benchmark",
                    help="where --benchmark writes results.json and REPORT.md")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", f"{MARK}: comparative benchmark, run by pytest --benchmark")
    config.stash[RECORDS] = []
    config.stash[LOAD] = {}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    benchmarking = config.getoption("benchmark")
    keep, drop = [], []
    for item in items:
        (keep if (MARK in item.keywords) == benchmarking else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def plan_of(config: pytest.Config) -> Plan:
    values = {name: config.getoption(name) for name in vars(config.option)
              if name.startswith(PREFIX) and name != "trackbench_load"}
    plan = options.plan_from(values, prefix=PREFIX)
    plan.load = "quick" if config.getoption("trackbench_load") else None
    return plan


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "bench_cell" in metafunc.fixturenames:
        plan = plan_of(metafunc.config)
        pairs = matrix(with_reference_tools(plan.tools), plan.scenarios)
        metafunc.parametrize("bench_cell", [Cell(t, s) for t, s in pairs],
                             ids=[f"{t}:{s}" for t, s in pairs])


@pytest.fixture(scope="session")
def bench_plan(request: pytest.FixtureRequest) -> Plan:
    return plan_of(request.config)


@pytest.fixture(scope="session")
def bench_tmp(bench_plan: Plan) -> Any:
    """Cells' temporary root, after the same unrecorded warm-up as the CLI's."""
    from harness.measure.cell import warm_up

    with tempfile.TemporaryDirectory(prefix="trackbench-bench-") as tmp:
        warm_up(with_reference_tools(bench_plan.tools)[len(REFERENCE_TOOLS):], bench_plan,
                Path(tmp))
        yield Path(tmp)


@pytest.fixture(scope="session")
def bench_services(bench_plan: Plan, bench_tmp: Path, request: pytest.FixtureRequest) -> Any:
    """Services of server scenarios, started on first use and stopped at the session's end."""
    from harness.services.pool import ServicePool

    out = Path(request.config.getoption("trackbench_out"))
    pool = ServicePool(bench_tmp / "services", out / "service-logs", bench_plan.external,
                       progress=lambda _: None)
    try:
        yield pool
    finally:
        pool.close()


@pytest.fixture
def bench_records(request: pytest.FixtureRequest) -> list[dict[str, Any]]:
    """Cell records collected for the session's report."""
    return request.config.stash[RECORDS]


@pytest.fixture
def bench_load(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Where the team-scale benchmark puts its ``load`` section, for the session's report."""
    return request.config.stash[LOAD]


def pytest_sessionfinish(session: pytest.Session) -> None:
    config = session.config
    records = config.stash.get(RECORDS, [])
    if not config.getoption("benchmark") or not records:
        return
    from harness import report, results
    from harness.results.derived import baseline_overheads
    from harness.results.method import WARMUP

    plan = plan_of(config)
    tools = with_reference_tools(plan.tools)
    data = results.new_results(
        {"tools": tools, "scenarios": sorted({f"{r['tool']}:{r['scenario']}" for r in records}),
         "profile": plan.profile, "repeats": plan.repeats, "workload": plan.workload,
         "workload_config": plan.workload_config, "timeout_s": plan.timeout_s,
         "probes": False, "reliability": False, "argv": ["pytest", "--benchmark"],
         "require": list(plan.require),
         "warmup": list(WARMUP)},
        {r["tool"]: r.get("tool_version") for r in records},
    )
    data["cells"] = records
    if config.stash.get(LOAD, {}):
        data["load"] = config.stash[LOAD]
    baseline_overheads(data["cells"])
    out = Path(config.getoption("trackbench_out"))
    results.save(data, out / "results.json")
    path = report.write(data, out)
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(f"trackbench: benchmark report written to {path}")
