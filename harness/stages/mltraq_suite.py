"""`trackbench run --suite mltraq-2024`: MLtraq's published speed experiments through our adapters.

Every tool runs in fresh isolated processes like our cells (private HOME and caches, the
offline guard, the process tree watched): one process per tool and repeat, which times the SDK
import and then each experiment on fresh storage (see :mod:`harness.measure.suite_worker`).
The first round measures every experiment once; later rounds repeat the experiments that are
cheap enough (a slow one gets fewer repeats, down to one), and a round's process starts only if
it fits the time budget. What was skipped, capped or broken is recorded, never dropped.
After the first round, the largest scalar run and the array are read back in another fresh
process: MLtraq never checked that the data landed.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

import adapters
from harness.measure import netguard
from harness.measure.cell import cell_env, run_worker
from harness.measure.proctree import run_monitored
from harness.results import mltraq_2024 as m24
from harness.services.base import ServiceError
from harness.stages.cell_batch import fmt_clock
from harness.stages.context import StageContext

# Our tool key -> (adapter, scenario, tools imported first). The scenario closest to MLtraq's:
# MLflow on a fresh local SQLite file, W&B/Neptune/Comet offline, Aim and MLtraq local.
SUITE_TOOLS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "mlflow": ("mlflow", "sqlite", ()),
    "wandb": ("wandb", "offline", ()),
    "neptune": ("neptune", "offline", ()),
    "comet": ("comet", "offline", ()),
    "aim": ("aim", "local", ()),
    "mltraq": ("mltraq", "sqlite", ()),
    "fasttrackml": ("mlflow", "fasttrackml", ()),
}
# Measured only to explain a difference: MLflow with comet_ml imported first, as in MLtraq's
# notebook (Comet's MLflow auto-logger then mirrors every MLflow run).
VARIANTS: dict[str, tuple[str, str, tuple[str, ...], tuple[str, ...]]] = {
    "mlflow-after-comet": ("mlflow", "sqlite", ("comet",), ("values-1", "values-10")),
}
VARIANT_REPEATS = 1  # an explaining variant needs a figure, not a tight interval
# Experiments left out of a tool for the time budget, with the reason the report gives.
BUDGET_SKIPS: dict[str, dict[str, str]] = {
    "fasttrackml": {e: "one HTTP request per value: about 10 s for 1,000 values and 100 s for "
                       "10,000 on this machine, outside the suite's time budget"
                    for e in ("values-1000", "values-10000")},
}
# Until the mltraq adapter is registered, it is found by module:Class.
FALLBACK_TARGETS = {"mltraq": "adapters.mltraq:MltraqAdapter"}
SLOW_S = 15.0  # an experiment this fast (first round) gets every repeat
SLOW_SHARE_S = 60.0  # a slower one gets as many repeats as fit in this many seconds (>= 1)
CAP_S = 120.0  # per experiment: its loop stops there, recorded as capped
READ_BACK = ("values-10000", "array-1m")  # read back after the first round
PROCESS_SLACK_S = 120.0


def resolve(name: str) -> tuple[str | None, str | None, str | None]:
    """(load target, version, None) or (None, None, the reason the adapter cannot be loaded)."""
    error = "unknown"
    for target in (name, FALLBACK_TARGETS.get(name)):
        if target is None:
            continue
        try:
            cls = adapters.load(target)
        except KeyError as exc:
            error = str(exc).strip("'\"")
            continue
        return target, cls.version() if cls else None, None
    return None, None, f"no adapter: {error}"


def _version(key: str, adapter_version: str | None) -> str | None:
    """The tool's version; FastTrackML's is its server's, beside the MLflow client's."""
    if key != "fasttrackml":
        return adapter_version
    try:
        return f"{metadata.version('FastTrackML')} (MLflow {adapter_version} client)"
    except metadata.PackageNotFoundError:
        return f"not installed (MLflow {adapter_version} client)"


def planned(tool: str, published: Mapping[str, Any]) -> list[m24.Experiment]:
    """Every experiment, but 100 runs only where MLtraq published a figure for the tool (it
    left MLflow, W&B and Aim out as too slow, 07 cell 48)."""
    wanted, skips = m24.published_for(published, tool), BUDGET_SKIPS.get(tool, {})
    return [e for e in m24.EXPERIMENTS
            if (e.id != "runs-100" or "runs-100" in wanted) and e.id not in skips]


def repeats_for(first_s: float, repeats: int) -> int:
    if first_s <= SLOW_S:
        return repeats
    return max(1, min(repeats, int(SLOW_SHARE_S // first_s)))


def spec_for(target: str, scenario: str, preload: tuple[str, ...], exps: list[m24.Experiment],
          services: Mapping[str, str], keep: tuple[str, ...]) -> dict[str, Any]:
    """The worker's spec; run_process adds where it writes."""
    return {"tool": target, "scenario": scenario, "profile": "lean", "cap_s": CAP_S,
            "services": dict(services), "preload": list(preload), "keep": list(keep),
            "experiments": [{"id": e.id, "runs": e.runs, "values": e.values, "array": e.array}
                            for e in exps]}


def run_process(tmp_root: Path, spec: dict[str, Any], prefix: str
                ) -> tuple[dict[str, Any], dict[str, Any], Path]:
    """One suite worker, isolated like a cell; (its answer, process record, its directory,
    which the caller removes)."""
    root = Path(tempfile.mkdtemp(prefix=f"{prefix[:12]}-", dir=tmp_root))
    for sub in ("store", "scratch"):
        (root / sub).mkdir()
    spec = {**spec, "storage_dir": str(root / "store"), "workdir": str(root / "scratch"),
            "result_path": str(root / "suite.result.json")}
    (root / "suite.spec.json").write_text(json.dumps(spec))
    watch = netguard.ConnectionWatch()
    load_before = os.getloadavg()[0]  # other work on the machine inflates every figure
    timeout = CAP_S * max(1, len(spec["experiments"])) + PROCESS_SLACK_S
    stats = run_monitored(
        [sys.executable, "-m", "harness.measure.suite_worker",
         str(root / "suite.spec.json")],
        env=netguard.guard_env(cell_env(root), root / "suite.net.jsonl"), cwd=root / "store",
        log_path=root / "suite.log", timeout_s=timeout, observer=watch.observe,
        result_path=root / "suite.result.json")
    try:
        out = json.loads((root / "suite.result.json").read_text())
    except (OSError, ValueError):
        tail = (root / "suite.log").read_text(errors="replace")[-600:] \
            if (root / "suite.log").exists() else ""
        out = {"status": "timeout" if stats.timed_out else "failed",
               "error": f"worker exited with code {stats.returncode} and no result: {tail}"}
    network = netguard.summarise({"suite": netguard.GuardLog(root / "suite.net.jsonl")
                                  .take_new() + watch.events()})
    proc = {"wall_s": stats.wall_s, "cpu_s": stats.cpu_s, "peak_rss_bytes": stats.peak_rss_bytes,
            "max_processes": stats.max_processes, "leftover_processes": stats.leftovers,
            "timed_out": stats.timed_out, "network": network, "load_avg_1min": load_before}
    return out, proc, root


def _read_back(ctx: StageContext, target: str, scenario: str, services: Mapping[str, str],
               store: Path, rec: Mapping[str, Any]) -> dict[str, Any]:
    """Read one experiment's last run in a fresh process: did the values (the array) land?"""
    spec = {"mode": "read", "tool": target, "scenario": scenario, "profile": "lean",
            "storage_dir": str(store / rec["experiment"]), "ref": rec["ref"],
            "services": dict(services), "system_metrics": False}
    out, _ = run_worker(spec, store.parent, f"read-{rec['experiment']}", 300.0,
                        cell_env(store.parent))
    result = {"tool": rec["tool"], "experiment": rec["experiment"], "status": out.get("status"),
              "error": out.get("error")}
    if out.get("status") != "ok":
        return result
    stored = out["stored"]
    if rec["experiment"] == "array-1m":
        sha = rec.get("artifact_sha256")
        result["artifact"] = ("stored" if sha and stored["artifacts"].get("array.npy") == sha
                              else "referenced, not stored" if stored.get("referenced")
                              else "missing or different")
    else:
        result["points_expected"] = rec["values_done"]
        result["points_stored"] = len(stored["metrics"].get("value", []))
    return result


def _records(key: str, repeat: int, out: Mapping[str, Any]) -> list[dict[str, Any]]:
    recs = [{"tool": key, "experiment": m24.IMPORT, "repeat": repeat, "status": "ok",
             "total_s": out["import_s"]}] if out.get("import_s") is not None else []
    for exp in out.get("experiments", []):
        recs.append({"tool": key, "repeat": repeat, **{k: v for k, v in exp.items()
                                                        if k != "traceback"}})
    return recs


def run(ctx: StageContext) -> None:
    inv, suite, published = ctx.data["invocation"], ctx.data["suite"], ctx.data["published"]
    repeats = int(inv["repeats"])
    suite["policy"] = {"slow_s": SLOW_S, "slow_share_s": SLOW_SHARE_S, "cap_s": CAP_S,
                       "read_back": list(READ_BACK), "variant_repeats": VARIANT_REPEATS,
                       "not_run": {t: s for t, s in BUDGET_SKIPS.items() if t in inv["tools"]}}
    tools: dict[str, tuple[str, str, tuple[str, ...], list[m24.Experiment]]] = {}
    for key in inv["tools"]:
        adapter, scenario, preload = SUITE_TOOLS[key] if key in SUITE_TOOLS else VARIANTS[key][:3]
        target, version, error = resolve(adapter)
        if error is None and all(resolve(p)[2] is None for p in preload):
            exps = planned(key, published) if key in SUITE_TOOLS else \
                [m24.BY_ID[e] for e in VARIANTS[key][3]]
            tools[key] = (target, scenario, preload, exps)
            ctx.data["tools"][key] = _version(key, version)
        else:
            suite["unavailable"][key] = error or "a tool it imports first has no adapter"
            ctx.progress(f"mltraq-2024: {key} unavailable: {suite['unavailable'][key]}")
    services: dict[str, dict[str, str]] = {}
    for key, (target, scenario, _, _) in list(tools.items()):
        try:
            running = ctx.services(target, scenario)
        except ServiceError as exc:
            suite["unavailable"][key] = f"its service did not start: {exc}"
            del tools[key]
            continue
        services[key] = {k: v for s in running.values() for k, v in s.endpoints().items()}
    _warm_up(ctx, tools, services)
    first_s: dict[tuple[str, str], float] = {}
    overhead: dict[str, float] = {}
    started = time.perf_counter()
    total_processes = sum(min(repeats, VARIANT_REPEATS) if k in VARIANTS else repeats
                          for k in tools)
    done = 0
    for repeat in range(repeats):
        shift = repeat % max(1, len(tools))  # interleaved: no tool always goes first
        order = [*list(tools)[shift:], *list(tools)[:shift]]
        for key in order:
            target, scenario, preload, exps = tools[key]
            if key in suite["unavailable"] or (key in VARIANTS and repeat >= VARIANT_REPEATS):
                continue
            exps = [e for e in exps if repeat < repeats_for(first_s.get((key, e.id), 0.0),
                                                            repeats)]
            done += 1
            estimate = overhead.get(key, 0.0) + sum(first_s.get((key, e.id), 0.0) for e in exps)
            if repeat and not ctx.fits(estimate):
                suite["skipped"].append({"tool": key, "repeat": repeat,
                                         "experiments": [e.id for e in exps],
                                         "reason": "time budget"})
                ctx.save()
                continue
            keep = READ_BACK if repeat == 0 else ()
            spec = spec_for(target, scenario, preload, exps, services.get(key, {}), keep)
            out, proc, root = run_process(ctx.tmp_root, spec, key)
            try:
                recs = _records(key, repeat, out)
                suite["records"] += recs
                suite["processes"].append({"tool": key, "repeat": repeat,
                                           "status": out.get("status"),
                                           "error": out.get("error"), **proc})
                if out.get("status") == "unavailable":
                    suite["unavailable"][key] = out.get("error") or "unavailable"
                for rec in recs:
                    if rec["experiment"] != m24.IMPORT and rec.get("total_s") is not None:
                        first_s.setdefault((key, rec["experiment"]), rec["total_s"])
                measured = sum(r.get("total_s") or 0.0 for r in recs)
                overhead.setdefault(key, max(0.0, proc["wall_s"] - measured))
                if repeat == 0:
                    for rec in recs:
                        if rec["experiment"] in READ_BACK and rec.get("ref"):
                            suite["read_backs"].append(_read_back(
                                ctx, target, scenario, services.get(key, {}),
                                root / "store", rec))
            finally:
                shutil.rmtree(root, ignore_errors=True)
            ctx.save()
            elapsed = time.perf_counter() - started
            bad = [f"{r['experiment']} {r['status']}" for r in recs if r["status"] != "ok"]
            ctx.progress(
                f"[{done:>2}/{total_processes}] round {repeat + 1}/{repeats} {key:<18} "
                f"{out.get('status')}: {len(exps)} experiment(s) in {proc['wall_s']:.0f} s"
                + (f" ({', '.join(bad)})" if bad else "")
                + (f" {str(out.get('error'))[:100]}" if out.get("error") else "")
                + f"  (elapsed {fmt_clock(ctx.elapsed_s())}, round clock {fmt_clock(elapsed)})")
    suite["wall_s"] = ctx.elapsed_s()
    ctx.save()


def _warm_up(ctx: StageContext, tools: Mapping[str, tuple], services: Mapping[str, Any]) -> None:
    """Unrecorded: each SDK imported once (disk cache, .pyc files), as our cells' warm-up."""
    ctx.progress(f"mltraq-2024: warm-up, one unrecorded import of each of {len(tools)} tool(s)")
    for key, (target, scenario, preload, _) in tools.items():
        _, _, root = run_process(ctx.tmp_root, spec_for(target, scenario, preload, [],
                                            services.get(key, {}), ()), f"warm-{key}")
        shutil.rmtree(root, ignore_errors=True)
