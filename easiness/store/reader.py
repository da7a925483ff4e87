"""Reading studies: :class:`Study` and :func:`list_studies`. Numpy only; no TensorFlow.

Run manifests are re-read on every call, so a study still being trained shows its newest
committed checkpoints; the rows of ``losses.npy`` beyond a run's ``done`` are never looked at.
A run folder that cannot be read becomes a line in :attr:`Study.problems`, never a crash.

Every file is checked before it is read, since a study folder may come from anyone: a regular
file (a FIFO would block the read forever), of the shape, dtype and size the metadata promise,
and, with ``within`` (the app's runs root), resolving inside that folder (a symlink out of it is
refused like a damaged file).
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from easiness.errors import one_line
from easiness.store import atomic
from easiness.store.layout import (
    CREATING_MARKER, EXTRAS_DIR, IDS_FILE, IMAGES_FILE, LABELS_FILE, LOSS_DTYPES, LOSSES_FILE,
    MANIFEST_FILE, MODELS_DIR, RECORDS, STATUSES, STUDY_FILE, StoreError, check_schema, common_count,
    parse_run_dirname, read_json, require_fields, run_dirname, validate_name,
)
from easiness.store.runstack import RunStack

_STUDY_FIELDS = ("dataset", "fingerprint", "n", "class_names")
_MANIFEST_FIELDS = ("model", "run", "seed", "status", "dataset", "planned", "done", "history", "dtype")


class Study:
    """A study folder opened read-only; arrays are memory-mapped, never loaded whole."""

    def __init__(self, root: Path, meta: dict[str, Any], arrays: dict[str, Any],
                 within: Path | None = None) -> None:
        """Use :meth:`Study.open`."""
        self.root = root
        self._within = within
        self.meta = meta
        self.dataset: str = str(meta["dataset"])
        self.fingerprint: str = str(meta["fingerprint"])
        self.n: int = int(meta["n"])
        self._arrays = arrays
        # why: the app asks for runs, checkpoints and losses many times per page; a manifest is
        # re-parsed only when its file changed (os.replace gives every commit a new inode)
        self._run_cache: dict[Path, tuple[tuple, dict[str, Any]]] = {}

    @classmethod
    def open(cls, path: str | os.PathLike, *, within: str | os.PathLike | None = None) -> "Study":
        """Open the study in ``path``; StoreError with the reason if it is not a readable study.

        within: a folder that every file read must resolve inside (the app passes its runs root,
        so a symlink leading out of it is never followed); None reads wherever links lead.
        """
        root = Path(path)
        fence = Path(within).resolve() if within is not None else None
        try:
            present = (root / STUDY_FILE).is_file()
            interrupted = not present and (root / CREATING_MARKER).exists()
        except OSError as e:  # why: a folder nobody may search is a reason, not a crash
            raise StoreError(f"{root} is unreadable ({one_line(e.strerror or e)})") from None
        if not present:
            why = "its creation was interrupted" if interrupted else "it is not a study"
            raise StoreError(f"{root} has no {STUDY_FILE} ({why})")
        _check_inside(root / STUDY_FILE, fence)
        meta = read_json(root / STUDY_FILE, "study")
        check_schema(meta, root / STUDY_FILE)
        require_fields(meta, _STUDY_FIELDS, root / STUDY_FILE)
        _check_meta(meta, root / STUDY_FILE)
        return cls(root, meta, _open_arrays(root, meta, fence), fence)

    def __repr__(self) -> str:
        return f"Study({str(self.root)!r}, dataset={self.dataset!r}, n={self.n}, models={self.models})"

    @property
    def ids(self) -> np.ndarray:
        """``[N]`` example ids (strings); position i is example i everywhere in the study."""
        return self._arrays["ids"]

    @property
    def labels(self) -> np.ndarray:
        """``[N]`` integer class labels."""
        return self._arrays["labels"]

    @property
    def class_names(self) -> list[str]:
        """The class names, indexed by label."""
        return [str(c) for c in self.meta["class_names"]]

    @property
    def num_classes(self) -> int:
        """The number of classes."""
        return len(self.meta["class_names"])

    @property
    def images(self) -> np.ndarray | None:
        """``[N, H, W, C]`` uint8 training images (memory-mapped), or None if not stored."""
        return self._arrays["images"]

    @property
    def extras(self) -> dict[str, np.ndarray]:
        """Per-example ground truth by name (memory-mapped), e.g. ``mode`` or ``flipped``."""
        return dict(self._arrays["extras"])

    @property
    def models(self) -> list[str]:
        """Sorted names of the models with at least one readable run."""
        return sorted(self._scan()[0])

    def runs(self, model: str) -> list[dict[str, Any]]:
        """The manifests of ``model``'s readable runs, by run index."""
        return copy.deepcopy(self._model_runs(model))  # why: callers must not alter the cache

    @property
    def problems(self) -> list[str]:
        """One line per run folder that could not be read (for display)."""
        return self._scan()[1]

    @property
    def status(self) -> str:
        """"empty" (no runs), "running" (any run unfinished), "failed" (any failed, none
        running) or "done" (all done)."""
        return _aggregate_status(self._scan()[0])

    def losses(self, model: str, *, runs: Sequence[int] | None = None) -> RunStack:
        """Lazy ``[M, C, N]`` losses of ``model``: M runs, the C checkpoints common to them all.

        runs: run indices to include (default: every readable run except failed ones that
        committed nothing).
        """
        chosen = self._chosen_runs(model, runs)
        count = common_count(chosen)
        arrays = [_load(self._losses_path(m), len(m["planned"]), self._within) for m in chosen]
        return RunStack(arrays, count=count, n=self.n, runs=[m["run"] for m in chosen])

    def recorded(self, model: str) -> list[str]:
        """The arrays that every default run of ``model`` records beside its losses (``RECORDS``
        order); empty for studies written before margins and EL2N were recorded."""
        chosen = self._chosen_runs(model, None)
        return [name for name in RECORDS if chosen and all(name in m.get("records", {}) for m in chosen)]

    def record(self, model: str, name: str, *, runs: Sequence[int] | None = None) -> RunStack:
        """Lazy ``[M, C, N]`` array ``name`` ("margins" or "el2n") of ``model``: the same runs and
        checkpoints as :meth:`losses`. StoreError saying how to get it when a run lacks it."""
        if name not in RECORDS:
            raise StoreError(f"unknown record {name!r}; choose from {', '.join(RECORDS)}")
        chosen = self._chosen_runs(model, runs)
        lacking = [m["run"] for m in chosen if name not in m.get("records", {})]
        if lacking:
            raise StoreError(f"{model} run {lacking[0]} in {self.root.name} did not record {name} (studies "
                             f"written before easiness recorded it, or with --record losses); score again "
                             f"into a new --out to get it")
        folder = self.root / MODELS_DIR / model
        arrays = [_load(folder / run_dirname(m["run"]) / f"{name}.npy", len(m["planned"]), self._within)
                  for m in chosen]
        return RunStack(arrays, count=common_count(chosen), n=self.n, runs=[m["run"] for m in chosen])

    def checkpoints(self, model: str) -> list[dict[str, Any]]:
        """The C common checkpoints of ``model``'s default runs, ``{"epoch", "step"}`` each."""
        chosen = self._chosen_runs(model, None)
        return copy.deepcopy(chosen[0]["planned"][:common_count(chosen)]) if chosen else []

    def history(self, model: str) -> list[list[dict[str, Any]]]:
        """Per readable run (by index), its per-epoch records."""
        return [copy.deepcopy(m["history"]) for m in self._model_runs(model)]

    def _model_runs(self, model: str) -> list[dict[str, Any]]:
        """The readable manifests of ``model``; StoreError listing the models if unknown."""
        by_model = self._scan()[0]
        if model not in by_model:
            raise StoreError(f"no model {model!r} in {self.root}; models: {', '.join(sorted(by_model)) or 'none'}")
        return by_model[model]

    def _chosen_runs(self, model: str, runs: Sequence[int] | None) -> list[dict[str, Any]]:
        """The manifests selected by ``runs`` (default: all but failed runs with no rows)."""
        manifests = self._model_runs(model)
        if runs is None:
            return _default_runs(manifests)
        by_index = {m["run"]: m for m in manifests}
        unknown = [r for r in runs if r not in by_index]
        if unknown:
            raise StoreError(f"model {model!r} has no readable run {unknown[0]}; runs: {sorted(by_index)}")
        return [by_index[r] for r in runs]

    def _losses_path(self, manifest: dict[str, Any]) -> Path:
        """The losses.npy of the run ``manifest`` describes."""
        return self.root / MODELS_DIR / manifest["model"] / run_dirname(manifest["run"]) / LOSSES_FILE

    def _scan(self) -> tuple[dict[str, list[dict[str, Any]]], list[str]]:
        """All readable run manifests by model (sorted by run index), and the problems."""
        by_model: dict[str, list[dict[str, Any]]] = {}
        problems: list[str] = []
        for model_dir in self._folders(self.root / MODELS_DIR, problems):
            for run_dir in self._folders(model_dir, problems):
                try:
                    manifest = self._read_run_cached(run_dir)
                except StoreError as e:
                    problems.append(str(e))
                    continue
                if manifest is not None:
                    by_model.setdefault(model_dir.name, []).append(manifest)
        for manifests in by_model.values():
            manifests.sort(key=lambda m: m["run"])
        return by_model, problems

    def _folders(self, folder: Path, problems: list[str]) -> list[Path]:
        """:func:`_subdirs` of ``folder``; one that cannot be listed, or a subfolder leading outside
        ``within``, becomes a line in ``problems`` (named from the models folder) instead."""
        try:
            found = _subdirs(folder)
        except OSError as e:
            problems.append(f"{self._where(folder)}: cannot be listed ({one_line(e.strerror or e)})")
            return []
        outside = [p for p in found if _outside(p, self._within)]
        problems += [f"{self._where(p)}: leads outside {self._within} (a symlink); not read" for p in outside]
        return [p for p in found if p not in outside]

    def _where(self, folder: Path) -> str:
        """``folder`` as problems name it: relative to the models folder (``wrn16_4/run-000``)."""
        try:
            return folder.relative_to(self.root / MODELS_DIR).as_posix() or MODELS_DIR
        except ValueError:
            return folder.name

    def _read_run_cached(self, run_dir: Path) -> dict[str, Any] | None:
        """:func:`_read_run`, reusing the last result while manifest and losses are unchanged."""
        key = (_file_key(run_dir / MANIFEST_FILE), _file_key(run_dir / LOSSES_FILE))
        cached = self._run_cache.get(run_dir)
        if cached is not None and cached[0] == key and None not in key:
            return cached[1]
        manifest = _read_run(run_dir, self.fingerprint, self.n, self._within)
        if manifest is not None:
            self._run_cache[run_dir] = (key, manifest)
        return manifest


def _default_runs(manifests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The runs a view includes by default: all but failed runs that committed no row (a run
    that failed later still contributes its committed checkpoints)."""
    return [m for m in manifests if not (m["status"] == "failed" and m["done"] == 0)]


def _aggregate_status(by_model: dict[str, list[dict[str, Any]]]) -> str:
    """"empty", "running" (any run unfinished), "failed" (any failed, none running) or "done"."""
    statuses = {m["status"] for runs in by_model.values() for m in runs}
    if not statuses:
        return "empty"
    if statuses & {"created", "running"}:
        return "running"
    return "failed" if "failed" in statuses else "done"


def _file_key(path: Path) -> tuple[int, ...] | None:
    """What changes when a file is replaced or rewritten: inode, size, times; None if absent."""
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def _subdirs(folder: Path) -> list[Path]:
    """Sorted subfolders of ``folder`` (none if it does not exist), skipping hidden ones."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def _check_meta(meta: dict[str, Any], path: Path) -> None:
    """StoreError unless ``n`` is a positive count and ``class_names`` a non-empty list of names."""
    n, names = meta["n"], meta["class_names"]
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise StoreError(f"{path} has an invalid n ({n!r})")
    if not isinstance(names, list) or not names or not all(isinstance(c, str) for c in names):
        raise StoreError(f"{path} has an invalid class_names (a non-empty list of names is expected)")


def _open_arrays(root: Path, meta: dict[str, Any], within: Path | None) -> dict[str, Any]:
    """Memory-map the study's arrays, checking each has N rows and holds what the writer wrote:
    text ids, labels in [0, K), uint8 ``[N, H, W, C]`` images (the pages index them by those rules)."""
    n = int(meta["n"])
    arrays: dict[str, Any] = {
        "ids": _load(root / IDS_FILE, n, within), "labels": _load(root / LABELS_FILE, n, within),
        "images": _load(root / IMAGES_FILE, n, within) if meta.get("images") else None,
        "extras": {name: _load(root / EXTRAS_DIR / f"{validate_name(name, 'extra')}.npy", n, within)
                   for name in meta.get("extras", [])},
    }
    ids, labels, images = arrays["ids"], arrays["labels"], arrays["images"]
    if ids.ndim != 1 or ids.dtype.kind != "U":
        raise StoreError(f"{root / IDS_FILE} holds {ids.dtype} {ids.shape}, not one text id per example")
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise StoreError(f"{root / LABELS_FILE} holds {labels.dtype} {labels.shape}, not integers")
    low, high, classes = int(labels.min()), int(labels.max()), len(meta["class_names"])
    if low < 0 or high >= classes:
        raise StoreError(f"{root / LABELS_FILE} holds labels from {low} to {high}, outside 0..{classes - 1} "
                         f"for {classes} class names")
    if images is not None and (images.ndim != 4 or images.dtype != np.uint8):
        raise StoreError(f"{root / IMAGES_FILE} holds {images.dtype} {images.shape}, not uint8 [N, H, W, C] images")
    return arrays


def _outside(path: Path, within: Path | None) -> bool:
    """Whether ``path`` resolves outside ``within`` (never, without a ``within``)."""
    return within is not None and not Path(path).resolve().is_relative_to(within)


def _check_inside(path: Path, within: Path | None) -> None:
    """StoreError when ``path`` leads outside ``within`` (through a symlink)."""
    if _outside(path, within):
        raise StoreError(f"{path} leads outside {within} (a symlink); not read")


def _check_regular(path: Path) -> None:
    """StoreError unless ``path`` is a regular file: a FIFO would block a read forever, and a
    folder nobody may search gives a reason here rather than a crash later."""
    try:
        regular = path.is_file()
        exists = regular or path.exists()
    except OSError as e:
        raise StoreError(f"{path} is unreadable ({one_line(e.strerror or e)})") from None
    if not exists:
        raise StoreError(f"{path} is missing")
    if not regular:
        raise StoreError(f"{path} is not a regular file")


def _load(path: Path, n: int, within: Path | None = None) -> np.ndarray:
    """Memory-map a ``.npy`` of ``n`` rows; StoreError with the reason otherwise."""
    _check_regular(path)
    _check_inside(path, within)
    try:
        array = np.load(path, mmap_mode="r", allow_pickle=False)
    except FileNotFoundError:
        raise StoreError(f"{path} is missing") from None
    except (OSError, ValueError) as e:
        raise StoreError(f"{path} is unreadable ({one_line(e)})") from None
    if array.ndim == 0 or len(array) != n:
        raise StoreError(f"{path} has shape {array.shape}, expected {n} rows")
    return array


def _read_run(run_dir: Path, fingerprint: str, n: int, within: Path | None = None) -> dict[str, Any] | None:
    """The manifest of a readable run folder; None for a folder that is no run; StoreError
    with the reason for a run that cannot be read."""
    index = parse_run_dirname(run_dir.name)
    if index is None:
        return None
    where = f"{run_dir.parent.name}/{run_dir.name}"
    try:
        present = (run_dir / MANIFEST_FILE).exists()
    except OSError as e:  # why: a run folder nobody may search (permissions) is a problem line
        raise StoreError(f"{where}: cannot be read ({one_line(e.strerror or e)})") from None
    if not present:
        raise StoreError(f"{where}: no manifest yet (killed before its first commit?)")
    try:
        _check_inside(run_dir / MANIFEST_FILE, within)
        manifest = read_json(run_dir / MANIFEST_FILE, "run manifest")
        check_schema(manifest, run_dir / MANIFEST_FILE)
        require_fields(manifest, _MANIFEST_FIELDS, run_dir / MANIFEST_FILE)
        _check_run(manifest, run_dir, index, fingerprint, n, within)
    except StoreError as e:
        raise StoreError(f"{where}: {e}") from None
    return manifest


def _check_run(manifest: dict[str, Any], run_dir: Path, index: int, fingerprint: str, n: int,
               within: Path | None = None) -> None:
    """StoreError unless the manifest matches its folder, the study and its losses.npy."""
    history = manifest["history"]
    if not isinstance(manifest["dataset"], dict) or not isinstance(history, list) \
            or not all(isinstance(h, dict) for h in history):
        raise StoreError("the manifest's dataset or history field is malformed")
    if manifest["model"] != run_dir.parent.name or manifest["run"] != index:
        raise StoreError(f"the manifest names {manifest['model']!r} run {manifest['run']!r}, not its folder")
    if manifest["dataset"].get("fingerprint") != fingerprint:
        raise StoreError("the run belongs to another dataset (fingerprint differs)")
    planned, done = manifest["planned"], manifest["done"]
    if not isinstance(planned, list) or not isinstance(done, int) or not 0 <= done <= len(planned):
        raise StoreError(f"invalid planned/done ({done} of {len(planned) if isinstance(planned, list) else '?'})")
    if not all(_is_checkpoint(p) for p in planned):
        raise StoreError("the manifest's planned checkpoints are malformed (not {'epoch': number, 'step': int})")
    if manifest["status"] not in STATUSES or manifest["dtype"] not in LOSS_DTYPES:
        raise StoreError(f"unknown status {manifest['status']!r} or dtype {manifest['dtype']!r}")
    _check_rows_file(run_dir / LOSSES_FILE, (len(planned), n), within)
    _check_records(manifest.get("records", {}), run_dir, (len(planned), n), within)


def _is_checkpoint(point: Any) -> bool:
    """Whether ``point`` is a planned checkpoint as the writer writes it: a number and an int."""
    if not isinstance(point, dict):
        return False
    epoch, step = point.get("epoch"), point.get("step")
    return (isinstance(epoch, (int, float)) and not isinstance(epoch, bool) and abs(epoch) < 1e15  # not NaN or inf
            and isinstance(step, int) and not isinstance(step, bool))


def _check_records(records: Any, run_dir: Path, shape: tuple[int, int], within: Path | None = None) -> None:
    """StoreError unless every recorded array is known and its file is whole, of the losses' shape."""
    if not isinstance(records, dict) or any(k not in RECORDS or v not in LOSS_DTYPES for k, v in records.items()):
        raise StoreError(f"the manifest's records field is malformed ({records!r})")
    for name in records:
        _check_rows_file(run_dir / f"{name}.npy", shape, within)


def _check_rows_file(path: Path, shape: tuple[int, int], within: Path | None) -> None:
    """StoreError unless ``path`` is a whole C-ordered float16/32 ``.npy`` of ``shape`` inside
    ``within``: the pages read its rows by offset, so a truncated file would fail mid-page."""
    _check_inside(path, within)
    try:
        found, dtype, offset = atomic.npy_layout(path)
        size = path.stat().st_size
    except FileNotFoundError:
        raise StoreError(f"{path.name} is missing") from None
    except (OSError, ValueError) as e:
        raise StoreError(f"{path.name} is unreadable ({one_line(e)})") from None
    if found != shape:
        raise StoreError(f"{path.name} has shape {found}, expected {shape}")
    if dtype.name not in LOSS_DTYPES:
        raise StoreError(f"{path.name} holds {dtype}, not {' or '.join(LOSS_DTYPES)}")
    expected = offset + shape[0] * shape[1] * dtype.itemsize
    if size < expected:
        raise StoreError(f"{path.name} is truncated ({size:,} of {expected:,} bytes)")


def list_studies(root: str | os.PathLike, *, within: str | os.PathLike | None = None) -> list[dict[str, Any]]:
    """Every subfolder of ``root`` that looks like a study, for the app's start page.

    Each entry: path, name, dataset, models, runs (readable runs, all models), checkpoints (C
    viewable for every model: the smallest per-model common count), status, problem (None, or
    why the folder or some of its runs cannot be read). Unreadable studies get status
    "unreadable". ``within`` as for :meth:`Study.open`. Never raises.
    """
    folder = Path(root)
    try:
        candidates = [p for p in _subdirs(folder) if _looks_like_study(p)]
    except OSError:
        return []
    return [_summary(p, within) for p in candidates]


def _looks_like_study(path: Path) -> bool:
    """A study, a half-created one, or a folder of runs whose study.json is lost; a folder that
    cannot be searched counts (listed as unreadable with the reason, not dropped silently)."""
    try:
        return any((path / name).exists() for name in (STUDY_FILE, CREATING_MARKER, MODELS_DIR))
    except OSError:
        return True


def _summary(path: Path, within: str | os.PathLike | None = None) -> dict[str, Any]:
    """One row of :func:`list_studies`."""
    entry: dict[str, Any] = {"path": str(path), "name": path.name, "dataset": None, "models": [],
                             "runs": 0, "checkpoints": 0, "status": "unreadable", "problem": None}
    try:
        study = Study.open(path, within=within)
        by_model, problems = study._scan()
        counts = [common_count(_default_runs(runs)) for runs in by_model.values()]
        entry.update(dataset=study.dataset, models=sorted(by_model), status=_aggregate_status(by_model),
                     runs=sum(len(v) for v in by_model.values()),
                     checkpoints=min(counts) if counts else 0,
                     problem="; ".join(problems) or None)
    except Exception as e:  # why: the start page must list every folder, whatever is wrong with it
        entry["problem"] = one_line(e) if isinstance(e, StoreError) else f"{type(e).__name__}: {one_line(e)}"
    return entry
