"""Run a command and measure its whole process tree: CPU seconds, peak RSS, leftovers.

CPU comes from ``wait4`` on the worker, which includes every descendant the tree reaped (the
worker makes itself a child subreaper, so detached helpers are reaped into it too), plus the last
sampled CPU of any process still alive in the worker's session when the worker exits. Peak RSS is
the largest sum of RSS over the tree seen by a sampler (every ``interval`` seconds), or the largest
single process's high-water mark from ``wait4``, whichever is larger. Processes left behind are
recorded by name and stopped (optionally after a grace period to exit on their own).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from harness.results.method import SAMPLE_INTERVAL_S

# After the SIGKILL of a timed-out or hung worker: how long its reaper may take to see the exit
# before the worker is given up on (recorded as killed, its tree stopped) rather than waited for.
REAP_TIMEOUT_S = 30.0


@dataclass
class TreeStats:
    returncode: int | None
    timed_out: bool
    wall_s: float
    cpu_s: float
    peak_rss_bytes: int
    max_processes: int
    ended_at: float  # time.time() when the worker was reaped
    leftovers: list[str] = field(default_factory=list)
    hung_at_exit: bool = False  # wrote its result, then did not exit within the grace period
    stopped: list[str] = field(default_factory=list)  # leftovers still alive after their grace


def _session_members(sid: int) -> list[psutil.Process]:
    """The live processes of session ``sid`` but its leader; a zombie (exited, waiting to be
    reaped: ClearML's reporter, the moment after close) is dead, not left running."""
    members = []
    for proc in psutil.process_iter():
        try:
            if (proc.pid != sid and os.getsid(proc.pid) == sid
                    and proc.status() != psutil.STATUS_ZOMBIE):
                members.append(proc)
        except (psutil.Error, ProcessLookupError, PermissionError):
            continue
    return members


def stop_processes(procs: Sequence[psutil.Process], grace_s: float = 3.0) -> None:
    """SIGTERM, then SIGKILL whatever is still alive after the grace period."""
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            proc.terminate()
    _, alive = psutil.wait_procs(procs, timeout=grace_s)
    for proc in alive:
        with contextlib.suppress(psutil.Error):
            proc.kill()
    psutil.wait_procs(alive, timeout=grace_s)


def run_monitored(
    cmd: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: Path,
    log_path: Path,
    timeout_s: float,
    interval_s: float = SAMPLE_INTERVAL_S,
    result_path: Path | None = None,
    exit_grace_s: float = 30.0,
    leftover_grace_s: float = 0.0,
    observer: Callable[[list[psutil.Process]], None] | None = None,
) -> TreeStats:
    """Run ``cmd`` in its own session; sample its tree until it exits or times out.

    A process that wrote ``result_path`` but is still alive ``exit_grace_s`` later is hung at
    exit (a tool's atexit hook or non-daemon thread): it is killed, and its result is kept.
    Processes it leaves behind get ``leftover_grace_s`` to exit on their own before they are
    stopped. ``observer`` is handed the tree at each sample (it keeps its own, lower, rate).
    A killed worker whose exit is not seen within ``REAP_TIMEOUT_S`` is given up on (see
    :func:`_given_up`), so one stuck worker cannot hang the run.
    """
    start, start_wall = time.perf_counter(), time.time()
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            list(cmd), env=dict(env), cwd=cwd, stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )
    root = psutil.Process(proc.pid)
    # A thread blocks in wait4 so the exit is seen at once, not at the next sample.
    reaped: dict[str, Any] = {}
    done = threading.Event()

    def reap() -> None:
        with contextlib.suppress(ChildProcessError):  # stop_processes() reaped it (interrupt)
            _, reaped["status"], reaped["usage"] = os.wait4(proc.pid, 0)
        reaped["at"] = time.time()
        done.set()

    threading.Thread(target=reap, daemon=True).start()
    seen: dict[int, psutil.Process] = {}  # descendants, also those in a session of their own
    last_cpu: dict[int, float] = {}
    peak_rss, max_procs, timed_out, hung, unreaped = 0, 1, False, False, False
    result_seen: float | None = None
    try:
        while not done.is_set():
            now = time.perf_counter()
            if result_seen is None and result_path is not None and result_path.exists():
                result_seen = now
            hung = result_seen is not None and now - result_seen > exit_grace_s
            timed_out = not hung and now - start > timeout_s
            if hung or timed_out:
                _kill(root)
                unreaped = not done.wait(REAP_TIMEOUT_S)
                break
            try:
                tree = [root, *root.children(recursive=True)]
            except psutil.Error:
                tree = []
            rss = 0
            for member in tree:
                try:
                    with member.oneshot():
                        times = member.cpu_times()
                        rss += member.memory_info().rss
                    last_cpu[member.pid] = times.user + times.system
                except psutil.Error:
                    continue
            peak_rss = max(peak_rss, rss)
            max_procs = max(max_procs, len(tree))
            seen.update((member.pid, member) for member in tree[1:])
            if observer is not None:
                observer(tree)
            done.wait(interval_s)
    except BaseException:
        stop_processes([root, *_session_members(proc.pid), *_still_running(seen.values(), set())])
        raise
    if unreaped:
        return _given_up(root, seen.values(), start_wall, last_cpu, peak_rss, max_procs, hung)
    status, usage, ended_at = reaped["status"], reaped["usage"], reaped["at"]
    wall = ended_at - start_wall
    proc.returncode = os.waitstatus_to_exitcode(status)  # keep Popen from waiting again
    leftovers = _session_members(proc.pid)
    leftovers += _still_running(seen.values(), {p.pid for p in leftovers})
    extra_cpu = sum(last_cpu.get(p.pid, 0.0) for p in leftovers)
    names = _names(leftovers)
    if leftover_grace_s > 0:
        _, leftovers = psutil.wait_procs(leftovers, timeout=leftover_grace_s)
    stopped = _names(leftovers)
    stop_processes(leftovers)
    return TreeStats(
        returncode=None if timed_out else proc.returncode,
        timed_out=timed_out,
        wall_s=wall,
        cpu_s=usage.ru_utime + usage.ru_stime + extra_cpu,
        peak_rss_bytes=max(peak_rss, usage.ru_maxrss * 1024),
        max_processes=max_procs,
        ended_at=ended_at,
        leftovers=names,
        hung_at_exit=hung,
        stopped=stopped,
    )


def _kill(root: psutil.Process) -> None:
    """SIGKILL the worker's process group, and the worker itself should it have left it. Either
    may be gone already: the worker can exit between the last check and the kill."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(root.pid, signal.SIGKILL)
    with contextlib.suppress(psutil.Error):  # psutil checks the pid was not reused meanwhile
        root.kill()


def _given_up(root: psutil.Process, seen: Iterable[psutil.Process], start_wall: float,
              last_cpu: Mapping[int, float], peak_rss: int, max_procs: int,
              hung: bool) -> TreeStats:
    """The stats of a worker killed but not reaped within ``REAP_TIMEOUT_S``: its tree stopped,
    no exit status, CPU as last sampled. Killed while hung at exit (its result written), it
    keeps that result; otherwise it is a timeout."""
    members = _session_members(root.pid)
    others = members + _still_running(seen, {p.pid for p in members})
    names = _names(others)
    stop_processes([root, *others])
    now = time.time()
    return TreeStats(returncode=None, timed_out=not hung, wall_s=now - start_wall,
                     cpu_s=sum(last_cpu.values()), peak_rss_bytes=peak_rss,
                     max_processes=max_procs, ended_at=now, leftovers=names, hung_at_exit=hung,
                     stopped=names)


def _still_running(procs: Iterable[psutil.Process], known: set[int]) -> list[psutil.Process]:
    """Descendants seen while the worker ran that outlived it in a session of their own (such
    as ``wandb-core``, started with ``start_new_session``), which a session scan misses."""
    alive = []
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            if proc.pid not in known and proc.is_running() \
                    and proc.status() != psutil.STATUS_ZOMBIE:
                alive.append(proc)
    return alive


def _names(procs: Sequence[psutil.Process]) -> list[str]:
    names = []
    for p in procs:
        try:
            names.append(f"{p.name()} (pid {p.pid})")
        except psutil.Error:
            continue
    return names


class TreeSampler:
    """CPU and peak RSS of long-running process trees (a service) over one measured window.

    CPU is the growth of each process's own user+system time between :meth:`start` and
    :meth:`stop` (processes born inside the window count from zero), plus what the roots reaped
    in the meantime (``children_*`` times). RSS is the largest sum over the trees, sampled on a
    background thread every ``interval_s``.
    """

    def __init__(self, roots: Sequence[int], interval_s: float = SAMPLE_INTERVAL_S,
                 observer: Callable[[list[psutil.Process]], None] | None = None) -> None:
        self.roots = list(roots)
        self.interval_s = interval_s
        self.observer = observer
        self._start_cpu: dict[int, float] = {}
        self._last_cpu: dict[int, float] = {}
        self._start_reaped = 0.0
        self._peak_rss = 0
        self._halt = threading.Event()
        self._thread: threading.Thread | None = None

    def _members(self) -> list[psutil.Process]:
        members: list[psutil.Process] = []
        for pid in self.roots:
            with contextlib.suppress(psutil.Error):
                root = psutil.Process(pid)
                members += [root, *root.children(recursive=True)]
        return members

    def _reaped(self) -> float:
        total = 0.0
        for pid in self.roots:
            with contextlib.suppress(psutil.Error):
                times = psutil.Process(pid).cpu_times()
                total += times.children_user + times.children_system
        return total

    def _sample(self) -> dict[int, float]:
        cpu: dict[int, float] = {}
        rss = 0
        members = self._members()
        if self.observer is not None:
            self.observer(members)
        for member in members:
            with contextlib.suppress(psutil.Error), member.oneshot():
                times = member.cpu_times()
                rss += member.memory_info().rss
                cpu[member.pid] = times.user + times.system
        self._peak_rss = max(self._peak_rss, rss)
        self._last_cpu.update(cpu)
        return cpu

    def _loop(self) -> None:
        while not self._halt.wait(self.interval_s):
            self._sample()

    def start(self) -> None:
        self._start_cpu = self._sample()
        self._start_reaped = self._reaped()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def stop(self) -> dict[str, float | int]:
        self._halt.set()
        if self._thread is not None:
            self._thread.join()
        self._sample()
        grown = sum(cpu - self._start_cpu.get(pid, 0.0) for pid, cpu in self._last_cpu.items())
        return {"cpu_s": grown + self._reaped() - self._start_reaped,
                "peak_rss_bytes": self._peak_rss}
