"""One rule for "stored as it was logged", shared by the fidelity check and the bad-input
verdicts, so the two never disagree on the same value.

Numbers match by value, bit for bit: -0.0 is not 0.0, NaN matches NaN, and an int matches the
float it converts to exactly (a tool keeping every metric as float64 loses nothing by that). A
number stored as text, or text stored as a number, is altered: a reader gets a different type
back. Booleans match booleans only; text and None match themselves.
"""

from __future__ import annotations

import math
import struct
from typing import Any


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _bits(value: float) -> bytes:
    return struct.pack("<d", value)


def same_value(logged: Any, stored: Any) -> bool:
    if _number(logged) and _number(stored):
        if isinstance(logged, int) and isinstance(stored, int):
            return logged == stored
        try:
            a, b = float(logged), float(stored)
        except OverflowError:  # an int beyond float64 cannot have been kept as a float
            return False
        if isinstance(logged, int) and a != logged or isinstance(stored, int) and b != stored:
            return False  # the int does not convert exactly
        return (math.isnan(a) and math.isnan(b)) or _bits(a) == _bits(b)
    return type(logged) is type(stored) and logged == stored
