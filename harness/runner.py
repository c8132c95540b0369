"""The pipeline: a run is a list of stages, run in order, each given one context (see
:mod:`harness.stages.context`). Here, and only here, live the things every stage shares:
starting the run or resuming an interrupted one, the time budget's clock, and the cleanup after
an interrupt (services stopped, temporary files removed, even if Ctrl-C comes twice).

To add a stage: write ``harness/stages/<name>.py`` with ``run(ctx)`` and add one line below.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from harness import results
from harness.plan import (
    Plan,
    invocation,
    matrix,
    redacted_argv,
    tool_versions,
    with_reference_tools,
)
from harness.results import mltraq_2024, repeatability
from harness.results.scaling import SWEEPS
from harness.services.pool import ServicePool
from harness.stages import (
    bad_input,
    cells,
    crash_safety,
    extra_rounds,
    feature_probes,
    mltraq_suite,
    projection_check,
    server_outage,
    server_probes,
    sweeps,
    team_scale,
    warm_up,
)
from harness.stages.context import StageContext

# The stages of `trackbench run`, in order. Each one skips what a resumed run already holds.
STAGES: tuple[ModuleType, ...] = (
    warm_up,          # unrecorded: a baseline cell, each SDK imported once
    server_probes,    # REST endpoints and basic-auth on real servers
    feature_probes,   # one probe cell per tool:scenario: coverage with evidence
    cells,            # the measured repeats, interleaved across tools
    # More repeats where a headline interval is still wide: on services in the state the first
    # rounds had, before the reliability checks kill servers and fill their stores.
    extra_rounds,
    projection_check,  # synthetic cells at a second size, beside the cost projection
    crash_safety,     # SIGKILL mid-run, then read back
    server_outage,    # the tracking server killed and restarted mid-run
    bad_input,        # odd values, names, steps, params and artifacts
    team_scale,       # many jobs on one shared server; queries as its store grows (Locust)
)
# The stages of `trackbench sweep` and of `trackbench load`.
SWEEP_STAGES: tuple[ModuleType, ...] = (warm_up, sweeps)
LOAD_STAGES: tuple[ModuleType, ...] = (team_scale,)
# `trackbench run --suite NAME`: a published study reproduced, its results file of its own.
SUITES: dict[str, tuple[ModuleType, ...]] = {"mltraq-2024": (mltraq_suite,)}
# The tools a suite runs by default: every tool both studies share, and its explaining variants.
SUITE_TOOLS: dict[str, tuple[str, ...]] = {
    "mltraq-2024": (*mltraq_suite.SUITE_TOOLS, *mltraq_suite.VARIANTS)}


@contextlib.contextmanager
def interrupts_held() -> Iterator[None]:
    """Ignore SIGINT/SIGTERM for a bounded cleanup (stopping services waits a few seconds at
    most), then restore the handlers; off the main thread signals cannot arrive here anyway."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    saved = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)


def run_stages(stages: Sequence[ModuleType], plan: Plan, pairs: list[tuple[str, str]],
               data: dict[str, Any], results_path: Path | None,
               progress: Callable[[str], None]) -> dict[str, Any]:
    """Run ``stages`` in order on one context; whatever happens (an error, Ctrl-C), the
    services are stopped and the temporary directory removed before this returns or raises."""
    tmp_root = Path(tempfile.mkdtemp(prefix="tb-"))
    log_dir = (results_path.parent if results_path else tmp_root) / "service-logs"
    pool = ServicePool(tmp_root / "services", log_dir, plan.external, progress)
    ctx = StageContext(plan=plan, pairs=pairs, data=data, results_path=results_path, pool=pool,
                       tmp_root=tmp_root, progress=progress)
    try:
        for index, stage in enumerate(stages):
            ctx.reserved_s = sum(later.estimate_s(ctx) for later in stages[index + 1:]
                                 if hasattr(later, "estimate_s"))
            began = time.perf_counter()
            stage.run(ctx)
            seconds = time.perf_counter() - began
            if seconds >= 1.0:
                progress(f"stage {stage.__name__.rpartition('.')[2]} took {seconds:.0f} s")
    finally:
        with interrupts_held():  # a second Ctrl-C must not leave services or files behind
            pool.close()
            shutil.rmtree(tmp_root, ignore_errors=True)
    return data


def execute(plan: Plan, results_path: Path, progress: Callable[[str], None] = print,
            resume: dict[str, Any] | None = None,
            previous: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Run every stage of ``plan``; results.json is rewritten after each record.

    With ``resume`` (the results of an interrupted run of the same plan), what it holds is kept
    and only the rest runs. ``previous`` (the last finished run in the same place) contributes
    its headline medians when comparable, for the report's run-to-run repeatability.
    """
    pairs = matrix(with_reference_tools(plan.tools), plan.scenarios)
    versions = tool_versions(with_reference_tools(plan.tools))
    if resume is None:
        data = results.new_results(invocation(plan, pairs), versions)
        if previous is not None:
            data["previous_run"] = repeatability.previous_run(previous, data)
    else:
        if resume["tools"] != versions:
            raise ValueError(f"tool versions changed since the interrupted run "
                             f"({resume['tools']} then, {versions} now); start a new run")
        data = resume
        kept = len(data["probes"]) + len(data["cells"])
        data.setdefault("resumed", []).append(
            {"at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "cells_kept": kept,
             "argv": redacted_argv(sys.argv)})
        progress(f"resuming: {kept} cell(s) kept from {results_path}; the rest runs")
    return run_stages(STAGES, plan, pairs, data, results_path, progress)


def sweep(tools: Sequence[str], sweep_names: Sequence[str] | None = None, quick: bool = False,
          out_path: Path | None = None, progress: Callable[[str], None] = print,
          repeats: int | None = None, timeout_s: float = 600.0) -> list[dict[str, Any]]:
    """Run the named sweeps (all by default) for ``tools`` plus ``none`` and ``null``.

    Each tool runs its first scenario. ``repeats`` defaults to 1 with ``quick``, else 3. The
    records (one per sweep x x repeat x tool) are returned and, with ``out_path``, rewritten
    there after every point, so an interrupted sweep keeps what it measured.
    """
    names = list(sweep_names or SWEEPS)
    if unknown := [n for n in names if n not in SWEEPS]:
        raise ValueError(f"unknown sweep(s): {', '.join(unknown)}; known: {', '.join(SWEEPS)}")
    pairs = matrix(with_reference_tools(tools), None)
    repeats = repeats or (1 if quick else 3)
    plan = Plan(tools=[t for t, _ in pairs], workload="synthetic", repeats=1, probes=False,
                reliability=False, timeout_s=timeout_s)
    data = results.new_sweeps(
        {"tools": [t for t, _ in pairs], "sweeps": names, "quick": quick, "repeats": repeats,
         "timeout_s": timeout_s, "argv": redacted_argv(sys.argv)},
        tool_versions(t for t, _ in pairs))
    return run_stages(SWEEP_STAGES, plan, pairs, data, out_path, progress)["records"]


def load(plan: Plan, results_path: Path, progress: Callable[[str], None] = print,
         resume: dict[str, Any] | None = None) -> dict[str, Any]:
    """``trackbench load``: the team-scale stage alone (``plan.load`` says quick or full; the
    plan's tools name ``mlflow``, whose servers it loads), its records in a results file of
    their own (no cells), rewritten after every level."""
    data = resume or results.new_results(invocation(plan, []), {})
    data["kind"] = "load"
    return run_stages(LOAD_STAGES, plan, [], data, results_path, progress)


def suite(name: str, tools: Sequence[str], repeats: int, time_budget_s: float,
          results_path: Path, progress: Callable[[str], None] = print) -> dict[str, Any]:
    """``trackbench run --suite NAME``: the suite's stages on their own results document
    (``kind`` NAME, the published figures embedded), rewritten after every process."""
    plan = Plan(tools=list(tools), repeats=repeats, time_budget_s=time_budget_s, probes=False,
                reliability=False)
    data = results.new_results(
        {"suite": name, "tools": list(tools), "repeats": repeats,
         "time_budget_s": time_budget_s, "argv": redacted_argv(sys.argv)}, {})
    data.update(kind=name, published=mltraq_2024.load_published(),
                suite={"records": [], "processes": [], "read_backs": [], "skipped": [],
                       "unavailable": {}})
    return run_stages(SUITES[name], plan, [], data, results_path, progress)
