"""Team scale: many training jobs on one shared tracking server, and queries as its store grows.

For each target server and each N (a fresh server and store per N in the full stage, one per
target in the quick one), Locust runs N jobs open loop (each at ``spec.rate`` steps/s, as
training jobs log), then closed loop (as fast as the server answers), and every run is read
back. Once a server stops holding open-loop jobs, its higher N run closed loop only. The last
N's server then takes a new experiment filled to each store size, with the queries timed idle
and under writers, and real MLflow clients set beside Locust users.
Last, the backends' raw insert rate gives the floor. Each record is saved as it is made, a failed
level is recorded with its error, and every process is stopped by the stage or, after Ctrl-C,
by the cleanup below.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from harness.load import crosscheck, floor, generator, level, queries
from harness.load.generator import Distribution, Load, processes_for
from harness.load.spec import SPECS, LoadSpec
from harness.load.targets import BACKEND, Backends, Target, external, fresh
from harness.results.team_scale import BATCH, not_held
from harness.services.postgres import PostgresService
from harness.stages.context import StageContext

# Seconds the quick stage takes on 2 cores, and the full one: reserved by the runner.
ESTIMATE_S = {"quick": 280.0, "full": 1200.0}  # measured: 276 s, quick, 2026-12-02
WRITERS_WHILE_QUERYING = 4
FILL_BUDGET_S = {"quick": 60.0, "full": 300.0}  # per store size: a slow server fills fewer runs
LOCUST_START_S = 3.0  # from the generator's start until its users are logging


def _wanted(ctx: StageContext) -> bool:
    """The stage loads MLflow-API servers: it runs when the plan compares MLflow (or names a
    team's own server), and is not done yet."""
    plan = ctx.plan
    return (plan.load is not None and bool(plan.load_target or "mlflow" in plan.tools)
            and not ctx.data.get("load", {}).get("done"))


def estimate_s(ctx: StageContext) -> float:
    return ESTIMATE_S[ctx.plan.load] if _wanted(ctx) and ctx.plan.load else 0.0


def run(ctx: StageContext) -> None:
    mode = ctx.plan.load
    if not _wanted(ctx) or mode is None:
        return
    spec = SPECS[mode]
    if ctx.plan.load_target:
        spec = LoadSpec(**{**spec.as_dict(), "targets": ("external",)})
    data = ctx.data.setdefault("load", {})
    data.setdefault("spec", spec.as_dict())
    data.setdefault("target_uri", "given (--load-target)" if ctx.plan.load_target else None)
    data.setdefault("backends", {t: BACKEND.get(t, "unknown") for t in spec.targets})
    for key in ("levels", "queries", "crosscheck"):
        data.setdefault(key, [])
    data.setdefault("floor", {})
    data.setdefault("failures", [])
    backends = Backends(ctx.tmp_root / "load" / "backends", ctx.pool.log_dir)
    try:
        for index, label in enumerate(spec.targets):
            _target_work(ctx, spec, label, backends, data,
                         crosscheck=spec.crosscheck_all_targets or index == 0)
        _floor(ctx, spec, backends, data)
        data["done"] = True
        ctx.save()
    finally:
        backends.close()


def _dist(ctx: StageContext, users: int) -> Distribution:
    if ctx.plan.load_workers:
        return Distribution(workers=ctx.plan.load_workers, bind=ctx.plan.load_bind)
    return Distribution(processes=processes_for(users))


def _target(ctx: StageContext, label: str, key: str, backends: Backends) -> Target:
    if label == "external":
        return external(ctx.plan.load_target or "")
    return fresh(label, key, ctx.tmp_root / "load" / "servers", ctx.pool.log_dir, backends)


def _slug(label: str) -> str:
    return label.split(":")[-1]


def _target_work(ctx: StageContext, spec: LoadSpec, label: str, backends: Backends,
                 data: dict[str, Any], crosscheck: bool) -> None:
    """The levels of one target in ascending N; the last N's server then also takes the queries
    as its store grows and the real-client cross-check (one start fewer each). A fresh server
    and store per level, or (``spec.fresh_per_level`` off) one server for all of the target's
    levels, each level's jobs in a new experiment, restarted only if it died."""
    target: Target | None = None
    startup: float | None = None  # of the server just started; None once a level reported it
    try:
        for index, users in enumerate(spec.users):
            todo, queries_todo, cross_todo = _work_left(
                spec, label, users, index == len(spec.users) - 1, crosscheck, data)
            if not (todo or queries_todo or cross_todo):
                continue
            if target is not None and (spec.fresh_per_level or not target.alive()):
                target.close()
                target = None
            if target is None:
                began = time.monotonic()
                try:
                    target = _target(ctx, label, f"{_slug(label)}-{users}", backends)
                except Exception as exc:  # noqa: BLE001 - this level's failure; next one tried
                    _not_started(ctx, data, label, users, todo, queries_todo, cross_todo, exc)
                    continue
                startup = time.monotonic() - began
            for model in todo:
                _level(ctx, spec, label, target, model, users, startup, data)
                startup = None
            if queries_todo:
                _queries(ctx, spec, target, data)
            if cross_todo:
                _crosscheck(ctx, spec, target, cross_todo, data)
    finally:
        if target is not None:
            target.close()


def _work_left(spec: LoadSpec, label: str, users: int, last: bool, crosscheck: bool,
               data: dict[str, Any]) -> tuple[list[str], bool, list[int]]:
    """What level ``users`` of ``label`` still has to do (a resumed stage skips what is done):
    its load models, and on the last level the queries and the cross-check's N."""
    done = {(r["target"], r["model"], r["users"]) for r in data["levels"]}
    todo = [m for m in ("open", "closed") if (label, m, users) not in done]
    queries_todo = last and not any(q["target"] == label for q in data["queries"])
    checked = {(c["target"], c["users"]) for c in data["crosscheck"]}
    cross_todo = ([n for n in spec.crosscheck_users if (label, n) not in checked]
                  if last and crosscheck else [])
    return todo, queries_todo, cross_todo


def _not_started(ctx: StageContext, data: dict[str, Any], label: str, users: int,
                 todo: list[str], queries_todo: bool, cross_todo: list[int],
                 exc: Exception) -> None:
    """Record every piece of work a level's server was to take as failed: it did not start."""
    error = f"server did not start: {exc}"
    for model in todo:
        _record(ctx, data, {"target": label, "model": model, "users": users,
                            "status": "failed", "error": error})
    if queries_todo:
        data["queries"].append({"target": label, "status": "failed", "error": error})
    for n in cross_todo:
        data["crosscheck"].append({"target": label, "users": n, "status": "failed",
                                   "error": error})
    ctx.save()


def _level(ctx: StageContext, spec: LoadSpec, label: str, target: Target, model: str,
           users: int, startup_s: float | None, data: dict[str, Any]) -> None:
    saturated_at = next((r["users"] for r in data["levels"] if r["target"] == label
                         and r["model"] == "open" and r["status"] != "skipped"
                         and not_held(r)), None)
    if model == "open" and saturated_at is not None and users > saturated_at:
        _record(ctx, data, {"target": label, "model": model, "users": users,
                            "status": "skipped", "error": f"not held at {saturated_at} job(s)"})
        return
    load = Load(users=users, seconds=spec.seconds, steps=spec.steps, metrics=spec.metrics,
                rate=spec.rate if model == "open" else 0.0)
    workdir = ctx.tmp_root / "load" / "levels" / f"{_slug(label)}-{model}-{users}"
    record = level.measure(target, load, model, workdir, _dist(ctx, users),
                           guarded=label != "external")
    record["server_startup_s"] = startup_s  # None: the server came from an earlier level
    _record(ctx, data, record)


def _record(ctx: StageContext, data: dict[str, Any], record: dict[str, Any]) -> None:
    data["levels"].append(record)
    ctx.save()
    ctx.progress("load " + _describe(record))


def _describe(r: dict[str, Any]) -> str:
    head = f"{r['target']} {r['model']:<6} N={r['users']:<3}"
    if r["status"] != "ok":
        return f"{head} {r['status']}: {r.get('error')}"
    batch = r["endpoints"].get(BATCH, {})
    points = r["points"]
    kept = points["stored"] / points["acked"] if points["acked"] else 1.0
    p99 = batch.get("p99_ms")
    bound = " (generator-bound)" if r["generator"]["bound"] else ""
    return (f"{head} {r['stored_points_per_s']:>9,.0f} points/s stored, log-batch p99 "
            f"{'-' if p99 is None else f'{p99:.0f} ms'}, {sum(r['errors'].values())} error(s), "
            f"kept {kept:.1%} of acknowledged{bound}")


def _queries(ctx: StageContext, spec: LoadSpec, target: Target, data: dict[str, Any]) -> None:
    """Fill a new experiment on ``target`` to each store size, timing the queries at each."""
    label = target.label
    try:
        experiment = level.new_experiment(target.uri, f"queries-{time.time_ns()}")
        have = 0
        for size in spec.store_sizes:
            filled = queries.fill(target.uri, experiment, have, size, spec.metrics,
                                  budget_s=FILL_BUDGET_S[spec.name])
            have += filled["added"]
            calls = queries.queries(target.uri, experiment, queries.first_run(target.uri,
                                                                              experiment))
            idle = queries.time_queries(calls, spec.query_repeats)
            # Under writers at the largest store only: that is where a team feels it.
            busy = (_while_writing(ctx, target, spec, calls) if size == spec.store_sizes[-1]
                    else {"under_writers": {}, "writer_errors": None})
            data["queries"].append({"target": label, "status": "ok", "runs": have,
                                    "fill": filled, "idle": idle,
                                    "writers": WRITERS_WHILE_QUERYING, **busy})
            ctx.save()
            model = sorted(idle[next(iter(idle))]["seconds"] or [float("nan")])
            ctx.progress(f"load {label} queries at {have:,} runs: model selection "
                         f"{1000 * model[len(model) // 2]:.0f} ms idle "
                         f"(filled at {filled['runs_per_s'] or 0:,.0f} runs/s)")
    except Exception as exc:  # noqa: BLE001 - recorded; the next target is tried
        data["queries"].append({"target": label, "status": "failed",
                                "error": f"{type(exc).__name__}: {exc}"})
        ctx.save()


def _while_writing(ctx: StageContext, target: Target, spec: LoadSpec,
                   calls: dict[str, Any]) -> dict[str, Any]:
    """The queries again while open-loop writers log to the same server."""
    # At most the queries' own time bound; stopped as soon as the queries are done.
    writers = Load(users=WRITERS_WHILE_QUERYING, rate=spec.rate, steps=spec.steps,
                   metrics=spec.metrics,
                   seconds=LOCUST_START_S + len(calls) * queries.QUERY_BUDGET_S)
    experiment = level.new_experiment(target.uri, f"writers-{time.time_ns()}")
    outcome: dict[str, Any] = {}
    workdir = ctx.tmp_root / "load" / "query-writers" / f"{_slug(target.label)}-{time.time_ns()}"
    done = threading.Event()

    def write() -> None:
        outcome["run"] = generator.run(target.uri, writers, experiment, workdir,
                                       _dist(ctx, writers.users),
                                       guarded=target.label != "external", stop=done)

    thread = threading.Thread(target=write, daemon=True)
    thread.start()
    try:
        time.sleep(LOCUST_START_S)
        busy = queries.time_queries(calls, spec.query_repeats)
    finally:
        done.set()
        thread.join()
    run = outcome.get("run")
    return {"under_writers": busy,
            "writer_errors": sum(run.errors.values()) if run is not None else None}


def _crosscheck(ctx: StageContext, spec: LoadSpec, target: Target, todo: list[int],
                data: dict[str, Any]) -> None:
    """Every N on one server: the same server for real clients and Locust users is the point."""
    for users in todo:
        workdir = ctx.tmp_root / "load" / "crosscheck" / f"{_slug(target.label)}-{users}"
        record = crosscheck.compare(target, users, spec.steps, spec.metrics, workdir,
                                    processes_for(users))
        data["crosscheck"].append(record)
        ctx.save()
        if record["status"] == "ok":
            ctx.progress(f"load {target.label} cross-check N={users}: log-batch p50 "
                         f"{record['real']['p50_ms']:.1f} ms from real MLflow clients, "
                         f"{record['locust']['p50_ms']} ms from Locust users")


def _floor(ctx: StageContext, spec: LoadSpec, backends: Backends, data: dict[str, Any]) -> None:
    wanted = {BACKEND[t] for t in spec.targets if t in BACKEND}
    for backend in sorted(wanted - set(data["floor"])):
        try:
            if backend == "sqlite":
                path = ctx.tmp_root / "load" / "floor.db"
                path.parent.mkdir(parents=True, exist_ok=True)
                result = floor.sqlite_rate(path, spec.metrics, spec.floor_s)
            else:
                pg = backends.get("postgres")
                assert isinstance(pg, PostgresService)
                result = floor.postgres_rate(pg, spec.metrics, spec.floor_s)
            data["floor"][backend] = {"status": "ok", **result}
            ctx.progress(f"load floor {backend}: {result['rows_per_s']:,.0f} rows/s "
                         f"({spec.metrics} rows per transaction)")
        except Exception as exc:  # noqa: BLE001 - recorded
            data["floor"][backend] = {"status": "failed", "error": f"{type(exc).__name__}: {exc}"}
        ctx.save()
