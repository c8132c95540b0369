"""Report sections for crash safety and server outage, read from ``results["reliability"]``
(``crash`` and ``outage`` lists); results without them (older files) render nothing."""

from __future__ import annotations

import statistics
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


MIN_KILLS = 5  # below this, the spread over kills says little about the tool


def kills_of(record: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The kills of a record; a record of schema 2 was one kill itself."""
    return list(record.get("kills") or [record])


def _spread(kills: list[Mapping[str, Any]]) -> str:
    shares = sorted(k["recovered_pct"] for k in kills if k.get("recovered_pct") is not None)
    if not shares:
        return "-"
    return f"**{_pct(shares[0])}** / {_pct(statistics.median(shares))} / {_pct(shares[-1])}"


def _window(kills: list[Mapping[str, Any]]) -> str:
    """The worst kill's loss: seconds and steps from the first point lost to the kill."""
    timed = [k for k in kills if "window_s" in k]
    if not timed:
        return "-"
    worst = max(timed, key=lambda k: k["window_s"])
    if not worst["window_steps"]:
        return "nothing lost"
    return f"{fmt_s(worst['window_s'])}, {worst['window_steps']} steps"


def _read_back(kills: list[Mapping[str, Any]]) -> str:
    said = dict.fromkeys(str(k.get("error") or "") for k in kills)
    said.update(dict.fromkeys(n for k in kills for n in k.get("notes") or []))
    said.update(dict.fromkeys(e for k in kills for e in (k.get("examples") or [])[:1]))
    return "; ".join(text for text in said if text)[:400] or "-"


def _crash(records: list[Mapping[str, Any]]) -> list[str]:
    rows = []
    for r in records:
        label = cell_label(r["tool"], r["scenario"])
        kills = [k for k in kills_of(r) if k.get("status") == "ok"]
        if not kills:
            rows.append([label, r.get("status", "?"), "-", "-", "-", "-", "-",
                         str(r.get("error"))])
            continue
        points = [f"{k['recovered_points']}/{k['logged_points']}" for k in kills]
        rows.append([label, str(len(kills)), _spread(kills), _window(kills), ", ".join(points),
                     ", ".join(str(k["kill_after_calls"]) for k in kills)
                     + f" of {r.get('workload_calls', '?')}",
                     _helpers(kills[-1]), _read_back(kills)])
    return md_table(["tool:scenario", "kills", "% recovered (min / median / max)",
                     "window at risk (worst kill)", "points recovered", "killed after call",
                     "helper processes after the last kill", "read-back"], rows)


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
        few = min(len(kills_of(r)) for r in crash) < MIN_KILLS
        lines += ["## Crash safety", "",
                  "The training process killed with SIGKILL mid-run, once at each of several "
                  "points of its run: of the metric points handed to the tool before each "
                  "kill, how many a fresh process reads back as the tool would deliver them"
                  + (f" (helper processes left behind had {grace:.0f} s to finish on their "
                     "own first)" if grace is not None else "")
                  + ". *Window at risk*: for the worst kill, the training time and steps from "
                  "the first lost point to the kill."
                  + (f" Fewer than {MIN_KILLS} kills for some tool:scenario: one kill measures "
                     "luck (what a background writer had flushed) as much as the tool."
                     if few else ""), "", *_crash(crash)]
    if outage:
        lines += ["## Server outage", "",
                  "The tracking server killed (SIGKILL) and restarted mid-run while the client "
                  "keeps logging: does the client raise, retry, or drop points silently?", "",
                  *_outage(outage)]
    return lines
