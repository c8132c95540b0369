"""One cell's run: a fresh worker process logs (measured), another reads back what the tool
stored, and the record of both is kept.

Each cell has its own temporary directory, HOME and caches. The parent samples the CPU and memory
of the worker's whole process tree and of the services the scenario runs, and what the offline
guard caught in any of them.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import adapters
from adapters.base import StoredRun
from harness.measure import fidelity, netguard
from harness.measure.feature_calls import PROBE_WORKLOAD
from harness.measure.isolation import private_env
from harness.measure.proctree import TreeSampler, TreeStats, run_monitored
from harness.measure.tracker import Ledger
from harness.plan import Cell, Plan

# Fields of the log worker's answer kept as they are in the cell's record.
LOG_FIELDS = ("import_s", "init_s", "workload_s", "finish_s", "blocked_s", "calls",
              "call_errors", "call_error_count", "dataset_probe", "registry_probe",
              "alert_probe", "query_probe", "feature_probes_s", "hung_at_exit_s")


class ServiceHandle(Protocol):
    """What a cell needs of a running service (see harness.services.base.Service)."""

    network: netguard.GuardLog | None

    def pids(self) -> list[int]: ...

    def endpoints(self) -> dict[str, str]: ...

    def disk_bytes(self) -> int | None: ...


def _service_disk(svc: ServiceHandle) -> int | None:
    """What a service holds for the runs (None: unknown, or it would not say); never raises, a
    service that does not answer is a finding of its own, not the end of the cell."""
    try:
        return svc.disk_bytes()
    except Exception:  # noqa: BLE001 - a database or bucket that cannot be sized is not fatal
        return None


def cell_env(cell_dir: Path) -> dict[str, str]:
    """A private HOME, caches and temp dir per cell; tool settings from the user's env removed;
    the worker imports this very harness, and the user's workload module from their cwd."""
    harness_root = str(Path(__file__).resolve().parents[2])
    paths = [harness_root, os.getcwd(), os.environ.get("PYTHONPATH", "")]
    return private_env(cell_dir, {"PYTHONPATH": os.pathsep.join(p for p in paths if p)})


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


def run_worker(spec: Mapping[str, Any], cell_dir: Path, name: str, timeout_s: float,
               env: Mapping[str, str], exit_grace_s: float = 30.0, leftover_grace_s: float = 0.0,
               watch: netguard.ConnectionWatch | None = None) -> tuple[dict[str, Any], TreeStats]:
    """Run one worker process (``python -m harness.measure.worker``) behind the offline guard
    (its attempts go to ``NAME.net.jsonl``); return its JSON answer, or a failure record carrying
    the end of its log, and the stats of its process tree."""
    spec_path = cell_dir / f"{name}.spec.json"
    result_path = cell_dir / f"{name}.result.json"
    spec_path.write_text(json.dumps({**spec, "result_path": str(result_path)}))
    log_path = cell_dir / f"{name}.log"
    stats = run_monitored(
        [sys.executable, "-m", "harness.measure.worker", str(spec_path)],
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
    """One cell's private directories and its worker processes: log (measured), read back."""

    def __init__(self, cell: Cell, plan: Plan, tmp_root: Path,
                 services: Mapping[str, ServiceHandle] | None = None) -> None:
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
        self.spec: dict[str, Any] = {
            "mode": cell.mode, "tool": cell.tool, "scenario": cell.scenario,
            "profile": plan.profile, "system_metrics": self.probing,
            "storage_dir": str(self.storage), "workdir": str(self.workdir),
            "workload": PROBE_WORKLOAD if self.probing else plan.workload,
            "workload_config": {} if self.probing else plan.workload_config,
            "run_name": f"trackbench-{cell.tool}-{cell.scenario}-{cell.repeat}",
            "services": {k: v for s in self.services.values() for k, v in s.endpoints().items()},
        }
        self.record: dict[str, Any] = {
            "tool": cell.tool, "tool_version": self.cls.version() if self.cls else None,
            "scenario": cell.scenario, "profile": plan.profile, "repeat": cell.repeat,
            "mode": cell.mode, "read_back": None, "fidelity": None,
        }
        self.logged: dict[str, Any] = {}  # the log worker's answer
        # Per phase (log, read, service NAME): connections seen by sampling non-Python processes.
        self.watches: dict[str, netguard.ConnectionWatch] = {}

    def _watch(self, phase: str) -> netguard.ConnectionWatch:
        return self.watches.setdefault(phase, netguard.ConnectionWatch())

    def worker(self, spec: Mapping[str, Any], name: str,
               **kwargs: Any) -> tuple[dict[str, Any], TreeStats]:
        """A worker process of this cell: its directory, environment and timeout."""
        return run_worker(spec, self.dir, name, self.timeout_s, self.env, **kwargs)

    def log(self) -> None:
        """The measured part: a fresh process imports, logs, finishes and exits."""
        self.before_log()
        self.after_log(*self.run_log())

    def before_log(self) -> None:
        """Harness work before the measured process (outside any timed window): pending writes
        flushed, the services' disk read, their samplers started."""
        os.sync()  # the previous cell's writes and deletions are flushed before, not during, it
        self._disk_before = {name: _service_disk(svc) for name, svc in self.services.items()}
        self._samplers = {
            name: TreeSampler(svc.pids(), observer=self._watch(f"service {name}").observe)
            for name, svc in self.services.items()}
        for sampler in self._samplers.values():
            sampler.start()

    def run_log(self) -> tuple[dict[str, Any], TreeStats]:
        """The measured process itself: import, init, workload, finish, exit."""
        try:
            return self.worker(self.spec, "log", exit_grace_s=self.exit_grace_s,
                               watch=self._watch("log"))
        finally:
            self._costs = {name: sampler.stop() for name, sampler in self._samplers.items()}

    def after_log(self, log: dict[str, Any], stats: TreeStats) -> None:
        """The record of the measured process, and what its services spent and grew by."""
        self.logged = log
        rec = self.record
        rec["services"] = {}
        for name, svc in self.services.items():
            held, before = _service_disk(svc), self._disk_before.get(name)
            rec["services"][name] = {
                **self._costs[name], "external": not svc.pids(), "disk_bytes": held,
                "disk_growth_bytes": held - before if None not in (held, before) else None}
        rec.update(status=log.get("status"), error=log.get("error"))
        rec.update({k: log.get(k) for k in LOG_FIELDS})
        written = log.get("result_written_at")
        exit_s = stats.ended_at - written if written else None
        rec.update(
            # What the user waits for: to the end of finish() in the worker, then its exit.
            e2e_s=log["e2e_s"] + exit_s if log.get("e2e_s") is not None and exit_s is not None
            else log.get("e2e_s"),
            e2e_to_finish_s=log.get("e2e_s"),
            process_wall_s=stats.wall_s, exit_s=exit_s,
            cpu_s=stats.cpu_s, peak_rss_bytes=stats.peak_rss_bytes,
            max_processes=stats.max_processes, leftover_processes=stats.leftovers,
            disk_bytes=disk_bytes(self.storage, self.dir / "home") if self.cls else 0,
            logged=Ledger.from_json(log["ledger"]).counts() if "ledger" in log else None,
        )

    def read(self, bundle_dir: Path | None = None) -> dict[str, Any]:
        """A second fresh process reads back what the tool stored (and, given ``bundle_dir``,
        copies the tool's offline bundle there); fidelity against the ledger. Returns the read
        worker's answer (empty when there was nothing to read)."""
        # Only the tool's own storage may answer the read-back: the workload's files are gone.
        shutil.rmtree(self.workdir, ignore_errors=True)
        rec, log = self.record, self.logged
        if rec["status"] != "ok" or not getattr(self.cls, "stores_data", self.cls is not None):
            return {}
        spec = {**self.spec, "mode": "read", "ref": log["ref"]}
        if bundle_dir is not None:
            spec["bundle_dir"] = str(bundle_dir)
        read, _ = self.worker(spec, "read", exit_grace_s=self.exit_grace_s,
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
        return read

    def read_stored(self, ref: Mapping[str, str]) -> tuple[StoredRun | None, str | None]:
        """Read ``ref`` (a run cut short, say) in a fresh process: what the tool stored, or None
        and the read-back's error."""
        shutil.rmtree(self.workdir, ignore_errors=True)  # only the tool's storage may answer
        read, _ = self.worker({**self.spec, "mode": "read", "ref": dict(ref)}, "read")
        if read.get("status") == "ok":
            return StoredRun(**read["stored"]), None
        return None, f"read-back {read.get('status')}: {read.get('error')}"

    def read_ref(self, ref: Mapping[str, str],
                 ledger: Ledger) -> tuple[dict[str, Any], str | None]:
        """Per-kind fidelity of ``ledger`` against :meth:`read_stored` (all missing if the read
        fails) and the read-back's error, if any."""
        stored, error = self.read_stored(ref)
        return fidelity.compare(ledger, stored or StoredRun()), error

    def read_bundle(self, bundle: dict[str, Any] | None,
                    original: Mapping[str, Any] | None) -> dict[str, Any] | None:
        """Read only the copied offline bundle, in a fresh dir and HOME, originals moved away."""
        if not bundle or bundle.get("outcome") != "copied":
            return bundle
        for name in ("store", "home"):  # what the bundle may not lean on once carried away
            (self.dir / name).rename(self.dir / f"{name}.hidden")
        fresh = self.dir / "fresh"
        spec = {**self.spec, "mode": "read", "ref": bundle["ref"], "storage_dir": bundle["dir"]}
        out, _ = run_worker(spec, fresh, "bundle-read", self.timeout_s, cell_env(fresh))
        summary: dict[str, Any] = {"status": out.get("status"), "error": out.get("error")}
        if out.get("status") == "ok":
            stored = StoredRun(**out["stored"])
            summary.update(
                fidelity=fidelity.compare(Ledger.from_json(self.logged["ledger"]), stored),
                unresolved=stored.unresolved,
                datasets_same=[list(d) for d in stored.datasets]
                == [list(d) for d in (original or {}).get("datasets", [])])
        return {**bundle, "read": summary}

    def network(self) -> dict[str, Any]:
        """What the offline guard caught in every worker of this cell (each writes
        ``NAME.net.jsonl``: log, read, bundle-read, bad-input, ...) and its services' processes;
        ``phases`` names the workers whose logs were read."""
        phases: dict[str, list[dict[str, Any]]] = {"log": [], "read": []}
        for path in sorted(self.dir.rglob("*.net.jsonl")):
            phase = path.name.removesuffix(".net.jsonl")
            phases[phase] = phases.get(phase, []) + netguard.GuardLog(path).take_new()
        for name, svc in self.services.items():
            if svc.network is not None:  # since the previous cell: start-up goes to the first
                phases[f"service {name}"] = svc.network.take_new()
        for phase, watch in self.watches.items():
            phases.setdefault(phase, []).extend(watch.events())
        return netguard.summarise(phases)

    def close(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


def run_cell(cell: Cell, plan: Plan, tmp_root: Path,
             services: Mapping[str, ServiceHandle] | None = None) -> dict[str, Any]:
    """Log in one fresh process, read back in another; one results record."""
    run = CellRun(cell, plan, tmp_root, services)
    try:
        run.log()
        run.read()
        run.record["network"] = run.network()
    finally:
        run.close()
    return run.record


def warm_up(tools: Sequence[str], plan: Plan, tmp_root: Path) -> None:
    """One unrecorded baseline cell (disk caches, interpreter start-up), then each tool's SDK
    imported once in a throwaway worker (.pyc files); a failure shows up in the measured cells."""
    run_cell(Cell(adapters.BASELINE, "baseline", -1), plan, tmp_root)
    for tool in tools:
        if (cls := adapters.load(tool)) is None:
            continue
        run = CellRun(Cell(tool, cls.scenarios[0], -1, "import"), plan, tmp_root)
        try:
            run.worker(run.spec, "import")
        finally:
            run.close()
