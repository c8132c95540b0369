"""The layers of docs/ARCHITECTURE.md hold: import-linter's contracts in pyproject.toml pass,
and a deliberate violation (a stage importing the runner, the report importing a service) fails
them. Without this, a newcomer's shortcut import would erode the layers silently."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import adapters

ROOT = Path(__file__).resolve().parent.parent
LINT = [sys.executable, "-c", "import sys; from importlinter.cli import lint_imports_command; "
        "sys.exit(lint_imports_command())"]

pytestmark = pytest.mark.skipif(importlib.util.find_spec("importlinter") is None,
                                reason="import-linter is not installed (pip install .[test])")


def lint(cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(cwd)}
    return subprocess.run([*LINT, "--no-cache"], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120)


def test_every_adapters_sdk_is_forbidden_outside_its_adapter() -> None:
    """A new tracker's SDK joins the "only adapters/<tool>.py" contract, or this says so."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    contract = next(c for c in config["contracts"] if c["name"].startswith("Only adapters/"))
    sdks = {m for name in adapters.trackers() for m in adapters.load(name).sdk_modules}
    missing = sorted(sdks - set(contract["forbidden_modules"]))
    assert not missing, f"add {missing} to the forbidden_modules of {contract['name']!r}"


def test_the_contracts_are_kept() -> None:
    out = lint(ROOT)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "0 broken" in out.stdout


@pytest.mark.parametrize("module, line, contract", [
    ("harness/stages/cells.py", "from harness import runner", "Layers"),
    ("harness/stages/cells.py", "from harness.stages import bad_input", "No stage imports"),
    ("harness/report/markdown.py", "from harness.services import pool", "The report reads"),
    ("adapters/base.py", "import harness.results", "Adapters import nothing"),
    ("harness/results/stats.py", "import mlflow", "Only adapters/<tool>.py"),
    ("harness/load/level.py", "import locust", "Only the locustfile imports Locust"),
    ("harness/report/team_scale.py", "from harness.load import level", "The report reads"),
])
def test_a_violation_breaks_a_contract(tmp_path: Path, module: str, line: str,
                                       contract: str) -> None:
    for name in ("harness", "adapters"):
        shutil.copytree(ROOT / name, tmp_path / name,
                        ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    path = tmp_path / module
    path.write_text(path.read_text() + f"\n{line}  # noqa\n")
    out = lint(tmp_path)
    assert out.returncode != 0, out.stdout
    broken = [text for text in out.stdout.split("\n\n") if "BROKEN" in text]
    assert any(contract in text for text in broken), out.stdout
