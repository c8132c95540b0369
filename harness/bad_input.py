"""Bad input: odd values, names, steps, params and artifacts fed to a tool, and what it kept.

The worker side (:func:`run_worker`, worker mode ``bad_input``) starts a run and hands each case
straight to the adapter (not through the timed Tracker facade), each in its own try/except, so
one rejected case never hides the next. Before each case it appends a line to a progress file:
if the process dies or hangs, the runner knows which case was in flight. A fresh process then
reads the run back and :func:`classify` (pure) compares each case with what the tool stored.

Every case owns a unique ASCII prefix (``bi07_``) in its metric name, param key or artifact
name, so a renamed or truncated name is still found. Nothing raw goes into results: values are
described with :func:`show` (``repr``), so NaN and infinities never make results.json invalid.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import math
import os
import shutil
import time
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from adapters.base import TrackerAdapter

LARGE_BYTES = 100 * 1024 * 1024
LONG_NAME_CHARS = 320
LONG_PARAM_CHARS = 10_000
MAX_TEXT = 240  # error messages and warnings kept per case
MAX_LINES = 40  # lines the tool said outside any call (between calls, while finishing)
MAX_ATTEMPTS = 3  # a case that kills the worker is skipped and the rest re-run, at most twice

FAITHFUL, ALTERED, REJECTED, DROPPED = "faithful", "altered", "rejected", "dropped"
CRASHED, UNKNOWN = "crashed", "unknown"
OUTCOMES = (FAITHFUL, ALTERED, REJECTED, DROPPED, CRASHED, UNKNOWN)


@dataclass(frozen=True)
class Case:
    """One bad input: ``kind`` says which adapter call feeds it; ``name`` starts with ``id_``."""

    id: str
    kind: str  # "metric" | "steps" | "param" | "artifact"
    description: str
    name: str
    value: Any = None  # metric value or param value
    points: tuple[tuple[int, Any], ...] = ()  # (step, value) for kind "steps"
    size: int = 0  # artifact bytes


def _points(case: Case) -> tuple[tuple[int, Any], ...]:
    return case.points or ((0, case.value),)


# Order matters for tools that insist on increasing steps: the negative step comes first (so it
# is tested as negative, not as "going back"), every single point is at step 0, the duplicate
# steps at step 1; params next; artifacts last (the large one is the slowest).
CASES: tuple[Case, ...] = (
    Case("bi12", "steps", "negative step (-1)", "bi12_negative_step", points=((-1, 0.5),)),
    Case("bi00", "metric", "control: a plain float (0.25)", "bi00_control", 0.25),
    Case("bi01", "metric", "NaN", "bi01_nan", math.nan),
    Case("bi02", "metric", "+inf", "bi02_pos_inf", math.inf),
    Case("bi03", "metric", "-inf", "bi03_neg_inf", -math.inf),
    Case("bi04", "metric", "None", "bi04_none", None),
    Case("bi05", "metric", "text string ('high')", "bi05_text", "high"),
    Case("bi06", "metric", "numeric string ('0.5')", "bi06_numeric_text", "0.5"),
    Case("bi07", "metric", "unicode name", "bi07_ünïcødé_名前_μ", 0.5),
    Case("bi08", "metric", "'/' in name", "bi08_slash/a/b", 0.5),
    Case("bi09", "metric", "spaces in name", "bi09_with spaces in it", 0.5),
    Case("bi10", "metric", f"{LONG_NAME_CHARS}-char name", "bi10_long_"
         + "n" * (LONG_NAME_CHARS - len("bi10_long_")), 0.5),
    Case("bi11", "steps", "duplicate step (1.0 then 2.0 at step 1)", "bi11_duplicate_step",
         points=((1, 1.0), (1, 2.0))),
    Case("bi13", "param", f"{LONG_PARAM_CHARS:,}-char param value", "bi13_long_param",
         "".join(chr(ord("a") + i % 26) for i in range(LONG_PARAM_CHARS))),
    Case("bi14", "artifact", "empty (0-byte) artifact", "bi14_empty.bin", size=0),
    Case("bi15", "artifact", f"large ({LARGE_BYTES >> 20} MiB) artifact", "bi15_large.bin",
         size=LARGE_BYTES),
)
BY_ID = {case.id: case for case in CASES}


def show(value: Any, limit: int = 40) -> str:
    """A short, JSON-safe description of a value (repr; long text abbreviated)."""
    if isinstance(value, str) and len(value) > limit:
        return f"{value[: limit // 2]!r}…({len(value)} chars)"
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}…"


def _error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:MAX_TEXT]


def write_large_file(path: Path, size: int = LARGE_BYTES) -> str:
    """Real random bytes, written fast (one random MiB repeated); returns their sha256."""
    block = os.urandom(1 << 20)
    digest = hashlib.sha256()
    with open(path, "wb") as fh:
        for offset in range(0, size, len(block)):
            chunk = block[: size - offset]
            fh.write(chunk)
            digest.update(chunk)
    return digest.hexdigest()


def expected_sha256(case: Case, large_sha256: str) -> str:
    return large_sha256 if case.size else hashlib.sha256(b"").hexdigest()


# --- worker side -------------------------------------------------------------------------------


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
        for step, value in _points(case):
            adapter.log_metrics({case.name: value}, step=step)
    elif case.kind == "param":
        adapter.log_params({case.name: case.value})
    else:
        path = scratch / case.name
        if case.size:
            try:  # the runner's one shared file: a hard link costs no time and no disk
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


# --- classification (pure) ---------------------------------------------------------------------


def _same(expected: Any, got: Any) -> bool:
    """Equal value and kind of value: numbers as numbers (NaN equals NaN), text as text."""
    if expected is None or isinstance(expected, str):
        return type(got) is type(expected) and got == expected
    if isinstance(got, bool) or not isinstance(got, (int, float)):
        return False
    return got == expected or (math.isnan(expected) and math.isnan(got))


def _describe_point(step: Any, value: Any) -> str:
    return f"{show(value)} ({type(value).__name__}) at step {step}"


def _with_call(result: dict[str, str], call: Mapping[str, Any]) -> dict[str, str]:
    """Stored despite an error, or what the tool said during the call: appended to the detail."""
    extra = []
    if call.get("error"):
        extra.append(f"the call also raised {call['error']}")
    if call.get("said"):  # also when faithful: a queued call's complaint may land here
        extra.append(f"tool said: {call['said']}")
    if extra:
        result = {**result, "detail": "; ".join([result["detail"], *extra])[:MAX_TEXT * 2]}
    return result


def _find(names: Any, case: Case) -> str | None:
    """The stored name for a case: exact, else the one name carrying its prefix."""
    if case.name in names:
        return case.name
    prefix = f"{case.id}_"
    found = sorted(n for n in names if isinstance(n, str) and n.startswith(prefix))
    return found[0] if found else None


def _text_change(what: str, original: str, stored: str) -> str:
    """How a name or text value changed: truncated (maybe with a marker appended) or replaced."""
    common = len(os.path.commonprefix([original, stored]))
    if len(stored) < len(original) and common == len(stored):
        return f"{what} truncated to {len(stored):,} of {len(original):,} chars"
    if len(stored) < len(original) and common >= len(stored) // 2:
        return (f"{what} truncated to {common:,} of {len(original):,} chars, then "
                f"{show(stored[common:])} appended")
    return f"{what} stored as {show(stored, 60)}"


def _name_change(case: Case, stored_name: str) -> str:
    return _text_change("name", case.name, stored_name)


def _absent(call: Mapping[str, Any], notes: list[str], case: Case,
            later: list[str]) -> dict[str, str]:
    if call.get("error"):
        return {"outcome": REJECTED, "detail": call["error"]}
    said = call.get("said")
    # A queued call's complaint rarely names the call: look for the name, text value or step.
    marks = [case.name[:60]] + ([case.value[:60]] if isinstance(case.value, str) else [])
    marks += [f"step {step}" for step, _ in case.points]
    mentions = [line for line in later if any(mark in line for mark in marks)]
    if said:
        detail = f"no error; tool said: {said}"
    elif mentions:
        detail = f"no error at the call; said later (outside any call): {mentions[0]}"
    elif later:
        detail = (f"no error at the call; {len(later)} line(s) said later (outside any call), "
                  "none naming this case: see the record's said_later")
    else:
        detail = "silently (no error, no warning)"
    related = [n.replace(f"artifact {case.name!r}: ", "") for n in notes if case.name in n]
    if related:
        detail += f"; read-back note: {related[0]}"
    return {"outcome": DROPPED, "detail": detail[:MAX_TEXT * 2]}


def _classify_points(case: Case, name: str, points: list[Any]) -> dict[str, str]:
    expected = list(_points(case))
    got = [(int(step), value) for step, value in points]
    changes = [] if name == case.name else [_name_change(case, name)]
    same = len(got) == len(expected) and all(
        s == es and _same(ev, v) for (s, v), (es, ev) in zip(got, expected, strict=True))
    if not same:
        shown = ", ".join(_describe_point(s, v) for s, v in got[:3])
        if len(expected) > 1 and len(got) == 1:
            which = [i for i, (es, ev) in enumerate(expected) if es == got[0][0]
                     and _same(ev, got[0][1])]
            kept = {0: "only the first value kept", len(expected) - 1: "only the last value kept"}
            changes.append(kept.get(which[0], "one value kept") if which else f"stored {shown}")
        elif len(expected) == 1 and len(got) == 1 and got[0][0] != expected[0][0] \
                and _same(expected[0][1], got[0][1]):
            changes.append(f"step {expected[0][0]} stored as step {got[0][0]}")
        elif len(expected) == 1 and len(got) == 1 and got[0][0] == expected[0][0]:
            changes.append(f"value stored as {show(got[0][1])} ({type(got[0][1]).__name__})")
        else:
            changes.append(f"stored {shown}" + (f" (+{len(got) - 3} more)" if len(got) > 3 else ""))
    if changes:
        return {"outcome": ALTERED, "detail": "; ".join(changes)}
    return {"outcome": FAITHFUL, "detail": ", ".join(_describe_point(s, v) for s, v in got)}


def _classify_param(case: Case, name: str, value: Any) -> dict[str, str]:
    changes = [] if name == case.name else [_name_change(case, name)]
    if isinstance(value, str) and value != case.value:
        changes.append(_text_change("value", case.value, value))
    elif not isinstance(value, str):
        changes.append(f"value stored as {show(value)} ({type(value).__name__})")
    if changes:
        return {"outcome": ALTERED, "detail": "; ".join(changes)}
    return {"outcome": FAITHFUL, "detail": f"all {len(value):,} chars"}


def _classify_artifact(case: Case, name: str, digest: str, large_sha256: str) -> dict[str, str]:
    changes = [] if name == case.name else [_name_change(case, name)]
    if digest != expected_sha256(case, large_sha256):
        changes.append(f"different bytes (sha256 {digest[:12]}…)")
    if changes:
        return {"outcome": ALTERED, "detail": "; ".join(changes)}
    return {"outcome": FAITHFUL, "detail": f"{case.size:,} bytes, same sha256"}


def classify(case: Case, call: Mapping[str, Any] | None, stored: Mapping[str, Any] | None,
             large_sha256: str, later: list[str] | None = None) -> dict[str, str]:
    """One case's outcome from the call's outcome and the read-back (``StoredRun`` as a dict).

    ``later``: what the tool said outside any call (between calls, while finishing): the errors
    of queued calls (asynchronous logging) surface there; one mentioning the case's name or
    value is quoted first.
    """
    if call is None:
        return {"outcome": UNKNOWN, "detail": "not fed (the run stopped before this case)"}
    if stored is None:
        if call.get("error"):
            return {"outcome": REJECTED, "detail": call["error"]}
        return {"outcome": UNKNOWN, "detail": "the call returned; the run was not readable"}
    notes = list(stored.get("notes") or [])
    sections = {"metric": "metrics", "steps": "metrics", "param": "params",
                "artifact": "artifacts"}
    section: dict[str, Any] = stored[sections[case.kind]]
    name = _find(section, case)
    if name is None:
        return _absent(call, notes, case, later or [])
    if case.kind == "param":
        result = _classify_param(case, name, section[name])
    elif case.kind == "artifact":
        result = _classify_artifact(case, name, section[name], large_sha256)
    else:
        result = _classify_points(case, name, section[name])
    return _with_call(result, call)


def classify_all(calls: Mapping[str, Any], stored: Mapping[str, Any] | None, large_sha256: str,
                 crashed: Mapping[str, str], later: list[str]) -> dict[str, dict[str, str]]:
    """Every case, in CASES order; ``crashed`` maps a case id to what happened to the process."""
    out = {}
    for case in CASES:
        if case.id in crashed:
            out[case.id] = {"outcome": CRASHED, "detail": crashed[case.id][:MAX_TEXT]}
        else:
            out[case.id] = classify(case, calls.get(case.id), stored, large_sha256, later)
    return out

