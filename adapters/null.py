"""The floor: accepts every call and does nothing, so the harness's own cost can be measured."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from adapters.base import StoredRun, TrackerAdapter, Unsupported


class NullAdapter(TrackerAdapter):
    name = "null"
    stores_data = False

    def import_sdk(self) -> None:
        pass

    def start_run(self, name: str, config: Mapping[str, Any]) -> None:
        pass

    def log_params(self, params: Mapping[str, Any]) -> None:
        pass

    def log_metrics(self, metrics: Mapping[str, float], step: int) -> None:
        pass

    def log_artifact(self, path: Path, name: str) -> None:
        pass

    def run_ref(self) -> dict[str, str]:
        return {}

    def finish(self) -> dict[str, str]:
        return {}

    def read_back(self, ref: Mapping[str, str]) -> StoredRun:
        raise Unsupported("the null adapter stores nothing by design")
