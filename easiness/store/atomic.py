"""Crash-safe file writes: temp file in the same folder -> flush -> fsync -> ``os.replace``.

A reader (or a process restarted after a kill) sees either the old file or the new one, never a
half-written one: ``os.replace`` is atomic within one file system, which is why the temp file
lives in the target's own folder. The folder is fsynced after the rename so the new directory
entry itself survives a power cut, not only the file's bytes.

Temp files are named ``.<target name>.<pid>.<random>.tmp``; a kill before the rename leaves one
behind, and :func:`is_temp_name` lets readers skip it. Numpy only; no TensorFlow.
"""

from __future__ import annotations

import errno
import json
import os
import re
import secrets
from pathlib import Path
from typing import Any, BinaryIO, Callable

import numpy as np

TEMP_SUFFIX = ".tmp"


def temp_path(path: Path) -> Path:
    """A fresh, unused temp name next to ``path`` (same folder, so ``os.replace`` is atomic)."""
    return path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}{TEMP_SUFFIX}")


def is_temp_name(name: str) -> bool:
    """Whether a file name is one of our temp files (left behind by a kill before the rename)."""
    return name.startswith(".") and name.endswith(TEMP_SUFFIX)


_TEMP = re.compile(r"\.(.+)\.\d+\.[0-9a-f]{8}" + re.escape(TEMP_SUFFIX))


def target_name(path: str) -> str:
    """The file a temp file of :func:`temp_path` stands in for (``path`` itself for any other):
    messages name the file the user knows, not ``.losses.npy.4242.1f2e3d4c.tmp``."""
    folder, _, name = str(path).rpartition(os.sep)
    match = _TEMP.fullmatch(name)
    if match is None:
        return str(path)
    return f"{folder}{os.sep}{match.group(1)}" if folder or str(path).startswith(os.sep) else match.group(1)


def fsync_dir(folder: Path) -> None:
    """fsync a folder so a rename or a new entry in it is durable."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # why: some platforms (Windows) cannot open folders; best effort there
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_new_file(path: Path, data: bytes | Callable[[BinaryIO], None]) -> None:
    """Create ``path`` (FileExistsError if it exists: O_CREAT|O_EXCL) with ``data`` or through
    ``data(file)``, flushed and fsynced."""
    with open(path, "xb") as f:
        if callable(data):
            data(f)
        else:
            f.write(data)
        f.flush()
        os.fsync(f.fileno())


def write_atomic(path: Path, write: Callable[[BinaryIO], None]) -> None:
    """Write ``path`` through ``write(file)`` into a temp file, fsync it, then rename it over."""
    path = Path(path)
    tmp = temp_path(path)
    try:
        write_new_file(tmp, write)
        os.replace(tmp, path)
    except BaseException:
        # why: an ordinary error must not leave litter; a hard kill still can (readers skip it)
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Atomically replace ``path`` with ``data``."""
    write_atomic(path, lambda f: f.write(data))


def json_default(value: Any) -> Any:
    """``json.dumps`` hook: numpy scalars and arrays (common in configs and history) as Python."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable")


def dumps(obj: Any, *, allow_nan: bool = True) -> str:
    """The JSON text we store: indented for humans reading a manifest, numpy values converted."""
    return json.dumps(obj, indent=1, default=json_default, allow_nan=allow_nan) + "\n"


def write_json_atomic(path: Path, obj: Any) -> None:
    """Atomically replace ``path`` with ``obj`` as JSON."""
    write_bytes_atomic(path, dumps(obj).encode("utf-8"))


def save_npy_atomic(path: Path, array: np.ndarray) -> None:
    """Atomically replace ``path`` with ``array`` in ``.npy`` format (never pickled)."""
    write_atomic(path, lambda f: np.save(f, array, allow_pickle=False))


def preallocate_npy(path: Path, shape: tuple[int, ...], dtype: np.dtype) -> None:
    """Create a zero-filled ``.npy`` of ``shape`` at ``path`` atomically, for in-place row writes.

    The file is built under a temp name and renamed, so ``path`` either does not exist or has
    its full size and a valid header. The zeros are a sparse hole on most file systems, so a
    gigabyte-sized file costs no writing here.
    """
    path = Path(path)
    tmp = temp_path(path)
    try:
        mm = np.lib.format.open_memmap(tmp, mode="w+", dtype=dtype, shape=shape)
        mm.flush()
        del mm
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def read_npy_header(path: Path) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype of a ``.npy`` file from its header alone (no data read, no mmap); a FIFO
    or other non-regular file is a ValueError, never a read that waits forever."""
    shape, dtype, _ = npy_layout(path)
    return shape, dtype


def npy_layout(path: Path) -> tuple[tuple[int, ...], np.dtype, int]:
    """Shape, dtype and the byte offset of the data of a C-ordered ``.npy`` file, from its header."""
    if not Path(path).is_file():
        if not Path(path).exists():
            raise FileNotFoundError(errno.ENOENT, "No such file or directory", str(path))
        raise ValueError("not a regular file")
    with open(path, "rb") as f:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
        else:
            raise ValueError(f"unsupported .npy format version {version}")
        if fortran:
            raise ValueError("a Fortran-ordered array; rows are not contiguous")
        return tuple(shape), np.dtype(dtype), f.tell()


def pwrite_all(fd: int, data: bytes | memoryview, offset: int) -> None:
    """Write all of ``data`` at ``offset`` of the open file ``fd`` (``os.pwrite`` may write less).

    Why not a memory map: a write into a sparse file's hole on a full disk kills a memory-mapped
    writer with SIGBUS, where ``pwrite`` raises ``OSError(ENOSPC)`` that a command reports in one line."""
    view = memoryview(data).cast("B")
    while view.nbytes:
        written = os.pwrite(fd, view, offset)
        view, offset = view[written:], offset + written
