"""Offline honesty: every cell runs behind a network guard, and what it caught is kept.

Two watchers, because no single one sees everything:

- Python processes (the worker, the tool's Python helpers, the MLflow server) run the audit hook
  of ``netguard_site/sitecustomize.py``, which records each attempt to reach a non-loopback
  address and blocks it before any packet leaves.
- Other processes (``wandb-core`` is a Go binary; C extensions with their own sockets) are not
  seen by the hook: their inet connections are sampled about once a second with psutil. That
  sees a connection that lives across a sample, not a short one, and cannot block it.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import psutil

from harness.measure.netguard_site.sitecustomize import LOG_VAR, kind

SITE_DIR = Path(__file__).resolve().parent / "netguard_site"
SAMPLE_EVERY_S = 1.0
WATCHED = ("a Python audit hook on socket events (connect, sendto, name resolution) in every "
           "Python process: recorded and blocked; the inet connections of the whole process "
           f"tree, services included, sampled every {SAMPLE_EVERY_S:.0f} s (what the hook cannot "
           "see, such as Go helpers): recorded, not blocked")


def guard_env(env: Mapping[str, str], log_path: Path) -> dict[str, str]:
    """``env`` with the guard's sitecustomize first on PYTHONPATH, writing to ``log_path``."""
    paths = [str(SITE_DIR), env.get("PYTHONPATH", "")]
    return {**env, "PYTHONPATH": os.pathsep.join(p for p in paths if p), LOG_VAR: str(log_path)}


class ConnectionWatch:
    """Non-loopback inet connections seen on process trees, sampled at most every ``every_s``.

    Called from an existing sampling loop (no thread of its own): ``observe(procs)`` returns at
    once until the interval has passed.
    """

    def __init__(self, every_s: float = SAMPLE_EVERY_S) -> None:
        self.every_s = every_s
        self._next = 0.0
        self.seen: dict[tuple[int, str, int], dict[str, Any]] = {}
        self.samples = 0

    def observe(self, procs: Iterable[psutil.Process]) -> None:
        now = time.monotonic()
        if now < self._next:
            return
        self._next = now + self.every_s
        self.samples += 1
        for proc in procs:
            with contextlib.suppress(psutil.Error):
                # psutil < 6 names it connections()
                listing = getattr(proc, "net_connections", None) or proc.connections
                for conn in listing(kind="inet"):
                    if not conn.raddr or kind(conn.raddr.ip) == "local":
                        continue
                    key = (proc.pid, conn.raddr.ip, conn.raddr.port)
                    if key not in self.seen:
                        self.seen[key] = {
                            "t": time.time(), "pid": proc.pid, "process": proc.name(),
                            "event": f"connection seen ({conn.status})",
                            "host": conn.raddr.ip, "port": conn.raddr.port, "blocked": False}

    def events(self) -> list[dict[str, Any]]:
        return list(self.seen.values())


class GuardLog:
    """The JSON lines one guarded process tree appends; ``take_new`` returns the unread ones."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._offset = 0

    def take_new(self) -> list[dict[str, Any]]:
        try:
            with open(self.path, "rb") as fh:
                fh.seek(self._offset)
                data = fh.read()
        except FileNotFoundError:
            return []
        end = data.rfind(b"\n") + 1  # a line still being written is read next time
        self._offset += end
        events = []
        for line in data[:end].splitlines():
            try:
                events.append(json.loads(line))
            except json.JSONDecodeError:
                events.append({"event": "unreadable guard record", "host": "?", "port": None,
                               "process": "?", "blocked": None})
        return events


def summarise(events_by_phase: Mapping[str, Iterable[Mapping[str, Any]]]) -> dict[str, Any]:
    """The cell's ``network`` record: attempts deduplicated (with counts) per phase."""
    merged: dict[tuple, dict[str, Any]] = {}
    for phase, events in events_by_phase.items():
        for ev in events:
            key = (phase, ev.get("process"), ev.get("event"), ev.get("host"), ev.get("port"),
                   ev.get("blocked"))
            entry = merged.setdefault(key, {
                "phase": phase, "process": ev.get("process"), "event": ev.get("event"),
                "host": ev.get("host"), "port": ev.get("port"), "blocked": ev.get("blocked"),
                "count": 0})
            entry["count"] += 1
    attempts = list(merged.values())
    return {
        "watched": WATCHED,
        "phases": sorted(events_by_phase),
        "attempts": attempts,
        "seen": sum(a["count"] for a in attempts),
        "blocked": sum(a["count"] for a in attempts if a["blocked"]),
    }


def merged_network(records: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """One ``network`` record for several runs of one check (bad input's attempts, ...)."""
    attempts: list[dict[str, Any]] = []
    phases: set[str] = set()
    for rec in records:
        attempts += rec.get("attempts", [])
        phases.update(rec.get("phases", []))
    return {"watched": WATCHED, "phases": sorted(phases), "attempts": attempts,
            "seen": sum(a["count"] for a in attempts),
            "blocked": sum(a["count"] for a in attempts if a["blocked"])}
