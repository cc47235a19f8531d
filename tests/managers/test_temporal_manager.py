"""TemporalGridManager on both backends: exact decay, gamma source, active tiles, floor, skipping, deposit."""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from farm_grids.config import MemmapConfig, ObservationConfig
from farm_grids.errors import InvalidGridSpecError, ReadOnlyGridError
from farm_grids.managers import TEMPORAL_CHANNELS, TemporalGridManager
from farm_grids.stores import MemmapStore, RamStore

HEIGHT, WIDTH, TILE = 61, 77, 8  # partial edge tiles on both axes


def reference_deposit(grid: np.ndarray, ys: np.ndarray, xs: np.ndarray, values: np.ndarray, cap: float) -> None:
    """The dense model of deposit: drop outside points, add in the grid's dtype, clip touched cells."""
    inside = (ys >= 0) & (ys < grid.shape[0]) & (xs >= 0) & (xs < grid.shape[1])
    flat = grid.reshape(-1)
    cells = ys[inside] * grid.shape[1] + xs[inside]
    np.add.at(flat, cells, values[inside].astype(grid.dtype))
    touched = np.unique(cells)
    flat[touched] = np.minimum(flat[touched], cap)


class TemporalSuite:
    backend: str

    def make(self, memmap_config: MemmapConfig, **observation: object) -> TemporalGridManager:
        config = ObservationConfig(tile_size=TILE, **observation)
        return TemporalGridManager(HEIGHT, WIDTH, memmap_config=memmap_config, observation_config=config)

    @pytest.fixture
    def temporal(self, memmap_config: MemmapConfig):
        manager = self.make(memmap_config)
        yield manager
        manager.close(delete_files=True)

    def test_channels_exist_eagerly_and_are_empty(self, temporal: TemporalGridManager) -> None:
        assert temporal.channel_names == TEMPORAL_CHANNELS == tuple(temporal.names())
        for name in TEMPORAL_CHANNELS:
            assert not temporal.has_any_data(name) and temporal.active_tiles(name) == 0
            assert not temporal.get(name).any()
        assert [temporal.gamma_for(n) for n in TEMPORAL_CHANNELS] == [0.85, 0.90, 0.92]

    def test_decay_equals_grid_times_gamma_over_50_ticks(self, temporal: TemporalGridManager) -> None:
        rng = np.random.default_rng(11)
        reference = {name: np.zeros((HEIGHT, WIDTH), dtype=np.float32) for name in TEMPORAL_CHANNELS}
        for _ in range(50):
            for name in TEMPORAL_CHANNELS:
                count = int(rng.integers(0, 12))
                # a few points fall outside the grid on purpose
                ys, xs = rng.integers(-3, HEIGHT + 3, count), rng.integers(-3, WIDTH + 3, count)
                values = rng.random(count) * 0.7
                temporal.deposit(name, ys, xs, values)
                reference_deposit(reference[name], ys, xs, values, 1.0)
            temporal.apply_decay()
            for name in TEMPORAL_CHANNELS:
                reference[name] = reference[name] * np.float32(temporal.gamma_for(name))
                assert np.array_equal(temporal.get(name), reference[name])
        assert all(temporal.get(name).any() for name in TEMPORAL_CHANNELS)

    def test_config_gamma_is_the_one_used(self, memmap_config: MemmapConfig) -> None:
        with self.make(memmap_config, gamma_trail=0.5) as temporal:
            assert temporal.gamma_for("TRAILS") == 0.5 != ObservationConfig().gamma_trail
            temporal.deposit("TRAILS", [5], [5], [0.8])
            temporal.apply_decay()
            assert temporal.get("TRAILS")[5, 5] == np.float32(0.8) * np.float32(0.5)
            temporal.close(delete_files=True)

    def test_set_gamma_changes_the_next_decay(self, temporal: TemporalGridManager) -> None:
        temporal.deposit("ALLY_SIGNAL", [1], [1], [1.0])
        temporal.set_gamma("ALLY_SIGNAL", 0.25)
        temporal.apply_decay("ALLY_SIGNAL")
        assert temporal.get("ALLY_SIGNAL")[1, 1] == np.float32(0.25)

    def test_decay_of_one_channel_leaves_the_others(self, temporal: TemporalGridManager) -> None:
        for name in TEMPORAL_CHANNELS:
            temporal.deposit(name, [3], [4], [1.0])
        temporal.apply_decay("TRAILS")
        assert temporal.get("TRAILS")[3, 4] == np.float32(0.9)
        assert temporal.get("DAMAGE_HEAT")[3, 4] == temporal.get("ALLY_SIGNAL")[3, 4] == 1.0

    def test_decay_touches_only_active_tiles(self, temporal: TemporalGridManager) -> None:
        temporal.deposit("DAMAGE_HEAT", [2, 3], [2, 5], [1.0, 0.5])
        assert temporal.active_tiles("DAMAGE_HEAT") == 1
        grid = temporal.get("DAMAGE_HEAT")
        # Written behind the manager's back, outside the active tile: a whole-grid
        # multiply would scale these; active-tile decay must not.
        grid[40, 60] = 7.0
        grid[2, TILE] = 3.0
        temporal.apply_decay("DAMAGE_HEAT")
        assert grid[2, 2] == np.float32(0.85) and grid[3, 5] == np.float32(0.5) * np.float32(0.85)
        assert grid[40, 60] == 7.0 and grid[2, TILE] == 3.0

    def test_isolated_tiles_runs_and_edge_tiles_all_decay(self, temporal: TemporalGridManager) -> None:
        # isolated interior tile, a run of three tiles, and partial tiles on both edges
        ys = np.array([20, 30, 30, 30, HEIGHT - 1, 5, HEIGHT - 1])
        xs = np.array([20, 8, 16, 24, 3, WIDTH - 1, WIDTH - 1])
        temporal.deposit("TRAILS", ys, xs, 1.0)
        assert temporal.active_tiles("TRAILS") == 7
        expected = temporal.get("TRAILS") * np.float32(0.9)
        temporal.apply_decay("TRAILS")
        assert np.array_equal(temporal.get("TRAILS"), expected)

    def test_floor_zeroes_a_faded_tile_and_drops_it(self, memmap_config: MemmapConfig) -> None:
        with self.make(memmap_config, decay_floor=0.1, gamma_dmg=0.5) as temporal:
            temporal.deposit("DAMAGE_HEAT", [1, 2, 30], [1, 6, 30], [0.5, 0.4, 1.0])
            assert temporal.active_tiles("DAMAGE_HEAT") == 2
            grid = temporal.get("DAMAGE_HEAT")
            for _ in range(3):  # 0.5 -> 0.0625 < 0.1; the other tile 1.0 -> 0.125 stays
                temporal.apply_decay("DAMAGE_HEAT")
            assert temporal.active_tiles("DAMAGE_HEAT") == 1
            assert grid[1, 1] == 0.0 and grid[2, 6] == 0.0 and grid[30, 30] == np.float32(0.125)
            temporal.apply_decay("DAMAGE_HEAT")  # 0.0625: the last tile fades too
            assert temporal.active_tiles("DAMAGE_HEAT") == 0 and not grid.any()
            assert temporal.has_any_data("DAMAGE_HEAT")  # sticky
            temporal.close(delete_files=True)

    def test_floor_drops_faded_tiles_of_runs_and_edges(self, memmap_config: MemmapConfig) -> None:
        with self.make(memmap_config, decay_floor=0.1, gamma_sig=0.5) as temporal:
            # a run of three tiles (one strong, two faint) and a faint partial corner tile
            ys, xs = [10, 10, 10, HEIGHT - 1], [1, 9, 17, WIDTH - 1]
            temporal.deposit("ALLY_SIGNAL", ys, xs, [1.0, 0.15, 0.15, 0.15])
            assert temporal.active_tiles("ALLY_SIGNAL") == 4
            temporal.apply_decay("ALLY_SIGNAL")
            grid = temporal.get("ALLY_SIGNAL")
            assert temporal.active_tiles("ALLY_SIGNAL") == 1
            assert grid[10, 1] == 0.5 and grid[10, 9] == grid[10, 17] == grid[HEIGHT - 1, WIDTH - 1] == 0.0
            temporal.close(delete_files=True)

    def test_floor_keeps_a_tile_while_any_cell_is_above_it(self, memmap_config: MemmapConfig) -> None:
        with self.make(memmap_config, decay_floor=0.1) as temporal:
            temporal.deposit("TRAILS", [0, 0], [0, 1], [-1.0, 0.01], clip_max=None)
            temporal.apply_decay("TRAILS")
            # |-0.9| is above the floor, so the tiny neighbour survives in the same tile
            assert temporal.active_tiles("TRAILS") == 1
            assert temporal.get("TRAILS")[0, 1] == np.float32(0.01) * np.float32(0.9)
            temporal.close(delete_files=True)

    def test_channels_without_data_are_skipped(self, temporal: TemporalGridManager) -> None:
        temporal.get("ALLY_SIGNAL")[4, 4] = 0.75  # never deposited: decay must not look
        temporal.apply_decay()
        assert temporal.get("ALLY_SIGNAL")[4, 4] == 0.75 and not temporal.has_any_data("ALLY_SIGNAL")

    def test_gamma_one_is_skipped(self, memmap_config: MemmapConfig) -> None:
        # With a floor, a decay pass would zero this faint tile; skipping leaves it.
        with self.make(memmap_config, decay_floor=0.1, gamma_trail=1.0) as temporal:
            temporal.deposit("TRAILS", [9], [9], [0.05])
            temporal.apply_decay()
            assert temporal.get("TRAILS")[9, 9] == np.float32(0.05)
            assert temporal.active_tiles("TRAILS") == 1
            temporal.close(delete_files=True)

    def test_mark_all_active_covers_direct_writes(self, temporal: TemporalGridManager) -> None:
        temporal.get("TRAILS")[50, 70] = 1.0
        temporal.mark_all_active("TRAILS")
        temporal.apply_decay("TRAILS")
        assert temporal.get("TRAILS")[50, 70] == np.float32(0.9)

    def test_clear_all_zeroes_and_resets(self, temporal: TemporalGridManager) -> None:
        temporal.deposit("TRAILS", [1, 50], [1, 70], 1.0)
        temporal.clear_all()
        assert not temporal.get("TRAILS").any()
        assert not temporal.has_any_data("TRAILS") and temporal.active_tiles("TRAILS") == 0

    def test_deposit_accumulates_clips_and_drops_outside_points(self, temporal: TemporalGridManager) -> None:
        applied = temporal.deposit("TRAILS", [1, 1, -1, 2, HEIGHT], [1, 1, 0, 2, 0], [0.4, 0.4, 1.0, 0.9, 1.0])
        grid = temporal.get("TRAILS")
        assert applied == 3
        assert grid[1, 1] == np.float32(0.4) + np.float32(0.4) and grid[2, 2] == np.float32(0.9)
        temporal.deposit("TRAILS", [2], [2], [0.9])
        assert grid[2, 2] == 1.0  # clip_max defaults to 1.0
        temporal.deposit("TRAILS", [2], [2], [5.0], clip_max=None)
        assert grid[2, 2] == 6.0
        temporal.deposit("TRAILS", [2, 2], [2, 2], [0.3, 0.2], accumulate=False)
        assert grid[2, 2] == np.float32(0.2)  # set, last wins
        assert temporal.deposit("TRAILS", [-5], [-5], [1.0]) == 0
        assert temporal.deposit("TRAILS", [3, 4], [3, 4], 0.5) == 2  # scalar broadcast

    def test_bad_deposit_values_are_refused_naming_the_channel(self, temporal: TemporalGridManager) -> None:
        with pytest.raises(InvalidGridSpecError, match=re.escape("values for 'TRAILS' must be a scalar or have length 2")):
            temporal.deposit("TRAILS", [1, 2], [1, 2], [0.5, 0.5, 0.5])
        assert not temporal.has_any_data("TRAILS")

    def test_a_bad_gamma_in_a_loaded_state_is_refused_naming_the_channel(self, temporal: TemporalGridManager) -> None:
        state = temporal.export_state()
        state["gammas"]["TRAILS"] = 1.5  # type: ignore[index]
        with pytest.raises(InvalidGridSpecError, match=re.escape("gamma for TRAILS must be in (0, 1], got 1.5")):
            temporal.load_state(state)

    def test_a_store_without_a_float_dtype_is_refused(self) -> None:
        with pytest.raises(InvalidGridSpecError, match="temporal channels need a float dtype, the store's is int32"):
            TemporalGridManager(HEIGHT, WIDTH, store=RamStore(default_dtype="int32"))

    def test_nothing_is_flushed_by_deposit_or_decay(self) -> None:
        class CountingStore(RamStore):
            flushes = 0

            def flush_grid(self, entry) -> None:  # type: ignore[no-untyped-def]
                type(self).flushes += 1

        temporal = TemporalGridManager(HEIGHT, WIDTH, store=CountingStore())
        temporal.deposit("TRAILS", [1], [1], [1.0])
        temporal.apply_decay()
        assert CountingStore.flushes == 0
        temporal.flush()
        assert CountingStore.flushes == len(TEMPORAL_CHANNELS)


class TestTemporalRam(TemporalSuite):
    backend = "ram"


class TestTemporalMemmap(TemporalSuite):
    backend = "memmap"

    def test_decayed_values_persist_through_reopen(self, temporal: TemporalGridManager) -> None:
        temporal.deposit("DAMAGE_HEAT", [3, 40], [4, 70], [1.0, 0.5])
        temporal.apply_decay()
        temporal.apply_decay()
        expected = temporal.get("DAMAGE_HEAT").copy()
        assert expected[3, 4] == np.float32(0.85) * np.float32(0.85)
        temporal.flush()
        manifest = temporal.manifest_path
        temporal.close()
        with MemmapStore.open(manifest, mode="r") as reader:
            assert np.array_equal(reader.get("DAMAGE_HEAT"), expected)
            assert not reader.get("TRAILS").any()

    def test_a_read_only_store_refuses_writes_unchanged(self, temporal: TemporalGridManager) -> None:
        temporal.deposit("TRAILS", [1], [1], [1.0])
        temporal.flush()
        manifest = temporal.manifest_path
        reader = TemporalGridManager(HEIGHT, WIDTH, store=MemmapStore.open(manifest, mode="r"))
        before = reader.get("TRAILS").copy()
        with pytest.raises(ReadOnlyGridError):
            reader.deposit("TRAILS", [2], [2], [1.0])
        with pytest.raises(ReadOnlyGridError):
            reader.apply_decay()  # adopted channels count as holding data
        assert np.array_equal(reader.get("TRAILS"), before)
        reader.close()
        reader.store.close_all()


@settings(max_examples=40, deadline=None)
@given(
    data=st.data(),
    floor=st.sampled_from([0.0, 0.05, 0.3]),
    tile=st.sampled_from([1, 3, 8, 100]),
)
def test_tiled_decay_matches_the_dense_model(data: st.DataObject, floor: float, tile: int) -> None:
    """Any deposit/decay sequence equals the dense model: grid * gamma, faded tiles zeroed."""
    height, width = data.draw(st.integers(1, 40), label="height"), data.draw(st.integers(1, 40), label="width")
    config = ObservationConfig(tile_size=tile, decay_floor=floor, gamma_dmg=0.7)
    temporal = TemporalGridManager(height, width, observation_config=config)
    model = np.zeros((height, width), dtype=np.float32)
    active = np.zeros((-(-height // tile), -(-width // tile)), dtype=bool)
    for _ in range(data.draw(st.integers(1, 8), label="ticks")):
        count = data.draw(st.integers(0, 6))
        ys = np.array(data.draw(st.lists(st.integers(-2, height + 1), min_size=count, max_size=count)), dtype=np.intp)
        xs = np.array(data.draw(st.lists(st.integers(-2, width + 1), min_size=count, max_size=count)), dtype=np.intp)
        values = np.array(data.draw(st.lists(st.floats(-1, 1), min_size=count, max_size=count)))
        temporal.deposit("DAMAGE_HEAT", ys, xs, values)
        reference_deposit(model, ys, xs, values, 1.0)
        inside = (ys >= 0) & (ys < height) & (xs >= 0) & (xs < width)
        active[ys[inside] // tile, xs[inside] // tile] = True
        temporal.apply_decay()
        for ty, tx in zip(*np.nonzero(active)):
            block = model[ty * tile : (ty + 1) * tile, tx * tile : (tx + 1) * tile]
            block *= np.float32(0.7)
            if floor > 0 and np.abs(block).max() < floor:
                block[...] = 0
                active[ty, tx] = False
        assert np.array_equal(temporal.get("DAMAGE_HEAT"), model)
        assert temporal.active_tiles("DAMAGE_HEAT") == active.sum()
    temporal.close()
