"""Report sections for crash safety and server outage, read from ``results["reliability"]``
(``crash`` and ``outage`` lists); results without them (older files) render nothing."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from harness.report.markdown import cell_label, fmt_s, md_table
from harness.report.page import Page


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}%" if 0 < value < 100 else f"{value:.0f}%"


def _helpers(record: Mapping[str, Any]) -> str:
    left, stopped = record.get("helpers_left") or [], record.get("helpers_stopped") or []
    if not left:
        return "none"
    text = ", ".join(left)
    return f"{text}; {len(stopped)} still alive after the grace, stopped" if stopped else \
        f"{text}; exited on their own"


def _crash(records: list[Mapping[str, Any]]) -> list[str]:
    rows = []
    for r in records:
        label = cell_label(r["tool"], r["scenario"])
        if r.get("status") != "ok":
            rows.append([label, r.get("status", "?"), "-", "-", "-", "-", str(r.get("error"))])
            continue
        note = r.get("error") or "; ".join(r.get("examples") or []) or "-"
        rows.append([label, f"{r['recovered_points']}/{r['logged_points']}",
                     f"**{_pct(r['recovered_pct'])}**",
                     f"{r['recovered_params']}/{r['logged_params']}",
                     f"{r['kill_after_calls']}/{r.get('workload_calls', '?')}",
                     _helpers(r), note])
    return md_table(["tool:scenario", "points recovered", "% recovered", "params recovered",
                     "killed after call", "helper processes after the kill", "read-back"], rows)


def _outage(records: list[Mapping[str, Any]]) -> list[str]:
    rows = []
    for r in records:
        label = cell_label(r["tool"], r["scenario"])
        if r.get("status") != "ok":
            rows.append([label, r.get("status", "?"), "-", "-", "-", str(r.get("error"))])
            continue
        client = r["client"]
        rows.append([label, f"**{r['behaviour']}**", fmt_s(r.get("outage_s")),
                     fmt_s(client["max_call_s"]), f"{r['stored_points']}/{r['logged_points']}",
                     r["evidence"]])
    return md_table(["tool:scenario", "client", "outage", "longest call", "points stored",
                     "evidence"], rows)


def render(page: Page) -> list[str]:
    reliability = page.results.get("reliability") or {}
    crash, outage = reliability.get("crash") or [], reliability.get("outage") or []
    lines: list[str] = []
    if crash:
        grace = next((r["helper_grace_s"] for r in crash if "helper_grace_s" in r), None)
        lines += ["## Crash safety", "",
                  "The training process killed with SIGKILL mid-run: of the metric points "
                  "handed to the tool before the kill, how many a fresh process reads back"
                  + (f" (helper processes left behind had {grace:.0f} s to finish on their "
                     "own first)" if grace is not None else "") + ".", "", *_crash(crash)]
    if outage:
        lines += ["## Server outage", "",
                  "The tracking server killed (SIGKILL) and restarted mid-run while the client "
                  "keeps logging: does the client raise, retry, or drop points silently?", "",
                  *_outage(outage)]
    return lines
