"""Registry of tracker adapters: name -> module, loaded lazily so a broken tool breaks nothing else.

A tool may also be named ``module:Class`` (an adapter of your own, importable from the cwd).

``none`` is the baseline (no tracker at all: the workload's calls stop at the harness's ledger);
``null`` is the floor (an adapter that accepts every call and does nothing).
"""

from __future__ import annotations

import importlib

from adapters.base import BASELINE, FLOOR, REFERENCE_TOOLS, TrackerAdapter

__all__ = ["BASELINE", "DEFAULT_TOOLS", "FLOOR", "REFERENCE_TOOLS", "load", "tool_names",
           "trackers"]

_REGISTRY: dict[str, str] = {
    FLOOR: "adapters.null:NullAdapter",
    "mlflow": "adapters.mlflow:MlflowAdapter",
    "wandb": "adapters.wandb:WandbAdapter",
    "neptune": "adapters.neptune:NeptuneAdapter",
    "comet": "adapters.comet:CometAdapter",
    "aim": "adapters.aim:AimAdapter",
    "clearml": "adapters.clearml:ClearmlAdapter",
    "trackio": "adapters.trackio:TrackioAdapter",
    "tensorboard": "adapters.tensorboard:TensorboardAdapter",
    "dvclive": "adapters.dvclive:DvcliveAdapter",
    "mltraq": "adapters.mltraq:MltraqAdapter",
}

# The trackers the project compares by default (each in its default scenarios); `none` and
# `null` always run beside them.
DEFAULT_TOOLS: tuple[str, ...] = ("mlflow", "wandb", "neptune", "comet", "aim", "clearml",
                                  "trackio", "tensorboard", "dvclive", "mltraq")


def tool_names() -> list[str]:
    return [BASELINE, *_REGISTRY]


def trackers() -> list[str]:
    """The registered trackers: every tool but the baseline and the floor."""
    return [name for name in _REGISTRY if name not in REFERENCE_TOOLS]


def load(name: str) -> type[TrackerAdapter] | None:
    """The adapter class for ``name`` (None for the baseline). Never imports the tool's SDK."""
    if name == BASELINE:
        return None
    target = name if ":" in name else _REGISTRY.get(name)
    if target is None:
        raise KeyError(f"unknown tool {name!r}; known: {', '.join(tool_names())}, "
                       "or an adapter of your own as module:Class")
    module_name, _, class_name = target.partition(":")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as exc:
        raise KeyError(f"cannot load adapter {target!r}: {exc}") from None
    if not (isinstance(cls, type) and issubclass(cls, TrackerAdapter)):
        raise KeyError(f"{target!r} is not a TrackerAdapter subclass")
    return cls
