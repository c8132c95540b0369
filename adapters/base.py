"""The one interface every tracker adapter implements.

Kept small on purpose (cf. Lightning's ``fabric/loggers/logger.py``): start a run, log params,
metrics and artifacts, finish, and read back what the tool actually stored. Optional features a
tool lacks raise :class:`Unsupported`, so coverage is measured instead of silently no-op'd.
"""

from __future__ import annotations

import abc
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, ClassVar

# Reserved tool names: the baseline (no tracker at all: the workload's calls stop at the
# harness's ledger) and the floor (an adapter that accepts every call and does nothing). Every
# run measures both beside the tools, so overheads are differences taken in the same run.
BASELINE = "none"
FLOOR = "null"
REFERENCE_TOOLS = (BASELINE, FLOOR)


class Unsupported(Exception):
    """The tool has no such feature (in this scenario)."""


class HostedOnly(Exception):
    """The feature lives in the tool's hosted service, which an offline run cannot reach."""

    def __init__(self, message: str, docs_url: str) -> None:
        super().__init__(message)
        self.docs_url = docs_url


@dataclass
class AdapterSettings:
    """Where and how an adapter runs; built by the harness, never read from the environment."""

    storage_dir: Path
    scenario: str = "default"
    profile: str = "lean"  # "lean": tool extras off; "defaults": the tool as it comes
    system_metrics: bool = False  # forced on by the monitoring probe, whatever the profile
    services: dict[str, str] = field(default_factory=dict)  # endpoints of harness-run services


@dataclass
class StoredRun:
    """What a tool kept, as read from its own storage (never from the adapter's memory)."""

    params: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, list[tuple[int, float]]] = field(default_factory=dict)
    artifacts: dict[str, str] = field(default_factory=dict)  # name -> sha256 of stored bytes
    system_metrics: dict[str, int] = field(default_factory=dict)  # series -> number of points
    datasets: list[tuple[str, str]] = field(default_factory=list)  # (name, version digest)
    # Per ``datasets`` entry: sha256 of the bytes the tool's stored reference leads to now
    # (None: nothing reachable). Empty when the adapter does not follow its references.
    dataset_sha256: list[str | None] = field(default_factory=list)
    models: list[tuple[str, str]] = field(default_factory=list)  # (registered name, version)
    alerts: list[str] = field(default_factory=list)  # titles of alerts kept with the run
    # Items the run refers to whose bytes the storage does not hold (e.g. staged elsewhere).
    unresolved: list[str] = field(default_factory=list)
    # Artifacts the tool keeps only a reference to (name -> the path it points at): not stored,
    # whatever still lies at that path.
    referenced: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def sha256_file(path: Path) -> str:
    """Checksum used on both sides of the fidelity check."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class TrackerAdapter(abc.ABC):
    """One tracker, one module (``adapters/<tool>.py``); the SDK is imported inside methods."""

    name: ClassVar[str]
    distribution: ClassVar[str | None] = None  # PyPI name, for the version without importing
    # Top-level modules the SDK is imported as: only this adapter's module may import them.
    sdk_modules: ClassVar[tuple[str, ...]] = ()
    scenarios: ClassVar[tuple[str, ...]] = ("default",)
    # The scenarios the default run measures (None: all of them); the rest run with
    # ``--scenarios all`` or by name, so the default run keeps to its time budget.
    default_scenarios: ClassVar[tuple[str, ...] | None] = None
    # Scenarios of the tool this harness cannot run, with the reason the report gives.
    not_run: ClassVar[dict[str, str]] = {}
    # Services (see harness/services) the harness must run for a scenario, in start order.
    scenario_services: ClassVar[dict[str, tuple[str, ...]]] = {}
    # A scenario "base+variant" is a mitigation a user would try (e.g. "sqlite+async"); the
    # report compares it with its base scenario.
    VARIANT_SEP: ClassVar[str] = "+"

    @classmethod
    def services_for(cls, scenario: str) -> tuple[str, ...]:
        return cls.scenario_services.get(scenario.split(cls.VARIANT_SEP)[0], ())

    @property
    def variant(self) -> str | None:
        base, sep, variant = self.settings.scenario.partition(self.VARIANT_SEP)
        return variant if sep else None

    @property
    def base_scenario(self) -> str:
        return self.settings.scenario.partition(self.VARIANT_SEP)[0]
    # Where the tool's access control lives when it is not in the local store (docs link).
    hosted_auth_docs: ClassVar[str | None] = None
    # Where the tool's REST/query API lives when only its hosted service serves it (docs link).
    hosted_api_docs: ClassVar[str | None] = None

    def __init__(self, settings: AdapterSettings) -> None:
        self.settings = settings

    @classmethod
    def version(cls) -> str | None:
        """Installed version of the tool, read from package metadata (no SDK import)."""
        if cls.distribution is None:
            return None
        try:
            return metadata.version(cls.distribution)
        except metadata.PackageNotFoundError:
            return None

    @abc.abstractmethod
    def import_sdk(self) -> None:
        """Import the SDK; the harness times this call. Any error marks the tool unavailable."""

    @abc.abstractmethod
    def start_run(self, name: str, config: Mapping[str, Any]) -> None:
        """Open a run; ``config`` is logged as the run's parameters by the workload, not here."""

    @abc.abstractmethod
    def log_params(self, params: Mapping[str, Any]) -> None: ...

    @abc.abstractmethod
    def log_metrics(self, metrics: Mapping[str, float], step: int) -> None: ...

    @abc.abstractmethod
    def log_artifact(self, path: Path, name: str) -> None:
        """Store the file at ``path`` under the flat name ``name``."""

    @abc.abstractmethod
    def finish(self) -> dict[str, str]:
        """Close the run, flush everything; return a JSON-able reference for :meth:`read_back`."""

    @abc.abstractmethod
    def read_back(self, ref: Mapping[str, str]) -> StoredRun:
        """Read the run ``ref`` from the tool's storage, in a fresh process; a run cut short
        (the process killed mid-run, files truncated) is read as far as it is readable."""

    def run_ref(self) -> dict[str, str]:
        """The reference :meth:`finish` would return, computable mid-run (crash-safety check)."""
        raise Unsupported(f"{self.name} cannot name its run before finish()")

    def log_dataset(self, path: Path, name: str) -> None:
        """Record a version of a dataset file (data-versioning probe)."""
        raise Unsupported(f"{self.name} has no dataset-versioning call")

    def register_model(self, path: Path, name: str) -> None:
        """Register the run's artifact ``path`` as a version of model ``name`` (registry probe)."""
        raise Unsupported(f"{self.name} has no model registry call")

    def send_alert(self, title: str, text: str) -> None:
        """Raise an alert from the running run (alerts probe)."""
        raise Unsupported(f"{self.name} has no alert call")

    def best_run(self, ref: Mapping[str, str], metric: str) -> Mapping[str, str] | None:
        """Ref of the run beside ``ref`` with the lowest ``metric``, from the tool's query API."""
        raise Unsupported(f"{self.name} has no run-query call")

    def offline_bundle(self, ref: Mapping[str, str]) -> tuple[str, Path]:
        """(key of ``ref`` naming it, path) of the self-contained bundle a later sync uploads."""
        raise Unsupported(f"{self.name} writes no offline bundle to upload later")


def api_names(obj: Any, words: tuple[str, ...]) -> list[str]:
    """Public names of ``obj`` with a ``_``-separated part starting with one of ``words``."""
    return sorted(n for n in dir(obj) if not n.startswith("_") and any(
        part.startswith(words) for part in n.lower().split("_")))

