"""One cell's own prefix on object storage: made with a marker, and emptied of only what the cell's stores wrote.

The prefix is ``<directory>/<cell>-<random token>``; its first object is a marker holding the
token. Removal reads the marker back first (no marker with our token: nothing is ours, nothing
goes), then deletes the zarr groups under the prefix whose ``zarr.json`` carries the record a
farm-grids ZarrStore writes, with the arrays that record lists, and the marker last. Whatever
else is there stays, and is reported.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import fsspec

from farm_grids.stores.zarr.store import SCHEMA as ZARR_STORE_SCHEMA
from harness.matrix.storage import StorageSection, redact, resolve_options
from harness.workloads.base import ObjectStorage

MARKER_NAME = "farm-harness-cell.json"
MARKER_KIND = "farm-harness/matrix-cell-storage/v1"


@dataclass(frozen=True)
class Removal:
    """What removing a cell's prefix did: objects deleted, objects left (not provably the cell's)."""

    removed: int
    left: tuple[str, ...]


def _slug(cell_id: str) -> str:
    """A cell id as one key component (object names keep to letters, digits, '-', '_' and '.')."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", cell_id).strip("-")[:120]


class CellStorage:
    """A cell's prefix under a backend's storage directory, reached with the options this machine resolves."""

    def __init__(self, section: StorageSection, cell_id: str, environ: Mapping[str, str] | None = None) -> None:
        self.options = resolve_options(section, environ)
        self.token = secrets.token_hex(8)
        self.url = f"{section.directory}/{_slug(cell_id)}-{self.token}"
        self.cell_id = cell_id
        self.fs, self.path = fsspec.url_to_fs(self.url, **self.options)
        self.marked = False

    def record(self) -> dict[str, Any]:
        """The row's account of where the cell's grids went (options redacted)."""
        return {"directory": self.url, "storage_options": redact(self.options)}

    @property
    def marker(self) -> str:
        return f"{self.path}/{MARKER_NAME}"

    def create(self) -> ObjectStorage:
        """Write the marker (before any grid), and the location the cell's stores go to."""
        marker = {"kind": MARKER_KIND, "cell": self.cell_id, "token": self.token,
                  "created": dt.datetime.now(dt.timezone.utc).isoformat()}
        self.fs.pipe_file(self.marker, json.dumps(marker).encode("utf-8"))
        self.marked = True
        return ObjectStorage(self.url, self.options)

    def _ours(self) -> bool:
        """The marker at the prefix is the one this cell wrote (kind and token)."""
        try:
            found = json.loads(self.fs.cat_file(self.marker))
        except (FileNotFoundError, ValueError):
            return False
        return isinstance(found, dict) and found.get("kind") == MARKER_KIND and found.get("token") == self.token

    def _store_objects(self, objects: list[str]) -> list[str]:
        """The objects of every zarr group a farm-grids store recorded under the prefix: its arrays and zarr.json."""
        owned: list[str] = []
        for key in objects:
            group, _, name = key.rpartition("/")
            if name != "zarr.json" or group.rpartition("/")[0] != self.path:
                continue  # only groups right under the prefix (an array's zarr.json is one level deeper)
            try:
                meta = json.loads(self.fs.cat_file(key))
            except (FileNotFoundError, ValueError):
                continue
            record = (meta.get("attributes") or {}).get("farm_grids") if isinstance(meta, dict) else None
            if not isinstance(record, dict) or record.get("schema") != ZARR_STORE_SCHEMA:
                continue
            grids = record.get("grids") if isinstance(record.get("grids"), dict) else {}
            owned.append(key)
            owned.extend(k for k in objects if any(k.startswith(f"{group}/{grid}/") for grid in grids))
        return owned

    def remove(self) -> Removal:
        """Delete what the cell wrote, proved by its marker and its stores' records; the marker goes last."""
        if not self.marked:
            return Removal(0, ())
        self.fs.invalidate_cache(self.path)  # the stores wrote through other clients: list afresh
        objects = sorted(self.fs.find(self.path))
        if not self._ours():
            return Removal(0, tuple(objects))
        owned = sorted(set(self._store_objects(objects)))
        if owned:
            self.fs.rm(owned)
        self.fs.rm(self.marker)
        gone = {*owned, self.marker}
        return Removal(len(gone), tuple(key for key in objects if key not in gone))
