"""The manager: plans cells (tool x scenario x repeat), runs each in a fresh isolated worker
process, reads back, checks fidelity, and writes results.json after every cell.

Cells are interleaved across tools (A B C A B C ...) so machine drift hits every tool alike. The
``none`` baseline and the ``null`` floor always run in the same invocation, so overheads are
differences measured side by side, never against a number from another day.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import adapters
from adapters.base import StoredRun
from harness import (
    coverage,
    fidelity,
    netguard,
    precision,
    repeatability,
    results,
    server_probes,
)
from harness.proctree import TreeSampler, run_monitored
from harness.services.base import Service, ServiceError
from harness.services.pool import ServicePool
from harness.tracker import Ledger

# Tool settings in the user's environment must not leak into a cell (no real API keys, no
# online mode): variables with these prefixes are removed.
STRIPPED_ENV_PREFIXES = ("WANDB_", "MLFLOW_", "NEPTUNE_", "COMET_", "AWS_", "AIM_", "CLEARML_")
ALWAYS = (adapters.BASELINE, "null")
# What runs, unrecorded, before the measured cells (stated in the report's method).
WARMUP = ("one baseline cell", "one import of each tool's SDK")


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
    mode: str = "log"  # "log" (measured) or "probe" (coverage)

    @property
    def label(self) -> str:
        return f"{self.tool}:{self.scenario}"


def with_reference_tools(tools: Iterable[str]) -> list[str]:
    """The requested tools, preceded by the baseline and the floor."""
    requested = [t for t in tools if t not in ALWAYS]
    return [*ALWAYS, *requested]


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
        if not scenarios or tool in ALWAYS:
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


def cell_env(cell_dir: Path) -> dict[str, str]:
    """A private HOME, caches and temp dir per cell; tool settings from the user's env removed."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(STRIPPED_ENV_PREFIXES)}
    env["DO_NOT_TRACK"] = "true"  # the common opt-out of usage telemetry (MLflow honours it)
    dirs = {
        "HOME": "home",
        "XDG_CONFIG_HOME": "home/.config",
        "XDG_CACHE_HOME": "home/.cache",
        "XDG_DATA_HOME": "home/.local/share",
        "XDG_STATE_HOME": "home/.local/state",
        "TMPDIR": "tmp",
        "MPLCONFIGDIR": "home/.config/matplotlib",
    }
    for var, rel in dirs.items():
        path = cell_dir / rel
        path.mkdir(parents=True, exist_ok=True)
        env[var] = str(path)
    # The worker must import this very harness, and the user's workload module from their cwd.
    harness_root = str(Path(__file__).resolve().parent.parent)
    paths = [harness_root, os.getcwd(), env.get("PYTHONPATH", "")]
    env["PYTHONPATH"] = os.pathsep.join(p for p in paths if p)
    return env


def disk_bytes(*roots: Path) -> int:
    total = 0
    for root in roots:
        for dirpath, _, files in os.walk(root):
            for name in files:
                try:
                    total += os.lstat(os.path.join(dirpath, name)).st_size
                except OSError:
                    continue
    return total


def _worker(spec: dict[str, Any], cell_dir: Path, name: str, timeout_s: float,
            env: dict[str, str], exit_grace_s: float = 30.0, leftover_grace_s: float = 0.0,
            watch: netguard.ConnectionWatch | None = None) -> tuple[dict[str, Any], Any]:
    """Run one worker process behind the offline guard (its attempts go to ``NAME.net.jsonl``);
    return its JSON result (or a failure record) and tree stats."""
    spec_path = cell_dir / f"{name}.spec.json"
    result_path = cell_dir / f"{name}.result.json"
    spec = {**spec, "result_path": str(result_path)}
    spec_path.write_text(json.dumps(spec))
    log_path = cell_dir / f"{name}.log"
    stats = run_monitored(
        [sys.executable, "-m", "harness.worker", str(spec_path)],
        env=netguard.guard_env(env, cell_dir / f"{name}.net.jsonl"), cwd=Path(spec["storage_dir"]),
        log_path=log_path, timeout_s=timeout_s, observer=watch.observe if watch else None,
        result_path=result_path, exit_grace_s=exit_grace_s, leftover_grace_s=leftover_grace_s,
    )
    if stats.timed_out:
        return {"status": "timeout", "error": f"no result after {timeout_s:.0f} s"}, stats
    try:
        out = json.loads(result_path.read_text())
    except (OSError, json.JSONDecodeError):
        tail = log_path.read_text(errors="replace")[-800:] if log_path.exists() else ""
        out = {"status": "failed",
               "error": f"worker exited with code {stats.returncode} and no result: {tail}"}
    if stats.hung_at_exit:
        out["hung_at_exit_s"] = exit_grace_s
    return out, stats


class CellRun:
    """One cell's private directories and its two worker processes: log (measured), read back."""

    def __init__(self, cell: Cell, plan: Plan, tmp_root: Path,
                 services: Mapping[str, Service] | None = None) -> None:
        self.cls = adapters.load(cell.tool)
        self.services = dict(services or {})
        # Short paths: some helpers put unix sockets in TMPDIR (wandb-symon fails past ~65 chars).
        self.dir = Path(tempfile.mkdtemp(prefix=f"{cell.tool[:12]}-", dir=tmp_root))
        self.storage, self.workdir = self.dir / "store", self.dir / "scratch"
        self.storage.mkdir()
        self.workdir.mkdir()
        self.env = cell_env(self.dir)
        self.timeout_s, self.exit_grace_s = plan.timeout_s, plan.exit_grace_s
        self.probing = cell.mode == "probe"
        self.spec = {
            "mode": cell.mode, "tool": cell.tool, "scenario": cell.scenario,
            "profile": plan.profile, "system_metrics": self.probing,
            "storage_dir": str(self.storage), "workdir": str(self.workdir),
            "workload": coverage.PROBE_WORKLOAD if self.probing else plan.workload,
            "workload_config": {} if self.probing else plan.workload_config,
            "run_name": f"trackbench-{cell.tool}-{cell.scenario}-{cell.repeat}",
            "services": {k: v for s in self.services.values() for k, v in s.endpoints().items()},
        }
        self.record: dict[str, Any] = {
            "tool": cell.tool, "tool_version": self.cls.version() if self.cls else None,
            "scenario": cell.scenario, "profile": plan.profile, "repeat": cell.repeat,
            "mode": cell.mode, "read_back": None, "fidelity": None,
        }
        self._log: dict[str, Any] = {}
        # Per phase (log, read, service NAME): connections seen by sampling non-Python processes.
        self.watches: dict[str, netguard.ConnectionWatch] = {}

    def _watch(self, phase: str) -> netguard.ConnectionWatch:
        return self.watches.setdefault(phase, netguard.ConnectionWatch())

    def log(self) -> None:
        """The measured part: a fresh process imports, logs, finishes and exits."""
        os.sync()  # the previous cell's writes and deletions are flushed before, not during, it
        samplers = {name: TreeSampler(svc.pids(), observer=self._watch(f"service {name}").observe)
                    for name, svc in self.services.items()}
        for sampler in samplers.values():
            sampler.start()
        try:
            log, stats = _worker(self.spec, self.dir, "log", self.timeout_s, self.env,
                                 self.exit_grace_s, watch=self._watch("log"))
        finally:
            costs = {name: sampler.stop() for name, sampler in samplers.items()}
        self._log = log
        rec = self.record
        rec["services"] = {
            name: {**costs[name], "external": not svc.pids(), "disk_bytes": svc.disk_bytes()}
            for name, svc in self.services.items()
        }
        rec.update(status=log.get("status"), error=log.get("error"))
        rec.update({k: log.get(k) for k in (
            "import_s", "init_s", "workload_s", "finish_s", "e2e_s", "blocked_s", "calls",
            "call_errors", "call_error_count", "dataset_probe", "registry_probe",
            "alert_probe", "query_probe", "feature_probes_s", "hung_at_exit_s")})
        written = log.get("result_written_at")
        rec.update(
            process_wall_s=stats.wall_s,
            exit_s=stats.ended_at - written if written else None,
            cpu_s=stats.cpu_s, peak_rss_bytes=stats.peak_rss_bytes,
            max_processes=stats.max_processes, leftover_processes=stats.leftovers,
            disk_bytes=disk_bytes(self.storage, self.dir / "home") if self.cls else 0,
            logged=Ledger.from_json(log["ledger"]).counts() if "ledger" in log else None,
        )

    def read(self) -> None:
        """A second fresh process reads back what the tool stored; fidelity and coverage."""
        # Only the tool's own storage may answer the read-back: the workload's files are gone.
        shutil.rmtree(self.workdir, ignore_errors=True)
        rec, log = self.record, self._log
        if rec["status"] != "ok" or not getattr(self.cls, "stores_data", self.cls is not None):
            return
        spec = {**self.spec, "mode": "read", "ref": log["ref"]}
        if self.probing:
            spec["bundle_dir"] = str(self.dir / "bundle")
        read, _ = _worker(spec, self.dir, "read", self.timeout_s, self.env, self.exit_grace_s,
                          watch=self._watch("read"))
        rec["read_s"] = read.get("read_s")
        if read.get("status") == "ok":
            stored = StoredRun(**read["stored"])
            rec["read_back"] = {
                "params": len(stored.params),
                "points": sum(len(v) for v in stored.metrics.values()),
                "artifacts": len(stored.artifacts),
            }
            rec["fidelity"] = fidelity.compare(Ledger.from_json(log["ledger"]), stored)
            rec["notes"] = stored.notes
        else:
            rec["status"] = "failed"
            rec["error"] = f"read-back {read.get('status')}: {read.get('error')}"
        if self.probing:
            started = time.perf_counter()
            bundle = self._read_bundle(log, read.get("bundle"), read.get("stored"))
            rec["offline_bundle"] = bundle
            rec["bundle_read_s"] = time.perf_counter() - started
            rec["coverage"] = coverage.verdicts(
                log, read, self.cls.hosted_auth_docs, hosted_api_docs=self.cls.hosted_api_docs,
                server=bool(self.services), bundle=bundle)

    def _read_bundle(self, log: Mapping[str, Any], bundle: dict[str, Any] | None,
                     original: Mapping[str, Any] | None) -> dict[str, Any] | None:
        """Read only the copied offline bundle, in a fresh dir and HOME, originals moved away."""
        if not bundle or bundle.get("outcome") != "copied":
            return bundle
        for name in ("store", "home"):  # what the bundle may not lean on once carried away
            (self.dir / name).rename(self.dir / f"{name}.hidden")
        fresh = self.dir / "fresh"
        spec = {**self.spec, "mode": "read", "ref": bundle["ref"], "storage_dir": bundle["dir"]}
        out, _ = _worker(spec, fresh, "bundle-read", self.timeout_s, cell_env(fresh))
        summary: dict[str, Any] = {"status": out.get("status"), "error": out.get("error")}
        if out.get("status") == "ok":
            stored = StoredRun(**out["stored"])
            summary.update(
                fidelity=fidelity.compare(Ledger.from_json(log["ledger"]), stored),
                unresolved=stored.unresolved,
                datasets_same=[list(d) for d in stored.datasets]
                == [list(d) for d in (original or {}).get("datasets", [])])
        return {**bundle, "read": summary}

    def network(self) -> dict[str, Any]:
        """What the offline guard caught in this cell's workers and its services' processes."""
        phases: dict[str, list[dict[str, Any]]] = {}
        for phase in ("log", "read"):
            phases[phase] = netguard.GuardLog(self.dir / f"{phase}.net.jsonl").take_new()
        for name, svc in self.services.items():
            if svc.network is not None:  # since the previous cell: start-up goes to the first
                phases[f"service {name}"] = svc.network.take_new()
        for phase, watch in self.watches.items():
            phases.setdefault(phase, []).extend(watch.events())
        return netguard.summarise(phases)

    def close(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


def warm_up_import(tool: str, plan: Plan, tmp_root: Path) -> None:
    """Import a tool's SDK in a throwaway worker; a failure shows up in the measured cells."""
    run = CellRun(Cell(tool, adapters.load(tool).scenarios[0], -1, "import"), plan, tmp_root)
    try:
        _worker(run.spec, run.dir, "import", plan.timeout_s, run.env)
    finally:
        run.close()


def run_cell(cell: Cell, plan: Plan, tmp_root: Path,
             services: Mapping[str, Service] | None = None) -> dict[str, Any]:
    """Log in one fresh process, read back in another; one results record."""
    run = CellRun(cell, plan, tmp_root, services)
    try:
        run.log()
        run.read()
        run.record["network"] = run.network()
    finally:
        run.close()
    return run.record


def baseline_overheads(cells: list[dict[str, Any]]) -> None:
    """Each cell against the baseline (``none``) and the floor (``null``) of the same repeat.

    - overhead_s / overhead_pct: end-to-end time beyond the baseline's;
    - loop_slowdown_s: the workload's own work outside log calls beyond the baseline's (time
      lost to the tool's background threads and processes competing for the cores);
    - extra_cpu_s: CPU of the whole process tree beyond the baseline's;
    - floor_multiple: per-call p50 of log_metrics as a multiple of the null adapter's.
    """
    def by_repeat(tool: str) -> dict[int, dict[str, Any]]:
        return {c["repeat"]: c for c in cells if c["tool"] == tool and c["status"] == "ok"}

    base, floor = by_repeat(adapters.BASELINE), by_repeat("null")
    for c in cells:
        ref, low = base.get(c["repeat"]), floor.get(c["repeat"])
        ok = c["status"] == "ok" and ref is not None and c.get("e2e_s") is not None
        c["overhead_s"] = c["e2e_s"] - ref["e2e_s"] if ok else None
        c["overhead_pct"] = 100.0 * c["overhead_s"] / ref["e2e_s"] if ok and ref["e2e_s"] else None
        c["loop_slowdown_s"] = (
            c["workload_s"] - c["blocked_s"] - ref["workload_s"] if ok else None)
        c["extra_cpu_s"] = c["cpu_s"] - ref["cpu_s"] if ok else None
        p50 = (c.get("calls") or {}).get("metrics", {}).get("p50_s") if ok else None
        floor_p50 = (low["calls"]["metrics"]["p50_s"] if low else None) or None
        c["floor_multiple"] = p50 / floor_p50 if p50 is not None and floor_p50 else None


def fmt_clock(seconds: float) -> str:
    return time.strftime("%M:%S", time.gmtime(max(0.0, seconds)))


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


def _done(data: Mapping[str, Any]) -> set[tuple[str, str, int, str]]:
    return {(c["tool"], c["scenario"], c["repeat"], c["mode"])
            for c in [*data["probes"], *data["cells"]]}


def execute(plan: Plan, results_path: Path, progress: Callable[[str], None] = print,
            resume: dict[str, Any] | None = None,
            previous: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Run every cell of ``plan``; results.json is rewritten after each one.

    With ``resume`` (the results of an interrupted run of the same plan), cells already in it
    are kept and only the missing ones run. ``previous`` (the last finished run in the same
    place) contributes its headline medians when comparable, for the report's repeatability.
    """
    tools = with_reference_tools(plan.tools)
    pairs = matrix(tools, plan.scenarios)
    versions = {t: (c.version() if (c := adapters.load(t)) else None) for t in tools}
    invocation = {
        "tools": tools, "scenarios": [f"{t}:{s}" for t, s in pairs], "profile": plan.profile,
        "repeats": plan.repeats, "max_repeats": plan.max_repeats,
        "time_budget_s": plan.time_budget_s, "workload": plan.workload,
        "workload_config": plan.workload_config, "timeout_s": plan.timeout_s,
        "exit_grace_s": plan.exit_grace_s, "probes": plan.probes,
        "reliability": plan.reliability, "crash_at": plan.crash_at,
        "external": sorted(plan.external), "argv": sys.argv, "warmup": list(WARMUP),
        "require": list(plan.require),
    }
    data = resume if resume is not None else results.new_results(invocation, versions)
    if resume is None and previous is not None:
        data["previous_run"] = repeatability.previous_run(previous, data)
    done = _done(data)
    if resume is not None:
        if data["tools"] != versions:
            raise ValueError(f"tool versions changed since the interrupted run "
                             f"({data['tools']} then, {versions} now); start a new run")
        data.setdefault("resumed", []).append(
            {"at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "cells_kept": len(done),
             "argv": sys.argv})
    probe_cells = [Cell(t, s, 0, "probe") for t, s in pairs if t not in ALWAYS and plan.probes]
    cells = [c for c in probe_cells + [Cell(t, s, r) for r in range(plan.repeats) for t, s in pairs]
             if (c.tool, c.scenario, c.repeat, c.mode) not in done]
    skipped: dict[str, tuple[str, str]] = {  # tool or label -> (status, reason)
        c["tool"]: ("unavailable", c["error"])
        for c in [*data["probes"], *data["cells"]] if c["status"] == "unavailable"}
    coverage_by_label = {f"{c['tool']}:{c['scenario']}": c.get("coverage") or {}
                         for c in data["probes"]}
    tmp_root = Path(tempfile.mkdtemp(prefix="tb-"))
    log_dir = results_path.parent / "service-logs"
    pool = ServicePool(tmp_root / "services", log_dir, plan.external, progress)
    started = time.perf_counter()

    def run(batch: list[Cell], what_round: str) -> None:
        """Run ``batch`` in order; results.json is saved and a progress line printed after each."""
        batch_started = time.perf_counter()
        for index, cell in enumerate(batch, 1):
            known = skipped.get(cell.tool) or skipped.get(cell.label)
            cell_started = time.perf_counter()
            if known is None:
                record = _run_with_services(cell, plan, tmp_root, pool)
                record["cell_s"] = time.perf_counter() - cell_started
            else:
                record = {"tool": cell.tool, "tool_version": versions.get(cell.tool),
                          "scenario": cell.scenario, "profile": plan.profile,
                          "repeat": cell.repeat, "mode": cell.mode,
                          "status": known[0], "error": known[1]}
            if record["status"] == "unavailable":
                skipped[cell.tool] = ("unavailable", record["error"])
            elif record.get("service_error"):
                skipped[cell.label] = ("failed", record["error"])
            if cell.mode == "probe":
                record["coverage"] = coverage.merge(
                    record.get("coverage") or {},
                    server_probes.coverage_for(cell.label, data.get("server_probes", {})))
                coverage_by_label[cell.label] = record["coverage"]
                data["probes"].append(record)
            else:
                record["coverage"] = coverage_by_label.get(cell.label, {})
                data["cells"].append(record)
            baseline_overheads(data["cells"])
            results.save(data, results_path)
            elapsed = time.perf_counter() - batch_started
            eta = elapsed / index * (len(batch) - index)
            what = "probe" if cell.mode == "probe" else f"repeat {cell.repeat + 1}{what_round}"
            detail = record["status"]
            if record.get("error") and record["status"] != "ok":
                detail += f": {str(record['error'])[:90]}"
            if seen := (record.get("network") or {}).get("seen"):
                detail += f" (offline guard: {seen} network attempt(s) recorded)"
            progress(f"[{index:>3}/{len(batch)}] {cell.label:<22} {what:<13} {detail}  (elapsed "
                     f"{fmt_clock(time.perf_counter() - started)}, eta {fmt_clock(eta)})")

    try:
        progress("warm-up: one unrecorded baseline cell and one SDK import per tool "
                 "(disk caches, .pyc files)")
        run_cell(Cell(adapters.BASELINE, "baseline", -1), plan, tmp_root)
        for tool in dict.fromkeys(t for t, _ in pairs if t not in ALWAYS):
            warm_up_import(tool, plan, tmp_root)
        if plan.probes and "server_probes" not in data:
            data["server_probes"] = server_probes.run(pairs, pool, tmp_root / "services",
                                                      log_dir, progress)
            results.save(data, results_path)
        if resume is not None:
            progress(f"resuming: {len(done)} cell(s) kept from {results_path}, "
                     f"{len(cells)} to run")
        run(cells, f"/{plan.repeats}")
        if plan.reliability:
            _reliability_stages(data, pairs, plan, tmp_root, pool,
                                lambda: results.save(data, results_path), progress)
        _extra_rounds(plan, pairs, data, done, started, run, progress)
    finally:
        with interrupts_held():  # a second Ctrl-C must not leave services or files behind
            pool.close()
            shutil.rmtree(tmp_root, ignore_errors=True)
    return data


def _extra_rounds(plan: Plan, pairs: list[tuple[str, str]], data: dict[str, Any],
                  done: set[tuple[str, str, int, str]], started: float,
                  run: Callable[[list[Cell], str], None],
                  progress: Callable[[str], None]) -> None:
    """More interleaved rounds, each of the baseline, the floor and the tool:scenarios whose
    end-to-end or blocked-time interval is still wide (see :mod:`harness.precision`), until
    none is, ``max_repeats`` is reached, or the next round would overrun the time budget."""
    labels = [f"{t}:{s}" for t, s in pairs if t not in ALWAYS]
    for repeat in range(plan.repeats, plan.max_repeats or plan.repeats):
        earlier = [c for c in data["cells"] if c["repeat"] < repeat]
        wide = precision.imprecise(earlier, labels)
        if not wide:
            progress(f"every headline interval spans under "
                     f"{100 * precision.UNSTABLE_SPREAD:.0f}% of its median after {repeat} "
                     "repeats: no extra round needed")
            return
        batch = [Cell(t, s, repeat) for t, s in pairs
                 if (t in ALWAYS or f"{t}:{s}" in wide) and (t, s, repeat, "log") not in done]
        new_round = len(batch) == len(wide) + len(ALWAYS)
        projected = time.perf_counter() - started + precision.round_estimate_s(
            earlier, [f"{c.tool}:{c.scenario}" for c in batch])
        if new_round and plan.time_budget_s is not None and projected > plan.time_budget_s:
            progress(f"no extra round {repeat + 1}: it would end at {fmt_clock(projected)}, past "
                     f"the {fmt_clock(plan.time_budget_s)} budget; {', '.join(wide)} keep(s) "
                     "a wide interval")
            return
        progress(f"extra round {repeat + 1} (up to {plan.max_repeats}) for the interval(s) still "
                 f"spanning >= {100 * precision.UNSTABLE_SPREAD:.0f}% of the median: "
                 f"{', '.join(wide)}")
        run(batch, " (extra)")


@contextlib.contextmanager
def interrupts_held() -> Iterator[None]:
    """Ignore SIGINT/SIGTERM for a bounded cleanup (stopping services waits a few seconds at
    most), then restore the handlers; off the main thread signals cannot arrive here anyway."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    saved = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)


def _reliability_stages(data: dict[str, Any], pairs: list[tuple[str, str]], plan: Plan,
                        tmp_root: Path, pool: ServicePool, save: Callable[[], None],
                        progress: Callable[[str], None]) -> None:
    """Crash safety (SIGKILL of the training process), server outage (kill and restart of the
    tracking server), bad input; each saves after every record."""
    # They build on this module's CellRun and _worker, hence the late import.
    from harness import bad_input_stage, crash_safety, server_outage

    def services(tool: str, scenario: str) -> dict[str, Service]:
        cls = adapters.load(tool)
        return pool.get(cls.services_for(scenario) if cls is not None else ())

    started = time.perf_counter()
    for stage in (crash_safety, server_outage, bad_input_stage):
        stage.run(data, pairs, plan, tmp_root, services, save, progress)
    progress(f"reliability checks took {time.perf_counter() - started:.0f} s")


def _run_with_services(cell: Cell, plan: Plan, tmp_root: Path,
                       pool: ServicePool) -> dict[str, Any]:
    """Bring up what the cell's scenario needs (once per run), then run the cell."""
    cls = adapters.load(cell.tool)
    names = cls.services_for(cell.scenario) if cls is not None else ()
    try:
        services = pool.get(names)
    except ServiceError as exc:
        return {"tool": cell.tool, "tool_version": cls.version(), "scenario": cell.scenario,
                "profile": plan.profile, "repeat": cell.repeat, "mode": cell.mode,
                "status": "failed", "error": f"service did not start: {exc}",
                "service_error": True}
    return run_cell(cell, plan, tmp_root, services)
