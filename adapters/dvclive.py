"""DVCLive (Iterative's logger for DVC), scenario ``local``: plain files in a Git + DVC repository.

DVCLive logs into a DVC repository: without one it still writes its metric and param files,
but ``log_artifact`` only logs a warning ("A DVC repo is required") and stores nothing, and
``dvc exp save`` needs Git with at least one commit. So :meth:`DvcliveAdapter.start_run`
creates, once per storage directory, ``<storage_dir>/repo``: ``git init`` (scmrepo, the Git
layer DVC uses), a repository-local Git identity with signing off, ``dvc init`` (DVC's Python
API) and a first commit. Everything DVC keeps lives under ``storage_dir``:

- ``repo/dvclive/<run>/``, one DVCLive directory per run (``Live(dir=...)``): ``params.yaml``
  (rewritten in full on each ``log_params``), ``plots/metrics/<name>.tsv`` (one file per
  metric, a row ``step<TAB>value`` appended and the file closed on each ``log_metric``; a ``/``
  in a name makes sub-directories), ``metrics.json`` (the summary: each metric's latest value,
  written by ``make_summary``, which ``Live.end`` calls), ``artifacts/``, ``datasets/``,
  ``models/`` (the copies DVC tracks, each beside its ``.dvc`` file);
- ``repo/.dvc/cache/files/md5/<2>/<30>``: DVC's content-addressed cache. ``log_artifact`` runs
  ``dvc add`` at call time, which hashes the file (md5), copies its bytes into the cache
  (``cache.type`` is DVC's default ``reflink,copy``: a copy here, never a link that a later
  edit of the workspace file could corrupt) and writes the ``.dvc`` file naming that md5;
- ``repo/dvc.yaml``: every run's params, metrics, plots and annotated artifacts (name, type),
  which ``dvc metrics``/``exp show``/``plots`` and the model registry read;
- ``repo/.git``: the commits recording each dataset version and registered model, the GTO
  tags of the registry, and (``defaults``) the experiment refs of ``dvc exp save``;
- ``dvc-config/global``, ``dvc-config/system``, ``dvc-site-cache``: DVC's global and system
  config dirs and its site cache (hash and link state databases), which would otherwise be
  ``~/.config/dvc``, ``/etc/xdg/dvc`` and ``/var/tmp/dvc`` (``DVC_GLOBAL_CONFIG_DIR``,
  ``DVC_SYSTEM_CONFIG_DIR``, ``DVC_SITE_CACHE_DIR``, set in the process's environment): every
  config level ``dvc config --list --show-origin`` reads is then a file of the cell's.

DVCLive finds its repository from the working directory (``dvc.repo.Repo()``), and at
``end()`` writes VS Code signal files under the ``.dvc/tmp`` of whatever repository contains the
working directory: the adapter enters ``repo`` (``contextlib.chdir``) around ``Live()`` and
``Live.end()`` only, and passes every path absolute.

Data versioning is DVC's own: ``log_dataset`` copies the file into the run's ``datasets/<name>/``,
``dvc add``-s it (``Live.log_artifact(type="dataset")``) and commits the ``.dvc`` file to Git;
each version's md5 then lives in Git history and its bytes in the cache, so a version stays
retrievable (``git checkout <rev> x.dvc && dvc checkout``) after the file changes.
``register_model`` is GTO's: the model is logged with ``type="model"`` (dvc.yaml's
``artifacts`` section), committed, and tagged ``<name>@v0.0.N`` by ``gto.api.register``.

:meth:`DvcliveAdapter.read_back` reads those files with the standard library, ruamel.yaml (the
YAML library DVCLive writes with) and dulwich (Git objects), never importing dvc or dvclive:
params from ``params.yaml``, metric points from the ``.tsv`` files (a line cut short by a kill
is skipped and said), ``metrics.json`` for the run's completion, artifacts and dataset versions
from the DVC cache by the md5 their ``.dvc`` files name (the copies in the workspace are never
read), models from the GTO tags.

Nothing leaves the machine: the user's ``DVC_*``, ``DVCLIVE_*``, ``STUDIO_*`` and ``GTO_*``
settings (a DVC Studio token, ``DVC_EXP_AUTO_PUSH``/``DVC_EXP_GIT_REMOTE``, ``DVCLIVE_TEST``)
and Git's repository-location variables (``GIT_DIR``...) are removed, and DVC reads no global
or system config, so no Studio token is found and DVCLive posts no live metrics; the repository
has no Git or DVC remote; DVC's usage analytics (and its version check) run only in the ``dvc``
command line, which the adapter never starts.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import os
import re
import shutil
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from adapters.base import (
    AdapterSettings,
    StoredRun,
    TrackerAdapter,
    Unsupported,
)

if TYPE_CHECKING:
    from dulwich.repo import Repo as GitRepo
    from dvclive import Live
    from scmrepo.git import Git

REPO = "repo"
RUNS = "dvclive"  # the runs' directories, inside the repository
# Sub-directories of a run's directory holding the files the adapter has DVC track.
ARTIFACTS, DATASETS, MODELS = "artifacts", "datasets", "models"
SYSTEM_PREFIX = "system/"  # dvclive.monitor_system logs every series under it, timestamped
# Environment prefixes of DVC, DVCLive, DVC Studio's client and GTO, removed before import.
SDK_ENV_PREFIXES = ("DVC_", "DVCLIVE_", "STUDIO_", "GTO_")
# Git's repository-location variables (``git rev-parse --local-env-vars``): one left over from
# the user's shell would point DVC's and GTO's Git calls at another repository.
GIT_LOCATION_ENV = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY",
                    "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_COMMON_DIR", "GIT_CONFIG",
                    "GIT_CONFIG_PARAMETERS", "GIT_CONFIG_COUNT", "GIT_NAMESPACE")
# Repository-local Git settings: commits and GTO's annotated tags need an identity, and a
# user's global signing setting would stop them at a passphrase prompt.
GIT_CONFIG = ("[user]\n\tname = trackbench\n\temail = trackbench@localhost\n"
              "[commit]\n\tgpgsign = false\n[tag]\n\tgpgsign = false\n")
# What ``csv`` writes for a float (Python's repr) or an int, and nothing else: any other text a
# metric was logged as stays text.
INT_TEXT = re.compile(r"-?\d+")
FLOAT_TEXT = re.compile(r"-?(\d+\.\d*|\d+)(e[-+]\d+)?|-?inf|nan")
SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
DOCS = "https://dvc.org/doc/dvclive"


def sdk_environment(settings: AdapterSettings) -> dict[str, str]:
    """Where DVC keeps its global and system config and its site cache: inside the cell."""
    root = settings.storage_dir
    return {
        "DVC_GLOBAL_CONFIG_DIR": str(root / "dvc-config" / "global"),
        "DVC_SYSTEM_CONFIG_DIR": str(root / "dvc-config" / "system"),
        "DVC_SITE_CACHE_DIR": str(root / "dvc-site-cache"),
    }


def live_options(settings: AdapterSettings) -> dict[str, Any]:
    """Keyword arguments of ``Live`` beyond its paths and experiment name.

    ``dvcyaml`` stays on in both profiles: without dvc.yaml no DVC command (``metrics show``,
    ``exp show``, ``plots``) sees the run and the registry has no artifact to tag, and it is
    written at ``end()`` only (the adapter never calls ``next_step``)."""
    options: dict[str, Any] = {"report": None}
    if settings.profile == "lean":
        options["save_dvc_exp"] = False
    if settings.system_metrics:
        options["monitor_system"] = True
    return options


def _run_dir_name(name: str, taken: Path) -> str:
    """The run's directory under ``taken``: its name made path-safe, never an existing one
    (``Live`` empties its directory when it starts)."""
    base = re.sub(r"[^A-Za-z0-9._-]", "_", name).strip("._") or "run"
    candidate, index = base, 1
    while (taken / candidate).exists():
        index += 1
        candidate = f"{base}-{index}"
    return candidate


def _cache_path(repo: Path, md5: str) -> Path:
    """Where DVC 3's cache keeps the bytes of ``md5``."""
    return repo / ".dvc" / "cache" / "files" / "md5" / md5[:2] / md5[2:]


def _digests(path: Path) -> tuple[str, str]:
    """(md5, sha256) of a file, in one pass: the md5 checks the cache, the sha256 is fidelity's."""
    md5, sha = hashlib.md5(usedforsecurity=False), hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            md5.update(block)
            sha.update(block)
    return md5.hexdigest(), sha.hexdigest()


def _yaml(text: str) -> Any:
    """YAML 1.2 as DVCLive writes it (ruamel.yaml; PyYAML's 1.1 would read ``yes`` as True)."""
    from ruamel.yaml import YAML

    return YAML(typ="safe", pure=True).load(text)


def _parse_value(text: str) -> Any:
    """A ``.tsv`` cell: DVCLive writes numbers as ``csv`` does (``repr``; NaN and infinities as
    ``nan``/``inf``/``-inf``) and text as it is, so a number's text reads back as the number."""
    if INT_TEXT.fullmatch(text):
        return int(text)
    if FLOAT_TEXT.fullmatch(text):
        return float(text)
    return text


def _read_tsv(path: Path) -> tuple[list[str], list[list[str]], bool]:
    """Header, complete rows, and whether a last line cut short (no line end) was dropped."""
    text = path.read_text(encoding="utf-8", errors="replace")
    cut = bool(text) and not text.endswith("\n")
    if cut:
        text = text[: text.rfind("\n") + 1]
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter="\t"))
    return (rows[0], rows[1:], cut) if rows else ([], [], cut)


def _read_metrics(run: Path, stored: StoredRun) -> None:
    """Every row of every ``.tsv`` file under ``plots/metrics``, in file order; the monitor's
    timestamped ``system/`` series are counted as system metrics."""
    root = run / "plots" / "metrics"
    cut, bad, text = [], 0, set()
    for path in sorted(root.rglob("*.tsv")) if root.is_dir() else ():
        key = path.relative_to(root).with_suffix("").as_posix()
        header, rows, was_cut = _read_tsv(path)
        if was_cut:
            cut.append(key)
        if len(header) < 2 or "step" not in header:
            stored.notes.append(f"metric {key!r}: header {header!r} has no step and value "
                                "columns (a metric named 'step' overwrites its step column)")
            continue
        if key.startswith(SYSTEM_PREFIX) and header[0] == "timestamp":
            stored.system_metrics[key] = len(rows)
            continue
        step_at = header.index("step")
        for row in rows:
            try:
                step = int(row[step_at])
            except (ValueError, IndexError):
                bad += 1
                continue
            if len(row) != len(header):
                bad += 1
                continue
            value = _parse_value(row[-1])
            if isinstance(value, str):
                text.add(key)
            stored.metrics.setdefault(key, []).append((step, value))
    if cut:
        stored.notes.append(f"last line cut short (no line end), skipped: {', '.join(cut)}")
    if bad:
        stored.notes.append(f"{bad} malformed .tsv row(s) skipped")
    if text:
        stored.notes.append(f"metric values kept as text: {', '.join(sorted(text))}")
    if stored.metrics:
        stored.notes.append("DVCLive's .tsv files keep values as text: a number logged as "
                            "text ('0.5', 'nan') reads back as the number")


def _summary_value(summary: Any, key: str) -> Any:
    for part in key.split("/"):
        if not isinstance(summary, dict) or part not in summary:
            return None
        summary = summary[part]
    return summary


def _read_summary(run: Path, stored: StoredRun) -> None:
    """``metrics.json``, written by ``make_summary`` (``Live.end``; each call in ``defaults``):
    absent means the run never ended; a latest value kept as text where the history reads a
    number is said."""
    path = run / "metrics.json"
    if not path.is_file():
        stored.notes.append("no metrics.json: the run did not reach Live.end() (the .tsv "
                            "history is complete up to its last full line)")
        return
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        stored.notes.append(f"metrics.json unreadable: {exc}")
        return
    for key, points in stored.metrics.items():
        latest = _summary_value(summary, key)
        if (isinstance(latest, str) and latest not in ("nan", "inf", "-inf")
                and not isinstance(points[-1][1], str)):
            stored.notes.append(f"metric {key!r}: metrics.json keeps its latest value as text "
                                f"{latest[:40]!r}, the .tsv history as a number")


def _read_params(run: Path, stored: StoredRun) -> None:
    path = run / "params.yaml"
    if not path.is_file():
        stored.notes.append("no params.yaml: no params were logged")
        return
    try:
        params = _yaml(path.read_text(encoding="utf-8"))
    except Exception as exc:  # noqa: BLE001 - ruamel's error types; a half-written file
        stored.notes.append(f"params.yaml unreadable: {type(exc).__name__}: {exc}"[:300])
        return
    stored.params = dict(params or {})


def _outs(dvc_text: str) -> list[tuple[str, str]]:
    """(path relative to the .dvc file, md5) of each output a ``.dvc`` file names."""
    data = _yaml(dvc_text) or {}
    return [(out["path"], out["md5"]) for out in data.get("outs") or [] if out.get("md5")]


def _cached_files(repo: Path, name: str, md5: str) -> Iterator[tuple[str, Path]]:
    """(name, cache path) of the file ``md5`` names, or of each file of a directory's manifest
    (``<md5>.dir``, a JSON list of ``relpath``/``md5``)."""
    if not md5.endswith(".dir"):
        yield name, _cache_path(repo, md5)
        return
    manifest = _cache_path(repo, md5)
    entries = json.loads(manifest.read_text()) if manifest.is_file() else []
    for entry in entries:
        yield f"{name}/{entry['relpath']}", _cache_path(repo, entry["md5"])


def _read_artifacts(repo: Path, run: Path, stored: StoredRun) -> None:
    """The bytes DVC's cache holds for each ``.dvc`` file under the run's ``artifacts/`` (the
    workspace copies beside them are not read)."""
    root = run / ARTIFACTS
    for dvc_file in sorted(root.rglob("*.dvc")) if root.is_dir() else ():
        try:
            outs = _outs(dvc_file.read_text(encoding="utf-8"))
        except Exception as exc:  # noqa: BLE001 - a .dvc file cut short
            stored.notes.append(f"{dvc_file.name} unreadable: {type(exc).__name__}")
            continue
        for out, md5 in outs:
            name = (dvc_file.parent / out).relative_to(root).as_posix()
            for file_name, cached in _cached_files(repo, name, md5):
                if not cached.is_file():
                    stored.unresolved.append(f"artifact {file_name!r}: md5 {md5[:12]} is not "
                                             "in the DVC cache")
                    continue
                got_md5, sha = _digests(cached)
                stored.artifacts[file_name] = sha
                if file_name == name and got_md5 != md5:
                    stored.notes.append(f"artifact {name!r}: the cached bytes' md5 {got_md5[:12]} "
                                        f"is not the {md5[:12]} its .dvc file names")


def _open_git(repo: Path) -> GitRepo:
    from dulwich.repo import Repo

    return Repo(str(repo))


def _first_parent_history(git: GitRepo) -> list[Any]:
    """The current branch's commits, oldest first (first parents: the adapter never merges)."""
    commits, sha = [], git.refs[b"HEAD"]
    while sha:
        commit = git[sha]
        commits.append(commit)
        sha = commit.parents[0] if commit.parents else None
    return commits[::-1]


def _blobs_under(git: GitRepo, tree: bytes, prefix: str) -> dict[str, bytes]:
    """path -> blob id of every ``.dvc`` file under ``prefix`` in ``tree``."""
    from dulwich.object_store import tree_lookup_path

    try:
        _, sub = tree_lookup_path(git.__getitem__, tree, prefix.encode())
    except KeyError:
        return {}
    return {f"{prefix}/{entry.path.decode()}": entry.sha
            for entry in git.object_store.iter_tree_contents(sub)
            if entry.path.endswith(b".dvc")}


def _read_datasets(repo: Path, git: GitRepo, live_dir: str, stored: StoredRun) -> None:
    """Each committed version of each dataset of the run: (name, md5) from the ``.dvc`` file
    as each commit changed it, and the sha256 of the bytes DVC's cache holds for that md5."""
    prefix, seen = f"{live_dir}/{DATASETS}", {}
    for commit in _first_parent_history(git):
        for path, blob in sorted(_blobs_under(git, commit.tree, prefix).items()):
            if seen.get(path) == blob:
                continue
            seen[path] = blob
            name = path[len(prefix) + 1:].split("/")[0]
            for _, md5 in _outs(git[blob].data.decode("utf-8")):
                cached = _cache_path(repo, md5)
                stored.datasets.append((name, md5))
                stored.dataset_sha256.append(_digests(cached)[1] if cached.is_file() else None)


def _file_at(git: GitRepo, tree: bytes, path: str) -> str | None:
    from dulwich.object_store import tree_lookup_path

    try:
        _, sha = tree_lookup_path(git.__getitem__, tree, path.encode())
    except KeyError:
        return None
    return git[sha].data.decode("utf-8")


def _read_models(repo: Path, git: GitRepo, live_dir: str, stored: StoredRun) -> None:
    """GTO registrations (tags ``<name>@v<semver>``) of a model this run logged: the tagged
    commit's dvc.yaml has the artifact, typed ``model``, under the run's ``models/``, its
    ``.dvc`` file is in that commit and the DVC cache holds the bytes it names."""
    found = []
    for tag, sha in git.refs.as_dict(b"refs/tags").items():
        name, sep, version = tag.decode().rpartition("@")
        if not sep or not version.startswith("v") or version.endswith("!"):
            continue  # not a registration (stage assignments use '#', deprecations end in '!')
        obj = git[sha]
        while obj.type_name == b"tag":
            obj = git[obj.object[1]]
        dvcyaml = _file_at(git, obj.tree, "dvc.yaml")
        entry = ((_yaml(dvcyaml) or {}).get("artifacts") or {}).get(name) if dvcyaml else None
        if not entry or not str(entry.get("path", "")).startswith(f"{live_dir}/{MODELS}/"):
            continue
        dvc_text = _file_at(git, obj.tree, f"{entry['path']}.dvc")
        outs = _outs(dvc_text) if dvc_text else []
        if entry.get("type") != "model" or not outs:
            stored.notes.append(f"tag {tag.decode()}: not a model with a .dvc file at its commit")
        elif not all(_cache_path(repo, md5).is_file() for _, md5 in outs):
            stored.unresolved.append(f"model {tag.decode()}: its bytes are not in the DVC cache")
        else:
            found.append((name, version))
    stored.models = sorted(found, key=lambda m: (m[0], [int(p) for p in re.findall(r"\d+", m[1])]))


class DvcliveAdapter(TrackerAdapter):
    """DVCLive in a Git + DVC repository of the cell's own.

    Metric calls follow DVCLive's documented manual-step pattern (``live.step = N`` then
    ``log_metric``; ``next_step`` assumes steps 0, 1, 2... and would re-read every ``.tsv``
    file on each call to prepare a Studio update). The ``lean`` profile turns off what
    ``Live()`` switches on by itself, and what the docs' pattern adds per step:

    - ``save_dvc_exp`` (on by default): ``Live.end`` runs ``dvc exp save``, committing the run's
      files to an experiment ref (``refs/exps/...``);
    - ``make_summary`` after each metric call (the docs' manual-step example): rewrites
      ``metrics.json``; lean writes it once, at ``end()``;
    - DVC Studio and DVC's usage analytics, in the repository's config (``studio.offline``,
      ``core.analytics false``). With no Studio token anywhere DVCLive posts nothing in either
      profile, and analytics are sent only by the ``dvc`` command line, never run here; the
      settings keep a user's later ``dvc`` commands in this repository quiet too.

    ``init`` includes creating the repository (about 1 s, once per storage directory; a later
    run in the same process starts in about 0.1 s). Measured here, ``make_summary`` per call
    made a metric call about 8x dearer (2.9 ms instead of 0.35 ms for two values).

    Off in both, as ``Live()`` has them: the HTML/Markdown report, the system monitor (on only
    with ``system_metrics``: ``monitor_system``, 20 samples 0.05 s apart, averaged into one
    point per second) and image caching. DVCLive 3.49's monitor asks NVML first in every sample
    and drops the whole sample when NVML fails, so on a machine without NVIDIA's library (its
    ``nvidia-ml-py`` dependency is always installed) it stores nothing, CPU and RAM included,
    and logs a traceback. DVCLive captures no console or environment; ``dvc exp save``
    (``defaults``) snapshots the Git workspace's tracked files, in a user's project the code.
    """

    name = "dvclive"
    distribution = "dvclive"
    sdk_modules = ("dvclive", "dvc")
    scenarios = ("local",)
    # DVC itself has no server: teams, roles and the REST API are DVC Studio's, the hosted side.
    hosted_auth_docs = "https://dvc.org/doc/studio/user-guide/team-collaboration"
    hosted_api_docs = "https://dvc.org/doc/studio/rest-api"

    def __init__(self, settings: AdapterSettings) -> None:
        super().__init__(settings)
        self._live_cls: type[Live] | None = None
        self._live: Live | None = None
        self._scm: Git | None = None
        self._live_dir: Path | None = None

    @property
    def repo_dir(self) -> Path:
        return self.settings.storage_dir / REPO

    def import_sdk(self) -> None:
        """Drop the user's DVC, DVCLive, Studio, GTO and Git-location settings, point DVC's
        global/system config and site cache into the cell, then import DVCLive (and DVC)."""
        for key in [k for k in os.environ
                    if k.startswith(SDK_ENV_PREFIXES) or k in GIT_LOCATION_ENV]:
            del os.environ[key]
        os.environ.update(sdk_environment(self.settings))
        from dvclive import Live

        self._live_cls = Live

    def _create_repo(self) -> None:
        """``git init``, a local identity, ``dvc init``, the profile's DVC config, first commit."""
        from dvc.repo import Repo
        from scmrepo.git import Git

        repo = self.repo_dir
        repo.mkdir(parents=True, exist_ok=True)
        Git.init(repo).close()
        with open(repo / ".git" / "config", "a", encoding="utf-8") as fh:
            fh.write(GIT_CONFIG)
        dvc_repo = Repo.init(str(repo))
        try:
            if self.settings.profile == "lean":
                with dvc_repo.config.edit("repo") as conf:
                    conf["core"]["analytics"] = False
                    conf["studio"]["offline"] = True
            dvc_repo.scm.add([".dvc/config", ".dvc/.gitignore", ".dvcignore"])
            dvc_repo.scm.commit("Initialize DVC")
        finally:
            dvc_repo.close()

    def start_run(self, name: str, config: Mapping[str, Any]) -> None:
        """Create the repository if this storage directory has none, then ``Live()`` in a
        directory of the run's own (in ``defaults`` named after the run's experiment)."""
        if self._live_cls is None:
            self.import_sdk()
        from scmrepo.git import Git

        if not (self.repo_dir / ".dvc").is_dir():
            self._create_repo()
        runs = self.repo_dir / RUNS
        runs.mkdir(exist_ok=True)
        self._live_dir = runs / _run_dir_name(name, runs)
        extra = {} if self.settings.profile == "lean" else {"exp_name": self._live_dir.name}
        with contextlib.chdir(self.repo_dir):
            self._live = self._live_cls(dir=str(self._live_dir),
                                        dvcyaml=str(self.repo_dir / "dvc.yaml"),
                                        **live_options(self.settings), **extra)
        self._scm = Git(self.repo_dir)

    def log_params(self, params: Mapping[str, Any]) -> None:
        """``Live.log_params``: merged into the run's params and ``params.yaml`` rewritten."""
        self._running().log_params(dict(params))

    def log_metrics(self, metrics: Mapping[str, float], step: int) -> None:
        """``live.step = step``, then ``log_metric`` per value (a row appended to its ``.tsv``
        file). A value DVCLive rejects does not stop the others; the first error is raised."""
        live = self._running()
        live.step = step
        error: Exception | None = None
        for key, value in metrics.items():
            try:
                live.log_metric(key, value)
            except Exception as exc:  # noqa: BLE001 - raised after the other values
                error = error or exc
        if self.settings.profile != "lean":
            live.make_summary()
        if error is not None:
            raise error

    def _tracked(self, path: Path, target: Path, **annotations: Any) -> Path:
        """Copy ``path`` to ``target`` (in the run's directory) and ``Live.log_artifact`` it:
        ``dvc add`` caches the copy's bytes before this returns. DVCLive only logs a warning
        when DVC fails (``catch_and_warn``): a missing ``.dvc`` file is raised here."""
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            target.unlink()
        shutil.copy2(path, target)
        self._running().log_artifact(str(target), **annotations)
        dvc_file = target.with_name(f"{target.name}.dvc")
        if not dvc_file.is_file():
            raise RuntimeError(f"DVCLive did not cache {path} (no {dvc_file.name}): see its "
                               "warning above; DVC errors in log_artifact are only logged")
        return dvc_file

    def log_artifact(self, path: Path, name: str) -> None:
        """``Live.log_artifact(path, copy=True)``: DVCLive copies the file into the run's
        ``artifacts/`` (so the user's file, wherever it lies, is not what DVC tracks) and
        caches it. A ``name`` other than the file's own is staged by the adapter the same way."""
        live = self._running()
        if name != path.name:
            self._tracked(path, self._run_dir() / ARTIFACTS / name)
            return
        live.log_artifact(str(path), copy=True)
        dvc_file = self._run_dir() / ARTIFACTS / f"{name}.dvc"
        if not dvc_file.is_file():
            raise RuntimeError(f"DVCLive did not cache {path} (no {dvc_file.name}): see its "
                               "warning above; DVC errors in log_artifact are only logged")

    def _commit(self, paths: list[Path], message: str) -> None:
        """Write dvc.yaml (``Live.make_dvcyaml``: the artifacts section) and commit it with
        ``paths``, as a DVC user versions data: the .dvc files go into Git."""
        live = self._running()
        live.make_dvcyaml()
        files = [p for p in (*paths, Path(live.dvc_file)) if p.is_file()]
        scm = self._scm
        assert scm is not None
        scm.add([str(p) for p in files])
        scm.commit(message)

    def log_dataset(self, path: Path, name: str) -> None:
        """A version of dataset ``name``: copied into the run's ``datasets/<name>/``,
        ``Live.log_artifact(type="dataset", name=name)`` (``dvc add``: bytes into the cache),
        and its ``.dvc`` file committed, so each version's md5 stays in Git history."""
        if not SAFE_NAME.fullmatch(name):
            raise ValueError(f"dataset name {name!r}: letters, digits, '.', '_', '-' only")
        dvc_file = self._tracked(path, self._run_dir() / DATASETS / name / path.name,
                                 type="dataset", name=name)
        self._commit([dvc_file, dvc_file.with_name(".gitignore")],
                     f"dataset {name}: {path.name} ({self._run_dir().name})")

    def register_model(self, path: Path, name: str) -> None:
        """GTO's registry: ``Live.log_artifact(type="model", name=name)`` on a copy in the run's
        ``models/<name>/`` (cached; dvc.yaml's ``artifacts`` section), committed, then
        ``gto.api.register`` tags that commit ``<name>@v0.0.N`` (the next free version)."""
        from gto.api import register
        from gto.constants import assert_name_is_valid

        assert_name_is_valid(name)  # GTO's rule; DVCLive would only warn and skip the entry
        dvc_file = self._tracked(path, self._run_dir() / MODELS / name / path.name,
                                 type="model", name=name)
        self._commit([dvc_file, dvc_file.with_name(".gitignore")],
                     f"model {name}: {path.name} ({self._run_dir().name})")
        register(str(self.repo_dir), name, ref="HEAD")

    def send_alert(self, title: str, text: str) -> None:
        raise Unsupported("neither DVCLive nor DVC has an alert call")

    def best_run(self, ref: Mapping[str, str], metric: str) -> Mapping[str, str] | None:
        """``dvc metrics show`` (``Repo.metrics.show``, what ``--json`` prints) over the
        workspace: every run's ``metrics.json`` listed in dvc.yaml, with its latest values;
        the run whose file holds the lowest ``metric``."""
        from dvc.repo import Repo

        with Repo(ref["repo"]) as repo:
            shown = repo.metrics.show(on_error="return")
        files = next(iter(shown.values()), {}).get("data", {})
        scored = []
        for file_name, content in files.items():
            value = _summary_value((content or {}).get("data"), metric)
            parts = Path(file_name).parts
            if (isinstance(value, int | float) and not isinstance(value, bool)
                    and len(parts) == 3 and parts[0] == RUNS):
                scored.append((value, parts[1]))
        if not scored:
            return None
        return {"repo": ref["repo"], "live_dir": f"{RUNS}/{min(scored)[1]}"}

    def offline_bundle(self, ref: Mapping[str, str]) -> tuple[str, Path]:
        """The repository: ``git push`` and ``dvc push`` upload from it (the cache, the .dvc
        files' commits, GTO tags; in ``defaults`` the experiment refs, ``dvc exp push``). In
        ``lean`` the run's own files sit untracked in the workspace until the user commits
        them."""
        return "repo", Path(ref["repo"])

    def run_ref(self) -> dict[str, str]:
        return {"repo": str(self.repo_dir),
                "live_dir": self._run_dir().relative_to(self.repo_dir).as_posix()}

    def finish(self) -> dict[str, str]:
        """``Live.end``: stops the monitor, writes metrics.json and dvc.yaml, and in
        ``defaults`` saves the experiment (``dvc exp save``); it only warns on DVC errors."""
        ref = self.run_ref()
        live = self._running()
        with contextlib.chdir(self.repo_dir):
            live.end()
        if self._scm is not None:
            self._scm.close()
        self._live = self._scm = None
        return ref

    def read_back(self, ref: Mapping[str, str]) -> StoredRun:
        """Read the run from the repository's files, as far as they were written: a killed run
        keeps every param, every complete ``.tsv`` line and every artifact cached before the
        kill."""
        stored = StoredRun()
        repo = Path(ref["repo"])
        run = repo / ref["live_dir"]
        if not run.is_dir():
            stored.notes.append(f"no DVCLive directory at {run}")
            return stored
        _read_params(run, stored)
        _read_metrics(run, stored)
        _read_summary(run, stored)
        _read_artifacts(repo, run, stored)
        if (run / DATASETS).is_dir() or (run / MODELS).is_dir():
            git = _open_git(repo)
            try:
                _read_datasets(repo, git, ref["live_dir"], stored)
                _read_models(repo, git, ref["live_dir"], stored)
            finally:
                git.close()
        return stored

    def _run_dir(self) -> Path:
        if self._live_dir is None:
            raise RuntimeError("no DVCLive run is open; call start_run() first")
        return self._live_dir

    def _running(self) -> Live:
        if self._live is None:
            raise RuntimeError("no DVCLive run is open; call start_run() first")
        return self._live
