"""Class-folder image datasets, from a directory or straight from a .tar/.tar.gz archive.

Layouts (the one ``keras.utils.image_dataset_from_directory`` and most image tools read)::

    PATH/train/<class>/<file>   and   PATH/test/<class>/<file>     (two splits)
    PATH/<class>/<file>                                             (one split: train, no test)

An archive holds the same layout, possibly under one top-level folder; it is read member by member
without unpacking. Images (by extension: jpg, jpeg, png, bmp, gif, webp, ppm, pgm, tif, tiff) are
decoded with PIL and converted to 8-bit RGB: grey, palette, CMYK and other colour modes by PIL;
16-bit and 32-bit integer images (PNG, TIFF) scaled from their full range 0..65535 to 0..255;
transparency (RGBA, LA, a palette's transparent colour) composited over black. Floating-point
images, names that are not valid UTF-8 and entries that are no regular file (a FIFO, a dangling
symbolic link) are refused by name. Hidden files and folders (name starting with ".") and other
files are ignored.

Order and identity: class names are the sorted class-folder names; the example id is
``"<split>/<class>/<file>"`` (a one-split folder's examples are ``"train/..."``); examples are in
sorted id order, so the index of an example never depends on the file system's listing order.

Sizes: every image is resized (PIL bilinear, aspect ratio not kept) to ``image_size`` x
``image_size`` when given, otherwise to the size of the first image in id order; images already
of that size are left untouched.

Decoding tens of thousands of files is slow (CIFAR-10's 60,000 JPEGs: about 10 s on 2 cores),
so the decoded arrays are cached as an ``.npz`` under ``$EASINESS_CACHE`` (default
``~/.cache/easiness``), keyed by the source's resolved path, size and modification time (for a
directory: of every file in it) and the image size; a cached load takes about 0.2 s. Subsets
(``per_class``) are taken by the caller after loading, so all subsets share one cache file.
Numpy and PIL only.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import tarfile
import warnings
import zlib
from pathlib import Path
from typing import Iterable

import numpy as np
from PIL import Image

from easiness.store import atomic
from easiness.cli import clean
from easiness.data.types import DataError
from easiness.errors import one_line

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".ppm", ".pgm", ".tif", ".tiff"})
ARCHIVE_SUFFIXES = (".tar", ".tar.gz", ".tgz")
SPLITS = ("train", "test")
_CACHE_VERSION = 2  # bump when the cached arrays' meaning changes (2: 16-bit images scaled, alpha over black)
_LAYOUT_HINT = "expected train/<class>/* and test/<class>/*, or <class>/*"


@dataclasses.dataclass(frozen=True)
class FolderSplit:
    """One decoded split of N images."""

    ids: np.ndarray  # [N] str "<split>/<class>/<file>", sorted
    labels: np.ndarray  # [N] int32 index into class_names
    images: np.ndarray  # [N, H, W, 3] uint8


@dataclasses.dataclass(frozen=True)
class FolderData:
    class_names: tuple[str, ...]
    train: FolderSplit
    test: FolderSplit | None


@dataclasses.dataclass(frozen=True)
class _Entry:
    """One image file: where it is in the source and what it becomes."""

    raw: str  # path inside the source (posix), as named in error messages
    split: str
    class_name: str
    id: str


def cache_root() -> Path:
    """Folder of the decoded-image cache: ``$EASINESS_CACHE`` or ``~/.cache/easiness``."""
    return Path(os.environ.get("EASINESS_CACHE") or "~/.cache/easiness").expanduser()


def read_folder(path: str, *, image_size: int | None = None) -> FolderData:
    """Decode the class-folder dataset at ``path`` (directory or archive), through the cache."""
    source = Path(path).expanduser()
    if not source.exists():
        raise DataError(f"dataset folder {path} does not exist")
    if not (source.is_dir() or _is_archive(source)):
        raise DataError(f"{path} is neither a folder nor a .tar/.tar.gz archive")
    key = _cache_key(source, image_size)
    cache_file = cache_root() / f"folder-{hashlib.sha256(key.encode()).hexdigest()[:24]}.npz"
    cached = _read_cache(cache_file, key)
    if cached is not None:
        return cached
    data = _decode_source(source, path, image_size)
    _write_cache(cache_file, key, data)
    return data


def _is_archive(source: Path) -> bool:
    return source.is_file() and source.name.lower().endswith(ARCHIVE_SUFFIXES)


# ---------------------------------------------------------------- listing and layout

def _decode_source(source: Path, path: str, image_size: int | None) -> FolderData:
    """Scan, lay out and decode a directory or an archive."""
    if source.is_dir():
        files, dirs = _list_directory(source)
        entries = _layout(files, dirs, path, strip_top=False)
        blobs = ((e.raw, _read_file(source / e.raw, e.raw, path)) for e in entries)
        return _assemble(entries, blobs, path, image_size)
    try:
        with tarfile.open(source, mode="r:*") as tar:
            members = {_clean(m.name): m for m in tar.getmembers()}
            files = [name for name, m in members.items() if m.isfile()]
            dirs = [name for name, m in members.items() if m.isdir()]
            entries = _layout(files, dirs, path, strip_top=True)
            # why: a .tar.gz only reads forward cheaply, so members are read in archive order
            in_order = sorted(entries, key=lambda e: members[e.raw].offset)
            blobs = ((e.raw, _read_member(tar, members[e.raw], path)) for e in in_order)
            return _assemble(entries, blobs, path, image_size)
    except (tarfile.TarError, EOFError, OSError, zlib.error) as err:
        raise DataError(f"cannot read archive {path}: {one_line(err)}") from None


def _list_directory(root: Path) -> tuple[list[str], list[str]]:
    """Posix paths relative to ``root`` of all visible files and folders, recursively."""
    files, dirs = [], []
    for folder, subdirs, names in os.walk(root):
        subdirs[:] = [d for d in subdirs if not d.startswith(".")]  # prune hidden folders
        rel = Path(folder).relative_to(root).as_posix()
        prefix = "" if rel == "." else rel + "/"
        dirs += [prefix + d for d in subdirs]
        files += [prefix + n for n in names if not n.startswith(".")]
    return files, dirs


def _clean(name: str) -> str:
    """Archive member name without leading ``./`` or ``/`` and trailing ``/``."""
    while name.startswith("./"):
        name = name[2:]
    return name.strip("/")


def _is_image(rel: str) -> bool:
    name = rel.rsplit("/", 1)[-1]
    return not name.startswith(".") and os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS


def _layout(files: list[str], dirs: list[str], path: str, *, strip_top: bool) -> list[_Entry]:
    """The image entries of a listing, validated; sorted by id."""
    images = [f for f in files if _is_image(f) and not any(p.startswith(".") for p in f.split("/"))]
    for name in (*images, *dirs):
        _check_utf8(name, path)
    if not images:
        raise DataError(f"{path} contains no images ({_LAYOUT_HINT})")
    top = _common_top(images) if strip_top else ""
    images = [f[len(top):] for f in images]
    dirs = [d[len(top):] for d in dirs if d.startswith(top) and len(d) > len(top)]
    tops = {f.split("/", 1)[0] for f in images} | {d for d in dirs if "/" not in d}
    if tops & set(SPLITS):
        if "train" not in tops:
            raise DataError(f"{path} has a test folder but no train folder ({_LAYOUT_HINT})")
        splits = [s for s in SPLITS if s in tops]
        entries = [e for s in splits for e in _split_entries(images, dirs, path, split=s, prefix=s + "/", top=top)]
    else:
        entries = _split_entries(images, dirs, path, split="train", prefix="", top=top)
    _check_classes(entries, path)
    return sorted(entries, key=lambda e: e.id)


def _check_utf8(name: str, path: str) -> None:
    """DataError naming a file or folder whose name is not valid UTF-8 (ids are stored as text)."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        raise DataError(f"the name {_shown(name)} in {path} is not valid UTF-8; rename it") from None


def _common_top(images: list[str]) -> str:
    """"name/" of one top-level folder that holds everything (archives often wrap their content)."""
    tops = {f.split("/", 1)[0] for f in images}
    top = next(iter(tops))
    if len(tops) != 1 or top in SPLITS or any(f.count("/") < 2 for f in images):
        return ""
    return top + "/"


def _split_entries(images: list[str], dirs: list[str], path: str, *, split: str, prefix: str,
                   top: str) -> list[_Entry]:
    """Entries of one split whose class folders sit under ``prefix``; empty class folders raise.

    ``images`` and ``dirs`` are relative to the stripped ``top`` folder, which ``raw`` restores.
    """
    entries = []
    for raw in images:
        if not raw.startswith(prefix):
            continue
        parts = raw[len(prefix):].split("/", 1)
        if len(parts) == 2:  # why: images lying next to the class folders belong to no class
            entries.append(_Entry(top + raw, split, parts[0], f"{split}/{parts[0]}/{parts[1]}"))
    found = {e.class_name for e in entries}
    folders = {d[len(prefix):] for d in dirs if d.startswith(prefix) and "/" not in d[len(prefix):]}
    for empty in sorted(folders - found - {""}):
        if not empty.startswith("."):
            raise DataError(f"class folder {prefix}{empty} in {path} has no images")
    return entries


def _check_classes(entries: list[_Entry], path: str) -> None:
    """At least 2 classes, and the same class folders in train and test."""
    by_split = {s: sorted({e.class_name for e in entries if e.split == s}) for s in SPLITS}
    train, test = by_split["train"], by_split["test"]
    if len(train) < 2:
        raise DataError(f"{path} has {len(train)} class folder(s) {train}; at least 2 are needed")
    if any(e.split == "test" for e in entries) and train != test:
        only_train, only_test = sorted(set(train) - set(test)), sorted(set(test) - set(train))
        raise DataError(f"train and test class folders of {path} differ: only in train {only_train}, "
                        f"only in test {only_test}")


# ---------------------------------------------------------------- decoding

def _read_file(file: Path, raw: str, path: str) -> bytes:
    if not file.is_file():  # why: a FIFO would block the read forever; a dangling link has no file
        raise DataError(f"cannot read image {_shown(raw)} in {path}: not a regular file (or a broken link)")
    try:
        return file.read_bytes()
    except OSError as err:
        raise DataError(f"cannot read image {raw} in {path}: {one_line(err)}") from None


def _read_member(tar: tarfile.TarFile, member: tarfile.TarInfo, path: str) -> bytes:
    handle = tar.extractfile(member)
    if handle is None:
        raise DataError(f"cannot read image {member.name} in {path}: not a regular file")
    return handle.read()


def _decode(blob: bytes, raw: str, path: str, size: tuple[int, int] | None) -> np.ndarray:
    """[H, W, 3] uint8 RGB of an encoded image, resized to ``size`` (H, W) when given."""
    try:
        with Image.open(io.BytesIO(blob)) as img:
            rgb = _to_rgb(img)  # why: converting forces a full decode, so truncation raises here
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as err:
        # why clean: PIL names the BytesIO it was given ("<_io.BytesIO object at 0x...>"), not the file
        raise DataError(f"cannot decode image {_shown(raw)} in {path}: {clean(one_line(err), _shown(raw))}") from None
    if size is not None and rgb.size != (size[1], size[0]):
        rgb = rgb.resize((size[1], size[0]), Image.BILINEAR)
    return np.asarray(rgb, dtype=np.uint8)


def _to_rgb(img: Image.Image) -> Image.Image:
    """8-bit RGB of any mode PIL opens (see the module docstring); ValueError for float images."""
    if img.mode == "F":
        raise ValueError("a floating-point image has no defined 0..255 range; save it with 8 or 16 bits")
    if img.mode.startswith("I"):  # "I;16", "I;16B", "I": 16/32-bit integers, as 16-bit PNGs and TIFFs open
        wide = np.asarray(img, dtype=np.float64)
        return Image.fromarray(np.clip(np.rint(wide / 257.0), 0, 255).astype(np.uint8)).convert("RGB")
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        black = Image.new("RGBA", rgba.size, (0, 0, 0, 255))
        return Image.alpha_composite(black, rgba).convert("RGB")
    return img.convert("RGB")


def _shown(name: str) -> str:
    """A file name for a message: bytes that are not UTF-8 shown as escapes."""
    return name.encode("utf-8", "backslashreplace").decode("utf-8")


def _assemble(entries: list[_Entry], blobs: Iterable[tuple[str, bytes]], path: str,
              image_size: int | None) -> FolderData:
    """Decode every blob and stack the splits in id order."""
    size = None if image_size is None else (image_size, image_size)
    decoded = {raw: _decode(blob, raw, path, size) for raw, blob in blobs}
    target = decoded[entries[0].raw].shape[:2]  # why: the first image in id order sets the size
    class_names = tuple(sorted({e.class_name for e in entries if e.split == "train"}))
    splits = {}
    for split in SPLITS:
        chosen = [e for e in entries if e.split == split]
        if chosen:
            splits[split] = _stack(chosen, decoded, class_names, target)
    return FolderData(class_names, splits["train"], splits.get("test"))


def _stack(entries: list[_Entry], decoded: dict[str, np.ndarray], class_names: tuple[str, ...],
           target: tuple[int, int]) -> FolderSplit:
    label_of = {name: i for i, name in enumerate(class_names)}
    images = np.stack([_fit(decoded[e.raw], target) for e in entries])
    labels = np.asarray([label_of[e.class_name] for e in entries], dtype=np.int32)
    return FolderSplit(np.asarray([e.id for e in entries], dtype=str), labels, images)


def _fit(image: np.ndarray, target: tuple[int, int]) -> np.ndarray:
    """``image`` [h, w, 3] resized to ``target`` (H, W) unless it already has that size."""
    if image.shape[:2] == tuple(target):
        return image
    return np.asarray(Image.fromarray(image).resize((target[1], target[0]), Image.BILINEAR))


# ---------------------------------------------------------------- cache

def _cache_key(source: Path, image_size: int | None) -> str:
    """What the decoded arrays depend on, as one JSON string."""
    stat = source.stat()
    listing = ""
    if source.is_dir():  # why: a folder's own mtime misses edits inside its subfolders
        digest = hashlib.sha256()
        for rel in sorted(_list_directory(source)[0]):
            file_stat = (source / rel).lstat()  # why lstat: a broken link is refused by name later, not here
            digest.update(f"{rel}\t{file_stat.st_size}\t{file_stat.st_mtime_ns}\n".encode("utf-8", "surrogateescape"))
        listing = digest.hexdigest()
    return json.dumps({"version": _CACHE_VERSION, "path": str(source.resolve()), "size": stat.st_size,
                       "mtime_ns": stat.st_mtime_ns, "listing": listing, "image_size": image_size})


def _read_cache(file: Path, key: str) -> FolderData | None:
    """The cached arrays when ``file`` exists and was written for ``key``; None otherwise."""
    try:
        with np.load(file, allow_pickle=False) as z:
            if str(z["key"]) != key:
                return None
            arrays = {name: z[name] for name in z.files}
    except (OSError, ValueError, KeyError, EOFError):  # missing or damaged: decode again
        return None
    splits = {s: FolderSplit(arrays[f"{s}_ids"], arrays[f"{s}_labels"], arrays[f"{s}_images"])
              for s in SPLITS if f"{s}_ids" in arrays}
    return FolderData(tuple(str(c) for c in arrays["class_names"]), splits["train"], splits.get("test"))


def _write_cache(file: Path, key: str, data: FolderData) -> None:
    """Save the decoded arrays atomically; a cache that cannot be written only costs time."""
    arrays = {"key": np.asarray(key), "class_names": np.asarray(data.class_names, dtype=str)}
    for name, split in (("train", data.train), ("test", data.test)):
        if split is not None:
            arrays.update({f"{name}_ids": split.ids, f"{name}_labels": split.labels, f"{name}_images": split.images})
    try:
        file.parent.mkdir(parents=True, exist_ok=True)
        atomic.write_atomic(file, lambda f: np.savez(f, **arrays))
    except OSError as err:
        warnings.warn(f"could not write the image cache {file}: {one_line(err)}", stacklevel=2)

