"""Bad input: the odd values, names, steps, params and artifacts fed to a tool.

The worker feeds them (:mod:`harness.measure.bad_input_feed`); a fresh process reads the run
back and :mod:`harness.measure.bad_input_verdicts` compares each case with what the tool stored.

Every case owns a unique ASCII prefix (``bi07_``) in its metric name, param key or artifact
name, so a renamed or truncated name is still found. Nothing raw goes into results: values are
described with :func:`show` (``repr``), so NaN and infinities never make results.json invalid.
"""

from __future__ import annotations

import hashlib
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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


def points_of(case: Case) -> tuple[tuple[int, Any], ...]:
    return case.points or ((0, case.value),)


# Order matters. The param comes first, as a workload logs its config before its first metric
# (trackio, for one, stores a run's config with its first metrics and drops later params: a
# finding its read-back states, not what the long-value case tests). For tools that insist on
# increasing steps, the negative step comes next (so it is tested as negative, not as "going
# back"), every single point is at step 0, the duplicate steps at step 1; artifacts last (the
# large one is the slowest).
CASES: tuple[Case, ...] = (
    Case("bi13", "param", f"{LONG_PARAM_CHARS:,}-char param value", "bi13_long_param",
         "".join(chr(ord("a") + i % 26) for i in range(LONG_PARAM_CHARS))),
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
