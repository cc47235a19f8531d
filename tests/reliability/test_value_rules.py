"""One set of value rules for deposits: the dense world-layer path and the sparse-event path refuse alike."""

from __future__ import annotations

import math

import numpy as np
import pytest

from farm_grids.config import SimulationConfig
from farm_grids.environment import Environment
from farm_grids.errors import InvalidGridSpecError
from farm_grids.sparse_events import SparseEventLayer

BAD_CLIP_MAX = {
    "nan": float("nan"),
    "inf": float("inf"),
    "text": "a",
    "negative": -1.0,
    "bool": True,
    "beyond-float32": 1e300,
    "list": [1.0],
}
BAD_ACCUMULATE = {"text": "no", "int": 1, "none": None}
BAD_VALUES = {"nan": [float("nan")], "beyond-float32": [1e300], "text": ["x"], "bool": [True]}


@pytest.fixture(params=["dense", "sparse"])
def world(request: pytest.FixtureRequest) -> Environment:
    env = Environment(SimulationConfig(width=32, height=32, seed=1), temporal_world_layers=request.param == "dense")
    yield env
    env.close()


def _events(env: Environment) -> np.ndarray:
    """What an observation of TRAILS sees: the dense grid, or the sparse events rasterised."""
    if env.temporal is not None:
        return env.temporal.store.read("TRAILS")
    out = np.zeros((1, 33, 33), dtype=np.float32)
    env.sparse_events["TRAILS"].windows(np.array([16]), np.array([16]), 16, out)
    return out[0, :32, :32]


@pytest.mark.parametrize("clip_max", BAD_CLIP_MAX.values(), ids=BAD_CLIP_MAX.keys())
def test_a_bad_clip_max_is_refused_by_both_paths_and_changes_nothing(world: Environment, clip_max: object) -> None:
    world.deposit_temporal_events("TRAILS", [3], [4], [0.25])
    before = _events(world).copy()
    with pytest.raises(InvalidGridSpecError, match="clip_max"):
        world.deposit_temporal_events("TRAILS", [5], [6], [0.5], clip_max=clip_max)
    np.testing.assert_array_equal(_events(world), before)


@pytest.mark.parametrize("accumulate", BAD_ACCUMULATE.values(), ids=BAD_ACCUMULATE.keys())
def test_accumulate_must_be_a_bool_on_both_paths(world: Environment, accumulate: object) -> None:
    with pytest.raises(InvalidGridSpecError, match="accumulate"):
        world.deposit_temporal_events("TRAILS", [5], [6], [0.5], accumulate=accumulate)
    assert not _events(world).any()


@pytest.mark.parametrize("values", BAD_VALUES.values(), ids=BAD_VALUES.keys())
def test_bad_values_are_refused_by_both_paths(world: Environment, values: object) -> None:
    with pytest.raises(InvalidGridSpecError):
        world.deposit_temporal_events("TRAILS", [5], [6], values)
    assert not _events(world).any()


def test_after_refusals_observations_stay_finite(world: Environment) -> None:
    world.add_agents([16], [16])
    for clip_max in (float("nan"), float("inf"), -0.5):
        with pytest.raises(InvalidGridSpecError):
            world.deposit_temporal_events("TRAILS", [16], [16], [0.5], clip_max=clip_max)
    world.deposit_temporal_events("TRAILS", [16], [16], [0.5], clip_max=2.0)
    world.update()
    assert np.isfinite(world.observe_all().numpy()).all()


def test_dense_and_sparse_paths_store_the_same_clipped_values() -> None:
    dense = Environment(SimulationConfig(width=32, height=32, seed=1))
    sparse = Environment(SimulationConfig(width=32, height=32, seed=1), temporal_world_layers=False)
    try:
        for env in (dense, sparse):
            env.deposit_temporal_events("TRAILS", [1, 1, 2], [1, 1, 3], [0.75, 0.75, 0.25], clip_max=1.0)
            env.deposit_temporal_events("TRAILS", [2], [3], np.float64(0.5), clip_max=np.float32(0.6))
            env.deposit_temporal_events("TRAILS", [4], [4], 3.0, clip_max=None)
        np.testing.assert_array_equal(_events(dense), _events(sparse))
        assert _events(dense)[1, 1] == 1.0 and math.isclose(_events(dense)[2, 3], 0.6, rel_tol=1e-6)
    finally:
        dense.close()
        sparse.close()


def test_the_sparse_layer_itself_checks_before_it_merges() -> None:
    layer = SparseEventLayer(8, 8)
    layer.deposit([1], [1], [0.5])
    cells, values = layer.cells.copy(), layer.values.copy()
    for clip_max in (float("nan"), "a", -1):
        with pytest.raises(InvalidGridSpecError):
            layer.deposit([2], [2], [0.5], clip_max=clip_max)
    np.testing.assert_array_equal(layer.cells, cells)
    np.testing.assert_array_equal(layer.values, values)
