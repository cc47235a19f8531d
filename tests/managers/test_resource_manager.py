"""ResourceManager on both backends: seeded placement, ordered consumption, incremental capped regrowth."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from farm_grids.config import MemmapConfig, ResourceConfig
from farm_grids.errors import InvalidGridSpecError
from farm_grids.managers import ResourceManager

HEIGHT, WIDTH = 40, 50
CONFIG = ResourceConfig(count=200, max_amount=4.0, regen_rate=0.5)


def site_cells(resources: ResourceManager) -> tuple[np.ndarray, np.ndarray]:
    return np.nonzero(resources.get())


def sequential_consume(grid: np.ndarray, ys: list[int], xs: list[int], amounts: list[float]) -> list[float]:
    """The one-request-at-a-time model consume() must match."""
    taken = []
    for y, x, amount in zip(ys, xs, amounts):
        if not (0 <= y < grid.shape[0] and 0 <= x < grid.shape[1]):
            taken.append(0.0)
            continue
        got = min(amount, float(grid[y, x]))
        grid[y, x] = max(float(grid[y, x]) - got, 0.0)
        taken.append(got)
    return taken


class ResourceSuite:
    backend: str

    def make(self, memmap_config: MemmapConfig, config: ResourceConfig = CONFIG, seed: int | None = 0) -> ResourceManager:
        return ResourceManager(HEIGHT, WIDTH, resource_config=config, memmap_config=memmap_config, seed=seed)

    @pytest.fixture
    def resources(self, memmap_config: MemmapConfig):
        manager = self.make(memmap_config)
        yield manager
        manager.close(delete_files=True)

    def test_uniform_placement_is_seeded(self, memmap_config: MemmapConfig, resources: ResourceManager) -> None:
        grid = resources.get()
        assert resources.names() == ["RESOURCES"] and resources.max_amount == 4.0
        assert np.count_nonzero(grid) == 200 == resources.site_count
        assert set(np.unique(grid)) == {0.0, 4.0}
        assert resources.total() == 800.0
        with self.make(memmap_config, seed=0) as same, self.make(memmap_config, seed=1) as other:
            assert np.array_equal(same.get(), grid)
            assert not np.array_equal(other.get(), grid)
            same.close(delete_files=True)
            other.close(delete_files=True)

    def test_clustered_placement_stays_in_bounds(self, memmap_config: MemmapConfig) -> None:
        config = ResourceConfig(count=500, distribution="clustered", clusters=2, cluster_spread=2.0)
        with self.make(memmap_config, config) as resources:
            sites = np.count_nonzero(resources.get())
            # draws land near two centres, so many merge; all of them are on the grid
            assert 0 < sites < 500 and sites == resources.site_count
            resources.close(delete_files=True)

    def test_clustered_placement_on_a_one_column_world(self, memmap_config: MemmapConfig) -> None:
        # Cluster centres are drawn from every column, here the only one (x = 0).
        config = ResourceConfig(count=60, distribution="clustered", clusters=3, cluster_spread=2.0)
        with ResourceManager(HEIGHT, 1, resource_config=config, memmap_config=memmap_config, seed=0) as resources:
            grid = resources.get()
            assert grid.shape == (HEIGHT, 1)
            assert 0 < np.count_nonzero(grid) == resources.site_count <= 60
            resources.close(delete_files=True)

    def test_reset_without_a_seed_leaves_only_the_new_sites(self, memmap_config: MemmapConfig) -> None:
        # Unseeded, the new placement differs: the old sites must be cleared, not left behind.
        with self.make(memmap_config, seed=None) as resources:
            resources.reset()
            grid = resources.get()
            assert np.count_nonzero(grid) == resources.site_count == 200
            assert set(np.unique(grid)) == {0.0, 4.0} and resources.total() == 800.0
            resources.close(delete_files=True)

    def test_the_grid_lives_in_the_resources_namespace(self, resources: ResourceManager) -> None:
        assert resources.store.namespace == "resources"
        assert all(path.name.startswith("resources_RESOURCES_") for path in resources.files())

    def test_consume_serves_duplicates_in_request_order(self, resources: ResourceManager) -> None:
        ys, xs = site_cells(resources)
        y, x = int(ys[0]), int(xs[0])
        taken = resources.consume([y, y, y, y], [x, x, x, x], [1.5, 1.5, 1.5, 1.0])
        assert taken.dtype == np.float64
        np.testing.assert_array_equal(taken, [1.5, 1.5, 1.0, 0.0])
        assert resources.get()[y, x] == 0.0
        np.testing.assert_array_equal(resources.consume([y], [x], [1.0]), [0.0])  # never below zero

    def test_consume_outside_and_on_empty_cells_takes_nothing(self, resources: ResourceManager) -> None:
        empty = np.argwhere(resources.get() == 0)[0]
        taken = resources.consume([-1, HEIGHT, int(empty[0])], [0, 0, int(empty[1])], [1.0, 1.0, 1.0])
        np.testing.assert_array_equal(taken, [0.0, 0.0, 0.0])
        assert resources.total() == 800.0

    def test_total_sums_in_float64(self, resources: ResourceManager) -> None:
        # Uneven amounts left on 200 float32 sites: a float32 running sum would round differently.
        ys, xs = np.nonzero(resources.get())
        rng = np.random.default_rng(3)
        resources.consume(ys, xs, rng.random(ys.size) * 3.9)
        expected = float(np.sum(resources.get()[ys, xs], dtype=np.float64))
        assert expected != float(np.sum(resources.get()[ys, xs], dtype=np.float32))
        assert resources.total() == expected

    def test_load_state_takes_every_cell_index_and_refuses_any_outside(self, resources: ResourceManager) -> None:
        last = HEIGHT * WIDTH - 1
        resources.load_state({"sites": np.array([0, 7, last]), "below": np.array([0])})
        assert resources.export_state()["sites"].tolist() == [0, 7, last]
        for key, bad in (("sites", -1), ("sites", last + 1), ("below", -1), ("below", last + 1)):
            state = {"sites": np.array([0, 7]), "below": np.array([7]), key: np.array([3, bad])}
            with pytest.raises(InvalidGridSpecError, match=f"resource {key} must be cell indices below {last + 1}"):
                resources.load_state(state)
            assert resources.export_state()["sites"].tolist() == [0, 7, last]

    def test_regrow_adds_the_rate_up_to_the_cap(self, resources: ResourceManager) -> None:
        ys, xs = site_cells(resources)
        y, x = int(ys[0]), int(xs[0])
        resources.consume([y], [x], [3.2])
        grid = resources.get()
        assert grid[y, x] == np.float32(0.8) and resources.below_cap_count == 1
        resources.regrow()
        assert grid[y, x] == np.float32(0.8) + np.float32(0.5)
        for _ in range(10):
            resources.regrow()
        assert grid[y, x] == 4.0 and resources.below_cap_count == 0

    def test_regrow_touches_only_cells_below_their_cap(self, resources: ResourceManager) -> None:
        ys, xs = site_cells(resources)
        resources.consume([int(ys[0])], [int(xs[0])], [1.0])
        grid = resources.get()
        empty = tuple(np.argwhere(grid == 0)[0])
        # Written behind the manager's back: a whole-grid rebuild would change both.
        grid[empty] = 0.25
        grid[int(ys[1]), int(xs[1])] = 1.0
        resources.regrow()
        assert grid[empty] == 0.25 and grid[int(ys[1]), int(xs[1])] == 1.0
        assert grid[int(ys[0]), int(xs[0])] == np.float32(3.5)

    def test_zero_regen_rate_changes_nothing(self, memmap_config: MemmapConfig) -> None:
        with self.make(memmap_config, ResourceConfig(count=50, regen_rate=0.0)) as resources:
            ys, xs = site_cells(resources)
            resources.consume(ys[:5], xs[:5], 2.0)
            before = resources.get().copy()
            resources.regrow()
            assert np.array_equal(resources.get(), before)
            resources.close(delete_files=True)

    def test_reset_restores_the_seeded_grid(self, resources: ResourceManager) -> None:
        initial = resources.get().copy()
        ys, xs = site_cells(resources)
        resources.consume(ys, xs, 10.0)
        assert resources.total() == 0.0
        resources.reset()
        assert np.array_equal(resources.get(), initial) and resources.below_cap_count == 0

    def test_windows_normalise_by_max_amount(self, resources: ResourceManager) -> None:
        window = resources.get_resource_window(0, HEIGHT, 0, WIDTH)
        np.testing.assert_array_equal(window, resources.get() / np.float32(4.0))
        raw = resources.get_resource_window(-1, 2, -1, 2, normalize=False)
        np.testing.assert_array_equal(raw[1:, 1:], resources.get()[:2, :2])
        batched = resources.get_resource_windows([0, 20], [0, 25], 2)
        assert batched.shape == (2, 5, 5) and batched.max() <= 1.0
        np.testing.assert_array_equal(batched[1], resources.get()[18:23, 23:28] / np.float32(4.0))

    @pytest.mark.parametrize(
        "ys, xs, amounts, match",
        [
            ([1, 2], [1], [1.0, 1.0], "same length"),
            ([1, 2], [1, 2], [1.0], "length 2"),
            ([1], [1], [-0.5], ">= 0"),
            ([1], [1], [float("nan")], "finite"),
            ([1.0], [1], [1.0], "integers"),
        ],
    )
    def test_bad_consume_changes_nothing(
        self, resources: ResourceManager, snapshot, ys: list, xs: list, amounts: list, match: str
    ) -> None:
        before = snapshot(resources)
        with pytest.raises(InvalidGridSpecError, match=match):
            resources.consume(ys, xs, amounts)
        assert snapshot(resources) == before


class TestResourceRam(ResourceSuite):
    backend = "ram"


class TestResourceMemmap(ResourceSuite):
    backend = "memmap"


@settings(max_examples=60, deadline=None)
@given(
    requests=st.lists(
        st.tuples(st.integers(-1, 4), st.integers(-1, 4), st.floats(0, 6, allow_nan=False)), max_size=25
    )
)
def test_consume_matches_one_request_at_a_time(requests: list[tuple[int, int, float]]) -> None:
    config = ResourceConfig(count=12, max_amount=5.0)
    resources = ResourceManager(4, 4, resource_config=config, seed=3)
    model = resources.get().astype(np.float64)
    ys, xs, amounts = (list(column) for column in zip(*requests)) if requests else ([], [], [])
    expected = sequential_consume(model, ys, xs, amounts)
    taken = resources.consume(np.array(ys, dtype=int), np.array(xs, dtype=int), np.array(amounts))
    np.testing.assert_allclose(taken, expected, rtol=0, atol=1e-9)
    np.testing.assert_allclose(resources.get(), model, rtol=0, atol=1e-5)
    assert (resources.get() >= 0).all()
    resources.close()
