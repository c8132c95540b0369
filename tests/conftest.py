"""The test session runs with a private HOME and caches: the suite never writes to the real home.

Set at configure time, before collection, because some SDKs imported by ``importorskip`` at
collection write caches under HOME as they import. The session also fails if any test wrote
into the repository's own ``reports/`` (a user's results live there).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.services.mlflow_server import MlflowServer

REPORTS = Path(__file__).resolve().parent.parent / "reports"
_REPORTS = pytest.StashKey[dict[str, tuple[int, int]]]()

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


def _reports() -> dict[str, tuple[int, int]]:
    return {str(p): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in REPORTS.rglob("*") if p.is_file()}


def pytest_sessionstart(session: pytest.Session) -> None:
    session.config.stash[_REPORTS] = _reports()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if session.config.getoption("benchmark", False):  # pytest --benchmark writes its report
        return
    before, after = session.config.stash.get(_REPORTS, {}), _reports()
    changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    if changed:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(f"tests wrote into the repository's reports/: {changed[:5]}",
                                red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(scope="session")
def mlflow_server_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    """One guarded ``mlflow server`` on SQLite (scenario 2's) for the tests that only log
    through one: its start (~10 s, import-bound) is paid once a session, not once a test.
    Tests that stop, kill or probe a server's own start start their own."""
    if importlib.util.find_spec("mlflow") is None:
        pytest.skip("mlflow is not installed (pip install .[tools])")
    root = tmp_path_factory.mktemp("mlflow-server-sqlite")
    with MlflowServer(root / "work", root / "logs", name="mlflow-server-sqlite") as server:
        yield server
