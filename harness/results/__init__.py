"""The results file: versioned, machine info and tool versions at the top (cf. pyperf's bench
files, pytest-benchmark's JSON).

Schema history:
  1 - first version: invocation, machine, tools, cells[] (one per tool x scenario x repeat),
      probes[] (coverage probe runs).
  2 - reliability{} (crash safety, server outage, bad input: one list per check, one record
      per tool x scenario). Files of version 1 still render (they have no reliability).
  3 - a cell's e2e_s includes interpreter exit (what the user waits for; e2e_to_finish_s is
      the old figure); crash records hold kills[] (several kills per tool x scenario); services
      record disk_growth_bytes per cell; artifacts fidelity counts "referenced" (not stored).
      Files of version 2 are upgraded on load: exit added to e2e_s, overheads recomputed.
"""

from __future__ import annotations

import json
import os
import platform
import socket
import sys
import time
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

import psutil

from adapters.base import BASELINE, FLOOR, REFERENCE_TOOLS
from harness.results.derived import baseline_overheads

__all__ = ["BASELINE", "FLOOR", "REFERENCE_TOOLS", "IncomparableResults", "check_same_machine",
           "load", "machine_info", "new_results", "new_sweeps", "save", "trackbench_version"]

SCHEMA_VERSION = 3
READABLE_VERSIONS = (1, 2, 3)


def trackbench_version() -> str:
    try:
        return metadata.version("trackbench")
    except metadata.PackageNotFoundError:
        return "unknown (not installed)"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_info() -> dict[str, Any]:
    """What a reader needs to judge whether two results files are comparable."""
    return {
        "hostname": socket.gethostname(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "python_implementation": platform.python_implementation(),
        "cpu_model": _cpu_model(),
        "cpu_logical": psutil.cpu_count(logical=True),
        "cpu_physical": psutil.cpu_count(logical=False),
        "memory_bytes": psutil.virtual_memory().total,
        "load_avg_at_start": list(os.getloadavg()),
    }


SAME_MACHINE_KEYS = ("cpu_model", "cpu_logical", "memory_bytes", "platform")


class IncomparableResults(ValueError):
    """Two results files come from different machines."""


def check_same_machine(old: Mapping[str, Any], new: Mapping[str, Any]) -> None:
    """Refuse to set side by side figures measured on different machines (cf. pyperf)."""
    differ = [k for k in SAME_MACHINE_KEYS if old["machine"].get(k) != new["machine"].get(k)]
    if differ:
        raise IncomparableResults(
            "results come from different machines (" + ", ".join(
                f"{k}: {old['machine'].get(k)!r} vs {new['machine'].get(k)!r}" for k in differ)
            + "); re-run both on one machine")


def new_results(invocation: Mapping[str, Any], tools: Mapping[str, str | None]) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "trackbench_version": trackbench_version(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "invocation": dict(invocation),
        "machine": machine_info(),
        "tools": dict(tools),  # tool -> installed version (None: not installed)
        "probes": [],
        "cells": [],
        "reliability": {},
    }


def new_sweeps(invocation: Mapping[str, Any],
               tools: Mapping[str, str | None]) -> dict[str, Any]:
    """A sweeps.json document (``trackbench sweep``): its points go to ``records``."""
    return {
        "schema_version": SCHEMA_VERSION,
        "kind": "sweeps",
        "trackbench_version": trackbench_version(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "invocation": dict(invocation),
        "machine": machine_info(),
        "tools": dict(tools),
        "records": [],
    }


def save(results: Mapping[str, Any], path: Path) -> None:
    """Write atomically, so an interrupted run never leaves a truncated file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(results, indent=1, sort_keys=False) + "\n")
    os.replace(tmp, path)


def load(path: Path) -> dict[str, Any]:
    """Read a results file, refusing ones this version cannot render."""
    try:
        data = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise SystemExit(f"trackbench: no results file at {path}") from None
    except json.JSONDecodeError as exc:
        raise SystemExit(f"trackbench: {path} is not valid JSON ({exc})") from None
    version = data.get("schema_version") if isinstance(data, dict) else None
    if version not in READABLE_VERSIONS:
        raise SystemExit(
            f"trackbench: {path} has schema_version {version!r}; this trackbench reads "
            f"{', '.join(map(str, READABLE_VERSIONS))}"
        )
    if version < 3:
        _upgrade_to_3(data)
    return data


def _upgrade_to_3(data: dict[str, Any]) -> None:
    """End to end gains interpreter exit, as version 3 measures it; the rest reads as is."""
    for cell in data.get("cells", []):
        if cell.get("e2e_s") is not None and "e2e_to_finish_s" not in cell:
            cell["e2e_to_finish_s"] = cell["e2e_s"]
            cell["e2e_s"] += cell.get("exit_s") or 0.0
    baseline_overheads(data.get("cells", []))
    data["upgraded_from"] = data["schema_version"]
