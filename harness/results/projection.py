"""What each tool would add to a team's own training run, projected from what the run measured.

A tool's cost splits into a part paid once per run and a part paid at every log call. Within
each measured round, against the baseline of the same round:

- per call = (time blocked in ``log_metrics`` + the loop slowdown) / the number of calls;
- fixed = the end-to-end overhead (import, init, finish, interpreter exit, the params and the
  artifact) minus the per-call part;

and a training run of S steps logging every L steps adds ``fixed + per call x ceil(S / L)``.
The projection is a median over rounds with the order-statistic interval, and its share is of
the run's own compute (S x step time). It assumes a log call costs the same whatever the
metrics in it; the check cells (synthetic, at the training run's metrics per call and another
number of calls) measure how far that holds, and the report shows both side by side.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from adapters.base import BASELINE, REFERENCE_TOOLS
from harness.results.stats import median_ci

CHECK_STEPS = 250  # calls of the check cells: the projection's second size


@dataclass(frozen=True)
class TrainingRun:
    """The run a team plans: ``--training-run steps=10000,metrics=20,step_ms=50,log_every=1``."""

    steps: int = 10_000
    metrics: int = 20
    step_ms: float = 50.0
    log_every: int = 1

    @property
    def calls(self) -> int:
        return math.ceil(self.steps / self.log_every)

    @property
    def compute_s(self) -> float:
        return self.steps * self.step_ms / 1000.0

    def text(self) -> str:
        every = "every step" if self.log_every == 1 else f"every {self.log_every} steps"
        return (f"{self.steps:,} steps of {self.step_ms:g} ms, {self.metrics} metrics logged "
                f"{every} ({self.compute_s:,.0f} s of training)")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any] | None) -> TrainingRun:
        """The run recorded in a results file (the default for files without one)."""
        if not values:
            return cls()
        known = {k: values[k] for k in ("steps", "metrics", "step_ms", "log_every") if k in values}
        return cls(**known)


def parts(cell: Mapping[str, Any]) -> tuple[float, float, int] | None:
    """(fixed, per call, calls) of one ok cell beside its baseline, or None."""
    metrics = (cell.get("calls") or {}).get("metrics") or {}
    if cell.get("overhead_s") is None or not metrics.get("n"):
        return None
    per_call_total = metrics["total_s"] + (cell.get("loop_slowdown_s") or 0.0)
    return cell["overhead_s"] - per_call_total, per_call_total / metrics["n"], metrics["n"]


def projected_rounds(cells: list[Mapping[str, Any]], calls: int) -> dict[str, dict[int, float]]:
    """tool:scenario -> repeat -> what a run of ``calls`` log calls would add, in seconds."""
    out: dict[str, dict[int, float]] = {}
    for cell in cells:
        if cell["status"] != "ok" or cell["tool"] in REFERENCE_TOOLS:
            continue
        if (split := parts(cell)) is not None:
            fixed, per_call, _ = split
            out.setdefault(f"{cell['tool']}:{cell['scenario']}", {})[cell["repeat"]] = \
                fixed + per_call * calls
    return out


def projection(results: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """tool:scenario -> the training run's added seconds (median, low, high), share of the run,
    rounds, and the medians of its two parts (once per run, per log call); from the measured
    cells."""
    run = TrainingRun.from_dict((results.get("invocation") or {}).get("training_run"))
    split: dict[str, list[tuple[float, float, int]]] = {}
    for cell in results["cells"]:
        if cell["status"] == "ok" and cell["tool"] not in REFERENCE_TOOLS \
                and (found := parts(cell)) is not None:
            split.setdefault(f"{cell['tool']}:{cell['scenario']}", []).append(found)
    out = {}
    for label, rounds in projected_rounds(results["cells"], run.calls).items():
        mid, low, high = median_ci(list(rounds.values()))
        out[label] = {"added_s": (mid, low, high), "share": mid / run.compute_s,
                      "rounds": len(rounds),
                      "fixed_s": statistics.median(p[0] for p in split[label]),
                      "per_call_s": statistics.median(p[1] for p in split[label])}
    return out


def check(results: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """tool:scenario -> the check cells' measured overhead against its projection from the
    measured cells, both medians, and their ratio (measured / projected)."""
    checks = results.get("projection_check") or []
    base = {c["repeat"]: c for c in checks if c["tool"] == BASELINE and c["status"] == "ok"}
    measured: dict[str, list[float]] = {}
    calls: dict[str, int] = {}
    for c in checks:
        ref = base.get(c["repeat"])
        if c["status"] != "ok" or c["tool"] in REFERENCE_TOOLS or ref is None:
            continue
        label = f"{c['tool']}:{c['scenario']}"
        measured.setdefault(label, []).append(c["e2e_s"] - ref["e2e_s"])
        calls[label] = ((c.get("calls") or {}).get("metrics") or {}).get("n") or 0
    out = {}
    for label, values in measured.items():
        projected = projected_rounds(results["cells"], calls[label]).get(label)
        if not projected:
            continue
        want, got = statistics.median(projected.values()), statistics.median(values)
        out[label] = {"projected_s": want, "measured_s": got, "calls": calls[label],
                      "ratio": got / want if want else None}
    return out
