"""Worker-side hooks of the crash-safety and server-outage checks (modes ``crash``, ``outage``).

Both intercept the adapter's ``log_metrics`` so that something happens just before call N+1
(spec ``kill_after_calls`` = N), whatever the workload does between calls:

- ``crash``: write what was handed over so far (the ledger) and the run's reference to
  ``crash_path``, then SIGKILL this very process: no ``finish``, no atexit, no flush.
- ``outage``: write ``marker_path`` and wait (bounded) until the outage stage has killed the
  tracking server (``down_path`` appears); then keep logging, timing each later call and noting
  which raised, while the stage restarts the server.

Standard library only: the worker imports this before any timing starts.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from adapters.base import TrackerAdapter
from harness.measure.tracker import Tracker

DOWN_WAIT_S = 30.0  # how long the worker waits for the stage to take the server down
MAX_ERRORS_KEPT = 5


def intercept_metrics(adapter: TrackerAdapter, after_calls: int,
                      at_limit: Callable[[Mapping[str, float]], None],
                      observe: Callable[[float, BaseException | None], None] | None = None,
                      handed: list[tuple[float, int]] | None = None) -> None:
    """Run ``at_limit(metrics of that call)`` just before call ``after_calls + 1`` of
    ``adapter.log_metrics``; from then on, ``observe(seconds, error)`` sees every call (an
    instance attribute shadows the method, so the Tracker facade calls the wrapper). ``handed``
    gets (wall time, step) of each call before the limit, as it is handed to the tool."""
    original = adapter.log_metrics
    count = 0

    def log_metrics(metrics: Mapping[str, float], step: int) -> None:
        nonlocal count
        if count == after_calls:
            at_limit(metrics)
        if handed is not None and count < after_calls:
            handed.append((time.time(), step))
        count += 1
        if observe is None or count <= after_calls:
            original(metrics, step)
            return
        start = time.perf_counter()
        try:
            original(metrics, step)
        except BaseException as exc:
            observe(time.perf_counter() - start, exc)
            raise
        observe(time.perf_counter() - start, None)

    adapter.log_metrics = log_metrics  # type: ignore[method-assign]


def crash_hook(spec: Mapping[str, Any], adapter: TrackerAdapter, tracker: Tracker) -> None:
    """Kill this process with SIGKILL just before call N+1, leaving the ledger behind, with when
    each of the N calls was handed over (what a lost point cost in time)."""
    handed: list[tuple[float, int]] = []

    def kill(in_flight: Mapping[str, float]) -> None:
        ledger = tracker.ledger.to_json()
        # The facade ledgers a call's points before handing them over: those of the call being
        # made were never given to the tool.
        del ledger["points"][len(ledger["points"]) - len(in_flight):]
        record: dict[str, Any] = {"ledger": ledger, "calls": spec["kill_after_calls"],
                                  "killed_at": time.time(), "handed": handed}
        try:
            record["ref"] = adapter.run_ref()
        except Exception as exc:  # noqa: BLE001 - reported by the stage; the kill goes ahead
            record["ref_error"] = f"{type(exc).__name__}: {exc}"
        path = Path(spec["crash_path"])
        with open(path, "w") as fh:
            json.dump(record, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.kill(os.getpid(), signal.SIGKILL)

    intercept_metrics(adapter, int(spec["kill_after_calls"]), kill, handed=handed)


def outage_hook(spec: Mapping[str, Any], adapter: TrackerAdapter,
                tracker: Tracker) -> Callable[[], dict[str, Any]]:
    """Hand the kill to the stage at call N, then watch the calls made during and after the
    outage; a failing ``finish`` (a client that flushes late) is recorded, not fatal."""
    seen: dict[str, Any] = {"calls": 0, "errors": 0, "error_examples": [], "max_call_s": 0.0,
                            "server_down": False, "finish_error": None}

    def hand_over(_in_flight: Mapping[str, float]) -> None:
        Path(spec["marker_path"]).write_text(str(time.time()))
        deadline = time.monotonic() + DOWN_WAIT_S
        down = Path(spec["down_path"])
        while not down.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        seen["server_down"] = down.exists()

    def observe(seconds: float, error: BaseException | None) -> None:
        seen["calls"] += 1
        seen["max_call_s"] = max(seen["max_call_s"], seconds)
        if error is not None:
            seen["errors"] += 1
            if len(seen["error_examples"]) < MAX_ERRORS_KEPT:
                seen["error_examples"].append(f"{type(error).__name__}: {error}"[:300])

    intercept_metrics(adapter, int(spec["kill_after_calls"]), hand_over, observe)
    finish = adapter.finish

    def finish_or_note() -> dict[str, str]:
        try:
            return finish()
        except Exception as exc:  # noqa: BLE001 - a client failing to flush is the finding
            seen["finish_error"] = f"{type(exc).__name__}: {exc}"[:300]
            return adapter.run_ref()

    adapter.finish = finish_or_note  # type: ignore[method-assign]
    return lambda: {"outage_client": seen}
