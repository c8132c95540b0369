"""run_monitored when the kill of a timed-out worker races its exit, or its reaper never returns:
the worker is recorded as timed out and its tree stopped; the run goes on."""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

from harness.measure import proctree

SLEEPER = [sys.executable, "-c", "import time; time.sleep(60)"]


def _run(tmp_path: Path) -> proctree.TreeStats:
    return proctree.run_monitored(SLEEPER, env=os.environ, cwd=tmp_path,
                                  log_path=tmp_path / "worker.log", timeout_s=1.0,
                                  interval_s=0.05)


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_a_group_already_gone_at_the_kill_is_still_a_timeout(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pids: list[int] = []

    def gone(pid: int, _sig: int) -> None:
        pids.append(pid)
        raise ProcessLookupError(3, "No such process")

    monkeypatch.setattr(os, "killpg", gone)
    began = time.monotonic()
    stats = _run(tmp_path)
    assert stats.timed_out and stats.returncode is None
    assert time.monotonic() - began < 15  # the worker itself was killed: no wait for the bound
    assert pids and _gone(pids[0])


def test_a_reaper_that_never_returns_is_given_up_on(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    release = threading.Event()
    real_wait4 = os.wait4

    def stuck_wait4(pid: int, options: int) -> Any:
        release.wait()
        return real_wait4(pid, options)

    monkeypatch.setattr(os, "wait4", stuck_wait4)
    monkeypatch.setattr(proctree, "REAP_TIMEOUT_S", 1.0, raising=False)
    out: dict[str, Any] = {}
    runner = threading.Thread(target=lambda: out.update(stats=_run(tmp_path)), daemon=True)
    runner.start()
    runner.join(timeout=20)
    release.set()  # lets the stuck reaper (and, on a hang, run_monitored) finish
    assert not runner.is_alive(), "run_monitored still waiting for a reaper that never returned"
    stats = out["stats"]
    assert stats.timed_out and stats.returncode is None
    assert stats.wall_s >= 1.0
