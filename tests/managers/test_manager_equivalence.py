"""Property: RAM and memmap managers stay bitwise identical through any sequence of operations."""

from __future__ import annotations

import pathlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from farm_grids.config import ObservationConfig, ResourceConfig
from farm_grids.managers import TEMPORAL_CHANNELS, ResourceManager, TemporalGridManager

H, W = 29, 35
points = st.lists(st.tuples(st.integers(-3, H + 2), st.integers(-3, W + 2)), max_size=12)
deposit = st.tuples(
    st.just("deposit"),
    st.sampled_from(TEMPORAL_CHANNELS),
    points,
    st.floats(-2, 2, allow_nan=False, width=32),
    st.booleans(),
    st.sampled_from([None, 1.0, 0.5]),
)
operation = st.one_of(
    deposit,
    st.tuples(st.just("decay"), st.sampled_from([None, *TEMPORAL_CHANNELS])),
    st.tuples(st.just("consume"), points, st.floats(0, 12, allow_nan=False)),
    st.tuples(st.just("regrow")),
    st.tuples(st.just("gamma"), st.sampled_from(TEMPORAL_CHANNELS), st.floats(0.01, 1.0)),
)


def apply(op: tuple, temporal: TemporalGridManager, resources: ResourceManager) -> object:
    """Run one operation; the return value is compared across backends too."""
    kind = op[0]
    if kind == "deposit":
        _, name, cells, value, accumulate, clip = op
        ys, xs = np.array([c[0] for c in cells], dtype=int), np.array([c[1] for c in cells], dtype=int)
        values = value * np.linspace(0.5, 1.0, len(cells))
        return temporal.deposit(name, ys, xs, values, accumulate=accumulate, clip_max=clip)
    if kind == "decay":
        return temporal.apply_decay(op[1])
    if kind == "consume":
        ys, xs = np.array([c[0] for c in op[1]], dtype=int), np.array([c[1] for c in op[1]], dtype=int)
        return resources.consume(ys, xs, op[2]).tobytes()
    if kind == "regrow":
        return resources.regrow()
    return temporal.set_gamma(op[1], op[2])


@pytest.fixture(scope="module")
def memmap_root(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    return tmp_path_factory.mktemp("equivalence")


@settings(max_examples=30, deadline=None)
@given(
    operations=st.lists(operation, max_size=30),
    floor=st.sampled_from([0.0, 0.05]),
    tile=st.sampled_from([4, 7, 64]),
    centres=st.lists(st.tuples(st.integers(-2, H + 1), st.integers(-2, W + 1)), min_size=1, max_size=8),
    radius=st.integers(0, 4),
)
def test_ram_and_memmap_give_bitwise_identical_windows(
    memmap_root: pathlib.Path, config_for, operations: list[tuple], floor: float, tile: int,
    centres: list[tuple[int, int]], radius: int,
) -> None:
    observation = ObservationConfig(decay_floor=floor, tile_size=tile)
    resource_config = ResourceConfig(count=60, max_amount=3.0, regen_rate=0.7, distribution="clustered")
    built = {}
    for backend in ("ram", "memmap"):
        config = config_for(backend, memmap_root)
        built[backend] = (
            TemporalGridManager(H, W, memmap_config=config, observation_config=observation),
            ResourceManager(H, W, memmap_config=config, resource_config=resource_config, seed=5),
        )
    (ram_t, ram_r), (mm_t, mm_r) = built["ram"], built["memmap"]
    assert mm_t.has_memmap and mm_r.has_memmap and not ram_t.has_memmap and not ram_r.has_memmap
    try:
        for op in operations:
            assert apply(op, ram_t, ram_r) == apply(op, mm_t, mm_r)
        ys, xs = np.array([c[0] for c in centres]), np.array([c[1] for c in centres])
        for name in TEMPORAL_CHANNELS:
            assert ram_t.get(name).tobytes() == mm_t.get(name).tobytes()
            assert ram_t.active_tiles(name) == mm_t.active_tiles(name)
            assert ram_t.get_windows(name, ys, xs, radius).tobytes() == mm_t.get_windows(name, ys, xs, radius).tobytes()
        assert ram_r.get().tobytes() == mm_r.get().tobytes()
        assert ram_r.total() == mm_r.total()
        assert (
            ram_r.get_resource_windows(ys, xs, radius).tobytes()
            == mm_r.get_resource_windows(ys, xs, radius).tobytes()
        )
    finally:
        for manager in (*built["ram"], *built["memmap"]):
            manager.close(delete_files=True)
