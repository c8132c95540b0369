"""What a run measures: the plan (tools, scenarios, repeats, workload, options), its cells, the
tool x scenario matrix, and the invocation recorded in results.json, from which ``--resume``
rebuilds the plan."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import adapters
from adapters.base import REFERENCE_TOOLS
from harness import results
from harness.results.method import WARMUP


@dataclass
class Plan:
    tools: list[str]
    scenarios: list[str] | None = None  # None or ["first"]: each tool's first; ["all"]: all
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
    crash_at: float = 0.5  # crash safety: kill at this fraction of the log_metrics calls
    require: list[str] = field(default_factory=list)  # must-have coverage features (--require)
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
        else:
            chosen = tuple(s for s in available if s in named)
        pairs.extend((tool, s) for s in chosen)
    unknown = wanted - matched - {"all"}
    if scenarios and unknown:
        raise ValueError(f"unknown scenario(s): {', '.join(sorted(unknown))}")
    return pairs


def tool_versions(tools: Iterable[str]) -> dict[str, str | None]:
    """Installed version of each tool (None: not installed or built in), without importing it."""
    return {t: (c.version() if (c := adapters.load(t)) else None) for t in tools}


def invocation(plan: Plan, pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """The plan as results.json records it (credentials of external services never are)."""
    return {
        "tools": with_reference_tools(plan.tools), "scenarios": [f"{t}:{s}" for t, s in pairs],
        "profile": plan.profile, "repeats": plan.repeats, "max_repeats": plan.max_repeats,
        "time_budget_s": plan.time_budget_s, "workload": plan.workload,
        "workload_config": plan.workload_config, "timeout_s": plan.timeout_s,
        "exit_grace_s": plan.exit_grace_s, "probes": plan.probes,
        "reliability": plan.reliability, "crash_at": plan.crash_at,
        "external": sorted(plan.external), "argv": sys.argv, "warmup": list(WARMUP),
        "require": list(plan.require),
    }


# Plan fields a results file records, so ``--resume`` can rebuild the plan from it.
RESUMABLE = ("profile", "repeats", "max_repeats", "time_budget_s", "workload", "workload_config",
             "timeout_s", "exit_grace_s", "probes", "reliability", "crash_at", "require")


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
    return Plan(tools=list(inv["tools"]), scenarios=list(inv["scenarios"]),
                external=dict(external), **fields)
