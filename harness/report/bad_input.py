"""The bad-input matrix (cases x tool:scenario) from ``results["reliability"]["bad_input"]``.

Reads only the results file: case descriptions come from ``invocation["bad_input_cases"]``, as
recorded by the run that measured them; each entry is the outcome and a short form of its
detail (the full detail stays in results.json).
"""

from __future__ import annotations

from collections.abc import Mapping

from harness.report.markdown import md_table
from harness.report.page import Page

SHORT = 64
LEGEND = {
    "faithful": "stored faithfully: same name, step and value (type included), same bytes",
    "altered": "stored altered; the entry says how (value, type, name, step or bytes)",
    "rejected": "the call raised an error (its type and message) and nothing was stored",
    "dropped": "the call returned normally but nothing was stored; the entry quotes the warning "
               "the tool printed or logged, or says *silently*",
    "crashed": "the tool's process died or hung on this call; the harness recorded it and re-ran "
               "the remaining cases in a fresh run",
    "unknown": "not classifiable: the run could not be finished or read back (see below)",
}


def _clip(text: str, limit: int = SHORT) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def short(entry: Mapping[str, str]) -> str:
    """``outcome: gist`` where the gist is the detail's first clause (or the tool's warning)."""
    outcome, detail = entry.get("outcome", "?"), entry.get("detail") or ""
    if outcome == "faithful":
        return "faithful"
    if outcome == "dropped":
        said = detail.partition("tool said: ")[2]
        later = detail.partition("said later (outside any call): ")[2]
        note = detail.partition("read-back note: ")[2]
        gist = (f"warned: {said}" if said else f"warned later: {later}" if later
                else f"silently; {note}" if note else detail.partition("; ")[2] or detail)
    else:
        gist = detail.split(";")[0]
    return f"**{outcome}**: {_clip(gist)}"


def render(page: Page) -> list[str]:
    records = (page.results.get("reliability") or {}).get("bad_input") or []
    if not records:
        return []
    described = (page.results.get("invocation") or {}).get("bad_input_cases") or {}
    labels = [f"{r['tool']}:{r['scenario']}" for r in records]
    case_ids = list(described) or sorted({c for r in records for c in r.get("cases", {})})
    lines = [
        "## Bad input", "",
        "Each case handed straight to the tool's adapter in a fresh run (one call per case, "
        "each in its own try/except), then read back from the tool's storage in another "
        "process. Variants (`+async`, `+batch`) use the same client and store as their base "
        "scenario and are not repeated, except one `+async` scenario per tool: asynchronous "
        "logging moves errors out of the call. (`+batch` is not fed: its values are converted "
        "by the harness's adapter, `float()`, before the tool sees them.)", "",
    ]
    rows = [[f"{cid} {described.get(cid, '')}".strip(),
             *(short(entry) if (entry := r.get("cases", {}).get(cid)) else "-" for r in records)]
            for cid in case_ids]
    lines += md_table(["case", *labels], rows)
    lines += ["Legend: " + "; ".join(f"*{k}*: {v}" for k, v in LEGEND.items()) + ".", ""]
    later = [f"- `{label}`: " + " / ".join(_clip(line, 160) for line in r["said_later"][:3])
             for label, r in zip(labels, records, strict=True) if r.get("said_later")]
    if later:
        lines += ["What the tools said outside any call (between calls, while finishing; e.g. "
                  "errors of queued, asynchronous calls), first lines:", "", *later, ""]
    problems = [f"- `{label}`: {r['status']}: {_clip(str(r.get('error')), 200)}"
                for label, r in zip(labels, records, strict=True) if r.get("status") != "ok"]
    if problems:
        lines += ["Not (fully) measured:", "", *problems, ""]
    return lines
