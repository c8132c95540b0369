"""TensorBoard (``tensorboard``), scenario ``local``: event files written with tensorboardX's
``SummaryWriter`` (no TensorFlow, no torch), read back with TensorBoard's own event reader.

What is kept where: one directory per run, ``<storage_dir>/tensorboard/<run name>/``, holding
one event file, ``events.out.tfevents.<time>.<hostname>``: a sequence of TFRecord records
(length, CRC, ``Event`` protobuf, CRC). In it:

- every metric point is one ``Event`` (its ``step``) with one ``Summary.Value`` from
  ``add_scalar``: ``simple_value``, a protobuf *float*, so TensorBoard keeps every scalar as
  float32 (1/3 reads back as 0.3333333432674408, 1e300 as inf, 5e-324 as 0.0). The tag is
  cleaned first (``tensorboardX.summary._clean_tag``: each character outside ``[-/\\w.]``
  becomes ``_``, leading ``/`` are dropped; it says so at INFO level only);
- params are the hparams plugin's ``session_start_info`` summary (tag
  ``_hparams_/session_start_info``), built by tensorboardX's ``hparams()`` helper and written
  into the run's own event file (``add_hparams`` would instead open a second run in a
  sub-directory, with metrics of its own). Its values are ``google.protobuf.Value``: numbers
  are float64 (an int param reads back as a float: 3 -> 3.0), text and booleans are kept,
  ``None`` is dropped silently by ``hparams()``, and any other type (a list, a dict) is
  dropped from the session (named only in an experiment summary, which is not written, so
  TensorBoard computes the experiment from the session and the run's scalar tags). Each
  :meth:`TensorboardAdapter.log_params` call writes a new ``session_start_info`` holding every
  param so far, but TensorBoard reads only a run's first: its accumulator keeps the first
  metadata per tag, and that is where the hparams plugin finds a session's params. Params of
  later calls are in the file, not in TensorBoard, and read-back says so;
- :meth:`TensorboardAdapter.finish` ends the session with a ``session_end_info``
  (``STATUS_SUCCESS``) when params were logged; a run without one shows as unfinished.

TensorBoard stores no files (``log_artifact`` raises :class:`Unsupported`), and has no data
versioning, model registry, alerts, run-query API or offline upload (each raises
:class:`Unsupported`, saying what exists instead), no system monitor (``system_metrics``
changes nothing) and no access control (``tensorboard --logdir`` serves whoever reaches its port).

Writes are asynchronous: ``add_scalar`` puts the event on a queue of ``max_queue`` (10) events,
a writer thread appends it to the file through a buffered file object, and flushes (with
fsync) the first event at once, then every ``flush_secs`` (120 s) when something is pending,
and at ``close()``. In between, bytes reach the OS only when the file object's buffer (the file
system's block size, 4 KiB here) fills and spills, which cuts a record mid-way. So a killed run
keeps the header, what was flushed (its first event, the params when they come first, if the
writer thread took it off the queue in time; then what each 120 s flush wrote) and each 4 KiB
block that spilled since; the rest is lost: the queue, the buffer, and the record the last
spill cut, where TensorBoard's reader stops. A run killed in its first 120 s with less than one
block of points (about 90) loses every point; killed moments after logging its params, those
too. ``max_queue`` only bounds the queue (a full
queue blocks the caller; it forces no flush in tensorboardX 2.6). Without the optional
``crc32c`` package, tensorboardX computes the record checksums in pure Python on that thread.

:meth:`TensorboardAdapter.read_back` reads the event files with TensorBoard's
``plugin_event_accumulator.EventAccumulator`` (how ``tensorboard --logdir`` loads runs without
its Rust data server, ``--load_fast=false``; its ``data_compat`` layer turns ``simple_value``
into a float32 tensor), told to keep every event (``STORE_EVERYTHING_SIZE_GUIDANCE``:
TensorBoard's UI keeps a random 1,000 points per scalar tag by default, ``--samples_per_plugin``);
hparams through the hparams plugin's
``metadata.parse_session_start_info_plugin_data``. It needs neither tensorboardX nor the
process that logged, and stops where a file stops being readable (TensorBoard's
``RawEventFileLoader`` swallows a truncated or corrupt record), counting what it could not read.

It never leaves the machine: the logdir is a local path (tensorboardX would reach S3 or GCS
only for ``s3://`` or ``gs://`` logdirs), its Comet integration stays disabled (its default,
``comet_config={"disabled": True}``), and no TensorBoard server is started.
"""

from __future__ import annotations

import contextlib
import re
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from adapters.base import AdapterSettings, StoredRun, TrackerAdapter, Unsupported

if TYPE_CHECKING:
    from tensorboard.backend.event_processing.plugin_event_accumulator import EventAccumulator
    from tensorboardX import SummaryWriter

LOGDIR = "tensorboard"  # under storage_dir: one sub-directory per run, as TensorBoard expects
# tensorboardX's writer settings, as it ships them, in both profiles (see TensorboardAdapter).
WRITER_OPTIONS: dict[str, Any] = {"max_queue": 10, "flush_secs": 120}
# Optional integrations tensorboardX imports whenever the package is installed, used only when
# asked for: the Comet logger (disabled unless comet_config enables it; comet_ml also pulls in
# matplotlib, which writes its font cache to HOME) and the S3 and GCS record writers (for
# s3:// and gs:// logdirs). The lean profile keeps them from being imported.
OPTIONAL_IMPORTS = ("comet_ml", "boto3", "google.cloud")
SESSION_START = "_hparams_/session_start_info"
SESSION_END = "_hparams_/session_end_info"
RECORD_FRAMING = 16  # bytes around each record's data: length (8), two masked CRC32Cs (4 + 4)
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


@contextlib.contextmanager
def _not_importable(modules: tuple[str, ...]) -> Iterator[None]:
    """While inside, ``import`` of each module not imported yet raises ImportError (a ``None``
    entry in ``sys.modules``); afterwards they import normally again."""
    blocked = [name for name in modules if name not in sys.modules]
    for name in blocked:
        sys.modules[name] = None  # type: ignore[assignment]
    try:
        yield
    finally:
        for name in blocked:
            if sys.modules.get(name, False) is None:
                del sys.modules[name]


def _run_dir(logdir: Path, name: str) -> Path:
    """A new directory for the run: its name made safe for a path, numbered if taken."""
    base = _UNSAFE.sub("_", name) or "run"
    path, index = logdir / base, 1
    while path.exists():
        path, index = logdir / f"{base}-{index}", index + 1
    return path


def _event_files(run_dir: Path) -> list[Path]:
    """The run's event files in the order TensorBoard reads them (by name)."""
    return sorted(p for p in run_dir.iterdir() if "tfevents" in p.name and p.is_file())


def _plain(value: Any) -> Any:
    """A ``google.protobuf.Value`` as Python (hparams store number, string or bool)."""
    kind = value.WhichOneof("kind")
    if kind in ("number_value", "string_value", "bool_value"):
        return getattr(value, kind)
    if kind == "null_value":
        return None
    from google.protobuf.json_format import MessageToDict

    return MessageToDict(value)


def _read_scalars(acc: EventAccumulator, stored: StoredRun) -> None:
    """Every scalar-plugin tensor, in the order written; dtypes named in a note."""
    from tensorboard.compat.proto import types_pb2
    from tensorboard.util import tensor_util

    dtypes: set[str] = set()
    skipped: list[str] = []
    for tag in acc.Tags()["tensors"]:
        if acc.SummaryMetadata(tag).plugin_data.plugin_name != "scalars":
            if not tag.startswith("_hparams_/"):
                skipped.append(tag)
            continue
        for event in acc.Tensors(tag):
            array = tensor_util.make_ndarray(event.tensor_proto)
            dtypes.add(types_pb2.DataType.Name(event.tensor_proto.dtype))
            stored.metrics.setdefault(tag, []).append((int(event.step), array.item()))
    if "DT_FLOAT" in dtypes:
        stored.notes.append("TensorBoard stores scalars as float32 (simple_value, written by "
                            "tensorboardX's add_scalar): read back as the float64 of that float32")
    if skipped:
        stored.notes.append(f"non-scalar summaries not returned: {', '.join(sorted(skipped))}")


def _read_params(acc: EventAccumulator, stored: StoredRun) -> int:
    """The params of the run's session as the hparams plugin reads them (the first
    ``session_start_info``); returns how many session starts the run holds."""
    from tensorboard.plugins.hparams import metadata

    tags = acc.Tags()["tensors"]
    if SESSION_START not in tags:
        stored.notes.append("no hparams session_start_info: no params were written")
        return 0
    content = acc.PluginTagToContent(metadata.PLUGIN_NAME)[SESSION_START]
    session = metadata.parse_session_start_info_plugin_data(content)
    stored.params = {key: _plain(value) for key, value in session.hparams.items()}
    if any(value.WhichOneof("kind") == "number_value" for value in session.hparams.values()):
        stored.notes.append("hparams keep numbers as float64 (google.protobuf.Value): an int "
                            "param reads back as a float")
    if SESSION_END not in tags:
        stored.notes.append("no hparams session_end_info: the run was not finished; TensorBoard "
                            "shows its session without an end status")
    return len(acc.Tensors(SESSION_START))


def _read_files(files: list[Path], sessions: int, stored: StoredRun) -> None:
    """With TensorBoard's raw record loader: bytes it could not read (a record cut short or
    corrupt), and the params of later session starts, which TensorBoard does not read."""
    from tensorboard.backend.event_processing.event_file_loader import RawEventFileLoader
    from tensorboard.compat.proto import event_pb2
    from tensorboard.plugins.hparams import metadata

    starts: list[Mapping[str, Any]] = []
    for path in files:
        readable = 0
        for record in RawEventFileLoader(str(path)).Load():
            readable += len(record) + RECORD_FRAMING
            if sessions > 1 and SESSION_START.encode() in record:
                starts += [metadata.parse_session_start_info_plugin_data(
                    value.metadata.plugin_data.content).hparams
                    for value in event_pb2.Event.FromString(record).summary.value
                    if value.tag == SESSION_START]
        size = path.stat().st_size
        if readable < size:
            stored.notes.append(f"{path.name}: the last {size - readable} of {size} bytes are not "
                                "a whole record (cut short or corrupt); read up to the last "
                                "whole one")
    first = {key: value.SerializeToString() for key, value in (starts or [{}])[0].items()}
    later = sorted({key for start in starts[1:] for key, value in start.items()
                    if first.get(key) != value.SerializeToString()})
    if later:
        stored.notes.append(f"params written by later log_params calls ({', '.join(later)}) "
                            "are in a later session_start_info, which TensorBoard does not read "
                            "(its hparams plugin takes a run's first): not returned")


class TensorboardAdapter(TrackerAdapter):
    """tensorboardX writing TensorBoard event files, read back by TensorBoard.

    tensorboardX switches on nothing by itself at run time: no system monitor, no code, git,
    console or environment capture, and its Comet integration is disabled by default. Both
    profiles use ``SummaryWriter`` as it ships: ``max_queue=10``, ``flush_secs=120`` (so both
    lose up to the last 120 s of a killed run, less what spilled in 4 KiB blocks: see the
    module docstring); a shorter ``flush_secs`` would be a crash-safety mitigation, not an
    extra turned off.

    What ``lean`` turns off is tensorboardX's optional integrations, imported whenever their
    packages are installed though the local scenario uses none of them: ``comet_ml`` (with
    matplotlib, sentry-sdk and more: 2.5-5 s of import here, where comet-ml is installed for
    the comet adapter, and matplotlib's font cache written to HOME), ``boto3`` and
    ``google.cloud`` (the S3 and GCS writers). ``lean`` keeps them from being imported, as in
    an environment with tensorboardX alone; tensorboardX then runs unchanged (the Comet logger
    stays disabled, S3 and GCS logdirs would fail). ``defaults`` imports them, as it comes.
    """

    name = "tensorboard"
    distribution = "tensorboardX"
    sdk_modules = ("tensorboardX", "tensorboard")
    scenarios = ("local",)

    def __init__(self, settings: AdapterSettings) -> None:
        super().__init__(settings)
        self._tbx: ModuleType | None = None
        self._summary: ModuleType | None = None
        self._writer: SummaryWriter | None = None
        self._run_path: Path | None = None
        self._params: dict[str, Any] = {}

    @property
    def logdir(self) -> Path:
        return self.settings.storage_dir / LOGDIR

    def import_sdk(self) -> None:
        """Import tensorboardX (in ``lean``, without its optional integrations)."""
        blocked = OPTIONAL_IMPORTS if self.settings.profile == "lean" else ()
        with _not_importable(blocked):
            import tensorboardX
            from tensorboardX import summary
        self._tbx, self._summary = tensorboardX, summary

    def start_run(self, name: str, config: Mapping[str, Any]) -> None:
        """A ``SummaryWriter`` on a new run directory; it creates the event file at once."""
        if self._tbx is None:
            self.import_sdk()
        self._run_path = _run_dir(self.logdir, name)
        self._params = {}
        self._writer = self._tbx.SummaryWriter(logdir=str(self._run_path), **WRITER_OPTIONS)

    def log_params(self, params: Mapping[str, Any]) -> None:
        """A ``session_start_info`` of every param so far (``hparams()``), into the run's file.

        TensorBoard reads only a run's first session start: params of later calls are written
        but not read (see the module docstring).
        """
        self._params.update(params)
        _, session_start, _ = self._summary.hparams(dict(self._params), {})
        self._running().file_writer.add_summary(session_start)

    def log_metrics(self, metrics: Mapping[str, float], step: int) -> None:
        """``add_scalar`` per metric, as TensorBoard users log: one event each, at ``step``.
        Values go through numpy (``make_np``): None, text and numeric text raise."""
        writer = self._running()
        for key, value in metrics.items():
            writer.add_scalar(key, value, global_step=step)

    def log_artifact(self, path: Path, name: str) -> None:
        raise Unsupported(
            "TensorBoard stores no files: an event file holds summaries (scalars, images, audio, "
            "text, histograms, PR curves, meshes, graphs, embeddings), and tensorboardX's "
            "SummaryWriter has no call that keeps a file's bytes")

    def log_dataset(self, path: Path, name: str) -> None:
        raise Unsupported("TensorBoard has no dataset-versioning call: it keeps no files "
                          "(see log_artifact), so no version of a dataset's bytes either")

    def register_model(self, path: Path, name: str) -> None:
        raise Unsupported("TensorBoard has no model registry: it keeps no files, and nothing "
                          "in tensorboardX or TensorBoard names or versions a model")

    def send_alert(self, title: str, text: str) -> None:
        raise Unsupported("TensorBoard has no alerts: nothing in tensorboardX sends or stores "
                          "one, and TensorBoard only displays what the event files hold")

    def best_run(self, ref: Mapping[str, str], metric: str) -> Mapping[str, str] | None:
        raise Unsupported(
            "TensorBoard has no run-query API: finding the best run means reading every run's "
            "event files (EventAccumulator) and ranking them yourself. The HParams dashboard "
            "sorts sessions by a metric in the browser, through an internal endpoint of a "
            "running `tensorboard` server (/data/plugin/hparams/session_groups); its one "
            "programmatic reader of experiments, tensorboard.data.experimental."
            "ExperimentFromDev, read only from TensorBoard.dev and is gone with it")

    def offline_bundle(self, ref: Mapping[str, str]) -> tuple[str, Path]:
        raise Unsupported(
            "TensorBoard has no offline mode to sync later: the logdir is the store, read where "
            "it lies (or wherever it is copied) by `tensorboard --logdir`. Its one upload, "
            "`tensorboard dev upload` to TensorBoard.dev, is gone: the service has been shut "
            "down and the installed tensorboard answers `tensorboard dev` with that notice")

    def run_ref(self) -> dict[str, str]:
        self._running()
        return {"logdir": str(self.logdir), "run": self._run_path.name,
                "run_dir": str(self._run_path)}

    def finish(self) -> dict[str, str]:
        """End the hparams session (if one was started), then ``close()``: the writer thread
        writes what is queued, flushes, fsyncs and stops."""
        ref = self.run_ref()
        writer = self._running()
        if self._params:
            _, _, session_end = self._summary.hparams({}, {})
            writer.file_writer.add_summary(session_end)
        writer.close()
        self._writer = None
        return ref

    def read_back(self, ref: Mapping[str, str]) -> StoredRun:
        """Read the run's event files with TensorBoard's reader, as far as they are readable."""
        from tensorboard.backend.event_processing import plugin_event_accumulator as pea

        stored = StoredRun()
        run_dir = Path(ref["run_dir"])
        files = _event_files(run_dir) if run_dir.is_dir() else []
        if not files:
            stored.notes.append(f"no event file in {run_dir}: SummaryWriter creates it when "
                                "the run starts")
            return stored
        acc = pea.EventAccumulator(str(run_dir), size_guidance=pea.STORE_EVERYTHING_SIZE_GUIDANCE)
        acc.Reload()
        _read_scalars(acc, stored)
        sessions = _read_params(acc, stored)
        _read_files(files, sessions, stored)
        return stored

    def _running(self) -> SummaryWriter:
        if self._writer is None:
            raise RuntimeError("no TensorBoard run is open; call start_run() first")
        return self._writer
