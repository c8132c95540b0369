"""A fake tracker that keeps several runs in one storage directory, as real trackers do.

``tests.fakes.JsonFileAdapter`` holds one run per storage directory (its second ``start_run``
fails), which the runs-per-process sweep, one store for N runs, cannot use.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from adapters.base import AdapterSettings
from tests.fakes import JsonFileAdapter, PhoneHomeAdapter


class MultiRunJsonAdapter(JsonFileAdapter):
    """Each run in its own ``run-N`` folder of the one storage directory."""

    name = "multirun"

    def __init__(self, settings: AdapterSettings) -> None:
        super().__init__(settings)
        self._root = settings.storage_dir
        self._runs = 0

    def start_run(self, name: str, config: Mapping[str, Any]) -> None:
        self._runs += 1
        run_dir = self._root / f"run-{self._runs}"
        run_dir.mkdir()
        self.settings = dataclasses.replace(self.settings, storage_dir=run_dir)
        self.import_sdk()  # a fresh in-memory run
        super().start_run(name, config)


class MultiRunPhoneHomeAdapter(MultiRunJsonAdapter, PhoneHomeAdapter):
    """Phones home at every run: the runs-per-process worker must be guarded like any other."""

    name = "multirun-phonehome"
