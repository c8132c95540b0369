"""One rule for "stored as logged", used by fidelity and by the bad-input verdicts alike."""

from __future__ import annotations

import math

import pytest

from adapters.base import StoredRun
from harness.measure.bad_input_cases import Case
from harness.measure.bad_input_verdicts import classify
from harness.measure.fidelity import compare
from harness.measure.tracker import Ledger
from harness.measure.values import same_value


@pytest.mark.parametrize("logged, stored, same", [
    (0.5, 0.5, True),
    (3, 3.0, True),  # an int kept as the float it converts to exactly: nothing lost
    (math.nan, math.nan, True),
    (-0.0, 0.0, False),  # bit for bit: the sign is information
    (0.5, "0.5", False),  # a number that comes back as text is altered
    ("0.5", 0.5, False),
    (2 ** 53 + 1, float(2 ** 53 + 1), False),  # the float is not the int
    (True, 1, False),
    (None, None, True),
    (math.inf, 1.7976931348623157e308, False),
])
def test_same_value(logged: object, stored: object, same: bool) -> None:
    assert same_value(logged, stored) is same


@pytest.mark.parametrize("logged, stored", [(-0.0, 0.0), (0.5, "0.5"), (0.25, 0.25)])
def test_fidelity_and_bad_input_agree(logged: object, stored: object) -> None:
    """The same (logged, stored) pair gets the same answer from both checks."""
    fid = compare(Ledger(points=[("m", 0, logged)]), StoredRun(metrics={"m": [(0, stored)]}))
    case = Case("bi99", "metric", "probe", "bi99_m", logged)
    verdict = classify(case, {"error": None, "said": ""},
                       {"metrics": {"bi99_m": [[0, stored]]}, "params": {}, "artifacts": {},
                        "notes": []}, "")
    assert (fid["points"]["kept"] == 1) == (verdict["outcome"] == "faithful") \
        == same_value(logged, stored)
