"""Fidelity: the ledger (what was handed over) against what the tool stored, per kind.

Params match when their values are equal, or equal as text (trackers that keep params as
strings keep the information; the type change is counted separately). Metric points match on
(key, step) with the value as :func:`harness.measure.values.same_value` says (bit for bit,
type of value included); repeated (key, step) pairs are matched in order. Artifacts match on name
and sha256 of bytes the tool's own storage holds; one the tool only refers to (a path to the
user's file) is *referenced, not stored*, whatever lies at that path now. Differences are
listed, capped, with full counts.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from adapters.base import StoredRun
from harness.measure.tracker import Ledger
from harness.measure.values import same_value

MAX_LISTED = 10


def _is_nan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)


def _same_param(a: Any, b: Any) -> bool:
    """Equal and of the same type."""
    return (_is_nan(a) and _is_nan(b)) or (type(a) is type(b) and a == b)


def _kind_result(logged: int) -> dict[str, Any]:
    return {"logged": logged, "kept": 0, "missing": 0, "altered": 0, "extra": 0, "examples": []}


def _note(result: dict[str, Any], what: str, text: str) -> None:
    result[what] += 1
    if len(result["examples"]) < MAX_LISTED:
        result["examples"].append(f"{what}: {text}")


def _compare_params(logged: Mapping[str, Any], stored: Mapping[str, Any]) -> dict[str, Any]:
    result = _kind_result(len(logged))
    result["type_changed"] = 0
    for key, value in logged.items():
        if key not in stored:
            _note(result, "missing", f"{key}={value!r}")
        elif _same_param(value, stored[key]):
            result["kept"] += 1
        elif str(value) == str(stored[key]):
            result["kept"] += 1
            result["type_changed"] += 1
        else:
            _note(result, "altered", f"{key}: {value!r} -> {stored[key]!r}")
    for key in stored.keys() - logged.keys():
        _note(result, "extra", f"{key}={stored[key]!r}")
    return result


def _stored_points(stored: Mapping[str, list[tuple[int, float]]]
                   ) -> dict[tuple[str, int], list[Any]]:
    have: dict[tuple[str, int], list[Any]] = defaultdict(list)
    for key, points in stored.items():
        for step, value in points:
            have[(key, int(step))].append(value)
    return have


def _matched(logged: list[tuple[str, int, Any]], have: Mapping[tuple[str, int], list[Any]]
             ) -> list[Any]:
    """Per logged point, in ledger order: the stored value it matches against (the i-th value
    stored at its (key, step) for the i-th logged there), or None when none is left."""
    seen: dict[tuple[str, int], int] = defaultdict(int)
    out = []
    for key, step, _ in logged:
        got = have.get((key, step), [])
        index = seen[(key, step)]
        seen[(key, step)] += 1
        out.append((got[index],) if index < len(got) else None)
    return out


def first_lost(ledger: Ledger, stored: StoredRun) -> int | None:
    """Index in the ledger of the first point the store does not hold at all (None: none
    missing). A point stored with an altered value (a float32 store) survived: fidelity, not
    crash safety, reports the alteration."""
    for index, got in enumerate(_matched(ledger.points, _stored_points(stored.metrics))):
        if got is None:
            return index
    return None


def _compare_points(
    logged: list[tuple[str, int, Any]], stored: Mapping[str, list[tuple[int, float]]]
) -> dict[str, Any]:
    result = _kind_result(len(logged))
    want: dict[tuple[str, int], int] = defaultdict(int)
    have = _stored_points(stored)
    for (key, step, value), got in zip(logged, _matched(logged, have), strict=True):
        want[(key, step)] += 1
        if got is None:
            _note(result, "missing", f"{key}@{step}={value!r}")
        elif same_value(value, got[0]):
            result["kept"] += 1
        else:
            _note(result, "altered", f"{key}@{step}: {value!r} -> {got[0]!r}")
    for (key, step), got in have.items():
        for value in got[want.get((key, step), 0):]:
            _note(result, "extra", f"{key}@{step}={value!r}")
    return result


def _compare_artifacts(logged: Mapping[str, str], stored: Mapping[str, str],
                       referenced: Mapping[str, str],
                       unsupported: Sequence[str] = ()) -> dict[str, Any]:
    result = {**_kind_result(len(logged)), "referenced": 0, "unsupported": 0}
    for name, digest in logged.items():
        if name not in stored and name in unsupported:
            _note(result, "unsupported", f"{name} (the tool stores no files)")
        elif name not in stored and name in referenced:
            _note(result, "referenced", f"{name} -> {referenced[name]} (not stored)")
        elif name not in stored:
            _note(result, "missing", name)
        elif stored[name] == digest:
            result["kept"] += 1
        else:
            _note(result, "altered", f"{name}: sha256 {digest[:12]} -> {stored[name][:12]}")
    for name in stored.keys() - logged.keys():
        _note(result, "extra", name)
    return result


def compare(ledger: Ledger, stored: StoredRun) -> dict[str, dict[str, Any]]:
    """Per kind: logged, kept, missing, altered, extra (artifacts: referenced, and unsupported:
    refused by a tool that stores no files), and a few examples of each difference."""
    return {
        "params": _compare_params(ledger.params, stored.params),
        "points": _compare_points(ledger.points, stored.metrics),
        "artifacts": _compare_artifacts(ledger.artifacts, stored.artifacts, stored.referenced,
                                        ledger.unsupported),
    }
