"""The scaling sweeps' dimensions and the growth fit: what a sweeps.json measures and how its
curves are read.

Shared by the sweep stage (which runs each x) and the sweep report (which fits and draws them),
so both name, configure and fit a sweep the same way.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

# A per-unit cost that stays within this ratio (largest / smallest) over the whole range is
# "flat per call". Measured here (2 cores, 3 repeats of the same points-sweep x): the cost per
# point of one repeat and another differed by up to 1.2x for MLflow and 1.7x for W&B (whose log
# calls are asynchronous and wait on its core's back-pressure), so a smaller tolerance would
# call noise growth. Over the points sweep's three decades, a steady trend beyond 1.5x is an
# exponent off 1 by more than log(1.5) / log(1000) = 0.06.
FLAT_RATIO = 1.5

POINTS_METRICS = 10  # the points sweep logs x points as x / 10 steps of 10 metrics
METRICS_STEPS = 100  # the metrics-per-call sweep logs this many steps at every x
# Each run of the runs sweep is light, so start_run and finish dominate (the points sweep
# already measures the logging itself).
RUN_CONFIG = {"steps": 10, "metrics": 5, "params": 10, "artifact_bytes": 10_000}


@dataclass(frozen=True)
class Sweep:
    """One scaling dimension: the x values, the workload at each x, and what is fitted."""

    name: str
    title: str  # what x counts
    description: str  # the fixed part of the workload, for the report
    xs: tuple[int, ...]
    quick_xs: tuple[int, ...]
    config: Callable[[int], dict[str, int]]  # x -> `synthetic` workload config (one run's)
    cost_key: str  # record field whose growth is fitted: the part of the cost that scales
    cost_label: str
    call_key: str  # record field shown as time per call in the table
    call_label: str
    unit: str  # one unit of x, for "cost per unit"
    unit_size: float = 1.0  # x counts per displayed unit (bytes per MB)

    def values(self, quick: bool) -> tuple[int, ...]:
        return self.quick_xs if quick else self.xs


SWEEPS: dict[str, Sweep] = {s.name: s for s in (
    Sweep(
        "points", "points per run",
        f"steps of {POINTS_METRICS} metrics each, 10 params, no artifact",
        (100, 300, 1_000, 3_000, 10_000, 30_000, 100_000), (100, 1_000, 10_000),
        lambda x: {"steps": x // POINTS_METRICS, "metrics": POINTS_METRICS, "params": 10,
                   "artifact_bytes": 0},
        "metrics_calls_s", "time in log_metrics", "metrics_p50_s", "log_metrics p50", "point"),
    Sweep(
        "metrics", "metrics per log_metrics call",
        f"{METRICS_STEPS} steps, 10 params, no artifact",
        (1, 3, 10, 30, 100), (1, 10, 100),
        lambda x: {"steps": METRICS_STEPS, "metrics": x, "params": 10, "artifact_bytes": 0},
        "metrics_p50_s", "log_metrics call (p50)", "metrics_p50_s", "log_metrics p50",
        "metric"),
    Sweep(
        "runs", "runs per process",
        "one process imports the SDK once, then starts, logs and finishes x runs back to back, "
        "each {steps} steps of {metrics} metrics, {params} params, a {artifact_bytes} B "
        "artifact".format(**RUN_CONFIG),
        (1, 3, 10, 30, 100), (1, 3, 10),
        lambda _: dict(RUN_CONFIG),
        "runs_total_s", "start_run to finish, summed over runs", "run_p50_s",
        "one run (p50)", "run"),
    Sweep(
        "artifact", "artifact bytes",
        "one artifact of x random bytes, 10 steps of 1 metric, 10 params",
        tuple(10**k for k in range(3, 9)), (1_000, 100_000, 10_000_000),
        lambda x: {"steps": 10, "metrics": 1, "params": 10, "artifact_bytes": x},
        "artifact_call_s", "log_artifact", "artifact_call_s", "log_artifact", "MB", 1e6),
)}


def _line(us: Sequence[float], vs: Sequence[float]) -> tuple[float, float, float] | None:
    """Least squares v = intercept + slope * u, with R^2; None without two distinct u."""
    if len(set(us)) < 2:
        return None
    mu, mv = statistics.fmean(us), statistics.fmean(vs)
    suu = sum((u - mu) ** 2 for u in us)
    slope = sum((u - mu) * (v - mv) for u, v in zip(us, vs, strict=True)) / suu
    intercept = mv - slope * mu
    ss_tot = sum((v - mv) ** 2 for v in vs)
    ss_res = sum((v - intercept - slope * u) ** 2 for u, v in zip(us, vs, strict=True))
    return intercept, slope, (1.0 - ss_res / ss_tot) if ss_tot > 0 else 1.0


def fit_growth(xs: Sequence[float], ys: Sequence[float | None],
               flat_ratio: float = FLAT_RATIO) -> dict[str, Any]:
    """How ``ys`` grows with ``xs``: a power law on log-log axes and a straight line.

    ``exponent`` b of log(y) = a + b log(x) (1: linear, 2: quadratic) uses the positive points
    only; ``slope`` d of y = c + d x is the marginal cost per unit and ``intercept`` c the fixed
    part. ``growth`` is "flat per call" when y / x stays within ``flat_ratio`` (largest over
    smallest), else "growing" (b > 1) or "sublinear" (b < 1: a fixed part is being amortised);
    "n/a" with fewer than two positive points (a cost at the noise floor).
    """
    pairs = [(float(x), float(y)) for x, y in zip(xs, ys, strict=True) if y is not None]
    out: dict[str, Any] = {"n": len(pairs), "exponent": None, "log_intercept": None,
                           "loglog_r2": None, "intercept": None, "slope": None,
                           "linear_r2": None, "per_unit_ratio": None, "growth": "n/a"}
    if linear := _line([x for x, _ in pairs], [y for _, y in pairs]):
        out.update(intercept=linear[0], slope=linear[1], linear_r2=linear[2])
    positive = [(x, y) for x, y in pairs if x > 0 and y > 0]
    loglog = _line([math.log(x) for x, _ in positive], [math.log(y) for _, y in positive])
    if loglog is None:
        return out
    per_unit = [y / x for x, y in positive]
    ratio = max(per_unit) / min(per_unit)
    out.update(log_intercept=loglog[0], exponent=loglog[1], loglog_r2=loglog[2],
               per_unit_ratio=ratio)
    if ratio <= flat_ratio:
        out["growth"] = "flat per call"
    else:
        out["growth"] = "growing" if loglog[1] > 1 else "sublinear"
    return out
