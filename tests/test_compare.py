"""Regression tables between two results files."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest

from harness import results
from harness.report import compare

FIXED = Path(__file__).parent / "data" / "results_fixed.json"


def test_same_results_show_no_significant_change() -> None:
    data = results.load(FIXED)
    text = compare.render(data, data)
    assert "| tests.fakes:JsonFileAdapter:default | end to end |" in text
    assert "| yes |" not in text and "+0.0%" in text


def test_a_doubled_time_is_significant() -> None:
    old = results.load(FIXED)
    new = copy.deepcopy(old)
    for cell in new["cells"]:
        if cell["tool"] == "tests.fakes:LossyAdapter" and cell["status"] == "ok":
            cell["e2e_s"] *= 2
    row = next(line for line in compare.render(old, new).splitlines()
               if line.startswith("| tests.fakes:LossyAdapter:default | end to end"))
    assert "+100.0%" in row and row.endswith("| yes |")


def test_results_from_another_machine_are_refused(tmp_path: Path) -> None:
    other = json.loads(FIXED.read_text())
    other["machine"]["cpu_logical"] = 64
    with pytest.raises(results.IncomparableResults, match="cpu_logical"):
        compare.render(results.load(FIXED), other)
    path = tmp_path / "other.json"
    path.write_text(json.dumps(other))
    out = subprocess.run([sys.executable, "-m", "harness.cli", "compare", str(FIXED), str(path)],
                         capture_output=True, text=True)
    assert out.returncode == 2 and "different machines" in out.stderr
