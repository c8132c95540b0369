"""The test session runs with a private HOME and caches: the suite never writes to the real home.

Set at configure time, before collection, because some SDKs imported by ``importorskip`` at
collection write caches under HOME as they import.
"""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest

_PRIVATE = (("HOME", ""), ("XDG_CONFIG_HOME", ".config"), ("XDG_CACHE_HOME", ".cache"),
            ("XDG_DATA_HOME", ".local/share"), ("MPLCONFIGDIR", ".config/matplotlib"))
_SAVED = pytest.StashKey[tuple[str, dict[str, str | None]]]()


def pytest_configure(config: pytest.Config) -> None:
    home = tempfile.mkdtemp(prefix="trackbench-test-home-")
    config.stash[_SAVED] = (home, {var: os.environ.get(var) for var, _ in _PRIVATE})
    for var, rel in _PRIVATE:
        os.environ[var] = os.path.join(home, rel)


def pytest_unconfigure(config: pytest.Config) -> None:
    home, saved = config.stash[_SAVED]
    for var, value in saved.items():
        if value is None:
            os.environ.pop(var, None)
        else:
            os.environ[var] = value
    shutil.rmtree(home, ignore_errors=True)
