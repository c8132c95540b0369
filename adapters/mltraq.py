"""MLtraq (``mltraq``), one client on two SQL databases through SQLAlchemy.

- ``sqlite``: the database file ``<storage_dir>/mltraq.db``.
- ``postgres``: the harness's embedded PostgreSQL, in the database it keeps for tools other
  than MLflow (MLtraq's ``experiments`` table would clash with MLflow's tables in MLflow's).
  Its URI comes from ``settings.services["tools_postgres_uri"]``, its scheme made
  ``postgresql+psycopg://`` (SQLAlchemy 2 maps a bare ``postgresql://`` to psycopg2). A team's
  own PostgreSQL (``--postgres-uri``) offers no such second database: the scenario says so.

What MLtraq keeps where. Each trackbench run is one MLtraq experiment (named by MLtraq's own
default, a 6-character hash of its UUID) holding one run, the pattern of MLtraq's tutorials
(``with experiment.run() as run: run.fields... ; experiment.persist()``). ``persist`` writes a
row of the ``experiments`` table and a table ``experiment_<name>`` with one row per run, one
column per ``run.fields`` key: ``run_name`` (text, a native column) and, serialized with
MLtraq's DATAPAK format (safe-opcode pickle, Arrow IPC for frames) into blob columns:

- ``params``: a dict of the run's parameters (as ``Runs.handle_args_field`` keeps params);
- ``metrics``: a dict of one ``mltraq.Sequence`` per metric key, rows ``(step, value)`` plus
  MLtraq's own ``idx`` and ``timestamp``. One Sequence per key, not one for all: a frame with
  every key as a column would fill each missing cell with NaN, indistinguishable from a logged
  NaN. A Sequence's frame holds integers as float64 (steps and values alike: exact up to 2**53,
  rounded beyond), and a None under a key that also holds numbers comes back NaN;
- ``artifacts``: a dict of file name -> the file's bytes, read when ``log_artifact`` is called
  (``bytes`` is DATAPAK's way for anything it has no type for), so the copy is MLtraq's, in the
  database, whatever later happens to the user's file. (MLtraq's ``DataStore`` would write the
  bytes to files beside the database instead, out of reach of another machine in the postgres
  scenario; it is not used.)
- ``sysmon``: MLtraq's system monitor Sequence, only when system metrics are asked for.

Nothing reaches the database before :meth:`MltraqAdapter.finish`: MLtraq keeps the run in
memory (``run.fields``) and ``experiment.persist()`` writes it in two transactions, the
``experiments`` row then the runs table. A killed run keeps nothing but the empty table
``create_session`` made at start. Values MLtraq cannot serialize surface there too, as
``persist`` failing for the whole run: a Sequence mixing text and numbers under one key
(pyarrow refuses the column), an int beyond int64; the ``experiments`` row is then written
and its runs table not, so the experiment is listed but cannot be loaded. ``persist`` also
reflects every table of the database first (``Database.drop_table`` -> ``MetaData.reflect``),
so a run's finish grows with the experiments already stored (on SQLite here: ~40 ms beside
one, ~0.6 s beside 300).

Read-back, in a fresh process, goes through MLtraq's own loading,
``create_session(...).load_experiment(name)``, on a read-only SQLite connection (``mode=ro``),
or a PostgreSQL connection that creates nothing. MLtraq's datastore and archive-store
directories, which nothing here writes, point inside the storage dir all the same. MLtraq has
no telemetry; the only requests it can make (``mltraq.utils.web.fetch``) are for ``http(s)``
database URLs, which are never given.
"""

from __future__ import annotations

import contextlib
import math
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from adapters.base import (
    AdapterSettings,
    StoredRun,
    TrackerAdapter,
    Unsupported,
    api_names,
    sha256_bytes,
)

if TYPE_CHECKING:
    from mltraq import Experiment, Run, Sequence
    from mltraq.session import Session

DB_FILE = "mltraq.db"
DRIVER = "postgresql+psycopg"
# run.fields keys: one column each in the experiment's runs table.
RUN_NAME, PARAMS, METRICS, ARTIFACTS = "run_name", "params", "metrics", "artifacts"
SYSMON = "sysmon"  # MLtraq's default option sysmon.field_name
SEQUENCE_OWN = ("idx", "timestamp")  # columns MLtraq adds to every Sequence row


def sqlalchemy_url(uri: str) -> str:
    """A PostgreSQL URI with the psycopg (v3) driver SQLAlchemy 2 needs named."""
    scheme, sep, rest = uri.partition("://")
    if sep and (scheme in ("postgres", "postgresql") or scheme.startswith("postgresql+")):
        return f"{DRIVER}://{rest}"
    return uri


def mltraq_options(settings: AdapterSettings) -> dict[str, Any]:
    """MLtraq's global options for the cell, set around each MLtraq call (``options().ctx``):
    its file stores inside the storage dir (its defaults are relative to the cwd), and for
    ``lean`` its tqdm progress bars off."""
    store = settings.storage_dir.resolve()
    options: dict[str, Any] = {
        "datastore.url": f"file:///{store / 'mltraq.datastore'}",
        "archivestore.url": f"file:///{store / 'mltraq.archivestore'}",
        "bunchstore.pathname": str(store / "mltraq.bunchstore"),
    }
    if settings.profile == "lean":
        options["tqdm.disable"] = True
    return options


def _value(value: Any) -> Any:
    """A Sequence cell as a plain Python value (numpy scalars made Python ones)."""
    item = getattr(value, "item", None)
    return item() if callable(item) and getattr(value, "shape", None) == () else value


def _points(sequence: Sequence) -> tuple[list[tuple[int, Any]], bool]:
    """(step, value) rows in the order appended (MLtraq's ``idx``), and whether the steps came
    back as floats (Sequence frames hold integers as float64)."""
    frame = sequence.df().sort_values("idx", kind="stable")
    steps = frame["step"].tolist()
    floated = frame["step"].dtype.kind == "f"
    return [(int(s), _value(v)) for s, v in zip(steps, frame["value"].tolist(), strict=True)], \
        floated


def _read_metrics(metrics: Mapping[str, Sequence], stored: StoredRun) -> None:
    floated = False
    for key, sequence in metrics.items():
        stored.metrics[key], as_float = _points(sequence)
        floated |= as_float
    if floated:
        stored.notes.append("MLtraq's Sequence frames hold steps and integer values as float64 "
                            "(pandas concat with the Sequence's empty frame): exact up to 2**53, "
                            "rounded beyond")


def _read_system(sequence: Sequence | None, stored: StoredRun) -> None:
    if sequence is None:
        return
    frame = sequence.df()
    stored.system_metrics = {str(c): int(frame[c].notna().sum()) for c in frame.columns
                             if c not in SEQUENCE_OWN}


class MltraqAdapter(TrackerAdapter):
    """MLtraq's experiments, runs and fields, persisted at finish.

    The ``lean`` profile turns off MLtraq's tqdm progress bars (option ``tqdm.disable``), on by
    default around its chunked database reads and writes: printed to stderr only past 0.5 s,
    but every query then runs a ``COUNT(*)`` first, and the first bar starts tqdm's monitor
    thread, which outlives it (a daemon waking every 10 s). That is all MLtraq switches on
    by itself: its system monitor (``sysmon``), code logging (``codelog``), data streaming
    (``datastream``), unsafe experiment pickles and compression are off by default, and the
    joblib (loky) parallel execution applies only to ``Experiment.execute``, which the adapter
    does not use (the caller's loop is the run). ``defaults`` leaves the options as MLtraq
    ships them. With ``system_metrics`` on, whatever the profile, ``run.sysmon()``'s thread
    samples psutil every second into the run's ``sysmon`` field.
    """

    name = "mltraq"
    distribution = "mltraq"
    sdk_modules = ("mltraq",)
    scenarios = ("sqlite", "postgres")
    default_scenarios = ("sqlite",)  # postgres: the same client, with --scenarios all
    scenario_services = {"postgres": ("postgres",)}

    def __init__(self, settings: AdapterSettings) -> None:
        super().__init__(settings)
        self._mltraq: ModuleType | None = None
        self._session: Session | None = None
        self._experiment: Experiment | None = None
        self._run: Run | None = None
        self._open = contextlib.ExitStack()  # the run's context (and its system monitor)
        self._metrics: dict[str, Sequence] = {}

    # -- where the database is ---------------------------------------------------------------

    def _url(self, ref: Mapping[str, str] | None = None, read_only: bool = False) -> str:
        if self.base_scenario == "postgres":
            uri = self.settings.services.get("tools_postgres_uri")
            if uri is None:
                raise RuntimeError("mltraq:postgres needs the embedded PostgreSQL's database of "
                                   "its own; a team's PostgreSQL (--postgres-uri) holds MLflow's "
                                   "tables, whose `experiments` would clash with MLtraq's")
            return sqlalchemy_url(uri)
        path = Path(ref["db_path"]) if ref else self._db_path
        if read_only:  # a URI filename, so SQLite opens it read-only and never creates it
            return f"sqlite:///{path.resolve().as_uri()}?mode=ro&uri=true"
        return f"sqlite:///{path.resolve()}"

    @property
    def _db_path(self) -> Path:
        return self.settings.storage_dir / DB_FILE

    def _store_key(self) -> dict[str, str]:
        """The part of a ref naming the database (never its password)."""
        if self.base_scenario == "postgres":
            from sqlalchemy.engine import make_url

            return {"database": str(make_url(self._url()).database)}
        return {"db_path": str(self._db_path.resolve())}

    @contextlib.contextmanager
    def _options(self) -> Iterator[None]:
        with self._mltraq.options().ctx(mltraq_options(self.settings)):
            yield

    @contextlib.contextmanager
    def _reading(self, ref: Mapping[str, str]) -> Iterator[Session]:
        """A session on the ref's database that creates nothing (no tables, no SQLite file),
        its connections closed after."""
        if self._mltraq is None:
            self.import_sdk()
        from mltraq.storage.database import Database

        with self._options():
            session = self._mltraq.create_session(
                db=Database(self._url(ref, read_only=True), create_tables=False))
            try:
                yield session
            finally:
                session.db.engine.dispose()

    # -- logging -----------------------------------------------------------------------------

    def import_sdk(self) -> None:
        import mltraq

        self._mltraq = mltraq

    def start_run(self, name: str, config: Mapping[str, Any]) -> None:
        """``create_session(url)`` (creates MLtraq's ``experiments`` table if missing), a new
        experiment, and its run opened with ``experiment.run()``; nothing else is written."""
        if self._mltraq is None:
            self.import_sdk()
        with self._options():
            if self._session is None:
                self._session = self._mltraq.create_session(self._url())
            self._experiment = self._session.create_experiment()
            self._open = contextlib.ExitStack()
            self._run = run = self._open.enter_context(self._experiment.run())
            if self.settings.system_metrics:
                self._open.enter_context(run.sysmon())
        self._metrics = {}
        run.fields[RUN_NAME] = name
        run.fields[PARAMS] = {}
        run.fields[METRICS] = self._metrics
        run.fields[ARTIFACTS] = {}

    def log_params(self, params: Mapping[str, Any]) -> None:
        self._running().fields[PARAMS].update(params)

    def log_metrics(self, metrics: Mapping[str, float], step: int) -> None:
        """One ``Sequence.append(step=..., value=...)`` per key (in memory)."""
        if self._run is None:
            self._running()
        series = self._metrics
        for key, value in metrics.items():
            sequence = series.get(key)
            if sequence is None:
                sequence = series[key] = self._mltraq.Sequence()
            sequence.append(step=step, value=value)

    def log_artifact(self, path: Path, name: str) -> None:
        """The file's bytes, read now, into the run's ``artifacts`` field."""
        self._running().fields[ARTIFACTS][name] = Path(path).read_bytes()

    def log_dataset(self, path: Path, name: str) -> None:
        words = ("dataset", "lineage")
        found = sorted({*api_names(self._mltraq, words), *api_names(self._mltraq.Experiment,
                                                                    words),
                        *api_names(self._mltraq.Run, words)})
        raise Unsupported(
            f"MLtraq has no dataset versioning: no public name of mltraq, Experiment or Run "
            f"starts with dataset/lineage ({', '.join(found) or 'none'}); DataStore keeps a "
            "value's bytes in files by URL and Archive a directory as a tar blob in the "
            "database: copies, with no digest or version id to tell two versions apart")

    def register_model(self, path: Path, name: str) -> None:
        words = ("regist",)
        found = sorted({*api_names(self._mltraq, ("model", *words)),
                        *api_names(self._mltraq.Experiment, words)})
        raise Unsupported(f"MLtraq has no model registry: no public name of mltraq starts with "
                          f"model/regist, none of Experiment with regist "
                          f"({', '.join(found) or 'none'})")

    def send_alert(self, title: str, text: str) -> None:
        words = ("alert", "notif")
        found = sorted({*api_names(self._mltraq, words), *api_names(self._mltraq.Run, words)})
        raise Unsupported(f"MLtraq has no alert or notification call (public names of mltraq "
                          f"and Run starting with alert/notif: {', '.join(found) or 'none'})")

    def best_run(self, ref: Mapping[str, str], metric: str) -> Mapping[str, str] | None:
        """MLtraq's SQL access, as its tutorial queries runs: ``session.ls()`` lists the
        persisted experiments and their runs tables, ``session.db.query("SELECT id_run,
        metrics FROM experiment_...")`` reads each table, MLtraq's DATAPAK deserializer opens
        the ``metrics`` blob, and the lowest numeric value of ``metric`` wins. Sequences are
        blobs, so SQL alone cannot order runs by a metric (only native columns are SQL values)."""
        from mltraq.storage.serialization import deserialize
        from sqlalchemy.exc import DBAPIError

        best: tuple[float, str, str] | None = None
        with self._reading(ref) as session:
            listed = session.ls()
            for name, table in zip(listed["name"], listed["table_name"], strict=True):
                try:
                    rows = session.db.query(f'SELECT id_run, {METRICS} FROM "{table}"')
                except DBAPIError:  # a runs table without a metrics column: not a trackbench run
                    continue
                for id_run, blob in zip(rows["id_run"], rows[METRICS], strict=True):
                    sequence = deserialize(bytes(blob)).get(metric)
                    if sequence is None:
                        continue
                    numbers = [v for _, v in _points(sequence)[0]
                               if isinstance(v, int | float) and not isinstance(v, bool)
                               and not math.isnan(v)]
                    if numbers and (best is None or min(numbers) < best[0]):
                        best = (min(numbers), str(name), str(id_run))
        if best is None:
            return None
        return {**self._store_key_of(ref), "experiment": best[1], "id_run": best[2]}

    def _store_key_of(self, ref: Mapping[str, str]) -> dict[str, str]:
        key = "database" if self.base_scenario == "postgres" else "db_path"
        return {key: ref[key]}

    def offline_bundle(self, ref: Mapping[str, str]) -> tuple[str, Path]:
        """``sqlite``: the database file, which holds everything (artifacts included). MLtraq's
        documented way to upstream local results is ``remote_session.persist_experiment(
        local_session.load_experiment(name))`` (blog post "Upstreaming experimental results";
        the sessions tutorial: "store experiments locally, and upstream results once you're
        confident"), which reads nothing but that file."""
        if self.base_scenario == "postgres":
            raise Unsupported(
                "the postgres scenario writes straight into the database at persist(); "
                "MLtraq's offline path is a local SQLite file (the sqlite scenario), upstreamed "
                "later with Session.persist_experiment")
        return "db_path", Path(ref["db_path"])

    def run_ref(self) -> dict[str, str]:
        """The experiment and run that ``finish`` persists (named before anything is written)."""
        run = self._running()
        return {**self._store_key(), "experiment": self._experiment.name,
                "id_run": str(run.id_run)}

    def finish(self) -> dict[str, str]:
        """Stop the system monitor (it joins its thread, up to one 1 s sample), close the run
        (``experiment.run()`` adds it to the experiment), ``experiment.persist()``; then close
        the session's pooled connections."""
        ref = self.run_ref()
        try:
            with self._options():
                self._open.close()
                self._experiment.persist()
        finally:
            self._session.db.engine.dispose()
            self._run = self._experiment = None
            self._metrics = {}
        return ref

    # -- reading -----------------------------------------------------------------------------

    def read_back(self, ref: Mapping[str, str]) -> StoredRun:
        """Load the experiment with MLtraq (``load_experiment``), as far as it was persisted:
        an experiment ``persist()`` never wrote reads back empty, with a note."""
        stored = StoredRun()
        if self.base_scenario != "postgres" and not Path(ref["db_path"]).is_file():
            stored.notes.append(f"no MLtraq database at {ref['db_path']}: create_session makes "
                                "it when a run starts")
            return stored
        self.import_sdk()
        from mltraq.experiment import ExperimentNotFoundException
        from sqlalchemy.exc import SQLAlchemyError

        with self._reading(ref) as session:
            if not session.db.has_table(self._mltraq.options().get(
                    "database.experiments_tablename")):
                stored.notes.append("MLtraq's experiments table is not in the database")
                return stored
            try:
                experiment = session.load_experiment(ref["experiment"])
            except ExperimentNotFoundException:
                stored.notes.append(
                    f"experiment {ref['experiment']} is not in the database: MLtraq keeps a run "
                    "in memory and writes it only at experiment.persist() (finish); nothing "
                    "logged before the run ended was stored")
                return stored
            except SQLAlchemyError as exc:  # the experiments row without its runs table
                stored.notes.append(f"experiment {ref['experiment']} is in the experiments table "
                                    "but its runs table cannot be read: persist() writes the "
                                    "row first, the runs table after, and did not get there "
                                    f"({type(exc).__name__}: {str(exc)[:160]})")
                return stored
        run = experiment.runs.get(uuid.UUID(ref["id_run"]))
        if run is None:
            stored.notes.append(f"run {ref['id_run']} is not in experiment {ref['experiment']}")
            return stored
        fields = run.fields
        stored.params = dict(fields.get(PARAMS) or {})
        _read_metrics(fields.get(METRICS) or {}, stored)
        stored.artifacts = {name: sha256_bytes(data)
                            for name, data in (fields.get(ARTIFACTS) or {}).items()}
        _read_system(fields.get(SYSMON), stored)
        stored.notes.append("MLtraq persists a run once, at finish (experiment.persist): a run "
                            "that ends without it keeps nothing")
        return stored

    def _running(self) -> Run:
        if self._run is None:
            raise RuntimeError("no MLtraq run is open; call start_run() first")
        return self._run
