"""The worker side of the bad-input check (worker mode ``bad_input``).

It starts a run and hands each case straight to the adapter (not through the timed Tracker
facade), each in its own try/except, so one rejected case never hides the next. Before each case
it appends a line to a progress file: if the process dies or hangs, the stage knows which case
was in flight. Everything the tool says meanwhile (log records, warnings, stdout/stderr) is kept,
during each call and between them.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import shutil
import time
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from adapters.base import TrackerAdapter
from harness.measure.bad_input_cases import CASES, MAX_LINES, MAX_TEXT, Case, points_of


def _error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:MAX_TEXT]


class _Stream(io.TextIOBase):
    """Stands in for stdout/stderr while listening: complete lines go to ``lines``."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__()
        self.lines = lines
        self._partial = ""

    def write(self, text: str) -> int:
        *complete, self._partial = (self._partial + text).split("\n")
        self.lines += [line for line in complete if line.strip()]
        return len(text)


class _Said(logging.Handler):
    """Everything the tool says, in order: log records (WARNING+), Python warnings, and lines
    written to stdout/stderr."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: list[str] = []
        self.stream = _Stream(self.lines)

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.name}: {record.getMessage()}")

    def warn(self, message: Warning | str, *_: Any, **__: Any) -> None:
        self.lines.append(f"warning: {message}")


@contextlib.contextmanager
def _listening() -> Iterator[_Said]:
    """Listen for the whole run: a background thread's complaint is heard whenever it comes."""
    said = _Said()
    loggers = [logging.getLogger()] + [
        lg for lg in logging.Logger.manager.loggerDict.values()
        if isinstance(lg, logging.Logger) and not lg.propagate
    ]
    for lg in loggers:
        lg.addHandler(said)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(said.stream), \
                contextlib.redirect_stderr(said.stream):
            warnings.simplefilter("always")
            warnings.showwarning = said.warn
            yield said
    finally:
        for lg in loggers:
            lg.removeHandler(said)


def _distinct(lines: list[str]) -> list[str]:
    """Whitespace collapsed; a line dropped when it contains a neighbour (the same log record,
    caught by our handler and printed again, timestamped, by the tool's own handler)."""
    flat = [" ".join(line.split()) for line in lines]
    return [line for i, line in enumerate(flat)
            if not any(other != line and other in line for other in flat[max(0, i - 2):i + 3])]


def _joined(lines: list[str]) -> str:
    return " | ".join(_distinct(lines))[:MAX_TEXT]


def _feed(adapter: TrackerAdapter, case: Case, scratch: Path, large: Path) -> None:
    if case.kind in ("metric", "steps"):
        for step, value in points_of(case):
            adapter.log_metrics({case.name: value}, step=step)
    elif case.kind == "param":
        adapter.log_params({case.name: case.value})
    else:
        path = scratch / case.name
        if case.size:
            try:  # the stage's one shared file: a hard link costs no time and no disk
                os.link(large, path)
            except OSError:
                shutil.copyfile(large, path)
        else:
            path.write_bytes(b"")
        adapter.log_artifact(path, case.name)


def call_case(adapter: TrackerAdapter, case: Case, scratch: Path, large: Path,
              said: _Said) -> tuple[dict[str, Any], range]:
    """Feed one case; never raises. Returns the call's outcome and which of ``said.lines`` the
    tool said during it."""
    start, heard = time.perf_counter(), len(said.lines)
    error = None
    try:
        _feed(adapter, case, scratch, large)
    except Exception as exc:  # noqa: BLE001 - whatever the tool raises is the finding
        error = _error_text(exc)
    during = range(heard, len(said.lines))
    return {"error": error, "said": _joined([said.lines[i] for i in during]),
            "seconds": time.perf_counter() - start}, during


def _mark(progress: Path, **entry: Any) -> None:
    with open(progress, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(entry) + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def run_worker(adapter: TrackerAdapter, spec: Mapping[str, Any]) -> dict[str, Any]:
    """Start a run, feed every case not in ``skip``, finish; progress marked before each step."""
    conf = spec["bad_input"]
    progress, large = Path(conf["progress_path"]), Path(conf["large_path"])
    scratch = Path(spec["workdir"])
    _mark(progress, step="start_run")
    adapter.start_run(spec["run_name"], {})
    calls: dict[str, Any] = {}
    during_calls: set[int] = set()
    with _listening() as said:
        for case in CASES:
            if case.id in conf.get("skip", ()):
                continue
            _mark(progress, step=case.id)
            calls[case.id], during = call_case(adapter, case, scratch, large, said)
            during_calls.update(during)
            _mark(progress, step=case.id, call=calls[case.id])
        _mark(progress, step="finish")
        ref = adapter.finish()
    # Said between calls or while finishing: how queued (asynchronous) calls complain.
    outside = [line for i, line in enumerate(said.lines) if i not in during_calls]
    later = [line[:MAX_TEXT] for line in _distinct(outside)[:MAX_LINES]]
    return {"status": "ok", "error": None, "calls": calls, "ref": ref, "said_later": later}


def in_flight(progress: Path) -> tuple[str | None, dict[str, Any]]:
    """From a progress file: the step begun but not completed (if any), and finished calls."""
    current: str | None = None
    calls: dict[str, Any] = {}
    if not progress.exists():
        return None, calls
    for line in progress.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:  # a line cut short by the process dying mid-write
            continue
        if "call" in entry:
            calls[entry["step"]] = entry["call"]
            current = None
        else:
            current = entry["step"]
    return current, calls
