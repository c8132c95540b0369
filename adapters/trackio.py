"""trackio (Hugging Face's local-first tracker), scenario ``local``: one SQLite file per project.

Everything trackio keeps lives under its data directory, ``TRACKIO_DIR``, which trackio fixes
when it is imported; :meth:`TrackioAdapter.import_sdk` points it at ``<storage_dir>/trackio``
first. There trackio writes:

- ``trackbench.db``, the project's SQLite database: one ``metrics`` row per ``log()`` call (a
  JSON object of that step's values), one ``configs`` row per run (its config as JSON), and the
  ``system_metrics``, ``alerts``, ``artifacts``, ``artifact_versions`` and
  ``run_artifact_links`` tables;
- ``artifacts/trackbench/blobs/sha256/``, a content-addressed copy of every logged file:
  ``log_artifact`` copies the bytes in at call time, so an artifact is kept, not referenced;
- ``registry-models.db``, the local model registry (links to artifact versions, no bytes).

``log()`` only queues: a writer thread commits the queue every 0.5 s, one SQLite transaction
per batch (WAL journal, ``synchronous=NORMAL``), so a killed run loses what it logged in its
last half second, and everything, params included, if it dies within its first. Artifacts are
written at call time.

:meth:`TrackioAdapter.read_back` reads those files with the standard library's ``sqlite3``
(read-only), so it needs neither trackio nor the process that logged.

It never leaves the machine: no ``space_id``, ``server_url``, bucket or dataset is passed,
every ``TRACKIO_*`` setting of the user's environment is removed, ``HF_HUB_OFFLINE=1`` stops
huggingface_hub's requests (``trackio.init`` calls ``whoami`` to fill a run's ``_Username``),
and ``embed=False`` keeps ``init`` from launching the dashboard (it does so only in a notebook;
``trackio.show`` is never called).
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from adapters.base import (
    AdapterSettings,
    StoredRun,
    TrackerAdapter,
    sha256_file,
)

if TYPE_CHECKING:
    from trackio import Artifact, Run

PROJECT = "trackbench"  # one project per cell: the probe's query runs sit beside its run
REGISTRY = "models"  # the local registry register_model links into
# Keys trackio adds to every run's config; not the user's params.
TRACKIO_CONFIG_KEYS = ("_Username", "_Created", "_Group")
# trackio stores non-finite floats as these strings and its own reader turns them back
# (trackio.utils.serialize_values / deserialize_values), top-level values only: a logged text
# "NaN" reads back as a float NaN, as it does in trackio.
NONFINITE = {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}
# The monitors' interval when system metrics are asked for (MLflow's probe samples every 1 s
# too): trackio's default, 10 s with the first sample one interval in, gives a 6 s probe none.
SYSTEM_INTERVAL_S = 1.0
DOCS = "https://huggingface.co/docs/trackio"


def sdk_environment(settings: AdapterSettings) -> dict[str, str]:
    """Environment for the SDK, read at import: where trackio and huggingface_hub keep their
    files (inside the cell), and huggingface_hub offline."""
    return {
        "TRACKIO_DIR": str(settings.storage_dir / "trackio"),
        "HF_HOME": str(settings.storage_dir / "huggingface"),
        "HF_HUB_OFFLINE": "1",
    }


def init_options(settings: AdapterSettings) -> dict[str, Any]:
    """Keyword arguments of ``trackio.init`` beyond the run's name: never a dashboard, and the
    monitors for the profile (``auto_log_gpu=None``: trackio's own detection)."""
    options: dict[str, Any] = {"embed": False}
    if settings.profile == "lean":
        options.update(auto_log_cpu=False, auto_log_gpu=False)
    if settings.system_metrics:
        options.update(auto_log_cpu=True, cpu_log_interval=SYSTEM_INTERVAL_S,
                       auto_log_gpu=None, gpu_log_interval=SYSTEM_INTERVAL_S)
    return options


def _project_db(trackio_dir: Path, project: str) -> Path:
    return trackio_dir / f"{project}.db"


def _blob(trackio_dir: Path, project: str, digest: str) -> Path:
    """Where trackio's content-addressed store keeps the bytes of ``digest``."""
    return trackio_dir / "artifacts" / project / "blobs" / "sha256" / digest[:2] / digest


@contextlib.contextmanager
def _read_only(db: Path) -> Iterator[sqlite3.Connection]:
    """A read-only connection: reading back changes nothing stored (SQLite only adds the empty
    ``-wal``/``-shm`` files a WAL database is read through)."""
    conn = sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    try:
        yield conn
    finally:
        conn.close()


def _decode(value: Any) -> Any:
    return NONFINITE.get(value, value) if isinstance(value, str) else value


def _read_metrics(conn: sqlite3.Connection, run_id: str, stored: StoredRun) -> None:
    """Every ``metrics`` row of the run in the order written; non-scalar values (trackio's
    media, tables, histograms) are named in a note, not returned."""
    text: set[str] = set()
    skipped: set[str] = set()
    rows = conn.execute("SELECT step, metrics FROM metrics WHERE run_id = ? ORDER BY id",
                        (run_id,))
    for row in rows:
        for key, value in json.loads(row["metrics"]).items():
            if isinstance(value, dict | list):
                skipped.add(key)
                continue
            value = _decode(value)
            if isinstance(value, str):
                text.add(key)
            stored.metrics.setdefault(key, []).append((int(row["step"]), value))
    if text:
        stored.notes.append(f"metric values stored as text, returned as text: "
                            f"{', '.join(sorted(text))}")
    if skipped:
        stored.notes.append(f"non-scalar metric values not returned: {', '.join(sorted(skipped))}")


def _read_params(conn: sqlite3.Connection, run_id: str, stored: StoredRun) -> None:
    row = conn.execute("SELECT config FROM configs WHERE run_id = ?", (run_id,)).fetchone()
    if row is None:
        stored.notes.append("no config row: trackio writes a run's config with its first "
                            "flushed log() batch, and none was written")
        return
    config = json.loads(row["config"])
    stored.params = {k: _decode(v) for k, v in config.items() if k not in TRACKIO_CONFIG_KEYS}
    stored.notes.append("trackio writes a run's config once, with the run's first log() batch: "
                        "params set after the first log() call are not stored")


# The artifact versions a run logged, in the order it logged them.
_OUTPUTS_SQL = (
    "SELECT a.name, a.type, av.version, av.manifest, av.manifest_digest "
    "FROM run_artifact_links l JOIN artifact_versions av ON av.id = l.artifact_version_id "
    "JOIN artifacts a ON a.id = av.artifact_id "
    "WHERE l.run_id = ? AND l.direction = 'output' ORDER BY l.id"
)


def _read_artifacts(outputs: list[sqlite3.Row], ref: Mapping[str, str],
                    stored: StoredRun) -> None:
    """The bytes of the run's artifact versions, from trackio's content-addressed store (their
    sha256 computed here, not taken from the manifest); ``dataset``-typed ones are the
    data-versioning probe's versions."""
    trackio_dir, project = Path(ref["trackio_dir"]), ref["project"]
    for row in outputs:
        manifest = json.loads(row["manifest"])
        if row["type"] == "dataset":
            stored.datasets.append((row["name"], row["manifest_digest"]))
            one_file = len(manifest) == 1 and "ref" not in manifest[0]
            blob = _blob(trackio_dir, project, manifest[0]["digest"]) if one_file else None
            found = blob is not None and blob.is_file()
            stored.dataset_sha256.append(sha256_file(blob) if found else None)
            continue
        for entry in manifest:
            name = row["name"] if len(manifest) == 1 else f"{row['name']}/{entry['path']}"
            if "ref" in entry:  # Artifact.add_reference: a URI, no bytes copied
                stored.referenced[name] = entry["ref"]
                continue
            blob = _blob(trackio_dir, project, entry["digest"])
            if blob.is_file():
                stored.artifacts[name] = sha256_file(blob)
            else:
                stored.notes.append(f"artifact {name!r} is in the manifest but its blob "
                                    f"{entry['digest'][:12]} is not in trackio's store")


def _read_system_metrics(conn: sqlite3.Connection, run_id: str, stored: StoredRun) -> None:
    rows = conn.execute("SELECT metrics FROM system_metrics WHERE run_id = ?", (run_id,))
    for row in rows:
        for key in json.loads(row["metrics"]):
            stored.system_metrics[key] = stored.system_metrics.get(key, 0) + 1


def _read_models(outputs: list[sqlite3.Row], ref: Mapping[str, str], stored: StoredRun) -> None:
    """Registry versions linking to an artifact version this run produced (the local registry
    is a database of its own beside the project's)."""
    registry = _project_db(Path(ref["trackio_dir"]), f"registry-{REGISTRY}")
    if not registry.is_file():
        return
    produced = {(row["name"], row["version"]) for row in outputs}
    with _read_only(registry) as conn:
        links = conn.execute(
            "SELECT c.name, k.collection_version, k.source_artifact, k.source_version "
            "FROM collection_links k JOIN collections c ON c.id = k.collection_id "
            "WHERE k.source_project = ? ORDER BY k.id", (ref["project"],))
        stored.models = [(link["name"], f"v{link['collection_version']}") for link in links
                         if (link["source_artifact"], link["source_version"]) in produced]


class TrackioAdapter(TrackerAdapter):
    """trackio on its local SQLite store.

    The ``lean`` profile turns off what ``trackio.init`` switches on by itself: the CPU monitor
    (``auto_log_cpu``: CPU, RAM, swap, disk, network and temperature samples every 10 s,
    on whenever psutil is importable, as it is here) and the GPU monitor (``auto_log_gpu``:
    NVIDIA through nvidia-ml-py, or Apple Silicon, on when one is detected). trackio captures
    no code, git state, console output or environment, so nothing else is on to turn off.
    ``defaults`` leaves both to trackio's detection.
    """

    name = "trackio"
    distribution = "trackio"
    sdk_modules = ("trackio",)
    scenarios = ("local",)
    # Access control lives in Hugging Face Spaces (private Spaces, tokens), the hosted side.
    hosted_auth_docs = f"{DOCS}/deploy_embed"

    def __init__(self, settings: AdapterSettings) -> None:
        super().__init__(settings)
        self._trackio: ModuleType | None = None
        self._run: Run | None = None
        self._logged: dict[Path, Artifact] = {}  # this run's files, for register_model

    @property
    def trackio_dir(self) -> Path:
        return self.settings.storage_dir / "trackio"

    def import_sdk(self) -> None:
        """Drop the user's ``TRACKIO_*`` settings, set the cell's, then import (trackio reads
        its data directory once, at import)."""
        for key in [k for k in os.environ if k.startswith("TRACKIO_")]:
            del os.environ[key]
        os.environ.update(sdk_environment(self.settings))
        import trackio
        from trackio import utils

        if self.trackio_dir != utils.TRACKIO_DIR:
            raise RuntimeError(f"trackio was imported before this cell set TRACKIO_DIR: it "
                               f"writes to {utils.TRACKIO_DIR}, not {self.trackio_dir}")
        self._trackio = trackio

    def start_run(self, name: str, config: Mapping[str, Any]) -> None:
        if self._trackio is None:
            self.import_sdk()
        self._logged.clear()
        self._run = self._trackio.init(project=PROJECT, name=name, resume="never",
                                       **init_options(self.settings))

    def log_params(self, params: Mapping[str, Any]) -> None:
        """``run.config.update``, trackio's documented way (``trackio.config``).

        trackio writes the config into the database with the run's first ``log()`` call only:
        params set after it stay in memory and are not stored.
        """
        self._running().config.update(dict(params))

    def log_metrics(self, metrics: Mapping[str, float], step: int) -> None:
        self._running().log(dict(metrics), step=step)

    def _log_file(self, path: Path, name: str, kind: str, stored_as: str | None = None) -> Artifact:
        """A version of artifact ``name`` holding the one file ``path`` (under ``stored_as``,
        default its own name), its bytes copied into trackio's store before this returns."""
        artifact = self._trackio.Artifact(name=name, type=kind)
        artifact.add_file(path, name=stored_as)
        logged = self._running().log_artifact(artifact)
        self._logged[path.resolve()] = logged
        return logged

    def log_artifact(self, path: Path, name: str) -> None:
        self._log_file(path, name, "file", stored_as=name)

    def log_dataset(self, path: Path, name: str) -> None:
        """A ``dataset``-typed artifact: each call with changed bytes is a new version, its
        bytes copied into trackio's store (so the first survives the file's overwrite)."""
        self._log_file(path, name, "dataset")

    def register_model(self, path: Path, name: str) -> None:
        """Link the artifact version this run logged from ``path`` (logged now as a ``model``
        if it was not) into collection ``name`` of the local registry ``models``."""
        artifact = self._logged.get(path.resolve()) or self._log_file(path, path.name, "model")
        api = self._trackio.Api()
        try:
            api.registry(REGISTRY)
        except ValueError:  # registries are never created implicitly
            api.create_registry(REGISTRY, description="trackbench probe")
        self._running().link_artifact(artifact, f"registry-{REGISTRY}/{name}")

    def send_alert(self, title: str, text: str) -> None:
        """``run.alert``: printed to the terminal and stored with the run; no webhook is
        configured, so nothing is posted (trackio would POST to Slack/Discord given one)."""
        self._running().alert(title=title, text=text, level=self._trackio.AlertLevel.WARN)

    def best_run(self, ref: Mapping[str, str], metric: str) -> Mapping[str, str] | None:
        """The read-only SQL of ``trackio query project --sql`` over the project's runs, as a
        model-selection script would ask it (trackio's ``Api`` lists runs and configs but no
        metric values)."""
        from trackio.sqlite_storage import SQLiteStorage

        if '"' in metric or "'" in metric:
            raise ValueError(f"metric name {metric!r}: quotes cannot go into the SQL query")
        path = f'$."{metric}"'
        sql = (f"SELECT run_id, run_name, MIN(json_extract(metrics, '{path}')) AS best "
               f"FROM metrics WHERE json_type(metrics, '{path}') IN ('integer', 'real') "
               "GROUP BY run_id, run_name ORDER BY best LIMIT 1")
        rows = SQLiteStorage.query_project(ref["project"], sql)["rows"]
        if not rows:
            return None
        return {**ref, "run_name": rows[0]["run_name"], "run_id": rows[0]["run_id"]}

    def offline_bundle(self, ref: Mapping[str, str]) -> tuple[str, Path]:
        """The data directory: ``trackio.sync`` uploads the project's database, media and
        artifact blobs from it (the local registry database beside them stays behind)."""
        return "trackio_dir", Path(ref["trackio_dir"])

    def run_ref(self) -> dict[str, str]:
        run = self._running()
        return {"trackio_dir": str(self.trackio_dir), "project": PROJECT, "run_name": run.name,
                "run_id": run.id}

    def finish(self) -> dict[str, str]:
        """``trackio.finish``: stops the monitors and joins the writer thread, which writes
        what is still queued (it gives up after 30 s, with a warning)."""
        ref = self.run_ref()
        self._trackio.finish()
        self._run = None
        return ref

    def read_back(self, ref: Mapping[str, str]) -> StoredRun:
        """Read the run from the SQLite files, as far as they were written (a killed run keeps
        every batch the writer thread committed)."""
        stored = StoredRun()
        db = _project_db(Path(ref["trackio_dir"]), ref["project"])
        if not db.is_file():
            stored.notes.append(f"no trackio database at {db}: trackio creates it with the "
                                "first batch its writer thread commits (every 0.5 s) or the "
                                "first artifact")
            return stored
        with _read_only(db) as conn:
            _read_params(conn, ref["run_id"], stored)
            _read_metrics(conn, ref["run_id"], stored)
            _read_system_metrics(conn, ref["run_id"], stored)
            stored.alerts = [row["title"] for row in conn.execute(
                "SELECT title FROM alerts WHERE run_id = ? ORDER BY id", (ref["run_id"],))]
            outputs = conn.execute(_OUTPUTS_SQL, (ref["run_id"],)).fetchall()
        _read_artifacts(outputs, ref, stored)
        _read_models(outputs, ref, stored)
        return stored

    def _running(self) -> Run:
        if self._run is None:
            raise RuntimeError("no trackio run is open; call start_run() first")
        return self._run
