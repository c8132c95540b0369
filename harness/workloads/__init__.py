"""Workloads: functions ``fn(tracker, config) -> None`` that log through the Tracker facade.

Built-in names map to modules here; anything else is a user's ``module:function``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

Workload = Callable[[Any, dict[str, Any]], None]

BUILTIN: dict[str, str] = {
    "digits": "harness.workloads.digits:train",
    "synthetic": "harness.workloads.synthetic:log_only",
}

DEFAULT = "digits"


def resolve(spec: str) -> Workload:
    """``digits`` / ``synthetic`` / ``package.module:function`` -> the callable."""
    target = BUILTIN.get(spec, spec)
    module_name, sep, attr = target.partition(":")
    if not sep or not module_name or not attr:
        raise ValueError(
            f"workload {spec!r} is neither a built-in ({', '.join(BUILTIN)}) "
            "nor of the form module:function"
        )
    module = importlib.import_module(module_name)
    try:
        fn = getattr(module, attr)
    except AttributeError:
        raise ValueError(f"module {module_name!r} has no attribute {attr!r}") from None
    if not callable(fn):
        raise ValueError(f"{target} is not callable")
    return fn


def merged_config(defaults: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Workload defaults with the user's overrides on top."""
    return {**defaults, **overrides}
