"""What a run measures: the plan (tools, scenarios, repeats, workload, options), its cells, the
tool x scenario matrix, and the invocation recorded in results.json, from which ``--resume``
rebuilds the plan."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import adapters
from adapters.base import REFERENCE_TOOLS
from harness import results
from harness.results.method import WARMUP
from harness.results.projection import TrainingRun

CRASH_AT = (0.2, 0.5, 0.8)
# Cells at once for the checks that measure what a tool kept, not how long it took (coverage
# probes, crash safety, bad input): one per core, two at most.
CHECK_WORKERS = max(1, min(2, os.cpu_count() or 1))


@dataclass
class Plan:
    tools: list[str]
    # None or ["first"]: each tool's first; ["default"]: each tool's default scenarios; ["all"]
    scenarios: list[str] | None = None
    profile: str = "lean"
    repeats: int = 3
    # Extra rounds, up to this many repeats in all, for the tool:scenarios whose headline
    # interval is still wide after ``repeats`` (None: exactly ``repeats``); a round starts only
    # if it is projected to end within ``time_budget_s`` of the start of the invocation.
    max_repeats: int | None = None
    time_budget_s: float | None = None
    workload: str = "digits"
    workload_config: dict[str, Any] = field(default_factory=dict)
    timeout_s: float = 300.0
    exit_grace_s: float = 30.0  # a worker alive this long after writing its result is killed
    probes: bool = True
    reliability: bool = True  # crash safety, server outage, bad input (after the repeats)
    # Crash safety: one kill at each of these fractions of the log_metrics calls. One kill
    # measures luck as much as the tool (a background writer may or may not have flushed).
    crash_at: tuple[float, ...] = CRASH_AT
    check_workers: int = CHECK_WORKERS
    require: list[str] = field(default_factory=list)  # must-have coverage features (--require)
    # The team's training run the report projects each tool's cost onto (--training-run).
    training_run: dict[str, Any] = field(default_factory=dict)
    projection_check: bool = True  # synthetic cells at a second size that check the projection
    # The team-scale load stage: "quick" (the CLI's default run), "full", or None (--no-load,
    # and any plan built in code that does not ask for it).
    load: str | None = None
    load_target: str | None = None  # a team's own MLflow-API server instead of the four embedded
    load_workers: int = 0  # Locust workers on other machines the master waits for (0: local)
    load_bind: str = "127.0.0.1"  # where the Locust master listens for those workers
    # A team's own services instead of the embedded ones: postgres_uri, s3_endpoint, s3_bucket,
    # s3_access_key, s3_secret_key, tracking_uri.
    external: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Cell:
    tool: str
    scenario: str
    repeat: int = 0
    mode: str = "log"  # "log" (measured), "probe" (coverage), or a reliability check's mode

    @property
    def label(self) -> str:
        return f"{self.tool}:{self.scenario}"


def with_reference_tools(tools: Iterable[str]) -> list[str]:
    """The requested tools, preceded by the baseline and the floor."""
    requested = [t for t in tools if t not in REFERENCE_TOOLS]
    return [*REFERENCE_TOOLS, *requested]


def matrix(tools: Iterable[str], scenarios: list[str] | None) -> list[tuple[str, str]]:
    """(tool, scenario) pairs to run; unknown tools or scenarios raise ValueError."""
    pairs: list[tuple[str, str]] = []
    scenarios = None if scenarios == ["first"] else scenarios
    wanted = set(scenarios or [])
    matched: set[str] = set()
    for tool in tools:
        try:
            cls = adapters.load(tool)
        except KeyError as exc:
            raise ValueError(str(exc).strip("'\"")) from None
        available = cls.scenarios if cls is not None else ("baseline",)
        named = {s for s in available if s in wanted or f"{tool}:{s}" in wanted}
        matched.update(s for s in wanted if s in named or s.removeprefix(f"{tool}:") in named)
        if not scenarios or tool in REFERENCE_TOOLS:
            chosen = available[:1]
        elif "all" in wanted:
            chosen = available
        elif "default" in wanted:
            chosen = tuple(cls.default_scenarios or available)
        else:
            chosen = tuple(s for s in available if s in named)
        pairs.extend((tool, s) for s in chosen)
    unknown = wanted - matched - {"all", "default"}
    if scenarios and unknown:
        raise ValueError(f"unknown scenario(s): {', '.join(sorted(unknown))}")
    return pairs


def tool_versions(tools: Iterable[str]) -> dict[str, str | None]:
    """Installed version of each tool (None: not installed or built in), without importing it."""
    return {t: (c.version() if (c := adapters.load(t)) else None) for t in tools}


REDACTED = "***"
# Options whose value is a credential (argparse also takes a unique prefix, e.g. --s3-sec).
SECRET_OPTIONS = ("s3-secret-key", "s3-access-key")
# The password of scheme://user:password@host (up to the last @ before the path: an unescaped
# @ in a password), and libpq's ?password= parameter.
_URI_PASSWORD = re.compile(r"(\b[A-Za-z][A-Za-z0-9+.-]*://[^/?#@:\s]*:)[^/?#\s]*(@)")
_QUERY_PASSWORD = re.compile(r"([?&]password=)[^&#\s]*")


def _secret_option(arg: str) -> bool:
    """``--s3-secret-key`` (or pytest's ``--trackbench-s3-secret-key``, or a unique prefix)."""
    name = arg.removeprefix("--trackbench-").removeprefix("--")
    return (arg.startswith("--") and len(name) > len("s3-")
            and any(option.startswith(name) for option in SECRET_OPTIONS))


def redacted_uris(text: str) -> str:
    """``text`` with the password of every URI in it replaced by ``***``."""
    return _QUERY_PASSWORD.sub(rf"\1{REDACTED}", _URI_PASSWORD.sub(rf"\1{REDACTED}\2", text))


def redacted_argv(argv: Sequence[str]) -> list[str]:
    """``argv`` without credentials, for files that get shared (results.json, sweeps.json):
    S3 keys and the passwords in URIs (``--postgres-uri``, ``--tracking-uri``) become ``***``."""
    out: list[str] = []
    for previous, arg in zip(["", *argv], argv, strict=False):  # previous: one behind
        name, eq, _ = arg.partition("=")
        if _secret_option(previous):  # --s3-secret-key VALUE
            out.append(REDACTED)
        elif eq and _secret_option(name):  # --s3-secret-key=VALUE
            out.append(f"{name}={REDACTED}")
        else:
            out.append(redacted_uris(arg))
    return out


def invocation(plan: Plan, pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """The plan as results.json records it (credentials of external services never are)."""
    return {
        "tools": with_reference_tools(plan.tools), "scenarios": [f"{t}:{s}" for t, s in pairs],
        "profile": plan.profile, "repeats": plan.repeats, "max_repeats": plan.max_repeats,
        "time_budget_s": plan.time_budget_s, "workload": plan.workload,
        "workload_config": plan.workload_config, "timeout_s": plan.timeout_s,
        "exit_grace_s": plan.exit_grace_s, "probes": plan.probes,
        "reliability": plan.reliability, "crash_at": list(plan.crash_at),
        "check_workers": plan.check_workers,
        "external": sorted(plan.external), "argv": redacted_argv(sys.argv),
        "warmup": list(WARMUP), "require": list(plan.require),
        "training_run": TrainingRun.from_dict(plan.training_run).as_dict(),
        "projection_check": plan.projection_check,
        "load": plan.load, "load_workers": plan.load_workers, "load_bind": plan.load_bind,
        "load_target": redacted_uris(plan.load_target) if plan.load_target else None,
        "shapes": {f"{t}:{s}": team_shape(t, s, plan.external) for t, s in pairs
                   if t not in REFERENCE_TOOLS},
        "not_run": not_run(t for t, _ in pairs),
    }


def not_run(tools: Iterable[str]) -> dict[str, str]:
    """``tool:scenario`` -> why the harness cannot run it here (an adapter's ``not_run``)."""
    out: dict[str, str] = {}
    for tool in dict.fromkeys(tools):
        cls = adapters.load(tool)
        out.update({f"{tool}:{s}": why for s, why in (cls.not_run if cls else {}).items()})
    return out


def team_shape(tool: str, scenario: str, external: Mapping[str, str]) -> str:
    """Which of the seed's three team shapes a scenario serves: no server (``solo``), a local
    tracking server (``team-local``), or a server shared on PostgreSQL and S3, or a team's
    own (``team-shared``)."""
    cls = adapters.load(tool)
    names = cls.services_for(scenario) if cls is not None else ()
    if not names:
        return "solo"
    shared = {"postgres", "s3"} & set(names) or (
        "tracking_uri" in external and "mlflow-server-postgres-s3" in names)
    return "team-shared" if shared else "team-local"


# Plan fields a results file records, so ``--resume`` can rebuild the plan from it.
RESUMABLE = ("profile", "repeats", "max_repeats", "time_budget_s", "workload", "workload_config",
             "timeout_s", "exit_grace_s", "probes", "reliability", "crash_at", "check_workers",
             "require",
             "training_run", "projection_check", "load", "load_workers", "load_bind")


def plan_from_results(data: Mapping[str, Any], external: Mapping[str, str]) -> Plan:
    """The plan an interrupted run was started with; services are given again (credentials
    are never written to results)."""
    inv = data["invocation"]
    missing = sorted(set(inv.get("external") or ()) - set(external))
    if missing:
        flags = ", ".join("--" + name.replace("_", "-") for name in missing)
        raise ValueError(f"the interrupted run used {flags}; give them again to resume it")
    if data["machine"]["hostname"] != results.machine_info()["hostname"]:
        raise ValueError(f"results were measured on {data['machine']['hostname']}; resume on "
                         "the same machine, or start a new run")
    fields = {name: inv[name] for name in RESUMABLE if name in inv}
    if "crash_at" in fields:  # a list in the file; one fraction in files of schema 2
        at = fields["crash_at"]
        fields["crash_at"] = tuple(at) if isinstance(at, list) else (at,)
    return Plan(tools=list(inv["tools"]), scenarios=list(inv["scenarios"]),
                external=dict(external), **fields)
