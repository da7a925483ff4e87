"""The study folder's names, schema version and the small checks shared by writer and reader.

See :mod:`easiness.store` for the layout itself. Numpy only; no TensorFlow.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping, Sequence

from easiness.errors import EasinessError, one_line

SCHEMA_VERSION = 1

STUDY_FILE = "study.json"
IDS_FILE = "ids.npy"
LABELS_FILE = "labels.npy"
IMAGES_FILE = "images.npy"
EXTRAS_DIR = "extras"
MODELS_DIR = "models"
MANIFEST_FILE = "manifest.json"
LOSSES_FILE = "losses.npy"
STATE_DIR = "state"
# why: written first and removed after study.json, so a folder holding it but no study.json is a
# study whose creation was killed, safe to create again (unlike any other non-empty folder)
CREATING_MARKER = ".easiness-creating"
# why: the lease (a folder of claim generations, see easiness.store.claims) that lets one of several
# processes opening a new study at once create it; removed once study.json is committed
CREATION_LEASE = ".easiness-creation-lease"
CLAIMS_DIR = "claims"

LOSS_DTYPES = ("float32", "float16")
# Per-example arrays a run may record beside its losses, [planned, N] each, in their own .npy
# file (e.g. margins.npy), named with their dtype in the manifest's "records" (easiness.analysis.scores).
RECORDS = ("margins", "el2n")
STATUSES = ("created", "running", "done", "failed")

_NAME = re.compile(r"[A-Za-z0-9_.-]+")
_RUN_DIR = re.compile(r"run-(\d+)")


class StoreError(EasinessError):
    """A study folder that cannot be written or read as asked; the message is one line."""


def validate_name(name: str, what: str) -> str:
    """A model or extra name, safe as a folder/file name: ``[A-Za-z0-9_.-]+``, not dots only."""
    if not isinstance(name, str) or not _NAME.fullmatch(name) or set(name) == {"."}:
        raise StoreError(f"invalid {what} name {name!r}: use letters, digits, '_', '.', '-'")
    return name


def run_dirname(index: int) -> str:
    """The folder name of run ``index`` (``run-000``)."""
    return f"run-{index:03d}"


def parse_run_dirname(name: str) -> int | None:
    """The run index of a ``run-NNN`` folder name, or None for anything else."""
    match = _RUN_DIR.fullmatch(name)
    return int(match.group(1)) if match else None


def now_iso() -> str:
    """The current time in ISO 8601, UTC, to the second."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def read_json(path: Path, what: str) -> dict[str, Any]:
    """A JSON object from ``path``; StoreError with the reason if missing, unreadable or not one."""
    if Path(path).exists() and not Path(path).is_file():  # why: reading a FIFO would wait forever
        raise StoreError(f"{path} is not a regular file; the {what} is corrupt")
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise StoreError(f"{path} is missing") from None
    except OSError as e:
        raise StoreError(f"{path} is unreadable ({one_line(e.strerror or e)})") from None
    try:
        data = json.loads(raw.decode("utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise StoreError(f"{path} is not valid JSON ({one_line(e)}); the {what} is corrupt") from None
    if not isinstance(data, dict):
        raise StoreError(f"{path} is not a JSON object; the {what} is corrupt")
    return data


def check_schema(data: Mapping[str, Any], path: Path) -> None:
    """Refuse a file whose schema version this code does not know."""
    version = data.get("schema_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise StoreError(f"{path} has no valid schema_version ({version!r})")
    if version > SCHEMA_VERSION:
        raise StoreError(f"{path} was written by a newer easiness (schema {version}; this one "
                         f"reads up to {SCHEMA_VERSION}); upgrade easiness")


def require_fields(data: Mapping[str, Any], fields: Sequence[str], path: Path) -> None:
    """StoreError naming the first field missing from ``data``."""
    for field in fields:
        if field not in data:
            raise StoreError(f"{path} lacks the field {field!r}")


def common_count(manifests: Sequence[Mapping[str, Any]]) -> int:
    """C: the checkpoints committed by every run AND planned identically by every run.

    Runs of one model normally share one plan; where plans differ (say one run planned 200
    epochs and another 300), only the common prefix of the plans lines rows up, so C stops there.
    """
    if not manifests:
        return 0
    count = min(int(m["done"]) for m in manifests)
    first = manifests[0]["planned"]
    for m in manifests[1:]:
        same = 0
        for a, b in zip(first[:count], m["planned"][:count]):
            if a != b:
                break
            same += 1
        count = same
    return count
