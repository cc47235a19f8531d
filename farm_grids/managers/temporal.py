"""TemporalGridManager: decaying event channels (damage, trails, ally signal) with active-tile decay."""

from __future__ import annotations

import numpy as np

from farm_grids.config import MemmapConfig, ObservationConfig
from farm_grids.errors import InvalidGridSpecError, ReadOnlyGridError
from farm_grids.managers.base import GridManager, resolve_store, validate_dimension
from farm_grids.managers.tiles import ActiveTiles
from farm_grids.stores import GridStore
from farm_grids.values import checked_clip_max, checked_flag, checked_values, validate_gamma
from farm_grids.windows import validate_centres

__all__ = ["TEMPORAL_CHANNELS", "TemporalGridManager"]

TEMPORAL_CHANNELS: tuple[str, ...] = ("DAMAGE_HEAT", "TRAILS", "ALLY_SIGNAL")
# The decay tile of a row-major store when the config names none (BENCHMARKS.md, sparse decay).
ROWS_DECAY_TILE = 64
# Which ObservationConfig field holds each channel's per-tick decay factor.
_GAMMA_FIELDS: dict[str, str] = {
    "DAMAGE_HEAT": "gamma_dmg",
    "TRAILS": "gamma_trail",
    "ALLY_SIGNAL": "gamma_sig",
}


def configured_gamma(observation: ObservationConfig, channel: str) -> float:
    """The decay factor ``observation`` sets for a temporal channel (gamma_dmg, _trail, _sig)."""
    return validate_gamma(getattr(observation, _GAMMA_FIELDS[channel]), channel)


def decay_tile(observation: ObservationConfig, store: GridStore) -> int:
    """The decay tile side: the configured one, else the storage tile of a tiled store, else 64.

    Decay tiles that are the storage tiles are contiguous blocks, scaled in one pass; any other
    side still works, at the cost README's "Choosing a layout" states.
    """
    if observation.tile_size is not None:
        return int(observation.tile_size)
    side = getattr(store, "tile_size", None)
    if store.layout == "tiles" and isinstance(side, int) and side > 0:
        return side
    return ROWS_DECAY_TILE


class TemporalGridManager(GridManager):
    """Three event channels in the ``temporal`` namespace, decayed once per tick at world level.

    Decay skips channels that never held data and channels with gamma 1.0, and multiplies
    only the tiles that deposits activated. With ``decay_floor > 0`` a tile whose values all
    fall below the floor is zeroed and leaves the active set; with 0 decay is exactly
    ``grid * gamma``. Nothing here flushes: the caller flushes per its flush policy.
    """

    kind = "channel"

    def __init__(
        self,
        height: int,
        width: int,
        *,
        memmap_config: MemmapConfig | None = None,
        simulation_id: str | None = None,
        observation_config: ObservationConfig | None = None,
        store: GridStore | None = None,
        storage_options: object = None,
    ) -> None:
        observation = observation_config if observation_config is not None else ObservationConfig()
        validate_dimension(height, "height")
        validate_dimension(width, "width")
        store, owns_store = resolve_store(
            store, memmap_config, "use_for_temporal", namespace="temporal", simulation_id=simulation_id, storage_options=storage_options,
            float_for="temporal channels",
        )
        super().__init__(height, width, store=store, owns_store=owns_store, known_names=TEMPORAL_CHANNELS)
        self.channel_names: tuple[str, ...] = TEMPORAL_CHANNELS
        self.decay_floor = float(observation.decay_floor)
        self.tile_size = decay_tile(observation, store)
        self._gammas = {
            name: configured_gamma(observation, name) for name in _GAMMA_FIELDS
        }
        self._tiles = {
            name: ActiveTiles(self.height, self.width, self.tile_size) for name in self.channel_names
        }
        self._has_data = dict.fromkeys(TEMPORAL_CHANNELS, False)
        self._create_channels()

    def _create_channels(self) -> None:
        created: list[str] = []
        try:
            for name in TEMPORAL_CHANNELS:
                adopted = name in self.store
                self._create_grid(name)  # zero fill: a sparse file / calloc'd RAM until written
                if adopted:
                    self.mark_all_active(name)  # unknown contents: decay must cover the whole grid
                else:
                    created.append(name)
        except BaseException:
            for name in created:  # never leave half a manager's files behind
                self.store.close(name, delete_file=True)
                self._paths.pop(name, None)
            if self._owns_store:
                self.store.close_all(delete_files=True)
            self._closed = True
            raise

    # -- gammas -------------------------------------------------------------------------
    def gamma_for(self, name: str) -> float:
        return self._gammas[self._require_known(name)]

    def set_gamma(self, name: str, gamma: float) -> None:
        self._require_known(name)
        self._gammas[name] = validate_gamma(gamma, name)

    # -- state --------------------------------------------------------------------------
    def get(self, name: str) -> np.ndarray:
        """The channel as a plain ndarray sharing memory with the store."""
        return self.store.get(self._require_known(name))

    def has_any_data(self, name: str) -> bool:
        """Whether anything was ever deposited in ``name`` (sticky until ``clear_all``)."""
        return self._has_data[self._require_known(name)]

    def active_tiles(self, name: str) -> int:
        return self._tiles[self._require_known(name)].count

    def mark_all_active(self, name: str) -> None:
        """Treat every tile of ``name`` as holding data (after ``store.write`` or a reopen)."""
        self._require_known(name)
        self._tiles[name].mark_all()
        self._has_data[name] = True

    def export_state(self) -> dict[str, object]:
        """What decay needs besides the grids (gammas, which channels held data, active tiles)."""
        return {
            "gammas": dict(self._gammas),
            "has_data": dict(self._has_data),
            "tiles": {name: tiles.mask.copy() for name, tiles in self._tiles.items()},
        }

    def load_state(self, state: dict[str, object]) -> None:
        """Restore ``export_state``'s output (after the grids themselves were written)."""
        self._check_open()
        gammas, has_data, tiles = state["gammas"], state["has_data"], state["tiles"]
        for name in self.channel_names:
            self._gammas[name] = validate_gamma(gammas[name], name)  # type: ignore[index]
            self._has_data[name] = bool(has_data[name])  # type: ignore[index]
            mask = np.asarray(tiles[name], dtype=bool)  # type: ignore[index]
            if mask.shape == self._tiles[name].mask.shape:
                self._tiles[name].mask[...] = mask
            elif self._is_tile_mask(mask.shape):
                # Saved with another decay tile (a world from before decay tiles followed the
                # storage tile): every tile active is a superset, so decay stays exact.
                self._tiles[name].mark_all()
            else:
                raise InvalidGridSpecError(f"tile mask of {name!r} has shape {mask.shape}, expected {self._tiles[name].mask.shape}")

    def _is_tile_mask(self, shape: tuple[int, ...]) -> bool:
        """Whether ``shape`` is the active-tile mask shape of some tile side on this grid."""
        return len(shape) == 2 and shape[0] > 0 and any(
            shape == (-(-self.height // side), -(-self.width // side)) for side in range(1, max(self.height, self.width) + 1)
        )

    # -- writes -------------------------------------------------------------------------
    def deposit(
        self,
        name: str,
        ys: object,
        xs: object,
        values: object,
        *,
        accumulate: bool = True,
        clip_max: float | None = 1.0,
    ) -> int:
        """Add (or with ``accumulate=False`` set) values at many cells; out-of-bounds points drop.

        Returns how many points were applied. Every argument is checked before any write.
        """
        self._require_known(name)
        rows, cols = validate_centres(ys, xs)
        dtype = self.store.info(name).dtype
        amounts = checked_values(values, rows.shape[0], np.dtype(dtype), f"values for {name!r}")
        cap = checked_clip_max(clip_max, np.dtype(dtype))
        adds = checked_flag(accumulate, "accumulate")
        self._check_writable(name)
        inside = (rows >= 0) & (rows < self.height) & (cols >= 0) & (cols < self.width)
        if not inside.all():
            rows, cols, amounts = rows[inside], cols[inside], amounts[inside]
        if rows.size == 0:
            return 0
        applied = self.store.add_many(
            name, rows, cols, amounts, accumulate=adds, clip_max=cap
        )
        self._tiles[name].mark(rows, cols)
        self._has_data[name] = True
        return applied

    def apply_decay(self, name: str | None = None) -> None:
        """One tick of decay for ``name``, or for every channel when ``name`` is None."""
        names = self.channel_names if name is None else (self._require_known(name),)
        self._check_open()
        for channel in names:
            gamma = self._gammas[channel]
            if not self._has_data[channel] or gamma == 1.0:
                continue
            self._check_writable(channel)
            tiles = self._tiles[channel]
            # The store multiplies by the gamma in the grid's own dtype, so the result is
            # bitwise ``grid * dtype(gamma)`` on every backend.
            faded = self.store.scale_tiles(channel, tiles.mask, self.tile_size, gamma, floor=self.decay_floor)
            if self.decay_floor > 0.0:
                tiles.drop(faded)

    def clear_all(self) -> None:
        """Zero every channel and forget that it held data; cost follows the active tiles."""
        self._check_open()
        for channel in self.channel_names:
            tiles = self._tiles[channel]
            if tiles.count:
                self._check_writable(channel)
                for region in tiles.blocks():
                    self.store.fill(channel, 0.0, region=region)
            tiles.clear()
            self._has_data[channel] = False

    def _check_writable(self, name: str) -> None:
        if not self.store.info(name).writable:
            raise ReadOnlyGridError(f"channel {name!r} was opened read-only (mode 'r')")
