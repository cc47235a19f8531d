"""The commit record of a snapshot: what was written (arrays, chunk keys, checksums) and the world's metadata, strictly typed."""

from __future__ import annotations

import math
import numbers
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from farm_grids.errors import SnapshotError

__all__ = ["FORMAT", "ArrayRecord", "SnapshotRecord", "checksum", "parse_record"]

FORMAT = 2  # 1: data in the root group; 2: data in a generation group the root's record names
MAX_TICK = 2**63 - 1
MAX_SIDE = 2**31 - 1
_GENERATION = re.compile(r"g-[0-9a-f]{32}")
_DTYPES = frozenset({"bool", "uint8", "int8", "uint16", "int16", "uint32", "int32", "uint64", "int64",
                     "float16", "float32", "float64"})
_TOP_GROUPS = frozenset({"layers", "agents", "memory", "tiles", "resources", "sparse"})
_CHUNK_KEY = re.compile(r"c(/[0-9]+)*")


def checksum(data: np.ndarray) -> int:
    """CRC-32C of an array's bytes in C order (hardware-accelerated; cheap beside compression)."""
    import google_crc32c  # the zarr extra's: a world without snapshots runs on the base install

    return int(google_crc32c.value(np.ascontiguousarray(data).reshape(-1).view(np.uint8)))


@dataclass(frozen=True)
class ArrayRecord:
    """One array as written: its shape, dtype, the chunk keys that exist and the checksum of its bytes."""

    shape: tuple[int, ...]
    dtype: str
    chunks: tuple[str, ...]
    crc32c: int

    def to_json(self) -> dict[str, Any]:
        return {"shape": list(self.shape), "dtype": self.dtype, "chunks": list(self.chunks), "crc32c": self.crc32c}


@dataclass(frozen=True)
class SnapshotRecord:
    """A committed snapshot's record, every field checked for type and range."""

    format: int
    generation: str | None  # None in format 1 (data in the root group)
    config: dict[str, Any]
    tick: int
    world: tuple[int, int]
    channels: tuple[str, ...]
    temporal_world_layers: bool
    rng: dict[str, Any]
    env_layers: tuple[str, ...]
    gammas: dict[str, float]
    has_data: dict[str, bool]
    arrays: dict[str, ArrayRecord] | None  # None in format 1 (nothing recorded)
    retiring: tuple[str, ...]  # root entries of ours this commit replaced (deleted after it)

    def expected_keys(self) -> set[str]:
        """Every key the generation group must hold: group and array documents, and the written chunks."""
        keys = {"zarr.json"}
        for path, array in (self.arrays or {}).items():
            parts = path.split("/")
            keys.update("/".join(parts[:depth] + ["zarr.json"]) for depth in range(1, len(parts) + 1))
            keys.update(f"{path}/{chunk}" for chunk in array.chunks)
        return keys


def _fail(url: str, field: str, why: str) -> SnapshotError:
    return SnapshotError(f"snapshot {url!r}: {field} {why}")


def _integer(value: Any, url: str, field: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _fail(url, field, f"must be an integer, got {value!r}")
    if not low <= value <= high:
        raise _fail(url, field, f"must be in [{low}, {high}], got {value!r}")
    return value


def _names(value: Any, url: str, field: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
        raise _fail(url, field, f"must be a list of names, got {value!r}")
    if len(set(value)) != len(value):
        raise _fail(url, field, "names a layer twice")
    return tuple(value)


def _mapping(value: Any, url: str, field: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _fail(url, field, f"must be an object, got {type(value).__name__}")
    return value


def _array(path: str, value: Any, url: str) -> ArrayRecord:
    field = f"array {path!r}"
    entry = _mapping(value, url, field)
    if set(entry) != {"shape", "dtype", "chunks", "crc32c"}:
        raise _fail(url, field, f"must have shape, dtype, chunks and crc32c, got {sorted(entry)}")
    shape = entry["shape"]
    if not isinstance(shape, list) or len(shape) > 3:
        raise _fail(url, f"{field} shape", f"must be a list of at most 3 sides, got {shape!r}")
    sides = tuple(_integer(side, url, f"{field} shape", 0, MAX_SIDE) for side in shape)
    if entry["dtype"] not in _DTYPES:
        raise _fail(url, f"{field} dtype", f"must be one of {sorted(_DTYPES)}, got {entry['dtype']!r}")
    chunks = entry["chunks"]
    if not isinstance(chunks, list) or not all(isinstance(key, str) and _CHUNK_KEY.fullmatch(key) for key in chunks):
        raise _fail(url, f"{field} chunks", "must be a list of chunk keys (c/<i>/<j>)")
    crc = _integer(entry["crc32c"], url, f"{field} crc32c", 0, 2**32 - 1)
    return ArrayRecord(sides, entry["dtype"], tuple(chunks), crc)


def _arrays(value: Any, url: str) -> dict[str, ArrayRecord]:
    arrays = _mapping(value, url, "arrays")
    for path in arrays:
        parts = path.split("/")
        if parts[0] not in _TOP_GROUPS or not 2 <= len(parts) <= 3 or any(part in ("", ".", "..") for part in parts):
            raise _fail(url, "arrays", f"names an array outside the snapshot layout: {path!r}")
    return {path: _array(path, entry, url) for path, entry in arrays.items()}


def _temporal(state: dict[str, Any], present: bool, url: str) -> tuple[dict[str, float], dict[str, bool]]:
    if not present:
        if "temporal" in state:
            raise _fail(url, "state.temporal", "is present although temporal_world_layers is false")
        return {}, {}
    temporal = _mapping(state.get("temporal"), url, "state.temporal")
    gammas = _mapping(temporal.get("gammas"), url, "state.temporal.gammas")
    has_data = _mapping(temporal.get("has_data"), url, "state.temporal.has_data")
    for name, gamma in gammas.items():
        if isinstance(gamma, bool) or not isinstance(gamma, numbers.Real) or not math.isfinite(gamma):
            raise _fail(url, f"gamma of {name!r}", f"must be a finite number, got {gamma!r}")
    for name, flag in has_data.items():
        if not isinstance(flag, bool):
            raise _fail(url, f"has_data of {name!r}", f"must be true or false, got {flag!r}")
    return dict(gammas), dict(has_data)


def parse_record(raw: Any, url: str) -> SnapshotRecord:
    """The committed record ``raw`` (the root group's attribute), or SnapshotError naming the first bad field."""
    if not isinstance(raw, dict):
        raise SnapshotError(f"{url!r} is not a farm-grids snapshot")
    version = raw.get("format")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise SnapshotError(f"snapshot {url!r} has no valid format version")
    if version > FORMAT:
        raise SnapshotError(f"snapshot {url!r} was written by a newer format (v{version}; this reads v{FORMAT})")
    if raw.get("committed") is not True:
        raise SnapshotError(f"snapshot {url!r} is torn: it has no commit marker (the writer stopped part-way)")
    generation = raw.get("generation") if version >= 2 else None
    if version >= 2 and (not isinstance(generation, str) or not _GENERATION.fullmatch(generation)):
        raise _fail(url, "generation", f"must name a generation group (g-<32 hex>), got {generation!r}")
    world = raw.get("world")
    if not isinstance(world, list) or len(world) != 2:
        raise _fail(url, "world", f"must be [height, width], got {world!r}")
    temporal = raw.get("temporal_world_layers")
    if not isinstance(temporal, bool):
        raise _fail(url, "temporal_world_layers", f"must be true or false, got {temporal!r}")
    state = _mapping(raw.get("state"), url, "state")
    gammas, has_data = _temporal(state, temporal, url)
    arrays = _arrays(raw.get("arrays"), url) if version >= 2 else None
    if arrays is not None:
        held = any(path.startswith(("layers/temporal/", "tiles/")) for path in arrays)
        if held != temporal:
            raise _fail(url, "temporal_world_layers", f"is {str(temporal).lower()} but the temporal layers are "
                        f"{'present' if held else 'absent'}")
    retiring = raw.get("retiring", []) if version >= 2 else []
    return SnapshotRecord(
        format=version,
        generation=generation,
        config=_mapping(raw.get("config"), url, "config"),
        tick=_integer(raw.get("tick"), url, "tick", 0, MAX_TICK),
        world=(_integer(world[0], url, "world height", 1, MAX_SIDE), _integer(world[1], url, "world width", 1, MAX_SIDE)),
        channels=_names(raw.get("channels"), url, "channels"),
        temporal_world_layers=temporal,
        rng=_mapping(raw.get("rng"), url, "rng"),
        env_layers=_names(state.get("env_layers", []), url, "state.env_layers"),
        gammas=gammas,
        has_data=has_data,
        arrays=arrays,
        retiring=_names(retiring, url, "retiring"),
    )
