"""What the team-scale stage runs: the quick stage (in every default run) and the full curves."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from harness.load.targets import TARGETS

OPEN_RATE = 2.0  # steps/s of one open-loop job: a training step of 500 ms


@dataclass(frozen=True)
class LoadSpec:
    name: str
    users: tuple[int, ...]  # writers per level
    seconds: float  # of each load model at each level
    store_sizes: tuple[int, ...]  # runs in the store when the queries are timed
    query_repeats: int
    crosscheck_users: tuple[int, ...]
    crosscheck_all_targets: bool  # else the first target only
    floor_s: float
    steps: int = 50  # per job
    metrics: int = 20  # per step
    rate: float = OPEN_RATE
    # Each level on a fresh server and store; off, one server per target for all its levels
    # (each level's jobs in a new experiment): an MLflow server takes ~10 s to start here.
    fresh_per_level: bool = True
    targets: tuple[str, ...] = tuple(TARGETS)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# Within 5 minutes on 2 cores: MLflow's server fills ~20 runs/s here (one worker, ~45 ms of its
# CPU per run), so the quick store stops at 500 runs, and the cross-check takes its own N.
QUICK = LoadSpec("quick", users=(1, 4, 16), seconds=3.0, store_sizes=(100, 500),
                 query_repeats=5, crosscheck_users=(1, 4), crosscheck_all_targets=False,
                 floor_s=2.0, fresh_per_level=False)
FULL = LoadSpec("full", users=(1, 2, 4, 8, 16, 32, 64), seconds=12.0,
                store_sizes=(100, 1000, 10000), query_repeats=7, crosscheck_users=(1, 2, 4),
                crosscheck_all_targets=True, floor_s=4.0)
SPECS = {spec.name: spec for spec in (QUICK, FULL)}
