"""A private environment for every process the harness starts: cells and services alike.

Nothing a tool or service writes may land in the user's real home or caches, and the user's own
tool settings (real API keys, an online mode, a tracking URI) must not leak into a measurement.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

# Variables with these prefixes are removed: tool settings from the user's environment (GIT_:
# a repository location such as GIT_DIR would point DVC, or a tool's git-status capture, at the
# user's own repository).
STRIPPED_ENV_PREFIXES = ("WANDB_", "MLFLOW_", "NEPTUNE_", "COMET_", "AWS_", "AIM_", "CLEARML_",
                         "TRACKIO_", "HF_", "__AIM_", "DVC_", "DVCLIVE_", "STUDIO_", "GTO_",
                         "GIT_", "MLTRAQ_")
# Each variable points under the process's own root directory.
PRIVATE_DIRS = {
    "HOME": "home",
    "XDG_CONFIG_HOME": "home/.config",
    "XDG_CACHE_HOME": "home/.cache",
    "XDG_DATA_HOME": "home/.local/share",
    "XDG_STATE_HOME": "home/.local/state",
    "TMPDIR": "tmp",
    "MPLCONFIGDIR": "home/.config/matplotlib",
}


def private_env(root: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The parent's environment without tool settings, with HOME, XDG dirs and TMPDIR under
    ``root`` (created), usage telemetry opted out (``DO_NOT_TRACK``); then ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(STRIPPED_ENV_PREFIXES)}
    env["DO_NOT_TRACK"] = "true"  # the common opt-out of usage telemetry (MLflow honours it)
    for var, rel in PRIVATE_DIRS.items():
        path = root / rel
        path.mkdir(parents=True, exist_ok=True)
        env[var] = str(path)
    env.update(extra or {})
    return env
