"""Writing a study: :func:`create_study`, :class:`StudyWriter` and :class:`RunWriter`.

One process writes one run folder (the chief alone under multi-worker training); which process
trains which run is decided by :mod:`easiness.store.claims`. Creating is safe when several processes
open one new study or run at once: a creation lease lets one process write the study while the
others wait and reopen it, and a run folder is built under a temp name and renamed into place,
so exactly one creator wins and the others reopen its run. Every small file goes through
:mod:`easiness.store.atomic`; a run's ``manifest.json`` is its commit point and ``study.json`` is the
study's. Numpy only; no TensorFlow.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import json
import operator
import os
import platform
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

import numpy as np

from easiness.errors import one_line
from easiness.store import atomic
from easiness.store.claims import Lease
from easiness.store.layout import (
    CREATION_LEASE, CREATING_MARKER, EXTRAS_DIR, IDS_FILE, IMAGES_FILE, LABELS_FILE, LOSS_DTYPES, LOSSES_FILE,
    MANIFEST_FILE, MODELS_DIR, RECORDS, SCHEMA_VERSION, STATE_DIR, STUDY_FILE, StoreError, check_schema,
    now_iso, read_json, run_dirname, validate_name,
)


def create_study(root: str | os.PathLike, *, dataset: str, fingerprint: str, ids: np.ndarray,
                 labels: np.ndarray, class_names: Sequence[str], images: np.ndarray | None = None,
                 extras: Mapping[str, np.ndarray] | None = None) -> "StudyWriter":
    """Create the study folder ``root`` (new or empty), or reopen it for resuming.

    ids/labels: ``[N]``; images: optional ``[N, H, W, C]`` uint8; extras: optional name ->
    ``[N, ...]`` per-example ground truth. A folder already holding a study with the same
    ``fingerprint`` is reopened without rewriting anything (the arrays given are then unused);
    a different study, or a non-empty folder that is no study, is refused with nothing modified.
    Several processes may call this on one new folder at once: one writes the study, the others
    wait for its study.json and reopen it (or are refused if their fingerprint differs).
    """
    root = Path(root)
    ids, labels = _check_ids_labels(ids, labels, class_names)
    images = _check_images(images, len(ids))
    extras = _check_extras(extras or {}, len(ids))
    while True:
        existing = _existing_study(root, dataset, fingerprint, len(ids))
        if existing is not None:
            return existing
        with _creation_lease(root) as mine:
            if mine and not (root / STUDY_FILE).exists():
                _write_study(root, dataset=dataset, fingerprint=fingerprint, ids=ids, labels=labels,
                             class_names=list(class_names), images=images, extras=extras)
                return StudyWriter(root, dataset=dataset, fingerprint=fingerprint, n=len(ids))
        if not mine:
            time.sleep(_CREATION_POLL)  # another process is creating this study: look again shortly


@contextlib.contextmanager
def _creation_lease(root: Path) -> Iterator[bool]:
    """Hold the lease that lets one process create the study in ``root``; yields whether this
    process holds it (False: another process does).

    Released on exit; after a commit the lease folder is removed (safe: whoever takes the lease
    afterwards finds study.json and only reopens). A creator that crashed leaves its lease behind,
    taken over once stale like any claim (:mod:`easiness.store.claims`).
    """
    root.mkdir(parents=True, exist_ok=True)
    lease = Lease(root / CREATION_LEASE, name=f"creation of {root}")
    if not lease.try_acquire():
        yield False
        return
    with lease:
        yield True
    shutil.rmtree(root / CREATION_LEASE, ignore_errors=True)


_CREATION_POLL = 0.2  # seconds between looks at a study another process is creating


def _check_ids_labels(ids: Any, labels: Any, class_names: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """ids as a 1-D unicode array of unique strings, labels as int32 in [0, len(class_names))."""
    ids = np.asarray(ids)
    if ids.ndim != 1 or len(ids) == 0:
        raise StoreError(f"ids must be a non-empty 1-D array, got shape {ids.shape}")
    ids = _as_unicode(ids)
    if _has_duplicates(ids):
        raise StoreError("ids are not unique; every training example needs its own id")
    labels = np.asarray(labels)
    if labels.shape != ids.shape or not np.issubdtype(labels.dtype, np.integer):
        raise StoreError(f"labels must be integers of shape {ids.shape}, got {labels.dtype} {labels.shape}")
    if not class_names or not all(isinstance(c, str) for c in class_names):
        raise StoreError("class_names must be a non-empty list of strings")
    if labels.min() < 0 or labels.max() >= len(class_names):
        raise StoreError(f"labels must lie in [0, {len(class_names)}) for {len(class_names)} class names")
    return ids, labels.astype(np.int32)


def _has_duplicates(values: np.ndarray) -> bool:
    """Whether a 1-D array repeats a value, from one sorted copy: ``np.unique`` makes three, 200 MB
    of transient copies for ImageNet's 1.28M ids."""
    ordered = np.sort(values)
    return bool((ordered[1:] == ordered[:-1]).any())


def _as_unicode(ids: np.ndarray) -> np.ndarray:
    """Ids as fixed-width unicode, loadable without pickle; bytes (as tfds yields) decoded as UTF-8
    rather than turned into "b'...'" by ``astype(str)``."""
    if ids.dtype.kind == "S":
        return np.char.decode(ids, "utf-8")
    if ids.dtype.kind == "O":
        return np.array([x.decode("utf-8") if isinstance(x, bytes) else str(x) for x in ids])
    return ids.astype(str, copy=False)


def _check_images(images: Any, n: int) -> np.ndarray | None:
    """Images as ``[N, H, W, C]`` uint8, or None."""
    if images is None:
        return None
    images = np.asarray(images)
    if images.ndim != 4 or len(images) != n or images.dtype != np.uint8:
        raise StoreError(f"images must be uint8 [N={n}, H, W, C], got {images.dtype} {images.shape}")
    return images


def _check_extras(extras: Mapping[str, Any], n: int) -> dict[str, np.ndarray]:
    """Extras as name -> ``[N, ...]`` arrays that can be saved without pickle."""
    checked = {}
    for name, value in extras.items():
        validate_name(name, "extra")
        array = np.asarray(value)
        if array.ndim == 0 or len(array) != n or array.dtype == object:
            raise StoreError(f"extra {name!r} must be a non-object array of length {n}, "
                             f"got {array.dtype} {array.shape}")
        checked[name] = array
    return checked


def _existing_study(root: Path, dataset: str, fingerprint: str, n: int) -> "StudyWriter | None":
    """The writer of the study already in ``root`` if it is this one; None if ``root`` may be
    (re)created; StoreError (nothing touched) otherwise."""
    if not root.exists():
        return None
    if not root.is_dir():
        raise StoreError(f"{root} is a file, not a folder; choose another --out")
    if (root / STUDY_FILE).exists():
        meta = read_json(root / STUDY_FILE, "study")
        check_schema(meta, root / STUDY_FILE)
        old_fp, old_ds = str(meta.get("fingerprint")), meta.get("dataset")
        if old_fp != fingerprint:
            raise StoreError(f"{root} holds a study of {old_ds} (fingerprint {old_fp[:12]}…), "
                             f"not {dataset} ({fingerprint[:12]}…); choose another --out")
        if meta.get("n") != n:
            raise StoreError(f"{root} holds {meta.get('n')} examples under this fingerprint, "
                             f"but {n} ids were given; the fingerprint does not match the ids")
        (root / CREATING_MARKER).unlink(missing_ok=True)  # why: a kill may have left it after study.json
        return StudyWriter(root, dataset=str(old_ds), fingerprint=fingerprint, n=n)
    if any(not _creation_litter(p.name) for p in root.iterdir()) and not (root / CREATING_MARKER).exists():
        raise StoreError(f"{root} is not empty and holds no study; choose another --out")
    return None


def _creation_litter(name: str) -> bool:
    """Whether an entry of a study folder without study.json belongs to a creation under way (or
    killed): the creation lease, or a temp file such as the creating marker's own before its rename."""
    return name == CREATION_LEASE or atomic.is_temp_name(name)


def _write_study(root: Path, *, dataset: str, fingerprint: str, ids: np.ndarray,
                 labels: np.ndarray, class_names: list[str], images: np.ndarray | None,
                 extras: dict[str, np.ndarray]) -> None:
    """Write the arrays, then study.json as the commit point, then drop the creating marker."""
    root.mkdir(parents=True, exist_ok=True)
    atomic.write_bytes_atomic(root / CREATING_MARKER, b"")
    atomic.save_npy_atomic(root / IDS_FILE, ids)
    atomic.save_npy_atomic(root / LABELS_FILE, labels)
    if images is not None:
        atomic.save_npy_atomic(root / IMAGES_FILE, images)
    if extras:
        (root / EXTRAS_DIR).mkdir(exist_ok=True)
    for name, array in extras.items():
        atomic.save_npy_atomic(root / EXTRAS_DIR / f"{name}.npy", array)
    meta = {
        "schema_version": SCHEMA_VERSION, "dataset": dataset, "fingerprint": fingerprint,
        "n": len(ids), "num_classes": len(class_names), "class_names": class_names,
        "images": images is not None, "extras": sorted(extras), "created": now_iso(),
    }
    atomic.write_json_atomic(root / STUDY_FILE, meta)
    (root / CREATING_MARKER).unlink(missing_ok=True)  # why: a concurrent reopener may have removed it
    atomic.fsync_dir(root)


class StudyWriter:
    """A study open for writing runs (made by :func:`create_study`)."""

    def __init__(self, root: Path, *, dataset: str, fingerprint: str, n: int) -> None:
        self.root = Path(root)
        self.dataset = dataset
        self.fingerprint = fingerprint
        self.n = n

    def __repr__(self) -> str:
        return f"StudyWriter({str(self.root)!r}, dataset={self.dataset!r}, n={self.n})"

    def run(self, model: str, index: int, *, config: Mapping, seed: int,
            planned: Sequence[Mapping], dtype: str = "float32",
            provenance: Mapping | None = None, records: Mapping[str, str] | None = None) -> "RunWriter":
        """Open run ``index`` of ``model``: create it, or reopen it for resuming.

        planned: one ``{"epoch": float, "step": int}`` per row of ``losses.npy``. records: the
        arrays recorded beside the losses (names from ``RECORDS`` -> dtype), each a
        ``<name>.npy`` shaped like ``losses.npy``. An existing run is reopened only if its config,
        plan, seed, dtype and records equal these (rows of different settings are never mixed);
        otherwise StoreError.
        """
        validate_name(model, "model")
        index = operator.index(index)
        if index < 0:
            raise StoreError(f"run index must be >= 0, got {index}")
        if dtype not in LOSS_DTYPES:
            raise StoreError(f"losses dtype must be one of {', '.join(LOSS_DTYPES)}, got {dtype!r}")
        wanted = {"config": _normalise_config(config), "planned": _normalise_plan(planned),
                  "seed": operator.index(seed), "dtype": dtype, "records": _check_records(records)}
        path = self.root / MODELS_DIR / model / run_dirname(index)
        if not (path / MANIFEST_FILE).exists():
            manifest = self._new_manifest(model, index, wanted, provenance)
            if _create_run_folder(path, manifest, self.n):
                return RunWriter(path, manifest, fresh_provenance=_provenance(provenance))
        manifest = _reopen_manifest(path, wanted, self.fingerprint, self.n)  # ours lost a creation race
        return RunWriter(path, manifest, fresh_provenance=_provenance(provenance))

    def differences(self, model: str, index: int, *, config: Mapping, seed: int, planned: Sequence[Mapping],
                    dtype: str = "float32", records: Mapping[str, str] | None = None) -> list[str]:
        """How run ``index`` of ``model``, if it exists, was made otherwise than asked: one
        "setting old (now new)" per differing setting; [] for a run that matches or does not exist
        (or whose manifest is unreadable: opening it says why). Nothing is written."""
        path = self.root / MODELS_DIR / model / run_dirname(index) / MANIFEST_FILE
        try:
            manifest = read_json(path, "run manifest") if path.exists() else None
        except StoreError:
            return []
        if manifest is None:
            return []
        wanted = {"config": _normalise_config(config), "seed": operator.index(seed), "dtype": dtype,
                  "planned": _normalise_plan(planned), "records": _check_records(records)}
        return _differing(manifest, wanted)

    def _new_manifest(self, model: str, index: int, wanted: Mapping[str, Any],
                      provenance: Mapping | None) -> dict[str, Any]:
        """The first manifest of a new run: status "created", nothing committed."""
        stamp = now_iso()
        return {
            "schema_version": SCHEMA_VERSION, "model": model, "run": index,
            "seed": wanted["seed"], "status": "created", "reason": None,
            "config": wanted["config"],
            "dataset": {"name": self.dataset, "fingerprint": self.fingerprint, "n": self.n},
            "planned": wanted["planned"], "checkpoints": [], "done": 0, "history": [],
            "state": None, "dtype": wanted["dtype"], "records": wanted["records"],
            "provenance": _provenance(provenance),
            "resumes": [], "created": stamp, "updated": stamp,
        }


def _differing(manifest: Mapping[str, Any], wanted: Mapping[str, Any]) -> list[str]:
    """The settings in which a run's manifest differs from ``wanted``, as "name old (now new)"."""
    old_config, new_config = manifest.get("config") or {}, wanted["config"]
    out = [f"{key} {old_config.get(key)} (now {new_config.get(key)})"
           for key in sorted({*old_config, *new_config}) if old_config.get(key) != new_config.get(key)]
    if manifest.get("seed") != wanted["seed"]:
        out.append(f"seed {manifest.get('seed')} (now {wanted['seed']})")
    if manifest.get("dtype") != wanted["dtype"]:
        out.append(f"loss_dtype {manifest.get('dtype')} (now {wanted['dtype']})")
    if "records" in manifest and manifest["records"] != wanted["records"]:
        out.append(f"record {'+'.join(manifest['records']) or 'losses'} (now {'+'.join(wanted['records']) or 'losses'})")
    if not out and manifest.get("planned") != wanted["planned"]:
        out.append("checkpoint plan")
    return out


def _check_records(records: Mapping[str, str] | None) -> dict[str, str]:
    """The recorded arrays as a name -> dtype dict in ``RECORDS`` order; StoreError otherwise."""
    records = dict(records or {})
    for name, dtype in records.items():
        if name not in RECORDS:
            raise StoreError(f"unknown record {name!r}; choose from {', '.join(RECORDS)}")
        if dtype not in LOSS_DTYPES:
            raise StoreError(f"record {name} dtype must be one of {', '.join(LOSS_DTYPES)}, got {dtype!r}")
    return {name: records[name] for name in RECORDS if name in records}


def _normalise_config(config: Mapping) -> dict[str, Any]:
    """The config as it will read back from JSON, so a resumed run compares like with like."""
    try:
        return json.loads(atomic.dumps(dict(config), allow_nan=False))
    except (TypeError, ValueError) as e:
        raise StoreError(f"config is not JSON-serialisable ({one_line(e)})") from None


def _normalise_plan(planned: Sequence[Mapping]) -> list[dict[str, Any]]:
    """The checkpoint plan as JSON-ready dicts with float epochs and strictly increasing steps."""
    plan = []
    for i, point in enumerate(planned):
        try:
            entry = {**json.loads(atomic.dumps(dict(point), allow_nan=False)),
                     "epoch": float(point["epoch"]), "step": operator.index(point["step"])}
        except (KeyError, TypeError, ValueError) as e:
            raise StoreError(f"planned[{i}] must be {{'epoch': float, 'step': int}} ({one_line(e)})") from None
        if plan and entry["step"] <= plan[-1]["step"]:
            raise StoreError(f"planned steps must increase: planned[{i}] has step {entry['step']} "
                             f"after {plan[-1]['step']}")
        plan.append(entry)
    if not plan:
        raise StoreError("planned must list at least one checkpoint")
    return plan


def _reopen_manifest(path: Path, wanted: Mapping[str, Any], fingerprint: str, n: int) -> dict[str, Any]:
    """The committed manifest of an existing run, if it was written with the same settings."""
    manifest = read_json(path / MANIFEST_FILE, "run manifest")
    check_schema(manifest, path / MANIFEST_FILE)
    if manifest.get("dataset", {}).get("fingerprint") != fingerprint:
        raise StoreError(f"{path} belongs to another dataset; choose another --out")
    for key in ("config", "planned", "seed", "dtype", "records"):
        if key == "records" and key not in manifest:
            continue  # why: a run begun before records existed continues without them (readers say so)
        if manifest.get(key) != wanted[key]:
            raise StoreError(f"{path} was started with a different {key}; resuming would mix "
                             f"results (use another --out or delete the run)")
    shape = (len(wanted["planned"]), n)
    expected = {LOSSES_FILE: wanted["dtype"], **{f"{name}.npy": d for name, d in manifest.get("records", {}).items()}}
    for filename, dtype in expected.items():
        try:
            found = atomic.read_npy_header(path / filename)
        except (OSError, ValueError) as e:
            raise StoreError(f"{path / filename} is unreadable ({one_line(e)}); delete the run") from None
        if found != (shape, np.dtype(dtype)):
            raise StoreError(f"{path / filename} has shape/dtype {found}, expected {shape} {dtype}")
    return manifest


def _create_run_folder(path: Path, manifest: Mapping[str, Any], n: int) -> bool:
    """Build the run (losses.npy, state/, the first manifest) in a hidden temp folder, then rename
    it into place; False if another process's run got there first.

    The rename makes the run appear complete or not at all, and of several processes creating one
    run at once exactly one rename succeeds (a folder cannot be renamed over a non-empty one), so
    nobody's losses.npy is ever replaced under another writer's memory map.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = atomic.temp_path(path)
    try:
        staging.mkdir()
        (staging / STATE_DIR).mkdir()
        shape = (len(manifest["planned"]), n)
        atomic.preallocate_npy(staging / LOSSES_FILE, shape, np.dtype(manifest["dtype"]))
        for name, dtype in manifest.get("records", {}).items():
            atomic.preallocate_npy(staging / f"{name}.npy", shape, np.dtype(dtype))
        atomic.write_json_atomic(staging / MANIFEST_FILE, manifest)
        _discard_leftover(path)
        return _rename_into_place(staging, path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)  # only there when another process won, or on error


def _rename_into_place(staging: Path, path: Path) -> bool:
    """Rename the folder ``staging`` to ``path``; False if ``path`` exists and is not empty."""
    try:
        os.rename(staging, path)
    except OSError as e:
        if e.errno in (errno.EEXIST, errno.ENOTEMPTY):
            return False
        raise
    atomic.fsync_dir(path.parent)
    return True


def _discard_leftover(path: Path) -> None:
    """Remove a run folder without a manifest (a creation killed under an older version, which
    wrote in place), moving it aside first so a complete run renamed in meanwhile is put back."""
    if not path.exists() or (path / MANIFEST_FILE).exists():
        return
    aside = atomic.temp_path(path)
    try:
        os.rename(path, aside)
    except FileNotFoundError:
        return  # another process moved it first
    if not (aside / MANIFEST_FILE).exists():
        shutil.rmtree(aside, ignore_errors=True)
    elif not _rename_into_place(aside, path):  # a complete run had been renamed in meanwhile
        raise StoreError(f"{path} was created by two processes at once; run again")


@functools.lru_cache(maxsize=1)
def _git_commit() -> str | None:
    """The git commit of the code (the folder of this package), or None if unavailable."""
    if shutil.which("git") is None:
        return None
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).resolve().parent,
                             capture_output=True, text=True, timeout=3, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    commit = out.stdout.strip()
    return commit if out.returncode == 0 and commit else None


def _provenance(given: Mapping | None) -> dict[str, Any]:
    """What the store knows about this process, overridden by what the caller passed."""
    known = {
        "python": platform.python_version(), "numpy": np.__version__,
        "platform": platform.platform(), "hostname": socket.gethostname(),
        "git_commit": _git_commit(),
        "easiness": getattr(sys.modules.get("easiness"), "__version__", None),
    }
    return json.loads(atomic.dumps({**known, **dict(given or {})}))


class RunWriter:
    """One run's folder open for writing loss rows in place and committing them.

    Deviation from the plain temp-file rule, on purpose: ``losses.npy`` ([planned, N], up to a
    gigabyte) is preallocated once and rows are written in place (``pwrite``, so that a full disk
    is an ``OSError`` naming the file, not a SIGBUS), because copying the whole file
    through temp+replace at every checkpoint would be far too slow. Safety comes from the
    manifest instead: rows are only ever written at positions ``>= done`` (never committed ones),
    they are flushed to disk before the manifest that lists them is atomically replaced, and
    readers trust only the rows the manifest lists. A kill at any moment thus leaves the last
    committed state readable; rows written after it are simply rewritten on resume.
    """

    def __init__(self, path: Path, manifest: dict[str, Any], *, fresh_provenance: dict[str, Any]) -> None:
        self.path = Path(path)
        self.model: str = manifest["model"]
        self.index: int = int(manifest["run"])
        self.seed: int = int(manifest["seed"])
        self.manifest: dict[str, Any] = manifest
        self.state_dir = self.path / STATE_DIR
        self.state_dir.mkdir(exist_ok=True)
        self._planned: list[dict[str, Any]] = manifest["planned"]
        self._written: set[int] = set()
        self._files: dict[str, tuple[Any, np.dtype, int, int]] = {}  # file name -> (open file, dtype, data offset, row bytes)
        if manifest["status"] != "created" and manifest["status"] != "done":
            # why: record where and on what a resumed run continued; saved with the next commit
            manifest.setdefault("resumes", []).append(
                {"at": now_iso(), "done": manifest["done"], "provenance": fresh_provenance})

    def __repr__(self) -> str:
        return (f"RunWriter({self.model!r}, run={self.index}, "
                f"done={self.done}/{len(self._planned)}, status={self.status!r})")

    @property
    def done(self) -> int:
        """The number of committed checkpoints (rows ``< done`` are final)."""
        return int(self.manifest["done"])

    @property
    def history(self) -> list[dict[str, Any]]:
        """The committed per-epoch records."""
        return list(self.manifest["history"])

    @property
    def status(self) -> str:
        """"created", "running", "done" or "failed", as last committed."""
        return str(self.manifest["status"])

    @property
    def resume_from(self) -> Path | None:
        """The committed training state to continue from (None for a run not yet trained)."""
        state = self.manifest.get("state")
        return self.state_dir / state if state else None

    @property
    def planned(self) -> list[dict[str, Any]]:
        """The checkpoint plan, one entry per row of losses.npy."""
        return list(self._planned)

    @property
    def records(self) -> dict[str, str]:
        """The arrays this run records beside its losses: name -> dtype."""
        return dict(self.manifest.get("records", {}))

    def write_row(self, k: int, losses: np.ndarray, records: Mapping[str, np.ndarray] | None = None) -> None:
        """Write the ``[N]`` losses of checkpoint ``k`` in place (visible once committed), and the
        ``[N]`` row of every recorded array (``records``: name -> row; each the run records)."""
        k = operator.index(k)
        if k < self.done:
            raise StoreError(f"checkpoint {k} of {self.path} is committed; committed rows are never rewritten")
        if k >= len(self._planned):
            raise StoreError(f"checkpoint {k} is beyond the plan of {len(self._planned)} checkpoints")
        rows = {"losses": np.asarray(losses), **{name: np.asarray(r) for name, r in (records or {}).items()}}
        if set(rows) != {"losses", *self.records}:
            raise StoreError(f"checkpoint {k} of {self.path} needs rows of losses and "
                             f"{', '.join(self.records) or 'nothing else'}, got {', '.join(rows)}")
        n = self.manifest["dataset"]["n"]
        for name, row in rows.items():
            if row.shape != (n,):
                raise StoreError(f"{name} must have shape ({n},), got {row.shape}")
        for name, row in rows.items():
            self._write_at(f"{name}.npy", k, row)
        self._written.add(k)

    def commit(self, *, done: int, history: Sequence[Mapping] | None = None,
               state: str | None = None) -> None:
        """Make rows ``< done`` final: flush them, then write the manifest (status "running").

        history replaces the stored per-epoch records if given; state names the training-state
        checkpoint matching these rows (kept as it was if None).
        """
        done = operator.index(done)
        if not self.done <= done <= len(self._planned):
            raise StoreError(f"done must lie in [{self.done}, {len(self._planned)}] "
                             f"(it never goes backwards), got {done}")
        missing = [k for k in range(self.done, done) if k not in self._written]
        if missing:
            raise StoreError(f"checkpoint {missing[0]} was never written; write_row before commit")
        self._sync()  # why: the rows must be on disk before the manifest lists them
        changes: dict[str, Any] = {"status": "running", "reason": None, "done": done,
                                   "checkpoints": self._planned[:done]}
        if history is not None:
            changes["history"] = json.loads(atomic.dumps([dict(h) for h in history]))
        if state is not None:
            changes["state"] = str(state)
        self._write_manifest(changes)
        self._written = {k for k in self._written if k >= done}

    def finish(self) -> None:
        """Mark the run done; every planned checkpoint must be committed."""
        if self.done != len(self._planned):
            raise StoreError(f"cannot finish {self.path}: {self.done} of {len(self._planned)} "
                             f"checkpoints committed")
        self._write_manifest({"status": "done", "reason": None})
        self.close()

    def fail(self, reason: str) -> None:
        """Mark the run failed with a one-line ``reason``; committed rows stay readable."""
        self._write_manifest({"status": "failed", "reason": one_line(reason)})
        self.close()

    def close(self) -> None:
        """Close losses.npy and the records (reopened by the next write_row)."""
        files, self._files = self._files, {}
        for f, *_ in files.values():
            f.close()

    def _write_at(self, filename: str, k: int, row: np.ndarray) -> None:
        """Write ``row`` as row ``k`` of ``filename`` (losses.npy or a record's file), in place;
        an OSError (a full disk) names the file."""
        path = self.path / filename
        try:
            if filename not in self._files:
                _, dtype, offset = atomic.npy_layout(path)
                f = open(path, "r+b", buffering=0)
                self._files[filename] = (f, dtype, offset, dtype.itemsize * int(self.manifest["dataset"]["n"]))
            f, dtype, offset, size = self._files[filename]
            atomic.pwrite_all(f.fileno(), np.ascontiguousarray(row, dtype=dtype).tobytes(), offset + k * size)
        except OSError as e:
            raise OSError(e.errno, e.strerror or str(e), str(path)) from None
        except ValueError as e:
            raise StoreError(f"{path} is unreadable ({one_line(e)}); move the run aside") from None

    def _sync(self) -> None:
        """fsync the rows written since the last commit; an OSError names the file."""
        for filename, (f, *_) in self._files.items():
            try:
                os.fsync(f.fileno())
            except OSError as e:
                raise OSError(e.errno, e.strerror or str(e), str(self.path / filename)) from None

    def _write_manifest(self, changes: Mapping[str, Any]) -> None:
        """Atomically replace manifest.json with the current one updated by ``changes``."""
        manifest = {**self.manifest, **changes, "updated": now_iso()}
        atomic.write_json_atomic(self.path / MANIFEST_FILE, manifest)
        self.manifest = manifest
