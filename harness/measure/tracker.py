"""The Tracker facade a workload logs through, and the ledger it keeps.

The ledger, not the adapter, is the source of truth for what was logged: every value is recorded
here before it is handed to the tool. Each adapter call is timed on its own; the ledger and
checksum work happen outside the timed region so the harness does not inflate a tool's cost.
A tool that raises on a call is a finding (recorded in ``call_errors``), not a crash.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from adapters.base import TrackerAdapter, Unsupported, sha256_file

MAX_ERRORS_KEPT = 20


_BUILTIN = frozenset({float, int, str, bool, type(None)})


def _plain(value: Any) -> Any:
    """numpy scalars -> Python scalars, so the ledger serialises to JSON exactly."""
    if type(value) in _BUILTIN:
        return value
    item = getattr(value, "item", None)
    return item() if callable(item) and getattr(value, "shape", None) == () else value


def _plain_dict(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k if type(k) is str else str(k): _plain(v) for k, v in values.items()}


@dataclass
class Ledger:
    """Everything the workload handed over, in order."""

    params: dict[str, Any] = field(default_factory=dict)
    points: list[tuple[str, int, Any]] = field(default_factory=list)  # (key, step, value)
    artifacts: dict[str, str] = field(default_factory=dict)  # name -> sha256
    # Artifacts whose log call the tool refused as a feature it lacks (Unsupported): not kept,
    # and said so, rather than counted as lost.
    unsupported: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {
            "params": len(self.params),
            "points": len(self.points),
            "artifacts": len(self.artifacts),
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "params": self.params,
            "points": [list(p) for p in self.points],
            "artifacts": self.artifacts,
            "unsupported": self.unsupported,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Ledger:
        return cls(
            params=dict(data["params"]),
            points=[(k, int(s), v) for k, s, v in data["points"]],
            artifacts=dict(data["artifacts"]),
            unsupported=list(data.get("unsupported", [])),
        )


class Tracker:
    """What a workload receives: ``log_params``, ``log_metric(s)``, ``log_artifact``, ``workdir``.

    With ``adapter=None`` (the ``none`` baseline) calls stop at the ledger, so the baseline pays
    the same harness cost as every tool and the difference is the tool's alone.
    """

    def __init__(
        self,
        adapter: TrackerAdapter | None,
        workdir: Path,
        clock: Callable[[], int] = time.perf_counter_ns,
    ) -> None:
        self.adapter = adapter
        self.workdir = workdir  # scratch space for the workload's files (not counted as disk)
        self.ledger = Ledger()
        self.call_ns: dict[str, list[int]] = {"params": [], "metrics": [], "artifact": []}
        self._metric_ns = self.call_ns["metrics"]
        self.call_errors: list[str] = []
        self.error_count = 0
        self._clock = clock

    def _call(self, kind: str, method: str, *args: Any) -> Exception | None:
        """Time one call; what it raised is recorded and returned (None: it did not)."""
        if self.adapter is None:
            return None
        fn = getattr(self.adapter, method)
        clock = self._clock
        start = clock()
        raised = None
        try:
            fn(*args)
        except Exception as exc:  # noqa: BLE001 - a tool rejecting input is a finding
            self._error(kind, exc)
            raised = exc
        self.call_ns[kind].append(clock() - start)
        return raised

    def _error(self, kind: str, exc: Exception) -> None:
        self.error_count += 1
        if len(self.call_errors) < MAX_ERRORS_KEPT:
            self.call_errors.append(f"{kind}: {type(exc).__name__}: {exc}")

    def log_params(self, params: Mapping[str, Any]) -> None:
        plain = _plain_dict(params)
        self.ledger.params.update(plain)
        self._call("params", "log_params", plain)

    def log_param(self, key: str, value: Any) -> None:
        self.log_params({key: value})

    def log_metrics(self, metrics: Mapping[str, Any], step: int) -> None:
        """The hot path (one call per training step): kept to one loop and one timed call, so
        the harness stays a small fraction of even the fastest tool's per-call cost."""
        step = step if type(step) is int else int(step)
        plain: dict[str, Any] = {}
        points = self.ledger.points
        for key, value in metrics.items():
            if type(value) not in _BUILTIN:
                value = _plain(value)
            if type(key) is not str:
                key = str(key)
            plain[key] = value
            points.append((key, step, value))
        if self.adapter is None:
            return
        clock = self._clock
        start = clock()
        try:
            self.adapter.log_metrics(plain, step)
        except Exception as exc:  # noqa: BLE001 - a tool rejecting input is a finding
            self._error("metrics", exc)
        self._metric_ns.append(clock() - start)

    def log_metric(self, key: str, value: Any, step: int) -> None:
        self.log_metrics({key: value}, step)

    def log_artifact(self, path: str | Path, name: str | None = None) -> None:
        path = Path(path)
        name = name or path.name
        self.ledger.artifacts[name] = sha256_file(path)
        if isinstance(self._call("artifact", "log_artifact", path, name), Unsupported):
            self.ledger.unsupported.append(name)

    def blocked_ns(self) -> int:
        """Total time the workload spent inside the tool's log calls."""
        return sum(sum(v) for v in self.call_ns.values())
