"""The sandbox the SDK tests run their processes in, as the harness runs a cell's: private
HOME, XDG dirs and TMPDIR, the parent's tool settings stripped (harness.measure.isolation), and
the offline guard logging each process's network attempts to its own file; and a child that
answers Ctrl-C even when the suite runs from a background shell."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from harness.measure import netguard
from harness.measure.isolation import private_env

REPO = Path(__file__).resolve().parents[1]


def sandbox_env(root: Path, log: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a process under ``root``, its attempts logged to ``log``;
    PYTHONPATH reaches this repository; then ``extra``."""
    env = private_env(root, {"PYTHONPATH": str(REPO), **(extra or {})})
    return netguard.guard_env(env, log)


def run_json(script: str, arg: str, cell: Path, timeout_s: float) -> Any:
    """``python -c script arg`` in ``cell``'s sandbox (attempts to ``read.net.jsonl``); the
    JSON of the last line it printed."""
    done = subprocess.run([sys.executable, "-c", script, arg], cwd=cell,
                          env=sandbox_env(cell, cell / "read.net.jsonl"), capture_output=True,
                          text=True, timeout=timeout_s, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def assert_offline(cell: Path) -> None:
    """No process of ``cell`` reached for the network."""
    attempts = [netguard.GuardLog(log).take_new() for log in cell.glob("*.net.jsonl")]
    assert attempts == [[] for _ in attempts], attempts


def interruptible() -> None:
    """Ctrl-C as in a terminal: a shell running us in the background (as CI may) ignores SIGINT,
    and an ignored SIGINT survives exec, so Python would never raise KeyboardInterrupt."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
