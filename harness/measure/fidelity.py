"""Fidelity: the ledger (what was handed over) against what the tool stored, per kind.

Params match when their values are equal, or equal as text (trackers that keep params as
strings keep the information; the type change is counted separately). Metric points match on
(key, step) with the value bit-for-bit (NaN matches NaN); repeated (key, step) pairs are matched in
order. Artifacts match on name and sha256. Differences are listed, capped, with full counts.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from adapters.base import StoredRun
from harness.measure.tracker import Ledger

MAX_LISTED = 10


def _is_nan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)


def _same_param(a: Any, b: Any) -> bool:
    """Equal and of the same type."""
    return (_is_nan(a) and _is_nan(b)) or (type(a) is type(b) and a == b)


def _same_point(a: Any, b: Any) -> bool:
    """Metric values are numbers: equal as floats, bit for bit (NaN matches NaN)."""
    try:
        fa, fb = float(a), float(b)
    except (TypeError, ValueError):
        return type(a) is type(b) and a == b
    return fa == fb or (math.isnan(fa) and math.isnan(fb))


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


def _compare_points(
    logged: list[tuple[str, int, Any]], stored: Mapping[str, list[tuple[int, float]]]
) -> dict[str, Any]:
    result = _kind_result(len(logged))
    want: dict[tuple[str, int], list[Any]] = defaultdict(list)
    for key, step, value in logged:
        want[(key, step)].append(value)
    have: dict[tuple[str, int], list[Any]] = defaultdict(list)
    for key, points in stored.items():
        for step, value in points:
            have[(key, int(step))].append(value)
    for (key, step), values in want.items():
        got = have.get((key, step), [])
        for i, value in enumerate(values):
            if i >= len(got):
                _note(result, "missing", f"{key}@{step}={value!r}")
            elif _same_point(value, got[i]):
                result["kept"] += 1
            else:
                _note(result, "altered", f"{key}@{step}: {value!r} -> {got[i]!r}")
    for (key, step), got in have.items():
        for value in got[len(want.get((key, step), [])) :]:
            _note(result, "extra", f"{key}@{step}={value!r}")
    return result


def _compare_artifacts(logged: Mapping[str, str], stored: Mapping[str, str]) -> dict[str, Any]:
    result = _kind_result(len(logged))
    for name, digest in logged.items():
        if name not in stored:
            _note(result, "missing", name)
        elif stored[name] == digest:
            result["kept"] += 1
        else:
            _note(result, "altered", f"{name}: sha256 {digest[:12]} -> {stored[name][:12]}")
    for name in stored.keys() - logged.keys():
        _note(result, "extra", name)
    return result


def compare(ledger: Ledger, stored: StoredRun) -> dict[str, dict[str, Any]]:
    """Per kind: logged, kept, missing, altered, extra, and a few examples of each difference."""
    return {
        "params": _compare_params(ledger.params, stored.params),
        "points": _compare_points(ledger.points, stored.metrics),
        "artifacts": _compare_artifacts(ledger.artifacts, stored.artifacts),
    }
