"""Fidelity rules on hand-made ledgers and stored runs."""

from __future__ import annotations

import math

from adapters.base import StoredRun
from harness.measure.fidelity import compare
from harness.measure.tracker import Ledger
from harness.results.derived import kept_fraction


def test_everything_kept() -> None:
    ledger = Ledger(params={"lr": 0.1}, points=[("m", 0, 1.5)], artifacts={"f": "ab"})
    stored = StoredRun(params={"lr": 0.1}, metrics={"m": [(0, 1.5)]}, artifacts={"f": "ab"})
    fid = compare(ledger, stored)
    assert kept_fraction(fid) == 1.0
    assert all(k["missing"] == k["altered"] == k["extra"] == 0 for k in fid.values())


def test_params_stored_as_text_are_kept_with_a_type_change() -> None:
    fid = compare(Ledger(params={"lr": 0.1, "n": 3, "ok": True}),
                  StoredRun(params={"lr": "0.1", "n": "3", "ok": "True"}))
    assert fid["params"]["kept"] == 3 and fid["params"]["type_changed"] == 3


def test_altered_missing_and_extra_are_listed() -> None:
    ledger = Ledger(params={"a": "x", "b": 1}, points=[("m", 0, 0.1), ("m", 1, 0.2)])
    stored = StoredRun(params={"a": "y", "c": 2}, metrics={"m": [(0, 0.1000001)], "z": [(0, 1)]})
    fid = compare(ledger, stored)
    assert fid["params"]["altered"] == fid["params"]["missing"] == fid["params"]["extra"] == 1
    assert "altered: a: 'x' -> 'y'" in fid["params"]["examples"]
    assert fid["points"]["altered"] == fid["points"]["missing"] == fid["points"]["extra"] == 1
    assert "missing: m@1=0.2" in fid["points"]["examples"]


def test_nan_matches_nan_and_duplicate_steps_match_in_order() -> None:
    nan = math.nan
    ledger = Ledger(points=[("m", 0, nan), ("m", 5, 1.0), ("m", 5, 2.0)])
    fid = compare(ledger, StoredRun(metrics={"m": [(0, nan), (5, 1.0), (5, 2.0)]}))
    assert fid["points"]["kept"] == 3
    fid = compare(ledger, StoredRun(metrics={"m": [(0, nan), (5, 2.0)]}))  # last write wins
    assert fid["points"]["kept"] == 1 and fid["points"]["altered"] == 1
    assert fid["points"]["missing"] == 1


def test_nothing_logged_has_no_fraction() -> None:
    assert kept_fraction(compare(Ledger(), StoredRun())) is None
