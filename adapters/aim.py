"""Aim (``aim``), in its two deployments: a repository on disk, and its remote tracking server.

What Aim keeps where:

- ``local``: the Aim repository ``<storage_dir>/aim/.aim``. Each run writes its own RocksDB
  "chunks": ``meta/chunks/<hash>`` (params under ``attrs/hparams``, the series' metadata, the
  artifact records) and ``seqs/chunks/<hash>`` (every metric point: value and step, keyed by a
  hash of the step), plus the run's name and experiment in ``run_metadata.sqlite``. Artifacts:
  ``Run.log_artifact`` copies the file into the run's artifacts URI, which Aim requires to be
  set; the adapter sets ``file://<storage_dir>/aim/artifacts``, so Aim's copy lies at
  ``artifacts/<hash>/<name>`` inside the cell's storage and the run records that URI (and,
  beside it, the path of the user's original, which read-back never follows).
- ``server``: ``Run(repo="aim://127.0.0.1:PORT")`` on the harness's ``aim server``; params and
  metrics go over Aim's HTTP/WebSocket protocol into the server's repository. Artifact bytes do
  not: the client copies them itself into the artifacts URI, here the server's
  ``file://<server workdir>/artifacts`` (standing for the shared file system or bucket a team
  would mount: a client on another host would need one).

Read-back, in a fresh process, opens only the run's own containers, read-only: through
``Repo(path)`` locally, through the server (``Repo("aim://...")``) for ``server``. Not through
``Run(hash, read_only=True)``: in aim 3.29 a read-only Run reads the repository-wide index
(``meta/index``), which only ``aim up``'s background indexer fills, so a run no UI has indexed
would read back empty. ``Repo(path, read_only=True)`` is not offered (aim 3.29 raises
NotImplementedError for any ``read_only``); the containers are opened with
``skip_read_optimization``, since Aim's default "read optimisation" reopens a run's database
writable to flush its write-ahead log, which would change a killed run before it is read.

Aim removed its usage telemetry in 3.18.1 (aimhubio/aim#2922): there is nothing to switch off,
and the offline guard records any attempt all the same.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from adapters.base import (
    HostedOnly,
    StoredRun,
    TrackerAdapter,
    Unsupported,
    api_names,
    sha256_file,
)

if TYPE_CHECKING:
    from types import ModuleType

    from aim import Repo, Run
    from aim.storage.treeview import TreeView

EXPERIMENT = "trackbench"
PARAMS_KEY = "hparams"  # where Aim's docs and integrations put a run's hyper-parameters
SYSTEM_PREFIX = "__system__"  # aim.ext.resource.configs.AIM_RESOURCE_METRIC_PREFIX
LOG_RECORDS = "__log_records"  # the sequence Run.log_warning/log_error append to
ALERT_LEVEL = 30  # logging.WARNING: the level from which aim-watcher sends notifications
ENV_PREFIX = "__AIM_"  # Aim's own environment settings (repo name, tracking thread, ...)
NOTIFY_DOCS = "https://aimstack.readthedocs.io/en/latest/using/notifications.html"
ARTIFACTS_DIR = "artifacts"
# Run() keyword arguments of the lean profile: each extra Aim turns on by default, off.
# (log_system_params, the packages/env/git snapshot, is already off in Aim's defaults.)
LEAN_OPTIONS: dict[str, Any] = {
    "system_tracking_interval": None,  # CPU/memory/disk/GPU series, every 10 s by default
    "capture_terminal_logs": False,  # stdout/stderr copied into the run's "logs" sequence
    "log_system_params": False,
}


class AimAdapter(TrackerAdapter):
    """Aim; the ``lean`` profile turns off system-resource tracking (a series per resource,
    sampled every 10 s by default) and the capture of terminal output into the run, the two
    extras ``Run()`` starts on its own; ``log_system_params`` (installed packages, environment
    variables, git info) is off in both, as Aim ships it. ``system_metrics`` forces tracking on
    at the shortest interval Aim's resource tracker accepts."""

    name = "aim"
    distribution = "aim"
    sdk_modules = ("aim",)
    scenarios = ("local", "server")
    scenario_services = {"server": ("aim-server",)}

    _aim: ModuleType
    _run: Run

    def import_sdk(self) -> None:
        """Drop Aim settings inherited from the user's environment (``__AIM_REPO_NAME__`` would
        move the repository, ``__AIM_ENABLE_TRACKING_THREAD__`` make tracking asynchronous),
        then import."""
        for key in [k for k in os.environ if k.startswith(ENV_PREFIX)]:
            del os.environ[key]
        import aim

        self._aim = aim

    @property
    def repo_uri(self) -> str:
        if self.base_scenario == "server":
            return self.settings.services["aim_server_uri"]
        return str(self.settings.storage_dir / "aim")

    @property
    def artifacts_uri(self) -> str:
        if self.base_scenario == "server":
            return self.settings.services["aim_artifacts_uri"]
        return (self.settings.storage_dir / "aim" / ARTIFACTS_DIR).as_uri()

    def _run_options(self) -> dict[str, Any]:
        options = dict(LEAN_OPTIONS) if self.settings.profile == "lean" else {}
        if self.settings.system_metrics:
            from aim.ext.resource.tracker import ResourceTracker

            options["system_tracking_interval"] = ResourceTracker.STAT_INTERVAL_MIN
        return options

    def start_run(self, name: str, config: Mapping[str, Any]) -> None:
        """``Run(repo=...)`` creates the local repository if it is missing, as a user's first
        run does."""
        self._run = self._aim.Run(repo=self.repo_uri, experiment=EXPERIMENT,
                                  **self._run_options())
        self._run.name = name
        self._run.set_artifacts_uri(self.artifacts_uri)

    def log_params(self, params: Mapping[str, Any]) -> None:
        """One key at a time under ``hparams``: ``run["hparams"] = {...}`` would replace the
        params of an earlier call."""
        for key, value in params.items():
            self._run[PARAMS_KEY, key] = value

    def log_metrics(self, metrics: Mapping[str, float], step: int) -> None:
        """One ``track`` of the whole dict, Aim's one-call-per-step form (over the server, one
        message). Aim checks every value first, so one it refuses (text, None) refuses the call."""
        self._run.track(dict(metrics), step=step)

    def log_artifact(self, path: Path, name: str) -> None:
        self._run.log_artifact(str(path), name=name, block=True)

    def run_ref(self) -> dict[str, str]:
        return {"repo": self.repo_uri, "run_hash": self._run.hash,
                "artifacts_uri": self.artifacts_uri}

    def log_dataset(self, path: Path, name: str) -> None:
        found = api_names(self._aim.Run, ("dataset",))
        raise Unsupported(
            f"Aim has no dataset-versioning call: no public name of aim.Run starts with dataset "
            f"({', '.join(found) or 'none'}); its dataset objects "
            "(aim.sdk.objects.plugins: DvcData, HFDataset, DeeplakeDataset) store metadata of "
            "data versioned by DVC, Hugging Face datasets or Deep Lake, and Run.log_artifact "
            "keeps one copy per name, overwritten when the name is logged again")

    def register_model(self, path: Path, name: str) -> None:
        words = ("model", "regist")
        found = api_names(self._aim, words) + api_names(self._aim.Run, words)
        found += api_names(self._aim.Repo, words)
        raise Unsupported(f"Aim has no model registry: no public name in aim, aim.Run or "
                          f"aim.Repo starts with model/regist ({', '.join(found) or 'none'})")

    def send_alert(self, title: str, text: str) -> None:
        """``run.log_warning`` appends a log record to the run, which ``aim-watcher`` turns into a
        notification; read-back finds the record, the delivery is not checked."""
        self._run.log_warning(title, text=text)
        raise HostedOnly(
            "run.log_warning() recorded the alert in the run's log records; Aim delivers it as "
            "a notification only through the separate aim-watcher service to a Slack or "
            "Workplace webhook (its logger notifier only prints), which an offline run cannot "
            "reach", NOTIFY_DOCS)

    def best_run(self, ref: Mapping[str, str], metric: str) -> Mapping[str, str] | None:
        """Aim's query language, as its docs show it: ``Repo.query_metrics('metric.name ==
        ...')`` finds the runs with the metric; the language filters but does not order, so the
        runs are ranked here by the metric's value at its last step.

        The query reads only the repository's index (``meta/index``), which aim 3.29 fills only
        from ``aim up``'s background indexer or ``aim storage reindex``; a run not in it is
        invisible to the query (a finished run reads back in full all the same). So a repository
        holding runs the index lacks raises, rather than answering over some of them."""
        from aim.sdk.types import QueryReportMode

        repo = self._aim.Repo.from_path(ref["repo"])
        runs = set(repo.list_all_runs())
        unindexed = runs - set(repo.meta_tree.subtree("chunks").keys())
        if unindexed:
            raise RuntimeError(
                f"Repo.query_metrics reads only the repository index, which aim 3.29 fills only "
                f"from `aim up`'s background indexer or `aim storage reindex`: {len(unindexed)} "
                f"of the {len(runs)} runs here are not in it, so the query cannot see them")
        best: tuple[float, str] | None = None
        for sequence in repo.query_metrics(f"metric.name == {metric!r}",
                                           report_mode=QueryReportMode.DISABLED):
            _, (values, *_) = sequence.data.numpy()
            if len(values) and (best is None or values[-1] < best[0]):
                best = (float(values[-1]), sequence.run.hash)
        return None if best is None else {**ref, "run_hash": best[1]}

    def offline_bundle(self, ref: Mapping[str, str]) -> tuple[str, Path]:
        raise Unsupported(
            "Aim has no offline mode to sync later: a local run writes straight into its "
            "repository, and a remote run needs the server when Run() is created. The nearest "
            "thing, `aim runs cp --destination aim://...`, copies a finished run's params and "
            "series between repositories, without its artifacts")

    def finish(self) -> dict[str, str]:
        """``run.close()``: stops the resource tracker, waits for the remote queue to drain (the
        server scenario), writes the end time and releases the run's lock."""
        ref = self.run_ref()
        self._run.close()
        del self._run
        return ref

    def read_back(self, ref: Mapping[str, str]) -> StoredRun:
        """The run's own containers, read-only (see the module docstring): params, every point
        of every numeric series, the artifacts from Aim's copies."""
        from aim import Repo

        stored = StoredRun()
        run_hash = ref["run_hash"]
        repo = Repo.from_path(ref["repo"])
        meta = _tree(repo, "meta", run_hash).subtree(("meta", "chunks", run_hash))
        series = _tree(repo, "seqs", run_hash).subtree("seqs")
        stored.params = _collect(meta, ("attrs", PARAMS_KEY), {})
        contexts = _collect(meta, "contexts", {})
        incomplete = 0
        for name, points, partial in _numeric_series(series, run_hash, contexts):
            incomplete += partial
            if name.startswith(SYSTEM_PREFIX):
                stored.system_metrics[name] = len(points)
            else:
                stored.metrics[name] = points
        if incomplete:
            stored.notes.append(f"{incomplete} point(s) have a value but no step stored (a write "
                                "cut short), not returned")
        other: Counter[str] = Counter()
        for name, records in _object_series(series, run_hash):
            if name == LOG_RECORDS:
                stored.alerts += [r["message"] for r in records
                                  if isinstance(r, dict) and r.get("log_level", 0) >= ALERT_LEVEL]
            other[name] += len(records)
        if other:
            stored.notes.append("other sequences Aim stored: " + ", ".join(
                f"{name} x{count}" for name, count in sorted(other.items())))
        self._read_artifacts(_collect(meta, "artifacts", {}, resolve_objects=True), ref, stored)
        if repo.is_remote_repo:
            stored.notes.append(f"read through the Aim server at {ref['repo']}")
        return stored

    @staticmethod
    def _read_artifacts(records: Mapping[str, Any], ref: Mapping[str, str],
                        stored: StoredRun) -> None:
        """Kept: the bytes of Aim's copy, at the URI the run recorded, under the artifacts URI
        the adapter gave. Aim's record of the source path is a reference, never followed."""
        root = Path(urlsplit(ref["artifacts_uri"]).path)
        for name, record in records.items():
            copy = Path(urlsplit(record.get("uri", "")).path)
            if copy.is_relative_to(root) and copy.is_file():
                stored.artifacts[name] = sha256_file(copy)
                continue
            source = record.get("path")
            if source:
                stored.referenced[name] = source
            stored.notes.append(f"artifact {name!r}: no copy at {record.get('uri')!r} under "
                                f"{ref['artifacts_uri']}" + (f"; the run also records the "
                                f"source path {source}, a reference, not storage"
                                if source else ""))


def _tree(repo: Repo, name: str, run_hash: str) -> TreeView:
    """One of the run's containers, opened read-only without Aim's write-back of its log."""
    return repo.request_tree(name, run_hash, read_only=True, skip_read_optimization=True)


def _collect(tree: TreeView, path: Any, default: Any, resolve_objects: bool = False) -> Any:
    try:
        return tree.collect(path, resolve_objects=resolve_objects)
    except KeyError:
        return default


def _series_names(tree: TreeView) -> Iterator[tuple[Any, str]]:
    """(context index, name) of each series under ``tree``. Listed as ``subtree(...).keys()``:
    ``keys(path)`` walks the container's absolute keys, not the children of ``path``."""
    for ctx_idx in list(tree.keys()):
        for name in list(tree.subtree(ctx_idx).keys()):
            yield ctx_idx, name


def _numeric_series(series: TreeView, run_hash: str, contexts: Mapping[Any, Any]
                    ) -> Iterator[tuple[str, list[tuple[int, Any]], int]]:
    """(name, points sorted by step, values without a step) of each numeric series (Aim's v2
    layout: a ``val`` and a ``step`` array keyed by the step's hash). A series tracked with a
    context (the GPU index of system series) is named with its context."""
    root = series.subtree(("v2", "chunks", run_hash))
    for ctx_idx, name in _series_names(root):
        tree = root.subtree((ctx_idx, name))
        steps = dict(tree.array("step", dtype="int64").items())
        values = list(tree.array("val").items())
        points = sorted(((int(steps[key]), value) for key, value in values if key in steps),
                        key=lambda point: point[0])
        context = contexts.get(ctx_idx) or {}
        label = f"{name} {json.dumps(context, sort_keys=True)}" if context else name
        yield label, points, len(values) - len(points)


def _object_series(series: TreeView, run_hash: str) -> Iterator[tuple[str, list[Any]]]:
    """(name, records) of each object series (Aim's v1 layout: terminal logs, log records)."""
    root = series.subtree(("chunks", run_hash))
    for ctx_idx, name in _series_names(root):
        values = _collect(root, (ctx_idx, name, "val"), [], resolve_objects=True)
        yield name, list(values.values()) if isinstance(values, dict) else list(values)
