"""Environment snapshots: the whole world in one zarr v3 group, committed last, restorable on any backend.

Layout of a snapshot group (readable by zarr, xarray and dask without farm-grids):

    attrs["farm_grids_snapshot"]   format, config, tick, RNG state, channels, manager state,
                                   and ``committed`` (written True last: the commit marker)
    layers/<namespace>/<name>      every grid: "env", "temporal", "resources" (chunked, zstd)
    agents/<column>                ys, xs, team, hp, alive
    memory/<channel>               per-agent (N, S, S) memories of agent-decayed channels
    tiles/<channel>                active-tile masks of the temporal channels
    resources/sites, /below        the resource manager's site bookkeeping
    sparse/<channel>/cells, values transient events kept as sparse lists
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from farm_grids.config import SimulationConfig
from farm_grids.errors import ConfigError, FarmGridsError, GridFileMismatchError, ObjectStoreError, SnapshotError
from farm_grids.limits import check_request
from farm_grids.stores.zarr_store import open_zarr_group, remote_call

if TYPE_CHECKING:
    from farm_grids.channels import ChannelRegistry
    from farm_grids.environment import Environment

__all__ = ["FORMAT", "SNAPSHOT_KEY", "restore_environment", "write_snapshot"]

FORMAT = 1  # bump when the layout changes; restore refuses anything newer
SNAPSHOT_KEY = "farm_grids_snapshot"
_CHUNK = 256
_NAMESPACES = ("env", "temporal", "resources")


def _managers(env: Environment) -> dict[str, Any]:
    found = {"env": env.environmental, "resources": env.resources}
    if env.temporal is not None:
        found["temporal"] = env.temporal
    return found


# Dimension names make every array self-describing for xarray (zarr v3 ``dimension_names``).
_DIMENSIONS = {"layers": ("y", "x"), "agents": ("agent",), "memory": ("agent", "window_y", "window_x"),
               "tiles": ("tile_y", "tile_x"), "resources": ("site",), "sparse": ("event",)}


def _put(group: Any, path: str, data: np.ndarray) -> None:
    from zarr.codecs import ZstdCodec

    data = np.ascontiguousarray(data)
    chunks = tuple(min(max(1, n), _CHUNK) for n in data.shape) if data.ndim else ()
    array = group.create_array(path, shape=data.shape, dtype=data.dtype, chunks=chunks or None,
                               compressors=ZstdCodec(level=3, checksum=True), fill_value=0,
                               dimension_names=_DIMENSIONS[path.split("/", 1)[0]])
    if data.size:
        array[...] = data


def _meta(env: Environment) -> dict[str, Any]:
    state: dict[str, Any] = {"env_layers": env.environmental.names(), "resources": True}
    if env.temporal is not None:
        temporal = env.temporal.export_state()
        state["temporal"] = {"gammas": temporal["gammas"], "has_data": temporal["has_data"]}
    return {
        "format": FORMAT,
        "committed": False,
        "config": env.config.to_dict(),
        "tick": int(env.tick),
        "world": [env.height, env.width],
        "channels": list(env.channels.names),
        "temporal_world_layers": env.temporal is not None,
        # Big ints as text: JSON readers elsewhere may round 128-bit integers.
        "rng": json.loads(json.dumps(env.rng.bit_generator.state, default=str), parse_int=str),
        "state": state,
    }


def write_snapshot(env: Environment, url: str, *, storage_options: object = None, overwrite: bool = False) -> None:
    """See ``Environment.snapshot``."""
    where = f"snapshot {url!r}"
    if not overwrite:
        try:
            open_zarr_group(url, "r", storage_options)  # type: ignore[arg-type]
        except ObjectStoreError as exc:
            if not isinstance(exc.__cause__, FileNotFoundError):
                raise
        else:
            raise SnapshotError(f"{where} already exists; pass overwrite=True to replace it")
    group = open_zarr_group(url, "w", storage_options)  # type: ignore[arg-type]
    meta = _meta(env)
    remote_call(where, lambda: group.attrs.put({SNAPSHOT_KEY: meta}))  # committed False until the end
    remote_call(where, lambda: _write_data(env, group))
    meta["committed"] = True
    remote_call(where, lambda: group.attrs.put({SNAPSHOT_KEY: meta}))  # the commit marker


def _write_data(env: Environment, group: Any) -> None:
    for namespace, manager in _managers(env).items():
        for name in manager.names():
            _put(group, f"layers/{namespace}/{name}", manager.store.read(name))
    for column, values in env.agents.export_state().items():
        _put(group, f"agents/{column}", values)
    for channel, memory in env.memory_state().items():
        _put(group, f"memory/{channel}", memory)
    if env.temporal is not None:
        for channel, mask in env.temporal.export_state()["tiles"].items():  # type: ignore[union-attr]
            _put(group, f"tiles/{channel}", mask.astype(np.uint8))
    for key, values in env.resources.export_state().items():
        _put(group, f"resources/{key}", values)
    for channel, layer in env.sparse_events.items():
        _put(group, f"sparse/{channel}/cells", layer.cells)
        _put(group, f"sparse/{channel}/values", layer.values)


def _read_meta(group: Any, url: str) -> dict[str, Any]:
    meta = dict(group.attrs).get(SNAPSHOT_KEY)
    if not isinstance(meta, dict):
        raise SnapshotError(f"{url!r} is not a farm-grids snapshot")
    version = meta.get("format")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise SnapshotError(f"snapshot {url!r} has no valid format version")
    if version > FORMAT:
        raise SnapshotError(f"snapshot {url!r} was written by a newer format (v{version}; this reads v{FORMAT})")
    if meta.get("committed") is not True:
        raise SnapshotError(f"snapshot {url!r} is torn: it has no commit marker (the writer stopped part-way)")
    return meta


def _restored_config(meta: dict[str, Any], backend: str | None, directory: str | None, url: str) -> SimulationConfig:
    try:
        config = SimulationConfig.from_dict(meta["config"])
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


def _check_fits(meta: dict[str, Any], config: SimulationConfig, expect: SimulationConfig | None,
                names: tuple[str, ...], url: str) -> None:
    if [config.height, config.width] != list(meta.get("world", [])):
        raise SnapshotError(f"snapshot {url!r} is inconsistent: world {meta.get('world')} vs its config")
    if expect is not None and (expect.height, expect.width) != (config.height, config.width):
        raise SnapshotError(f"snapshot {url!r} is a {config.height}x{config.width} world, expected "
                            f"{expect.height}x{expect.width}")
    if list(meta.get("channels", [])) != list(names):
        raise SnapshotError(f"snapshot {url!r} has channels {meta.get('channels')}, this registry {list(names)}")


def _array(group: Any, path: str, url: str) -> np.ndarray:
    try:
        array = group[path]
    except KeyError:
        raise SnapshotError(f"snapshot {url!r} lacks {path!r}") from None
    check_request(int(np.prod(array.shape, dtype=np.int64)) * np.dtype(array.dtype).itemsize, f"{path} of {url!r}")
    return np.asarray(remote_call(f"reading {path} of {url!r}", lambda: array[...]))


def restore_environment(
    cls: type[Environment], url: str, *, storage_options: object = None, backend: str | None = None,
    directory: str | None = None, channels: ChannelRegistry | None = None, expect: SimulationConfig | None = None,
) -> Environment:
    """See ``Environment.restore``. Checks come first; a failure later closes and deletes the new world."""
    from farm_grids.channels import default_registry

    group = open_zarr_group(url, "r", storage_options)  # type: ignore[arg-type]
    meta = remote_call(f"reading {url!r}", lambda: _read_meta(group, url))
    config = _restored_config(meta, backend, directory, url)
    registry = channels if channels is not None else default_registry()
    _check_fits(meta, config, expect, registry.names, url)
    env = cls(config, channels=registry, temporal_world_layers=bool(meta.get("temporal_world_layers", True)),
              storage_options=storage_options)
    try:
        _load(env, group, meta, url)
    except BaseException as exc:
        env.config = replace(env.config, memmap=replace(env.config.memmap, delete_on_close=True))
        env.close()
        if isinstance(exc, (FarmGridsError, KeyboardInterrupt)):
            raise
        raise SnapshotError(f"snapshot {url!r} could not be restored: {exc}") from exc
    return env


def _load(env: Environment, group: Any, meta: dict[str, Any], url: str) -> None:
    state = meta.get("state", {})
    for name in state.get("env_layers", []):
        env.environmental.set(name, _array(group, f"layers/env/{name}", url))
    if env.temporal is not None:
        for name in env.temporal.channel_names:
            env.temporal.store.write(name, _array(group, f"layers/temporal/{name}", url))
        temporal = state.get("temporal", {})
        env.temporal.load_state({
            "gammas": temporal.get("gammas", {}), "has_data": temporal.get("has_data", {}),
            "tiles": {name: _array(group, f"tiles/{name}", url) for name in env.temporal.channel_names},
        })
    grid = env.resources.GRID
    env.resources.store.write(grid, _array(group, f"layers/resources/{grid}", url))
    env.resources.load_state({key: _array(group, f"resources/{key}", url) for key in ("sites", "below")})
    env.agents.load_state({column: _array(group, f"agents/{column}", url) for column in env.agents.COLUMNS})
    memory_keys = remote_call(f"listing {url!r}", lambda: sorted(group["memory"].array_keys())) if "memory" in group else []
    env.load_memory_state({name: _array(group, f"memory/{name}", url) for name in memory_keys})
    for channel, layer in env.sparse_events.items():
        cells = _array(group, f"sparse/{channel}/cells", url).astype(np.intp)
        values = _array(group, f"sparse/{channel}/values", url)
        if cells.shape != values.shape or (cells.size and (cells.min() < 0 or cells.max() >= env.height * env.width)):
            raise GridFileMismatchError(f"snapshot {url!r}: sparse events of {channel!r} are inconsistent")
        layer.cells, layer.values = cells, values.astype(layer.dtype)
    env.tick = int(meta["tick"])
    env.rng.bit_generator.state = _rng_state(meta["rng"])


def _rng_state(saved: Any) -> dict[str, Any]:
    """The generator state with its integers back from text."""
    if isinstance(saved, dict):
        return {key: _rng_state(value) for key, value in saved.items()}
    if isinstance(saved, str) and saved.lstrip("-").isdigit():
        return int(saved)  # type: ignore[return-value]
    return saved
