"""Registry of tracker adapters: name -> module, loaded lazily so a broken tool breaks nothing else.

``none`` is the baseline (no tracker at all: the workload's calls stop at the harness's ledger);
``null`` is the floor (an adapter that accepts every call and does nothing).
"""

from __future__ import annotations

import importlib

from adapters.base import TrackerAdapter

BASELINE = "none"

_REGISTRY: dict[str, str] = {
    "null": "adapters.null:NullAdapter",
    "mlflow": "adapters.mlflow:MlflowAdapter",
    "wandb": "adapters.wandb:WandbAdapter",
    "neptune": "adapters.neptune:NeptuneAdapter",
    "comet": "adapters.comet:CometAdapter",
}

# The four trackers the project compares by default; `none` and `null` always run beside them.
DEFAULT_TOOLS: tuple[str, ...] = ("mlflow", "wandb", "neptune", "comet")


def tool_names() -> list[str]:
    return [BASELINE, *_REGISTRY]


def load(name: str) -> type[TrackerAdapter] | None:
    """The adapter class for ``name`` (None for the baseline). Never imports the tool's SDK."""
    if name == BASELINE:
        return None
    try:
        target = _REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown tool {name!r}; known: {', '.join(tool_names())}") from None
    module_name, _, class_name = target.partition(":")
    return getattr(importlib.import_module(module_name), class_name)
