"""Snapshots: a WorldState in one zarr v3 group, switched atomically, verified when read back.

Layout (readable by zarr, xarray and dask without farm-grids; see ``generation_of``):

    zarr.json                      the root group; attrs["farm_grids_snapshot"] is the commit
                                   record: format, config, tick, RNG state, channels, manager
                                   state, the current ``generation`` and, per array, its shape,
                                   dtype, the chunk keys written and a CRC-32C of its bytes.
                                   Written LAST, in one atomic step: it is the commit.
    g-<hex>/zarr.json              a generation group; attrs["farm_grids_generation"] names it
                                   (our ownership marker, written when the group is created)
    g-<hex>/layers/<ns>/<name>     every grid: "env", "temporal", "resources" (chunked, zstd)
    g-<hex>/agents/<column>        ys, xs, team, hp, alive
    g-<hex>/memory/<channel>       per-agent (N, S, S) memories of agent-decayed channels
    g-<hex>/tiles/<channel>        active-tile masks of the temporal channels
    g-<hex>/resources/sites, below the resource manager's site bookkeeping
    g-<hex>/sparse/<ch>/cells, values  transient events kept as sparse lists

A snapshot writes only where nothing is, where only our own generations are (a torn earlier
write), or over a committed farm-grids snapshot (``overwrite=True``). The new generation
goes beside the old one; the switch of the root document commits it; then the generations
the old record named (and stray ones carrying our marker) are deleted. Format 1 (data in
the root group) is still restored, and replaced by an overwrite.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import replace
from functools import partial
from typing import Any, TypeVar

import numpy as np

from farm_grids.agents import AgentTable
from farm_grids.config import SimulationConfig
from farm_grids.errors import ConfigError, FarmGridsError, InvalidGridSpecError, ObjectStoreError, SnapshotError
from farm_grids.limits import check_request
from farm_grids.managers import TEMPORAL_CHANNELS, ResourceManager
from farm_grids.snapshot_location import (
    POINTER,
    SNAPSHOT_KEY,
    SnapshotLocation,
    locate,
    new_generation,
)
from farm_grids.snapshot_record import FORMAT, ArrayRecord, SnapshotRecord, checksum, parse_record
from farm_grids.sparse_events import EVENT_DTYPE
from farm_grids.state import LazyMapping, SparseEvents, TemporalState, WorldState
from farm_grids.stores.zarr.store import open_zarr_group, remote_call
from farm_grids.values import checked_values

__all__ = ["FORMAT", "SNAPSHOT_KEY", "generation_of", "read_snapshot", "restore_world", "write_snapshot"]

World = TypeVar("World")

_CHUNK = 256
# What a format-1 snapshot wrote in its root group (it owned the whole group: it opened it with "w").
_FORMAT1_GROUPS = frozenset({"layers", "agents", "memory", "tiles", "resources", "sparse"})


# Dimension names make every array self-describing for xarray (zarr v3 ``dimension_names``).
_DIMENSIONS = {"layers": ("y", "x"), "agents": ("agent",), "memory": ("agent", "window_y", "window_x"),
               "tiles": ("tile_y", "tile_x"), "resources": ("site",), "sparse": ("event",)}


def _put(group: Any, path: str, data: np.ndarray) -> tuple[tuple[int, ...], str, int]:
    """Write one array; its shape, dtype and checksum for the record."""
    from zarr.codecs import ZstdCodec

    data = np.ascontiguousarray(data)
    chunks = tuple(min(max(1, n), _CHUNK) for n in data.shape) if data.ndim else ()
    array = group.create_array(path, shape=data.shape, dtype=data.dtype, chunks=chunks or None,
                               compressors=ZstdCodec(level=3, checksum=True), fill_value=0,
                               dimension_names=_DIMENSIONS[path.split("/", 1)[0]])
    if data.size:
        array[...] = data
    return tuple(data.shape), data.dtype.name, checksum(data)


def _meta(world: WorldState) -> dict[str, Any]:
    state: dict[str, Any] = {"env_layers": list(world.layers["env"]), "resources": True}
    if world.temporal is not None:
        state["temporal"] = {"gammas": dict(world.temporal.gammas), "has_data": dict(world.temporal.has_data)}
    return {
        "format": FORMAT,
        "committed": True,  # the record exists only once committed (format 1 wrote it twice)
        "config": world.config.to_dict(),
        "tick": int(world.tick),
        "world": list(world.world),
        "channels": list(world.channels),
        "temporal_world_layers": world.temporal_world_layers,
        # Big ints as text: JSON readers elsewhere may round 128-bit integers.
        "rng": json.loads(json.dumps(dict(world.rng), default=str), parse_int=str),
        "state": state,
    }


def _retired(location: SnapshotLocation, overwrite: bool) -> list[str]:
    """The root entries a new commit replaces, all proven ours; SnapshotError naming anything else.

    Ours: the generation a committed record names (or a format-1 record's groups), entries
    that record was still retiring, and generation groups carrying our marker naming
    themselves (left by a writer killed before its commit).
    """
    entries = location.entries()
    if not entries:
        return []
    where = location.url
    raw = location.attributes(POINTER).get(SNAPSHOT_KEY) if POINTER in entries else None
    owned: set[str] = set()
    if POINTER in entries:
        if raw is None:
            raise SnapshotError(f"{where!r} holds {POINTER!r} that is not a farm-grids snapshot's; refusing to write there")
        try:
            record = parse_record(raw, where)
        except SnapshotError as exc:
            raise SnapshotError(f"{where!r} holds a snapshot that is not committed or not readable ({exc}); "
                                "refusing to replace it") from None
        if not overwrite:
            raise SnapshotError(f"snapshot {where!r} already exists; pass overwrite=True to replace it")
        owned = {POINTER, *record.retiring}
        owned |= {record.generation} if record.generation is not None else set(_FORMAT1_GROUPS)
    retired = []
    for entry in entries:
        if entry in owned or location.is_our_generation(entry):
            retired.append(entry)
        elif not location.is_empty_folder(entry):  # an empty folder holds nothing: left alone
            raise SnapshotError(f"{where!r} holds {entry!r}, which no farm-grids snapshot wrote; refusing to write there "
                                "(a snapshot writes only into an absent or empty location or over a committed snapshot)")
    return [entry for entry in retired if entry != POINTER]


def write_snapshot(world: WorldState, url: str, *, storage_options: object = None, overwrite: bool = False) -> None:
    """Write ``world`` to ``url`` as a new generation, then commit it atomically (see ``Environment.snapshot``)."""
    if not isinstance(overwrite, bool):
        raise SnapshotError(f"overwrite must be True or False, got {overwrite!r}")
    location = locate(url, storage_options)
    where = f"snapshot {location.url!r}"  # local OSErrors (EACCES, ENOSPC) are typed like remote ones
    retired = remote_call(where, lambda: _retired(location, overwrite))  # every check before the first byte changes
    generation = new_generation()
    remote_call(where, lambda: location.create_generation(generation))
    try:
        group = open_zarr_group(location.url_of(generation), "r+", location.storage_options)
        written = remote_call(where, lambda: _write_data(world, group))
        keys = remote_call(where, lambda: location.keys(generation))
        arrays = {path: ArrayRecord(shape, dtype, _chunk_keys(keys, path), crc).to_json()
                  for path, (shape, dtype, crc) in written.items()}
        remote_call(where, lambda: location.make_durable(generation))
        record = {**_meta(world), "generation": generation, "arrays": arrays, "retiring": retired}
        remote_call(where, lambda: location.switch(record, via=generation))
    except BaseException:
        _abandon(location, generation)
        raise
    for entry in retired:  # after the switch: a kill here leaves them retiring, still ours
        remote_call(where, partial(location.remove, entry))


def _abandon(location: SnapshotLocation, generation: str) -> None:
    """Remove a generation whose write failed, unless its commit landed after all.

    A switch can fail after it took effect (an fsync of the folder after the rename, a lost
    reply to a PUT that was stored): then the generation is the snapshot and stays. If even
    that cannot be read, the generation stays too: it carries our marker, so the next
    snapshot here removes it.
    """
    try:
        named = location.attributes(POINTER).get(SNAPSHOT_KEY)
        if not (isinstance(named, dict) and named.get("generation") == generation):
            location.remove(generation)
    except Exception:  # already failing: the original error is the one to report
        pass


def _chunk_keys(keys: set[str], path: str) -> tuple[str, ...]:
    """The chunk keys stored under the array ``path`` (zarr skips chunks that equal the fill value)."""
    prefix = f"{path}/"
    return tuple(sorted(rest for key in keys if key.startswith(prefix) and (rest := key[len(prefix):]) != POINTER))


def _write_data(world: WorldState, group: Any) -> dict[str, tuple[tuple[int, ...], str, int]]:
    written = {}
    for namespace, grids in world.layers.items():
        for name in grids:  # one grid in memory at a time: a lazy mapping reads each on access
            written[f"layers/{namespace}/{name}"] = _put(group, f"layers/{namespace}/{name}", grids[name])
    for column, values in world.agents.items():
        written[f"agents/{column}"] = _put(group, f"agents/{column}", values)
    for channel, memory in world.memories.items():
        written[f"memory/{channel}"] = _put(group, f"memory/{channel}", memory)
    if world.temporal is not None:
        for channel, mask in world.temporal.tiles.items():
            written[f"tiles/{channel}"] = _put(group, f"tiles/{channel}", mask.astype(np.uint8))
    for key, values in world.resource_sites.items():
        written[f"resources/{key}"] = _put(group, f"resources/{key}", values)
    for channel, events in world.sparse_events.items():
        written[f"sparse/{channel}/cells"] = _put(group, f"sparse/{channel}/cells", events.cells)
        written[f"sparse/{channel}/values"] = _put(group, f"sparse/{channel}/values", events.values)
    return written


def _committed_record(location: SnapshotLocation) -> SnapshotRecord:
    raw = location.attributes(POINTER).get(SNAPSHOT_KEY)
    if raw is None:
        if location.document(".zgroup") is not None:
            raise SnapshotError(f"{location.url!r} is a zarr v2 group; snapshots are zarr v3 only")
        raise SnapshotError(f"{location.url!r} is not a farm-grids snapshot (no zarr v3 group with a commit record)")
    return parse_record(raw, location.url)


def generation_of(url: str, *, storage_options: object = None) -> str:
    """The group inside a snapshot that holds its data (open ``f"{generation_of(url)}/layers/env"`` with xarray)."""
    record = _committed_record(locate(url, storage_options))
    return record.generation or ""


class _Verified:
    """Reads the arrays of one snapshot, each checked against the record: shape, dtype, checksum, decodable."""

    def __init__(self, group: Any, record: SnapshotRecord, url: str) -> None:
        self.group, self.record, self.url = group, record, url

    def paths(self, prefix: str) -> list[str]:
        """Array names directly under ``prefix`` ("memory"), as recorded (format 1: as stored)."""
        if self.record.arrays is not None:
            start = len(prefix) + 1
            return sorted(path[start:] for path in self.record.arrays
                          if path.startswith(f"{prefix}/") and "/" not in path[start:])
        if prefix not in self.group:
            return []
        return remote_call(f"listing {self.url!r}", lambda: sorted(self.group[prefix].array_keys()))

    def __call__(self, path: str) -> np.ndarray:
        recorded = self.record.arrays.get(path) if self.record.arrays is not None else None
        if self.record.arrays is not None and recorded is None:
            raise SnapshotError(f"snapshot {self.url!r} lacks {path!r} (not in its commit record)")
        try:
            array = self.group[path]
        except KeyError:
            raise SnapshotError(f"snapshot {self.url!r} lacks {path!r}") from None
        except (RuntimeError, ValueError, TypeError) as exc:  # metadata that zarr cannot parse
            raise SnapshotError(f"snapshot {self.url!r}: the metadata of {path} is corrupt: {exc}") from exc
        except Exception as exc:  # the network or the server: not the snapshot's fault
            raise ObjectStoreError(f"opening {path} of {self.url!r}: {type(exc).__name__}: {exc}") from exc
        shape, dtype = tuple(array.shape), np.dtype(array.dtype)
        if recorded is not None and (shape != recorded.shape or dtype.name != recorded.dtype):
            raise SnapshotError(f"snapshot {self.url!r}: {path} is {dtype.name}{list(shape)} in its metadata, "
                                f"{recorded.dtype}{list(recorded.shape)} in its commit record")
        check_request(int(np.prod(shape, dtype=np.int64)) * dtype.itemsize, f"{path} of {self.url!r}")
        try:
            data = np.asarray(array[...])
        except (RuntimeError, ValueError, TypeError) as exc:  # a codec could not decode a chunk
            raise SnapshotError(f"snapshot {self.url!r}: a chunk of {path} is corrupt: {exc}") from exc
        except Exception as exc:  # the network or the server: not the snapshot's fault
            raise ObjectStoreError(f"reading {path} of {self.url!r}: {type(exc).__name__}: {exc}") from exc
        if recorded is not None and checksum(data) != recorded.crc32c:
            raise SnapshotError(f"snapshot {self.url!r}: {path} does not match its checksum (corrupt)")
        return data


def _verified_generation(location: SnapshotLocation, record: SnapshotRecord) -> Any:
    """The generation group, once its keys are exactly the recorded ones (missing or extra: SnapshotError)."""
    if record.generation is None:  # format 1: data in the root group, nothing recorded to compare
        group = open_zarr_group(location.url, "r", location.storage_options)
        held = "layers" in group and "temporal" in group["layers"]
        if held != record.temporal_world_layers:
            raise SnapshotError(f"snapshot {location.url!r}: temporal_world_layers disagrees with its layers")
        return group
    listed, expected = location.keys(record.generation), record.expected_keys()
    for what, keys in (("lacks", expected - listed), ("holds unrecorded", listed - expected)):
        if keys:
            raise SnapshotError(f"snapshot {location.url!r} {what} keys {sorted(keys)[:5]} "
                                f"({len(keys)} in all) in {record.generation}")
    return open_zarr_group(location.url_of(record.generation), "r", location.storage_options)


def _restored_config(record: SnapshotRecord, backend: str | None, directory: str | None, url: str) -> SimulationConfig:
    try:
        config = SimulationConfig.from_dict(record.config)
    except (ConfigError, KeyError, TypeError) as exc:
        raise SnapshotError(f"snapshot {url!r} holds an unusable config: {exc}") from exc
    memmap = replace(config.memmap, mode="w+")
    if backend is not None:
        files = backend != "ram"
        memmap = replace(memmap, backend=backend if files else memmap.backend, use_for_environmental=files,
                         use_for_temporal=files, use_for_resources=files)
    if directory is not None:
        memmap = replace(memmap, directory=directory)
    return replace(config, memmap=memmap)


def _check_fits(record: SnapshotRecord, config: SimulationConfig, expect: SimulationConfig | None,
                names: tuple[str, ...], url: str) -> None:
    if (config.height, config.width) != record.world:
        raise SnapshotError(f"snapshot {url!r} is inconsistent: world {list(record.world)} vs its config")
    if expect is not None and (expect.height, expect.width) != (config.height, config.width):
        raise SnapshotError(f"snapshot {url!r} is a {config.height}x{config.width} world, expected "
                            f"{expect.height}x{expect.width}")
    if record.channels != tuple(names):
        raise SnapshotError(f"snapshot {url!r} has channels {list(record.channels)}, this registry {list(names)}")


def read_snapshot(url: str, *, storage_options: object = None, backend: str | None = None,
                  directory: str | None = None, channels: Sequence[str] | None = None,
                  expect: SimulationConfig | None = None) -> WorldState:
    """The world a committed snapshot holds, verified; its arrays are read (and checked) on access.

    The record, the generation's keys and the fit (world size, ``expect``, the ``channels``
    names when given) are checked here, before anything is built; every array is checked
    against the record when it is read. ``backend`` and ``directory`` replace the saved
    storage in the returned config (see ``Environment.restore``).
    """
    return _read(locate(url, storage_options), backend, directory, channels, expect)


def restore_world(build: Callable[[WorldState], World], url: str, *, storage_options: object = None,
                  backend: str | None = None, directory: str | None = None, channels: Sequence[str] | None = None,
                  expect: SimulationConfig | None = None) -> World:
    """``build`` over ``read_snapshot(url, ...)``; a failure while building that is not a typed error is SnapshotError.

    ``build`` (``Environment.from_state``) reads the arrays as it goes and leaves nothing
    behind when it fails.
    """
    location = locate(url, storage_options)
    world = _read(location, backend, directory, channels, expect)
    try:
        return build(world)
    except BaseException as exc:
        if isinstance(exc, (FarmGridsError, KeyboardInterrupt)):
            raise
        raise SnapshotError(f"snapshot {location.url!r} could not be restored: {exc}") from exc


def _read(location: SnapshotLocation, backend: str | None, directory: str | None, channels: Sequence[str] | None,
          expect: SimulationConfig | None) -> WorldState:
    record = remote_call(f"reading {location.url!r}", lambda: _committed_record(location))
    group = remote_call(f"listing {location.url!r}", lambda: _verified_generation(location, record))
    config = _restored_config(record, backend, directory, location.url)
    _check_fits(record, config, expect, record.channels if channels is None else tuple(channels), location.url)
    read = _Verified(group, record, location.url)
    # The names a world of this version holds; a reader asking for another is told what the snapshot lacks.
    layers = {"env": LazyMapping(record.env_layers, lambda name: read(f"layers/env/{name}")),
              "resources": LazyMapping((ResourceManager.GRID,), lambda name: read(f"layers/resources/{name}"))}
    temporal = None
    if record.temporal_world_layers:
        layers["temporal"] = LazyMapping(TEMPORAL_CHANNELS, lambda name: read(f"layers/temporal/{name}"))
        temporal = TemporalState(record.gammas, record.has_data,
                                 LazyMapping(TEMPORAL_CHANNELS, lambda name: read(f"tiles/{name}")))
    return WorldState(
        config=config, channels=record.channels, tick=record.tick, rng=_rng_state(record.rng), layers=layers,
        agents=LazyMapping(AgentTable.COLUMNS, lambda column: read(f"agents/{column}")),
        memories=LazyMapping(read.paths("memory"), lambda name: read(f"memory/{name}")),
        temporal=temporal,
        resource_sites=LazyMapping(("sites", "below"), lambda key: read(f"resources/{key}")),
        sparse_events=LazyMapping(TEMPORAL_CHANNELS, partial(_sparse_events, read, config.height * config.width,
                                                             location.url)),
    )


def _sparse_events(read: _Verified, world_cells: int, url: str, channel: str) -> SparseEvents:
    """One channel's sparse events, held to the rules a deposit keeps (checked cells, finite values of the layer's dtype)."""
    cells, values = read(f"sparse/{channel}/cells"), read(f"sparse/{channel}/values")
    _check_sparse(cells, values, world_cells, f"snapshot {url!r}: sparse events of {channel!r}")
    try:  # the rules of a deposit: finite, fitting the layer's dtype
        checked = checked_values(values, cells.size, EVENT_DTYPE, f"snapshot {url!r}: sparse values of {channel!r}")
    except InvalidGridSpecError as exc:
        raise SnapshotError(str(exc)) from exc
    return SparseEvents(cells.astype(np.intp), checked)


def _check_sparse(cells: np.ndarray, values: np.ndarray, size: int, label: str) -> None:
    """Cells as a deposit leaves them: integer, in the world, strictly increasing; one value each."""
    if cells.ndim != 1 or values.shape != cells.shape or cells.dtype.kind not in "iu":
        raise SnapshotError(f"{label} are inconsistent: cells {cells.dtype}{list(cells.shape)}, values {list(values.shape)}")
    if cells.size and (int(cells.min()) < 0 or int(cells.max()) >= size or (np.diff(cells) <= 0).any()):
        raise SnapshotError(f"{label}: cells must be distinct, sorted and inside the world")


def _rng_state(saved: Any) -> dict[str, Any]:
    """The generator state with its integers back from text."""
    if isinstance(saved, dict):
        return {key: _rng_state(value) for key, value in saved.items()}
    if isinstance(saved, str) and saved.lstrip("-").isdigit():
        return int(saved)  # type: ignore[return-value]
    return saved
