"""Weights & Biases, offline: the run lives in ``<storage_dir>/wandb/offline-run-*``.

Read-back parses the run's ``.wandb`` transaction log directly, because wandb 0.31 ships no
Python reader for it any more: it is what ``wandb sync`` would upload, so it is what W&B kept.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import struct
import zlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from adapters.base import (
    HostedOnly,
    StoredRun,
    TrackerAdapter,
    api_names,
    sha256_file,
)

if TYPE_CHECKING:
    from types import ModuleType

    from wandb import Run, Settings
    from wandb.proto.wandb_internal_pb2 import ArtifactRecord, Record

# The .wandb log: a 7-byte file header, then LevelDB-style 32 KiB blocks of chunks.
_FILE_HEADER = struct.Struct("<4sHB")  # ident, magic, version
_FILE_IDENT = b":W&B"
_FILE_MAGIC = 0xBEE1
_FILE_VERSION = 0
_CHUNK_HEADER = struct.Struct("<IHB")  # crc32, payload length, chunk type
_BLOCK_SIZE = 32 * 1024
_FULL, _FIRST, _MIDDLE, _LAST = 1, 2, 3, 4

# History keys W&B adds to every row; not user metrics.
_INTERNAL_HISTORY_KEYS = frozenset({"_step", "_runtime", "_timestamp", "_wandb"})
# FilesItem.type: OTHER (0) is a user file; WANDB/MEDIA/ARTIFACT are W&B's own.
_USER_FILE_TYPE = 0


def read_wandb_records(path: Path) -> Iterator[Record]:
    """Yield the protobuf Records of a ``.wandb`` file, verifying every chunk checksum.

    The checksum wandb-core writes is the plain (IEEE, unmasked) CRC-32 of the chunk-type byte
    followed by the payload, as the old Python ``datastore`` did, not LevelDB's masked CRC-32C.
    The file header counts towards the first block, so block offsets are absolute file offsets.
    """
    from wandb.proto.wandb_internal_pb2 import Record

    data = path.read_bytes()
    if len(data) < _FILE_HEADER.size:
        raise ValueError(f"{path}: {len(data)} bytes, shorter than the file header")
    ident, magic, version = _FILE_HEADER.unpack_from(data)
    if (ident, magic, version) != (_FILE_IDENT, _FILE_MAGIC, _FILE_VERSION):
        raise ValueError(f"{path}: not a W&B v{_FILE_VERSION} log ({data[:7]!r})")
    pos = _FILE_HEADER.size
    pending: list[bytes] = []
    while pos < len(data):
        block_left = _BLOCK_SIZE - pos % _BLOCK_SIZE
        if block_left < _CHUNK_HEADER.size:  # zero padding at the end of a block
            pos += block_left
            continue
        crc, length, kind = _CHUNK_HEADER.unpack_from(data, pos)
        if (crc, length, kind) == (0, 0, 0):  # rest of the block is padding
            pos += block_left
            continue
        payload = data[pos + _CHUNK_HEADER.size : pos + _CHUNK_HEADER.size + length]
        if len(payload) != length:
            raise ValueError(f"{path}: truncated chunk at offset {pos}")
        if zlib.crc32(payload, zlib.crc32(bytes([kind]))) != crc:
            raise ValueError(f"{path}: checksum mismatch in chunk at offset {pos}")
        starts_record = kind in (_FULL, _FIRST)
        if kind not in (_FULL, _FIRST, _MIDDLE, _LAST) or starts_record == bool(pending):
            raise ValueError(f"{path}: chunk of type {kind} out of sequence at offset {pos}")
        pending.append(payload)
        pos += _CHUNK_HEADER.size + length
        if kind in (_FULL, _LAST):
            record = Record()
            record.ParseFromString(b"".join(pending))
            pending.clear()
            yield record
    if pending:
        raise ValueError(f"{path}: log ends inside a record")


def _item_key(key: str, nested_key: Any) -> str:
    """W&B writes either ``key`` or a path ``nested_key``; the UI joins the path with dots."""
    return key or ".".join(nested_key)


def _decode_history_value(value_json: str) -> Any:
    """History numbers are float64 in wandb-core, written as shortest JSON ("1", "-0", "NaN").

    Parsing integers as floats restores the stored float64 exactly (including -0.0), and the
    ``NaN``/``Infinity``/``-Infinity`` tokens map back to the IEEE specials.
    """
    return json.loads(value_json, parse_int=float)


def _staged_bytes_note(artifact: ArtifactRecord) -> tuple[str, bool]:
    """Where an offline artifact's bytes are, and whether they still match its manifest."""
    entries = artifact.manifest.contents
    intact = all(
        Path(entry.local_path).is_file()
        and base64.b64encode(hashlib.md5(Path(entry.local_path).read_bytes()).digest()).decode()
        == entry.digest
        for entry in entries
    )
    where = sorted({str(Path(entry.local_path).parent) for entry in entries})
    state = "match their manifest digests" if intact else "are missing or differ from the manifest"
    return (
        f"dataset {artifact.name!r} ({len(entries)} file(s)) is a manifest in the run log;"
        f" its bytes wait for `wandb sync` in {where} and {state}"
    ), intact


def _staged_sha256(artifact: ArtifactRecord) -> str | None:
    """sha256 of the bytes a one-file dataset version's manifest points to: W&B's staged copy
    in its data dir, kept per version until `wandb sync` (None: gone, or not one file)."""
    entries = artifact.manifest.contents
    if len(entries) != 1 or not Path(entries[0].local_path).is_file():
        return None
    return sha256_file(Path(entries[0].local_path))


def _intact_records(path: Path, notes: list[str]) -> Iterator[Record]:
    """The records up to the first damaged chunk (a log cut short by a killed process); the
    damage is noted, not raised."""
    try:
        yield from read_wandb_records(path)
    except ValueError as exc:
        notes.append(f"run log damaged, records after the damage not read: {exc}")


class WandbAdapter(TrackerAdapter):
    """W&B in offline mode; lean profile switches off its capture extras."""

    name = "wandb"
    distribution = "wandb"
    sdk_modules = ("wandb",)
    scenarios = ("offline",)
    hosted_auth_docs = "https://docs.wandb.ai/platform/hosting/iam/access-management-intro"
    hosted_api_docs = "https://docs.wandb.ai/ref/python/public-api/"

    # The smallest x_stats_sampling_interval wandb's settings validator accepts (wandb-core
    # honours it: ~10 samples a second).
    fastest_stats_interval = 0.1

    _wandb: ModuleType
    _run: Run

    def import_sdk(self) -> None:
        import wandb

        self._wandb = wandb

    def _run_settings(self) -> Settings:
        """Build ``wandb.Settings`` for the profile; always offline, never prompting or syncing."""
        options: dict[str, Any] = {"mode": "offline"}
        if self.settings.profile == "lean":
            options.update(
                console="off",  # no stdout/stderr capture into output.log
                disable_git=True,  # no git commit/diff capture
                save_code=False,  # no copy of the calling script
                disable_code=True,  # nor any code-path metadata
                x_disable_stats=True,  # no system-metrics sampler
                x_disable_meta=True,  # no environment/metadata records
                x_disable_machine_info=True,  # no CPU/GPU/disk inventory
                x_save_requirements=False,  # no pip freeze into requirements.txt
                quiet=True,  # no end-of-run history sparklines on the terminal
            )
        if self.settings.system_metrics:
            options.update(
                x_disable_stats=False,
                # wandb-core 0.31 starts no system monitor at all when machine info is off.
                x_disable_machine_info=False,
                x_stats_sampling_interval=self.fastest_stats_interval,
            )
        return self._wandb.Settings(**options)

    def start_run(self, name: str, config: Mapping[str, Any]) -> None:
        self.settings.storage_dir.mkdir(parents=True, exist_ok=True)
        self._run = self._wandb.init(
            dir=str(self.settings.storage_dir),
            project="trackbench",
            name=name,
            settings=self._run_settings(),
        )

    def log_params(self, params: Mapping[str, Any]) -> None:
        self._run.config.update(dict(params))

    def log_metrics(self, metrics: Mapping[str, float], step: int) -> None:
        self._run.log(dict(metrics), step=step)

    def log_artifact(self, path: Path, name: str) -> None:
        """Copy the file into the run's files dir and ``run.save`` it (policy "now").

        ``run.save`` is W&B's "keep this file with the run": the bytes sit in the run directory
        under their flat name and ``wandb sync`` uploads them as run files. Copying first matters:
        ``run.save`` of a path outside the run dir only symlinks it, so the run would not hold
        the bytes. A model Artifact would add versioning, but offline its bytes are staged in
        W&B's data dir outside the run (what :meth:`log_dataset` exercises).
        """
        if not name or name in (".", "..") or "/" in name or "\\" in name:
            raise ValueError(f"artifact name must be a flat file name, got {name!r}")
        files_dir = Path(self._run.dir)
        shutil.copyfile(path, files_dir / name)
        self._run.save(str(files_dir / name), base_path=str(files_dir), policy="now", glob=False)

    def log_dataset(self, path: Path, name: str) -> None:
        """Log a ``type="dataset"`` Artifact, W&B's data-versioning unit.

        Offline, the run log keeps the version record (name, digest, manifest) and W&B keeps a
        staged copy of the bytes in its data dir (``$WANDB_DATA_DIR/artifacts/staging``, outside
        the run directory) until ``wandb sync`` uploads them.
        """
        artifact = self._wandb.Artifact(name, type="dataset")
        artifact.add_file(str(path))
        self._run.log_artifact(artifact)

    def run_ref(self) -> dict[str, str]:
        return {"run_id": self._run.id, "run_dir": str(Path(self._run.dir).parent)}

    def register_model(self, path: Path, name: str) -> None:
        """``run.link_model``: logs a model artifact, then links it into the W&B registry."""
        from wandb.errors import UsageError

        try:
            self._run.link_model(str(path), registered_model_name=name)
        except (NotImplementedError, UsageError) as exc:
            raise HostedOnly(
                f"run.link_model() offline raised {type(exc).__name__}: {exc} (the W&B registry "
                "links artifacts inside the W&B service)", "https://docs.wandb.ai/guides/registry/",
            ) from None

    def send_alert(self, title: str, text: str) -> None:
        """``run.alert`` offline only writes a record into the run log."""
        self._run.alert(title=title, text=text)
        raise HostedOnly(
            "run.alert() returned offline; W&B delivers alerts (Slack, e-mail) from its service, "
            "so nothing is sent before `wandb sync`", "https://docs.wandb.ai/guides/runs/alert/",
        )

    def best_run(self, ref: Mapping[str, str], metric: str) -> Mapping[str, str] | None:
        """No offline query: checked on the SDK's surface, not by calling the service."""
        local = api_names(self._wandb.Run, ("query", "search", "runs"))
        raise HostedOnly(
            f"wandb.Run has no run-query method (names matching query/search/runs: "
            f"{', '.join(local) or 'none'}); queries go through wandb.Api "
            f"(present: {hasattr(self._wandb, 'Api')}), a client of the W&B service, so an "
            "offline run is queryable only after `wandb sync`", self.hosted_api_docs,
        )

    def offline_bundle(self, ref: Mapping[str, str]) -> tuple[str, Path]:
        """The offline-run directory, what ``wandb sync <dir>`` uploads."""
        return "run_dir", Path(ref["run_dir"])

    def finish(self) -> dict[str, str]:
        """Finish the run, then ``wandb.teardown()`` so the ``.wandb`` log is complete on disk.

        ``run.finish()`` only tells wandb-core the run is over and returns before the core has
        written out and closed the log (its last block, often the whole of a short run, is still
        buffered); teardown waits for the core to shut down, which it otherwise does at exit.
        """
        run = self._run
        ref = self.run_ref()
        run.finish()
        self._wandb.teardown()
        del self._run
        return ref

    def read_back(self, ref: Mapping[str, str]) -> StoredRun:
        run_dir = Path(ref["run_dir"])
        stored = StoredRun()
        dropped: set[str] = set()
        saved_files: list[str] = []
        for record in _intact_records(run_dir / f"run-{ref['run_id']}.wandb", stored.notes):
            kind = record.WhichOneof("record_type")
            if kind == "config":
                for item in record.config.update:
                    stored.params[_item_key(item.key, item.nested_key)] = json.loads(
                        item.value_json
                    )
                for item in record.config.remove:
                    stored.params.pop(_item_key(item.key, item.nested_key), None)
            elif kind == "history":
                step = record.history.step.num
                for item in record.history.item:
                    key = _item_key(item.key, item.nested_key)
                    if key.split(".", 1)[0] in _INTERNAL_HISTORY_KEYS:
                        dropped.add(key)
                        continue
                    stored.metrics.setdefault(key, []).append(
                        (step, _decode_history_value(item.value_json))
                    )
            elif kind == "stats":
                for stat in record.stats.item:
                    stored.system_metrics[stat.key] = stored.system_metrics.get(stat.key, 0) + 1
            elif kind == "files":
                saved_files += [f.path for f in record.files.files if f.type == _USER_FILE_TYPE]
            elif kind == "artifact" and record.artifact.type == "dataset":
                stored.datasets.append((record.artifact.name, record.artifact.digest))
                stored.dataset_sha256.append(_staged_sha256(record.artifact))
                note, intact = _staged_bytes_note(record.artifact)
                stored.notes.append(note)
                if not intact:
                    stored.unresolved.append(note)
            elif kind == "alert":
                stored.alerts.append(record.alert.title)
        stored.params.pop("_wandb", None)  # W&B's own run bookkeeping, never user config
        for name in dict.fromkeys(saved_files):  # once each: more than one record may list it
            path = run_dir / "files" / name
            if path.is_file():
                stored.artifacts[name] = sha256_file(path)
            else:  # one artifact missing, not the whole read-back failed
                stored.notes.append(f"artifact {name!r} is listed in the run log but not in the"
                                    " run's files/ directory")
        if dropped:
            stored.notes.append(f"dropped W&B-internal history keys {sorted(dropped)}")
        if self.settings.system_metrics and not stored.system_metrics:
            stored.notes.append(
                "wandb: system metrics were requested but none were stored, and W&B logs no"
                " reason; one known cause is a TMPDIR path over ~65 characters, too long for the"
                " unix socket of wandb-symon (its sampler), which then exits"
            )
        return stored
