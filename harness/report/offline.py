"""The offline-honesty section: which tools tried to reach the network while offline, and where.

Reads only the ``network`` records of the cells and of the reliability checks (see
harness.measure.netguard); results without them (older files) render no section.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from harness.report.markdown import cell_label, md_table
from harness.report.page import Page
from harness.results import REFERENCE_TOOLS

MAX_LISTED = 6


def guarded_runs(results: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """Every record of a run whose workers the guard watched: probe and measured cells, each
    crash kill, outage and bad-input record."""
    reliability = results.get("reliability") or {}
    kills = [{"tool": r["tool"], "scenario": r["scenario"], **k}
             for r in reliability.get("crash") or [] for k in r.get("kills") or [r]]
    return [*results.get("probes", []), *results.get("cells", []), *kills,
            *(reliability.get("outage") or []), *(reliability.get("bad_input") or [])]


def _rollup(results: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Per tool:scenario, over every guarded record: attempts merged, runs and ok runs."""
    out: dict[str, dict[str, Any]] = {}
    for cell in guarded_runs(results):
        net = cell.get("network")
        if net is None:
            continue
        row = out.setdefault(f"{cell['tool']}:{cell['scenario']}",
                             {"tool": cell["tool"], "scenario": cell["scenario"], "cells": 0,
                              "ok": 0, "attempts": [], "errors": [],
                              "watched": net.get("watched", "-")})
        row["cells"] += 1
        row["ok"] += cell.get("status") == "ok"
        if cell.get("status") != "ok" and cell.get("error"):
            row["errors"].append(str(cell["error"]))
        row["attempts"] += net.get("attempts", [])
        row.setdefault("phases", set()).update(net.get("phases") or ())
    return out


def _counted(items: dict[str, int]) -> str:
    shown = [f"`{k}` ×{n}" if n > 1 else f"`{k}`" for k, n in list(items.items())[:MAX_LISTED]]
    more = len(items) - MAX_LISTED
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")


def _row(label: str, row: dict[str, Any]) -> list[str]:
    destinations: dict[str, int] = {}
    processes: dict[str, int] = {}
    blocked = sampled = 0
    for a in row["attempts"]:
        where = f"{a['host']}:{a['port']}" if a.get("port") is not None else str(a["host"])
        destinations[where] = destinations.get(where, 0) + a["count"]
        who = f"{a['process']} ({a['phase']})"
        processes[who] = processes.get(who, 0) + a["count"]
        blocked += a["count"] if a.get("blocked") else 0
        sampled += 0 if a.get("blocked") else a["count"]
    seen = blocked + sampled
    verdict = f"{blocked} of {seen}" + (f" ({sampled} seen by sampling, not blockable)"
                                        if sampled else "")
    worked = "yes" if row["ok"] == row["cells"] else "no"
    worked += f" ({row['ok']}/{row['cells']} runs ok)"
    if row["errors"]:
        worked += f": {row['errors'][0][:80]}"
    return [label, str(seen), _counted(destinations), _counted(processes), verdict, worked]


def render(page: Page) -> list[str]:
    rolled = _rollup(page.results)
    if not rolled:
        return []
    phases = sorted({p for row in rolled.values() for p in row.get("phases") or ()})
    covered = (f" The guard logs read, by worker: {', '.join(f'`{p}`' for p in phases)}."
               if phases else "")
    lines = ["## Offline honesty", "",
             "Every worker process the harness started for a tool (measured and probe cells, "
             "their read-backs, the crash, outage and bad-input runs), and the Python tracking "
             "server of its scenario, ran behind the offline guard, and its log was read; "
             "loopback traffic passes. An *attempt* is a connection, datagram or DNS lookup "
             "aimed off the machine. Watched: " + next(iter(rolled.values()))["watched"] + "."
             + covered + " *By process*: `worker.py` is the cell's own process, where the "
             "tool's SDK runs; other names are its helper processes (`-c`: a `python -c` "
             "helper) or a service's.", ""]
    tried = {k: v for k, v in rolled.items() if v["attempts"]}
    quiet = [k for k, v in rolled.items() if not v["attempts"] and v["tool"] not in REFERENCE_TOOLS]
    if tried:
        lines += md_table(["tool:scenario", "attempts", "destinations (host:port)",
                           "by process (phase)", "blocked", "still worked"],
                          [_row(cell_label(row["tool"], row["scenario"]), row)
                           for row in tried.values()])
    else:
        lines += ["No cell tried to reach a non-loopback address.", ""]
    if quiet:
        lines += [f"No attempt seen in: {', '.join(quiet)}.", ""]
    return lines
