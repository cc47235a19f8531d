"""Which tiles decay tracks: the storage tile of a tiled store by default, any configured side at the same values."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from farm_grids.config import MemmapConfig, ObservationConfig
from farm_grids.errors import InvalidGridSpecError
from farm_grids.managers import TEMPORAL_CHANNELS, TemporalGridManager
from farm_grids.managers.temporal import ROWS_DECAY_TILE
from farm_grids.stores import GridStore, RamStore

HEIGHT, WIDTH = 70, 45  # partial edge tiles for every side below


def _manager(store: GridStore, **observation: object) -> TemporalGridManager:
    return TemporalGridManager(HEIGHT, WIDTH, store=store, observation_config=ObservationConfig(**observation))


@pytest.mark.parametrize("storage_tile", [8, 16, 32])
def test_the_default_decay_tile_is_the_storage_tile(storage_tile: int) -> None:
    with _manager(RamStore(layout="tiles", tile_size=storage_tile)) as temporal:
        assert temporal.tile_size == storage_tile
        temporal.deposit("TRAILS", [0, HEIGHT - 1], [0, WIDTH - 1], [0.5, 0.5])
        assert temporal.active_tiles("TRAILS") == 2
    with _manager(RamStore()) as temporal:
        assert temporal.tile_size == ROWS_DECAY_TILE
    with _manager(RamStore(layout="tiles", tile_size=storage_tile), tile_size=24) as temporal:
        assert temporal.tile_size == 24  # a configured side wins


def test_a_memmap_world_in_tiles_decays_over_its_storage_tiles(tmp_path: Path) -> None:
    config = MemmapConfig(directory=str(tmp_path), use_for_temporal=True, layout="tiles", tile_size=16)
    with TemporalGridManager(HEIGHT, WIDTH, memmap_config=config) as temporal:
        assert temporal.tile_size == 16 and temporal.store.layout == "tiles"
        temporal.close(delete_files=True)


def _ticks(temporal: TemporalGridManager, seed: int) -> list[dict[str, object]]:
    """Deposits and decays for 30 ticks; each tick's grids and active-tile counts."""
    rng = np.random.default_rng(seed)
    seen = []
    for _ in range(30):
        for name in TEMPORAL_CHANNELS:
            count = int(rng.integers(0, 25))
            temporal.deposit(name, rng.integers(0, HEIGHT, count), rng.integers(0, WIDTH, count), rng.random(count))
        temporal.apply_decay()
        seen.append({name: (temporal.store.read(name).tobytes(), temporal.active_tiles(name))
                     for name in TEMPORAL_CHANNELS})
    return seen


@pytest.mark.parametrize("decay_tile", [4, 12, 16, 32, 64])
def test_a_decay_tile_that_is_not_the_storage_tile_gives_the_row_layouts_values(decay_tile: int) -> None:
    """Storage tiles of 16: decay tiles smaller, not a multiple, equal, and 2x / 4x larger; with a
    floor, so tiles fade and leave the active set exactly as in the row layout."""
    settings = {"tile_size": decay_tile, "decay_floor": 0.05, "gamma_dmg": 0.5, "gamma_trail": 0.7}
    with _manager(RamStore(), **settings) as rows, \
            _manager(RamStore(layout="tiles", tile_size=16), **settings) as tiles:
        assert _ticks(tiles, decay_tile) == _ticks(rows, decay_tile)


def test_a_saved_mask_of_another_decay_tile_marks_every_tile_and_decay_stays_exact() -> None:
    """A world saved when its decay tile was 64 restores into one that decays over 16-tiles."""
    with _manager(RamStore(layout="tiles", tile_size=64), tile_size=64) as old, \
            _manager(RamStore(layout="tiles", tile_size=16)) as new:
        old.deposit("TRAILS", [3, 60], [40, 2], [0.8, 0.4])
        state = old.export_state()
        new.store.write("TRAILS", old.store.read("TRAILS"))
        new.load_state(state)
        assert new.active_tiles("TRAILS") == -(-HEIGHT // 16) * -(-WIDTH // 16)
        new.apply_decay()
        old.apply_decay()
        assert new.store.read("TRAILS").tobytes() == old.store.read("TRAILS").tobytes()
        with pytest.raises(InvalidGridSpecError, match="tile mask of 'TRAILS'"):
            new.load_state({**state, "tiles": {**state["tiles"], "TRAILS": np.zeros((7, 300), dtype=bool)}})
