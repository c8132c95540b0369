"""The team-scale load stage on real local servers with small N: Locust against FastTrackML and
``mlflow server``, every run read back, a server killed mid-level, Ctrl-C in the middle."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest

from harness.load import level, spec, targets
from harness.load.generator import Distribution, Load
from harness.load.level import generator_bound
from harness.plan import Plan
from harness.results.team_scale import not_held, saturation, scalability_verdict
from harness.services.http import http_json
from tests.sandbox import interruptible

# Found, not imported: Locust patches the standard library with gevent as it imports (it runs
# in its own processes), which would break every later test of this session.
pytestmark = pytest.mark.skipif(importlib.util.find_spec("locust") is None,
                                reason="locust is not installed (the `tools` extra)")
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def backends(tmp_path: Path):
    pool = targets.Backends(tmp_path / "backends", tmp_path / "logs")
    yield pool
    pool.close()


def _assert_kept_what_it_acknowledged(record: dict) -> None:
    """Every run of the level read back, and every point the server acknowledged found in it."""
    points = record["points"]
    assert points["runs_unread"] == 0 and points["acked_lost"] == 0, record
    assert 0 < points["acked"] <= points["stored"] <= points["sent"], record


@pytest.mark.parametrize("label", ["mlflow:fasttrackml", "mlflow:server-sqlite"])
def test_a_level_on_a_real_server_keeps_what_it_was_sent(label: str, tmp_path: Path,
                                                         backends: targets.Backends) -> None:
    target = targets.fresh(label, "t", tmp_path / "servers", tmp_path / "logs", backends)
    try:
        record = level.measure(target, Load(users=2, seconds=2.0, steps=5, metrics=4),
                               "closed", tmp_path / "level", Distribution(processes=2))
    finally:
        target.close()
    assert record["status"] == "ok", record.get("error")
    points = record["points"]
    assert points["sent"] > 0 and points["runs"] >= 2  # 5-step jobs: several runs per user
    assert points["stored"] == points["acked"] == points["sent"]
    assert points["acked_lost"] == 0 and points["runs_unread"] == 0
    assert record["errors"] == {}
    assert record["endpoints"]["runs/log-batch metrics"]["requests"] * 4 == points["sent"]
    assert record["server"]["cpu_s"] > 0 and record["server"]["peak_rss_bytes"] > 0
    assert record["db_growth_bytes"] > 0
    assert record["network"] == []  # the generator ran guarded and reached loopback only
    assert not_held(record) is None
    assert not target.server_pids()  # stopped by close


def test_an_open_loop_job_steps_at_its_rate(tmp_path: Path, backends: targets.Backends) -> None:
    target = targets.fresh("mlflow:fasttrackml", "o", tmp_path / "servers", tmp_path / "logs",
                           backends)
    try:
        record = level.measure(target, Load(users=2, seconds=3.0, rate=4.0, steps=50, metrics=2),
                               "open", tmp_path / "level", Distribution(processes=1))
    finally:
        target.close()
    batches = record["endpoints"]["runs/log-batch metrics"]["requests"]
    assert 2 * 4 * 2 <= batches <= 2 * 4 * 3 + 2  # 4 steps/s for about 3 s, not flat out
    # The batch in flight when the level stops may land or not: nothing acknowledged is lost.
    _assert_kept_what_it_acknowledged(record)


def _kill_once_logging(target: targets.Target, timeout_s: float = 60.0) -> None:
    """Kill the server once a job has a run on it (a fixed delay can fall before Locust's users
    start on a busy machine): a level with nothing to read back would prove nothing."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        _, found = http_json("POST", f"{target.uri}/api/2.0/mlflow/experiments/search",
                             {"max_results": 100}, timeout_s=5.0)
        listed = found.get("experiments", []) if isinstance(found, dict) else []
        ids = [e["experiment_id"] for e in listed]
        _, runs = http_json("POST", f"{target.uri}/api/2.0/mlflow/runs/search",
                            {"experiment_ids": ids, "max_results": 1}, timeout_s=5.0)
        if isinstance(runs, dict) and runs.get("runs"):
            time.sleep(0.5)
            break
        time.sleep(0.1)
    target.server.kill()


def test_a_server_killed_mid_level_is_recorded_not_raised(tmp_path: Path,
                                                          backends: targets.Backends) -> None:
    target = targets.fresh("mlflow:fasttrackml", "k", tmp_path / "servers", tmp_path / "logs",
                           backends)
    killer = threading.Thread(target=_kill_once_logging, args=(target,))
    killer.start()
    try:
        record = level.measure(target, Load(users=2, seconds=3.0, steps=20, metrics=4),
                               "closed", tmp_path / "level", Distribution(processes=1))
    finally:
        killer.join()
        target.close()
    assert record["status"] == "ok"  # the generator ran its course; the server did not
    assert record["server_alive_after"] is False
    kinds = set(record["errors"])
    assert kinds & {"connection refused", "connection reset"}, record["errors"]
    # Nothing can be read back from a dead server: unread, never counted as kept.
    assert record["points"]["runs_unread"] == record["points"]["runs"] > 0
    assert record["points"]["stored"] == 0
    assert not_held(record) is not None


def test_generator_bound_rule() -> None:
    # One Locust process is one event loop: 90% of a core is its limit.
    assert generator_bound(9.0, 10.0, 1, server_cpu_s=2.0, machine_cpu=0.5)
    assert generator_bound(9.0, 10.0, 2, server_cpu_s=2.0, machine_cpu=0.5) is None
    # A saturated machine where the generator out-used the server it loaded.
    assert generator_bound(6.0, 10.0, 2, server_cpu_s=5.0, machine_cpu=0.95)
    assert generator_bound(6.0, 10.0, 2, server_cpu_s=9.0, machine_cpu=0.95) is None


def test_a_real_level_applies_the_generator_bound_rule(tmp_path: Path,
                                                       backends: targets.Backends) -> None:
    """One Locust process, many closed-loop users on a fast server: the record carries the
    generator's and the server's measured CPU, and its flag is the rule applied to them (whether
    this machine's one core is then the limit depends on its speed: the rule's own test above
    pins both outcomes)."""
    target = targets.fresh("mlflow:fasttrackml", "g", tmp_path / "servers", tmp_path / "logs",
                           backends)
    try:
        record = level.measure(target, Load(users=16, seconds=3.0, steps=50, metrics=1),
                               "closed", tmp_path / "level", Distribution(processes=1))
    finally:
        target.close()
    gen = record["generator"]
    assert gen["bound"] == (generator_bound(gen["cpu_s"], record["wall_s"], 1,
                                            record["server"]["cpu_s"],
                                            record["machine_cpu"]) is not None)
    assert gen["cpu_s"] > 0 and record["server"]["cpu_s"] > 0 and 0 < record["machine_cpu"] <= 1
    assert (gen["why"] is not None) == gen["bound"]


TINY = spec.LoadSpec("quick", users=(1, 2), seconds=2.0, store_sizes=(10, 30), query_repeats=3,
                     crosscheck_users=(1,), crosscheck_all_targets=False, floor_s=0.5,
                     steps=5, metrics=4, targets=("mlflow:fasttrackml",))


def test_the_stage_records_levels_queries_crosscheck_and_floor(tmp_path: Path,
                                                                monkeypatch) -> None:
    from harness import runner

    monkeypatch.setitem(spec.SPECS, "quick", TINY)
    data = runner.load(Plan(tools=["mlflow"], load="quick"), tmp_path / "results.json",
                       progress=lambda _: None)
    load = json.loads((tmp_path / "results.json").read_text())["load"]
    assert load["done"] and data["kind"] == "load"
    assert [(r["model"], r["users"]) for r in load["levels"]] == [
        ("open", 1), ("closed", 1), ("open", 2), ("closed", 2)]
    for record in load["levels"]:
        _assert_kept_what_it_acknowledged(record)
        # A request that failed under this machine's load is sent, not acknowledged: an error.
        assert record["points"]["acked"] == record["points"]["sent"] or record["errors"], record
    assert [q["runs"] for q in load["queries"]] == [10, 30]
    for query in load["queries"]:
        assert len(query["idle"]) == 4
        assert all(q["seconds"] and q["failed"] == 0 for q in query["idle"].values())
    assert load["queries"][0]["under_writers"] == {}  # writers at the largest store only
    busy = load["queries"][-1]["under_writers"]
    assert len(busy) == 4 and all(q["seconds"] for q in busy.values())
    cross = load["crosscheck"][0]
    assert cross["status"] == "ok", cross.get("error")
    assert cross["real"]["calls"] == cross["real"]["expected_calls"] == 5
    assert cross["p50_ratio"] > 0
    assert load["floor"]["sqlite"]["rows_per_s"] > 0
    assert saturation(load, "mlflow:fasttrackml")["held"] == 2
    verdict = scalability_verdict(load, ("mlflow:fasttrackml",))
    assert verdict is not None and verdict[0] == "not confirmed"


def _ours(root: Path) -> list[psutil.Process]:
    """Processes whose command line or working directory lies under ``root``."""
    found = []
    for proc in psutil.process_iter(["cmdline", "cwd"]):
        with_root = " ".join(proc.info["cmdline"] or []) + " " + (proc.info["cwd"] or "")
        if str(root) in with_root:
            found.append(proc)
    return found


def test_ctrl_c_mid_level_leaves_no_process_or_port(tmp_path: Path) -> None:
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from harness import runner\n"
        "from harness.load import spec\n"
        "from harness.plan import Plan\n"
        "spec.SPECS['quick'] = spec.LoadSpec('quick', users=(4,), seconds=30.0, store_sizes=(),"
        " query_repeats=1, crosscheck_users=(), crosscheck_all_targets=False, floor_s=0.1,"
        " targets=('mlflow:fasttrackml',))\n"
        "runner.load(Plan(tools=['mlflow'], load='quick'), Path(sys.argv[1]))\n")
    env = {**os.environ, "TMPDIR": str(tmp_path), "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-c", script, str(tmp_path / "results.json")],
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, preexec_fn=interruptible)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not any(
            "locust" in " ".join(p.info["cmdline"] or []) for p in _ours(tmp_path)):
        time.sleep(0.2)
    servers = [p for p in _ours(tmp_path) if "fml" in " ".join(p.info["cmdline"] or [])]
    assert servers, "the level never started"
    ports = {c.laddr.port for p in servers for c in p.net_connections("tcp")
             if c.status == psutil.CONN_LISTEN}
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode != 0 and "KeyboardInterrupt" in out
    assert _ours(tmp_path) == []
    listening = {c.laddr.port for c in psutil.net_connections("tcp")
                 if c.status == psutil.CONN_LISTEN}
    assert ports and not ports & listening
    assert not any(p.name.startswith("tb-") for p in tmp_path.iterdir())  # tmp removed


class _Server:
    """A stand-in target's server: alive until killed."""

    def __init__(self) -> None:
        self.up = True

    def pids(self) -> list[int]:
        return [1] if self.up else []

    def stop(self) -> None:
        self.up = False


@pytest.mark.parametrize("fresh", [True, False])
def test_levels_share_a_server_only_when_the_spec_says_and_a_dead_one_is_replaced(
        tmp_path: Path, monkeypatch, fresh: bool) -> None:
    from harness.stages import team_scale

    started: list[targets.Target] = []
    used: list[tuple[int, int]] = []  # (level's N, index of the server it ran on)
    timed: list[bool] = []  # whether the record was given its server's start-up time

    def start(ctx, label, key, backends) -> targets.Target:
        started.append(targets.Target(label, f"http://127.0.0.1/{key}", _Server()))
        return started[-1]

    def measure(ctx, spec_, label, target, model, users, startup_s, data) -> None:
        used.append((users, started.index(target)))
        timed.append(startup_s is not None)
        if users == 2 and model == "closed":
            target.server.up = False  # the server died in this level

    monkeypatch.setattr(team_scale, "_target", start)
    monkeypatch.setattr(team_scale, "_level", measure)
    shape = spec.LoadSpec(**{**TINY.as_dict(), "users": (1, 2, 4), "store_sizes": (),
                             "crosscheck_users": (), "fresh_per_level": fresh})
    queried = [{"target": "mlflow:fasttrackml"}]  # the queries are done: levels only
    team_scale._target_work(None, shape, "mlflow:fasttrackml", None,
                            {"levels": [], "queries": queried, "crosscheck": []},
                            crosscheck=False)
    servers = [index for _, index in used]
    # Fresh: one server per N. Shared: N = 1 and 2 on the first, N = 4 on its replacement.
    assert servers == ([0, 0, 1, 1, 2, 2] if fresh else [0, 0, 0, 0, 1, 1])
    # A server's start-up time goes on the first record that ran on it, not on every level.
    assert timed == [index == 0 or servers[index] != servers[index - 1]
                     for index in range(len(servers))]
    assert all(not t.server.up for t in started)  # every server stopped at the end
