"""The facade and ledger, on a fake clock: what is recorded, what is timed, what is caught."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np

from adapters.base import AdapterSettings
from harness.measure.tracker import Ledger, Tracker
from tests.fakes import JsonFileAdapter


def fake_clock(step_ns: int = 1000):
    counter = itertools.count(0, step_ns)
    return lambda: next(counter)


def adapter(tmp_path: Path) -> JsonFileAdapter:
    a = JsonFileAdapter(AdapterSettings(storage_dir=tmp_path))
    a.import_sdk()
    a.start_run("t", {})
    return a


def test_ledger_records_every_value_and_each_call_is_timed(tmp_path: Path) -> None:
    tracker = Tracker(adapter(tmp_path), tmp_path, clock=fake_clock(1000))
    tracker.log_params({"lr": np.float64(0.5), "n": np.int64(3)})
    tracker.log_metrics({"loss": np.float32(0.25), "acc": 1}, step=np.int64(7))
    tracker.log_metric("loss", 0.125, step=8)
    artifact = tmp_path / "a.bin"
    artifact.write_bytes(b"abc")
    tracker.log_artifact(artifact)
    assert tracker.ledger.params == {"lr": 0.5, "n": 3}
    assert type(tracker.ledger.params["lr"]) is float  # numpy scalars become plain Python
    assert tracker.ledger.points == [("loss", 7, 0.25), ("acc", 7, 1), ("loss", 8, 0.125)]
    assert tracker.ledger.artifacts == {
        "a.bin": "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"}
    assert tracker.call_ns == {"params": [1000], "metrics": [1000, 1000], "artifact": [1000]}
    assert tracker.blocked_ns() == 4000


def test_baseline_records_the_ledger_but_calls_nothing(tmp_path: Path) -> None:
    tracker = Tracker(None, tmp_path, clock=fake_clock())
    tracker.log_metrics({"loss": 1.0}, step=0)
    assert tracker.ledger.points == [("loss", 0, 1.0)]
    assert tracker.blocked_ns() == 0 and tracker.call_ns["metrics"] == []


class RejectingAdapter(JsonFileAdapter):
    def log_metrics(self, metrics, step):
        raise ValueError(f"bad step {step}")


def test_a_tool_raising_is_recorded_not_fatal(tmp_path: Path) -> None:
    a = RejectingAdapter(AdapterSettings(storage_dir=tmp_path))
    tracker = Tracker(a, tmp_path, clock=fake_clock())
    tracker.log_metrics({"loss": 1.0}, step=0)
    tracker.log_metrics({"loss": 2.0}, step=1)
    assert tracker.error_count == 2
    assert tracker.call_errors == ["metrics: ValueError: bad step 0",
                                   "metrics: ValueError: bad step 1"]
    assert len(tracker.ledger.points) == 2 and len(tracker.call_ns["metrics"]) == 2


def test_ledger_json_round_trip() -> None:
    ledger = Ledger(params={"a": "ü"}, points=[("m", 1, 0.5)], artifacts={"f": "00"})
    assert Ledger.from_json(ledger.to_json()) == ledger
