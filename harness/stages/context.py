"""The stage contract: what every stage receives, and the results sink it writes through.

A stage is a module of this package with one entry point, ``run(ctx: StageContext) -> None``,
named in the runner's stage list. It reads the plan and the results so far from ``ctx``, starts
what its scenarios need from ``ctx.pool``, adds records to ``ctx.data`` and calls
``ctx.save()`` after each one, so an interrupted run keeps everything it measured. On
``--resume``, ``ctx.data`` holds the interrupted run's records: a stage runs only what is not
there yet. Interrupts, the cleanup after them and the time budget are the runner's; a stage asks
``ctx.fits(seconds)`` before optional work. A stage may also define ``estimate_s(ctx) -> float``,
the seconds it expects to take: the runner reserves that time for it while the stages before it
run, so optional work early on cannot push a later stage past the budget. No stage imports
another stage or the runner.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import adapters
from harness import results
from harness.plan import Plan
from harness.services.base import Service
from harness.services.pool import ServicePool


@dataclass
class StageContext:
    plan: Plan
    pairs: list[tuple[str, str]]  # the tool x scenario matrix, reference tools first
    data: dict[str, Any]  # the results document being written
    results_path: Path | None  # where ``save`` writes it (None: kept in memory, as in tests)
    pool: ServicePool  # services, started on first use, stopped by the runner at the end
    tmp_root: Path  # cells' temporary directories live here; removed by the runner
    progress: Callable[[str], None] = print
    started: float = field(default_factory=time.perf_counter)  # the invocation's start
    reserved_s: float = 0.0  # what the stages still to come are expected to take

    def save(self) -> None:
        """The sink: rewrite the results file (atomically) after every record."""
        if self.results_path is not None:
            results.save(self.data, self.results_path)

    def elapsed_s(self) -> float:
        return time.perf_counter() - self.started

    def fits(self, more_s: float) -> bool:
        """Whether work projected to take ``more_s``, then the stages still to come, ends within
        the plan's time budget."""
        budget = self.plan.time_budget_s
        return budget is None or self.elapsed_s() + more_s + self.reserved_s <= budget

    def cell_s(self, label: str) -> float:
        """The median harness time of ``label``'s measured cells so far (0 if none): the unit
        of the stages' estimates."""
        spent = sorted(c["cell_s"] for c in self.data["cells"]
                       if c.get("cell_s") and f"{c['tool']}:{c['scenario']}" == label)
        return spent[len(spent) // 2] if spent else 0.0

    def services(self, tool: str, scenario: str) -> dict[str, Service]:
        """What the scenario needs, started once per run; ServiceError if one cannot start."""
        cls = adapters.load(tool)
        return self.pool.get(cls.services_for(scenario) if cls is not None else ())

    def done(self) -> set[tuple[str, str, int, str]]:
        """(tool, scenario, repeat, mode) of every cell recorded so far (a resumed run's too)."""
        return {(c["tool"], c["scenario"], c["repeat"], c["mode"])
                for c in [*self.data["probes"], *self.data["cells"]]}

    def unavailable(self) -> dict[str, str]:
        """Tools whose cells so far came out unavailable, with the reason."""
        return {c["tool"]: c.get("error") or "unavailable"
                for c in [*self.data["probes"], *self.data["cells"]]
                if c.get("status") == "unavailable"}
