"""Run options, defined once for the CLI and for ``pytest --benchmark``.

Cf. pytest-benchmark's ``add_display_options``. The CLI spells an option ``--tools``; pytest
spells it ``--trackbench-tools``.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import adapters
from harness.plan import CRASH_AT, Plan
from harness.results import coverage
from harness.results.precision import UNSTABLE_SPREAD

REPEATS = 4
QUICK_REPEATS = 3
MAX_REPEATS = 10
# The default full run (ten tools, 16 tool:scenarios with the baseline and the floor): 23-24
# minutes on 2 cores with four repeats, the reliability checks and the team-scale stage (measured
# 2026-12-02), so extra rounds do not fit; with fewer tools they use the rest of the budget.
TIME_BUDGET_MIN = 18.0
# `--suite mltraq-2024`: its time budget unless --time-budget is given (the suite must end
# within 15 minutes on 2 cores; the last process may run past the budget by its own length).
SUITE_BUDGET_MIN = 12.5


def csv_list(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def fractions(text: str) -> list[float]:
    """``0.2,0.5``: the crash points; argparse reports a ValueError as an invalid value."""
    return [float(part) for part in csv_list(text)]


def training_run(text: str) -> dict[str, Any]:
    """``steps=10000,metrics=20``: the fields of TrainingRun given, checked at once (argparse
    shows an ArgumentTypeError's own message)."""
    fields = {"steps": int, "metrics": int, "step_ms": float, "log_every": int}
    try:
        values = key_values(csv_list(text))
        if unknown := sorted(set(values) - set(fields)):
            raise ValueError(f"unknown field(s) {', '.join(unknown)}; known: {', '.join(fields)}")
        out = {key: fields[key](value) for key, value in values.items()}
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r}: {exc}") from None
    if any(value <= 0 for value in out.values()):
        raise argparse.ArgumentTypeError(f"{text!r}: every value must be positive")
    return out


def load_workers(count: int) -> int:
    if count < 0:
        raise ValueError("--load-workers must be 0 (local) or a number of workers")
    return count


def key_values(pairs: Iterable[str]) -> dict[str, Any]:
    """``key=value`` pairs; values parsed as JSON when they parse (``3``, ``0.1``, ``true``)."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"expected key=value, got {pair!r}")
        try:
            out[key] = json.loads(raw)
        except json.JSONDecodeError:
            out[key] = raw
    return out


@dataclass(frozen=True)
class Option:
    name: str
    help: str
    default: Any
    type: Callable[[str], Any] = str
    choices: tuple[str, ...] | None = None
    action: str | None = None  # "append" or "store_true"
    cli_only: bool = False  # not under pytest --benchmark, whose rounds pytest-benchmark runs


OPTIONS: tuple[Option, ...] = (
    Option("tools", "comma-separated trackers (the none baseline and null floor always run)",
           ",".join(adapters.DEFAULT_TOOLS), csv_list),
    Option("scenarios", "comma-separated scenarios (e.g. mlflow:sqlite,mlflow:server-sqlite), "
           "'default' (each tool's default scenarios: MLflow's four deployments, not FastTrackML "
           "or the mitigation variants), 'all', or 'first' (each tool's first scenario only)",
           None, csv_list),
    Option("profile", "lean: tool extras off, like for like; defaults: tools as they come",
           "lean", str, ("lean", "defaults")),
    # Five rounds: fewer cannot separate tools at a 5% family-wise error (three paired rounds
    # give a t-test two degrees of freedom), so page one would call nearly everything tied.
    Option("repeats", f"measured repeats per cell (default {REPEATS}; --quick: "
           f"{QUICK_REPEATS})", None, int),
    Option("max-repeats", "after --repeats, extra interleaved rounds for the tool:scenarios whose "
           f"end-to-end or blocked-time interval still spans >= "
           f"{100 * UNSTABLE_SPREAD:.0f}%% of its median, up to this many repeats in all "
           f"(default {MAX_REPEATS}; --quick: none)", None, int, cli_only=True),
    Option("time-budget", "minutes: an extra round starts only if it, and then the reliability "
           "checks, are projected to end within this long after the start of the run",
           TIME_BUDGET_MIN, float, cli_only=True),
    Option("workload", "digits, synthetic, or your own module:function", "digits"),
    Option("workload-config", "key=value passed to the workload (repeatable)", [], str,
           action="append"),
    Option("timeout", "seconds before a cell is killed and recorded as timed out", 300.0, float),
    Option("no-probes", "skip the coverage probes", False, action="store_true"),
    Option("require", "comma-separated must-have features; the report says which tool:scenario "
           f"has every one verified (features: {', '.join(coverage.FEATURES)})", [], csv_list),
    Option("training-run", "the training run the report projects each tool's cost onto, as "
           "steps=N,metrics=M,step_ms=T,log_every=K (default steps=10000,metrics=20,step_ms=50,"
           "log_every=1)", {}, training_run),
    Option("no-reliability", "skip the reliability checks (crash safety, server outage, bad "
           "input)", False, action="store_true"),
    Option("crash-at", "crash safety: comma-separated fractions of the log_metrics calls; the "
           "training process is SIGKILLed once at each (0 < FRACTION < 1; default "
           f"{','.join(map(str, CRASH_AT))}: {len(CRASH_AT)} kills per tool:scenario)",
           list(CRASH_AT), fractions),
    Option("quick", "a fast look (about 1-2 minutes for the four tools): each tool's first "
           "scenario, a 3-epoch workload, 3 interleaved repeats, no probes, reliability checks "
           "or projection check", False,
           action="store_true"),
    Option("no-load", "skip the team-scale load stage (the quick one runs by default: under 5 "
           "minutes; `trackbench load` runs the full curves)", False, action="store_true",
           cli_only=True),
    Option("load-target", "team scale: load your own MLflow-API server at this URL instead of "
           "the four the harness starts on 127.0.0.1 (its store is not emptied)", None),
    Option("load-workers", "team scale: Locust workers on other machines the master waits for "
           "(start each with the command the run prints; 0: local processes, one per core)",
           0, int),
    Option("load-bind", "team scale: the address the Locust master listens on for "
           "--load-workers (default 127.0.0.1: workers on this machine or through a tunnel)",
           "127.0.0.1"),
    Option("postgres-uri", "your PostgreSQL (postgresql://user:pw@host:port/db) for "
           "mlflow:server-postgres-s3 instead of the embedded one", None),
    Option("s3-endpoint", "your S3 endpoint URL instead of the embedded SeaweedFS", None),
    Option("s3-bucket", "bucket on --s3-endpoint (default: mlflow)", None),
    Option("s3-access-key", "access key for --s3-endpoint", None),
    Option("s3-secret-key", "secret key for --s3-endpoint", None),
    Option("tracking-uri", "your MLflow tracking server for mlflow:server-postgres-s3 instead "
           "of the embedded PostgreSQL + S3 + server", None),
    Option("suite", "run a published study through our adapters instead of the comparison: "
           f"mltraq-2024 (MLtraq's tracking-speed benchmark; about {SUITE_BUDGET_MIN:.0f} minutes "
           "on 2 cores; --tools (default: every tool both studies share), --repeats "
           "(default 5), --time-budget (default: the suite's) and --out apply)", None,
           cli_only=True),
)

QUICK_EPOCHS = 3

EXTERNAL = ("postgres-uri", "s3-endpoint", "s3-bucket", "s3-access-key", "s3-secret-key",
            "tracking-uri")


def add_to(add: Callable[..., Any], prefix: str = "") -> None:
    """Register every option with an argparse-like ``add_argument``/``addoption`` callable."""
    for opt in OPTIONS:
        if opt.cli_only and prefix:
            continue
        kwargs: dict[str, Any] = {"help": opt.help, "dest": f"{prefix}{opt.name}".replace("-", "_")}
        if opt.action == "store_true":
            kwargs.update(action="store_true", default=False)
        else:
            kwargs.update(default=opt.default, type=opt.type)
            if opt.action:
                kwargs.update(action=opt.action, default=[])
            if opt.choices:
                kwargs["choices"] = opt.choices
        add(f"--{prefix.replace('_', '-')}{opt.name}", **kwargs)


def plan_from(values: Mapping[str, Any], prefix: str = "") -> Plan:
    """A Plan from parsed option values (argparse namespace vars or pytest getoption)."""

    def get(name: str) -> Any:
        key = f"{prefix}{name}".replace("-", "_")
        if key not in values:  # a CLI-only option under pytest: its default
            return next(opt.default for opt in OPTIONS if opt.name == name)
        return values[key]

    quick = get("quick")
    repeats = get("repeats")
    if repeats is None:
        repeats = QUICK_REPEATS if quick else REPEATS
    if repeats < 1:
        raise ValueError("--repeats must be at least 1")
    max_repeats = get("max-repeats")
    if max_repeats is None:
        max_repeats = repeats if quick else max(MAX_REPEATS, repeats)
    if max_repeats < repeats:
        raise ValueError("--max-repeats must be at least --repeats")
    if get("time-budget") <= 0:
        raise ValueError("--time-budget must be a positive number of minutes")
    if not get("crash-at") or not all(0 < f < 1 for f in get("crash-at")):
        raise ValueError("--crash-at must be fractions between 0 and 1 (exclusive)")
    probes = not (get("no-probes") or quick)
    require = list(dict.fromkeys(get("require") or []))
    if unknown := coverage.unknown_features(require):
        raise ValueError(f"unknown feature(s) for --require: {', '.join(unknown)}; valid: "
                         f"{', '.join(coverage.FEATURES)}")
    if require and not probes:
        raise ValueError("--require needs the coverage probes (drop --no-probes / --quick)")
    config = key_values(get("workload-config"))
    if quick and get("workload") == "digits":
        config = {"epochs": QUICK_EPOCHS, **config}
    return Plan(
        tools=get("tools"),
        scenarios=get("scenarios") or (["first"] if quick else ["default"]),
        profile=get("profile"),
        repeats=repeats,
        max_repeats=max_repeats,
        time_budget_s=60.0 * get("time-budget"),
        workload=get("workload"),
        workload_config=config,
        timeout_s=get("timeout"),
        probes=probes,
        require=require,
        reliability=not (get("no-reliability") or quick),
        crash_at=tuple(get("crash-at")),
        training_run=dict(get("training-run")),
        projection_check=not quick,
        load=None if quick or get("no-load") else "quick",
        load_target=get("load-target"),
        load_workers=load_workers(get("load-workers")),
        load_bind=get("load-bind"),
        external={name.replace("-", "_"): get(name) for name in EXTERNAL if get(name)},
    )
