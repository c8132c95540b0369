"""One Locust run (the load generator) against one server: started, measured, parsed, stopped.

Locust runs as its own CLI (``python -m locust``, headless), with ``--processes`` to use every
local core, or as the master of workers on other machines (``--load-workers``). Its CPU is
sampled like a service's, so a level where the generator, not the server, was the limit can be
named as such. The request loop is bounded twice: by Locust's ``--run-time`` and by a hard
deadline after which the harness stops the generator's process tree itself.
"""

from __future__ import annotations

import csv
import json
import math
import os
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from harness.load.errors import error_kind
from harness.measure.isolation import private_env
from harness.measure.netguard import GuardLog, guard_env
from harness.measure.proctree import TreeSampler, stop_processes
from harness.services.base import free_port, tree

LOCUSTFILE = Path(__file__).with_name("locustfile.py")
# Past --run-time: the users' last requests (--stop-timeout), the workers' final reports and
# Locust's own exit. After that the harness stops the tree by force.
GRACE_S = 30.0
# A request that takes longer than this is a timeout (an error of its own kind).
REQUEST_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Load:
    """What the users do: ``users`` training jobs of ``steps`` steps of ``metrics`` metrics,
    stepping at ``rate`` steps/s each (0: as fast as the server answers)."""

    users: int
    seconds: float
    rate: float = 0.0
    steps: int = 50
    metrics: int = 20
    params: int = 10


@dataclass(frozen=True)
class Distribution:
    """Where the Locust users run: ``processes`` local processes, or a master that waits for
    ``workers`` remote workers, listening on ``bind`` (127.0.0.1 unless the user says)."""

    processes: int = 1
    workers: int = 0
    bind: str = "127.0.0.1"
    port: int | None = None


@dataclass
class GeneratorRun:
    wall_s: float
    returncode: int | None
    endpoints: dict[str, dict[str, Any]]  # name -> requests, failures, p50/p95/p99 (ms), ...
    errors: dict[str, int]  # error kind -> occurrences
    counts: dict[str, list[int]]  # run_id -> [points sent, points acknowledged]
    late_steps: int  # open loop: steps the server made start more than one step late
    killed: bool  # Locust did not end by itself in time: its counts may be incomplete
    cpu_s: float  # the generator's own process tree
    machine_cpu: float  # busy share of all cores over the run (0..1)
    network: list[dict[str, Any]] = field(default_factory=list)  # the offline guard's records
    log_tail: str = ""

    @property
    def sent(self) -> int:
        return sum(c[0] for c in self.counts.values())

    @property
    def acked(self) -> int:
        return sum(c[1] for c in self.counts.values())


def _ms(value: str) -> float | None:
    try:
        return float(value)
    except ValueError:
        return None  # Locust writes "N/A" for an endpoint without a successful request


def parse_stats(path: Path) -> dict[str, dict[str, Any]]:
    """Locust's ``_stats.csv``: per endpoint, requests, failures and latency (ms)."""
    out: dict[str, dict[str, Any]] = {}
    if not path.exists():
        return out
    with open(path, newline="") as fh:
        for row in csv.DictReader(fh):
            name = row["Name"]
            if name == "Aggregated" or not name:
                continue
            out[name] = {"requests": int(row["Request Count"]),
                         "failures": int(row["Failure Count"]),
                         "p50_ms": _ms(row["50%"]), "p95_ms": _ms(row["95%"]),
                         "p99_ms": _ms(row["99%"]), "max_ms": _ms(row["100%"]),
                         "mean_ms": _ms(row["Average Response Time"])}
    return out


def parse_failures(path: Path) -> dict[str, int]:
    """Locust's ``_failures.csv``, grouped by error kind (see :mod:`harness.load.errors`)."""
    kinds: dict[str, int] = {}
    if not path.exists():
        return kinds
    with open(path, newline="") as fh:
        for row in csv.DictReader(fh):
            kind = error_kind(row["Error"])
            kinds[kind] = kinds.get(kind, 0) + int(row["Occurrences"])
    return kinds


def _cpu_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far."""
    times = psutil.cpu_times()
    total = sum(times)
    return total - times.idle - getattr(times, "iowait", 0.0), total


def command(host: str, load: Load, experiment: str, prefix: Path,
            dist: Distribution) -> list[str]:
    """The ``locust`` command line of one run."""
    cmd = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless",
           "-u", str(load.users), "-r", str(max(load.users, 1)),
           "-t", f"{max(1, math.ceil(load.seconds))}s",  # Locust takes whole seconds only
           "--stop-timeout", "10", "--host", host, "--csv", str(prefix), "--only-summary",
           "--loglevel", "WARNING", "--exit-code-on-error", "0",
           "--tb-experiment", experiment, "--tb-steps", str(load.steps),
           "--tb-metrics", str(load.metrics), "--tb-params", str(load.params),
           "--tb-rate", f"{load.rate:g}", "--tb-journal", str(prefix.with_suffix(".counts.json"))]
    if dist.workers:
        cmd += ["--master", "--expect-workers", str(dist.workers),
                "--master-bind-host", dist.bind]
        if dist.port:
            cmd += ["--master-bind-port", str(dist.port)]
    elif dist.processes > 1:
        # The master and its forked workers talk over TCP: on 127.0.0.1 and a free port, never
        # Locust's default (every interface, port 5557, which two runs cannot share).
        port = dist.port or free_port()
        cmd += ["--processes", str(dist.processes), "--master-bind-host", "127.0.0.1",
                "--master-bind-port", str(port), "--master-host", "127.0.0.1",
                "--master-port", str(port)]
    return cmd


def run(host: str, load: Load, experiment: str, workdir: Path,
        dist: Distribution = Distribution(), guarded: bool = True,
        extra_env: Mapping[str, str] | None = None,
        stop: threading.Event | None = None) -> GeneratorRun:
    """Run Locust once; whatever happens, its process tree is gone when this returns. ``stop``
    ends the run early, as Locust's own SIGTERM handling does (stats and counts still written)."""
    workdir.mkdir(parents=True, exist_ok=True)
    prefix = workdir / "locust"
    env = private_env(workdir / "env", {"PYTHONUNBUFFERED": "1", **(extra_env or {})})
    guard = GuardLog(workdir / "network.jsonl")
    if guarded:
        env = guard_env(env, guard.path)
    log = workdir / "locust.log"
    busy0, total0 = _cpu_busy()
    began = time.monotonic()
    with open(log, "ab") as out:
        proc = subprocess.Popen(command(host, load, experiment, prefix, dist), stdout=out,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                                cwd=workdir, start_new_session=True)
    sampler = TreeSampler([proc.pid])
    sampler.start()
    deadline = began + load.seconds + GRACE_S + (600.0 if dist.workers else 0.0)  # late workers
    members: dict[int, psutil.Process] = {}  # the master's workers outlive it by a moment
    killed = False
    try:
        while proc.poll() is None and time.monotonic() < deadline:
            members.update((m.pid, m) for m in tree(proc.pid))
            if stop is not None and stop.is_set():
                proc.terminate()  # Locust stops its users and writes its files
                stop = None
                deadline = min(deadline, time.monotonic() + GRACE_S)
            time.sleep(0.1)
    finally:
        if proc.poll() is None:
            killed = True
            stop_processes(tree(proc.pid), grace_s=5.0)
            proc.wait(timeout=10)
        # Workers still finishing their last requests write their counts as they exit.
        _, alive = psutil.wait_procs(list(members.values()),
                                     timeout=max(1.0, min(GRACE_S, deadline - time.monotonic())))
        killed = killed or bool(alive)
        stop_processes(alive, grace_s=3.0)
        cost = sampler.stop()
    wall = time.monotonic() - began
    busy1, total1 = _cpu_busy()
    journal = prefix.with_suffix(".counts.json")
    # Local processes: each one's own file. Remote workers: what they reported to the master.
    counts = _read_counts([journal] if dist.workers else
                          sorted(journal.parent.glob(journal.name + ".*")))
    late = counts.pop("", [0, 0])[0]
    return GeneratorRun(
        wall_s=wall, returncode=proc.returncode,
        endpoints=parse_stats(Path(f"{prefix}_stats.csv")),
        errors=parse_failures(Path(f"{prefix}_failures.csv")), counts=counts, late_steps=late,
        killed=killed,
        cpu_s=float(cost["cpu_s"]),
        machine_cpu=(busy1 - busy0) / (total1 - total0) if total1 > total0 else 0.0,
        network=guard.take_new() if guarded else [],
        log_tail=log.read_text(errors="replace")[-1500:] if log.exists() else "")


def _read_counts(paths: Sequence[Path]) -> dict[str, list[int]]:
    """run_id -> [sent, acknowledged], summed over the processes' files."""
    total: dict[str, list[int]] = {}
    for path in paths:
        try:
            counts = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        for run_id, (sent, acked) in counts.items():
            into = total.setdefault(run_id, [0, 0])
            into[0] += int(sent)
            into[1] += int(acked)
    return total


# Up to this many users, one Locust process: forking workers costs ~3 s per run here, and one
# event loop kept up with 16 closed-loop jobs on FastTrackML, the fastest server (~180
# log-batches/s at 0.65 of a core); a level where it did not is flagged generator-bound.
ONE_PROCESS_USERS = 16


def processes_for(users: int, cores: int | None = None) -> int:
    """Local Locust processes for ``users`` users: one per core, one for a few users."""
    if users <= ONE_PROCESS_USERS:
        return 1
    return max(1, min(users, cores or os.cpu_count() or 1))


def worker_command(master_host: str, port: int | None = None) -> Sequence[str]:
    """What to run on another machine to add a worker to a ``--load-workers`` run."""
    cmd = ["locust", "-f", str(LOCUSTFILE), "--worker", "--master-host", master_host]
    return [*cmd, "--master-port", str(port)] if port else cmd
