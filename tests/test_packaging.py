"""The built wheel ships every module: the README's main command installs non-editable."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_wheel_contains_every_harness_and_adapter_module(tmp_path: Path) -> None:
    # Build from a clean copy: setuptools reuses a stale build/ directory in the checkout.
    src = tmp_path / "src"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(
        "build", "*.egg-info", ".venv", ".git", "__pycache__", "reports"))
    out = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w",
                          str(tmp_path), str(src)], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    wheel = next(tmp_path.glob("trackbench-*.whl"))
    shipped = set(zipfile.ZipFile(wheel).namelist())
    sources = {p.relative_to(ROOT).as_posix() for package in ("harness", "adapters")
               for p in (ROOT / package).rglob("*.py") if "__pycache__" not in p.parts}
    assert sources - shipped == set()
    assert not any(name.startswith("tests/") for name in shipped)
