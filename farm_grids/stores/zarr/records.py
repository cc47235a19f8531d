"""What a ZarrStore records about each array (shape, dtype, chunk), and the check of a reopened array against it.

zarr reads an array through its own ``zarr.json``: edit ``float32`` to ``int32`` there and 2.0
reads as 1073741824 with no error. The store therefore keeps its own record of every array
in the group's attributes, as the memmap manifest does for its files, and a reopen refuses
an array whose metadata disagrees with it, or which no store recorded, before any grid is
registered.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from farm_grids.errors import FarmGridsError, GridFileMismatchError
from farm_grids.limits import MAX_DIMENSION
from farm_grids.stores.validation import SUPPORTED_DTYPES

__all__ = ["ArrayRecord", "MAX_CHUNK", "MIN_CHUNK", "checked_array", "parse_records"]

MIN_CHUNK = 8
MAX_CHUNK = 4096


@dataclass(frozen=True)
class ArrayRecord:
    """One array as the store created it."""

    shape: tuple[int, int]
    dtype: str
    chunk: int

    def to_json(self) -> dict[str, Any]:
        return {"shape": list(self.shape), "dtype": self.dtype, "chunk": self.chunk}


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _valid(shape: object, dtype: object, chunk: object) -> str | None:
    """Why ``(shape, dtype, chunk)`` cannot be a grid of this store, or None when it can."""
    if not isinstance(shape, (list, tuple)) or len(shape) != 2 or not all(_whole(d) for d in shape):
        return f"shape {shape!r} is not two whole numbers"
    if not all(0 < d <= MAX_DIMENSION for d in shape):  # type: ignore[operator]
        return f"shape {list(shape)} has a side outside [1, {MAX_DIMENSION}]"
    if not isinstance(dtype, str) or dtype not in SUPPORTED_DTYPES:
        return f"dtype {dtype!r} is not one of {sorted(SUPPORTED_DTYPES)}"
    if not _whole(chunk) or not MIN_CHUNK <= chunk <= MAX_CHUNK:  # type: ignore[operator]
        return f"chunk side {chunk!r} is outside [{MIN_CHUNK}, {MAX_CHUNK}]"
    return None


def parse_records(attributes: object, where: str) -> dict[str, ArrayRecord]:
    """The records in a group's ``farm_grids`` attribute; a malformed one is GridFileMismatchError."""
    if not isinstance(attributes, Mapping):
        return {}
    grids = attributes.get("grids", {})
    if not isinstance(grids, Mapping):
        raise GridFileMismatchError(f"zarr group {where!r}: its farm_grids record of grids is not a mapping")
    records = {}
    for name, entry in grids.items():
        if not isinstance(entry, Mapping):
            raise GridFileMismatchError(f"zarr group {where!r}: the record of {name!r} is not a mapping")
        shape, dtype, chunk = entry.get("shape"), entry.get("dtype"), entry.get("chunk")
        problem = _valid(shape, dtype, chunk)
        if problem is not None:
            raise GridFileMismatchError(f"zarr group {where!r}: the record of {name!r} is corrupt: {problem}")
        records[str(name)] = ArrayRecord((int(shape[0]), int(shape[1])), str(dtype), int(chunk))  # type: ignore[index]
    return records


def checked_array(open_array: Any, name: str, record: ArrayRecord | None, where: str) -> Any:
    """The zarr array ``open_array()`` returns, once its metadata matches ``record``.

    zarr parses the metadata when the array opens; a ``zarr.json`` it cannot parse (a bad
    data type, dimensions that do not agree) is a mismatch, like one that parses but lies.
    """
    if record is None:
        raise GridFileMismatchError(
            f"zarr group {where!r}: array {name!r} was not created by a ZarrStore (no record of it); "
            "refusing to guess its shape and dtype")
    try:
        array = open_array()
    except FarmGridsError:
        raise
    except (ValueError, TypeError, KeyError) as exc:
        raise GridFileMismatchError(f"zarr group {where!r}: the metadata of {name!r} is unreadable: {exc}") from exc
    try:
        shape = [int(d) for d in array.shape]
        chunks = [int(c) for c in array.chunks]
        dtype = np.dtype(array.dtype).name
    except (TypeError, ValueError) as exc:
        raise GridFileMismatchError(f"zarr group {where!r}: the metadata of {name!r} is unusable: {exc}") from exc
    found = (shape, dtype, chunks)
    wanted = (list(record.shape), record.dtype, [record.chunk, record.chunk])
    if found != wanted:
        raise GridFileMismatchError(
            f"zarr group {where!r}: array {name!r} has shape {shape}, dtype {dtype}, chunks {chunks}, but the "
            f"store recorded shape {wanted[0]}, dtype {wanted[1]}, chunks {wanted[2]} (its zarr.json was changed)")
    return array
