"""Bad-input verdicts (pure): each case's outcome from the call's record and the read-back."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from harness.measure.bad_input_cases import (
    ALTERED,
    CASES,
    CRASHED,
    DROPPED,
    FAITHFUL,
    MAX_TEXT,
    REJECTED,
    UNKNOWN,
    Case,
    expected_sha256,
    points_of,
    show,
)
from harness.measure.values import same_value


def _describe_point(step: Any, value: Any) -> str:
    return f"{show(value)} ({type(value).__name__}) at step {step}"


def _with_call(result: dict[str, str], call: Mapping[str, Any]) -> dict[str, str]:
    """Stored despite an error, or what the tool said during the call: appended to the detail."""
    extra = []
    if call.get("error"):
        extra.append(f"the call also raised {call['error']}")
    if call.get("said"):  # also when faithful: a queued call's complaint may land here
        extra.append(f"tool said: {call['said']}")
    if extra:
        result = {**result, "detail": "; ".join([result["detail"], *extra])[:MAX_TEXT * 2]}
    return result


def _find(names: Any, case: Case) -> str | None:
    """The stored name for a case: exact, else the one name carrying its prefix."""
    if case.name in names:
        return case.name
    prefix = f"{case.id}_"
    found = sorted(n for n in names if isinstance(n, str) and n.startswith(prefix))
    return found[0] if found else None


def _text_change(what: str, original: str, stored: str) -> str:
    """How a name or text value changed: truncated (maybe with a marker appended) or replaced."""
    common = len(os.path.commonprefix([original, stored]))
    if len(stored) < len(original) and common == len(stored):
        return f"{what} truncated to {len(stored):,} of {len(original):,} chars"
    if len(stored) < len(original) and common >= len(stored) // 2:
        return (f"{what} truncated to {common:,} of {len(original):,} chars, then "
                f"{show(stored[common:])} appended")
    return f"{what} stored as {show(stored, 60)}"


def _name_change(case: Case, stored_name: str) -> str:
    return _text_change("name", case.name, stored_name)


def _absent(call: Mapping[str, Any], notes: list[str], case: Case,
            later: list[str]) -> dict[str, str]:
    if call.get("error"):
        return {"outcome": REJECTED, "detail": call["error"]}
    said = call.get("said")
    # A queued call's complaint rarely names the call: look for the name, text value or step.
    marks = [case.name[:60]] + ([case.value[:60]] if isinstance(case.value, str) else [])
    marks += [f"step {step}" for step, _ in case.points]
    mentions = [line for line in later if any(mark in line for mark in marks)]
    if said:
        detail = f"no error; tool said: {said}"
    elif mentions:
        detail = f"no error at the call; said later (outside any call): {mentions[0]}"
    elif later:
        detail = (f"no error at the call; {len(later)} line(s) said later (outside any call), "
                  "none naming this case: see the record's said_later")
    else:
        detail = "silently (no error, no warning)"
    related = [n.replace(f"artifact {case.name!r}: ", "") for n in notes if case.name in n]
    if related:
        detail += f"; read-back note: {related[0]}"
    return {"outcome": DROPPED, "detail": detail[:MAX_TEXT * 2]}


def _classify_points(case: Case, name: str, points: list[Any]) -> dict[str, str]:
    expected = list(points_of(case))
    got = [(int(step), value) for step, value in points]
    changes = [] if name == case.name else [_name_change(case, name)]
    same = len(got) == len(expected) and all(
        s == es and same_value(ev, v) for (s, v), (es, ev) in zip(got, expected, strict=True))
    if not same:
        shown = ", ".join(_describe_point(s, v) for s, v in got[:3])
        if len(expected) > 1 and len(got) == 1:
            which = [i for i, (es, ev) in enumerate(expected) if es == got[0][0]
                     and same_value(ev, got[0][1])]
            kept = {0: "only the first value kept", len(expected) - 1: "only the last value kept"}
            changes.append(kept.get(which[0], "one value kept") if which else f"stored {shown}")
        elif len(expected) == 1 and len(got) == 1 and got[0][0] != expected[0][0] \
                and same_value(expected[0][1], got[0][1]):
            changes.append(f"step {expected[0][0]} stored as step {got[0][0]}")
        elif len(expected) == 1 and len(got) == 1 and got[0][0] == expected[0][0]:
            changes.append(f"value stored as {show(got[0][1])} ({type(got[0][1]).__name__})")
        else:
            changes.append(f"stored {shown}" + (f" (+{len(got) - 3} more)" if len(got) > 3 else ""))
    if changes:
        return {"outcome": ALTERED, "detail": "; ".join(changes)}
    return {"outcome": FAITHFUL, "detail": ", ".join(_describe_point(s, v) for s, v in got)}


def _classify_param(case: Case, name: str, value: Any) -> dict[str, str]:
    changes = [] if name == case.name else [_name_change(case, name)]
    if isinstance(value, str) and value != case.value:
        changes.append(_text_change("value", case.value, value))
    elif not isinstance(value, str):
        changes.append(f"value stored as {show(value)} ({type(value).__name__})")
    if changes:
        return {"outcome": ALTERED, "detail": "; ".join(changes)}
    return {"outcome": FAITHFUL, "detail": f"all {len(value):,} chars"}


def _classify_artifact(case: Case, name: str, digest: str, large_sha256: str) -> dict[str, str]:
    changes = [] if name == case.name else [_name_change(case, name)]
    if digest != expected_sha256(case, large_sha256):
        changes.append(f"different bytes (sha256 {digest[:12]}…)")
    if changes:
        return {"outcome": ALTERED, "detail": "; ".join(changes)}
    return {"outcome": FAITHFUL, "detail": f"{case.size:,} bytes, same sha256"}


def classify(case: Case, call: Mapping[str, Any] | None, stored: Mapping[str, Any] | None,
             large_sha256: str, later: list[str] | None = None) -> dict[str, str]:
    """One case's outcome from the call's outcome and the read-back (``StoredRun`` as a dict).

    ``later``: what the tool said outside any call (between calls, while finishing): the errors
    of queued calls (asynchronous logging) surface there; one mentioning the case's name or
    value is quoted first.
    """
    if call is None:
        return {"outcome": UNKNOWN, "detail": "not fed (the run stopped before this case)"}
    if stored is None:
        if call.get("error"):
            return {"outcome": REJECTED, "detail": call["error"]}
        return {"outcome": UNKNOWN, "detail": "the call returned; the run was not readable"}
    notes = list(stored.get("notes") or [])
    sections = {"metric": "metrics", "steps": "metrics", "param": "params",
                "artifact": "artifacts"}
    section: dict[str, Any] = stored[sections[case.kind]]
    name = _find(section, case)
    if name is None:
        return _absent(call, notes, case, later or [])
    if case.kind == "param":
        result = _classify_param(case, name, section[name])
    elif case.kind == "artifact":
        result = _classify_artifact(case, name, section[name], large_sha256)
    else:
        result = _classify_points(case, name, section[name])
    return _with_call(result, call)


def classify_all(calls: Mapping[str, Any], stored: Mapping[str, Any] | None, large_sha256: str,
                 crashed: Mapping[str, str], later: list[str]) -> dict[str, dict[str, str]]:
    """Every case, in CASES order; ``crashed`` maps a case id to what happened to the process."""
    out = {}
    for case in CASES:
        if case.id in crashed:
            out[case.id] = {"outcome": CRASHED, "detail": crashed[case.id][:MAX_TEXT]}
        else:
            out[case.id] = classify(case, calls.get(case.id), stored, large_sha256, later)
    return out
