"""The config blocks: defaults, frozen values, type and range validation, dict round trips."""

from __future__ import annotations

import dataclasses
import json
import math
import pathlib
import tempfile

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from .examples import NESTED
from farm_grids import config as config_module
from farm_grids.config import (
    ConfigFieldError,
    MemmapConfig,
    ObservationConfig,
    ResourceConfig,
    SimulationConfig,
)
from farm_grids.errors import ConfigError, FarmGridsError


def test_defaults_match_the_spec() -> None:
    config = SimulationConfig()
    assert (config.width, config.height, config.seed, config.simulation_id) == (100, 100, 0, None)
    assert config.memmap == MemmapConfig(None, "float32", "w+", False, False, False, False, "close")
    assert not config.memmap.any_enabled
    assert config.observation.radius == 6 and config.observation.size == 13
    assert config.observation.dtype == "float32" and config.observation.device == "cpu"
    assert config.resources.distribution == "uniform"


def test_config_is_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        SimulationConfig().width = 5  # type: ignore[misc]


def test_any_enabled_is_true_when_one_manager_uses_memmap() -> None:
    assert MemmapConfig(use_for_environmental=True).any_enabled


def test_resolved_directory_defaults_to_system_temp() -> None:
    assert MemmapConfig().resolved_directory() == pathlib.Path(tempfile.gettempdir())
    assert MemmapConfig(directory="/x/y").resolved_directory() == pathlib.Path("/x/y")


def test_ints_are_accepted_for_float_fields_and_integral_floats_for_int_fields() -> None:
    observation = ObservationConfig(gamma_dmg=1, radius=8.0)  # type: ignore[arg-type]
    assert observation.gamma_dmg == 1.0 and isinstance(observation.gamma_dmg, float)
    assert observation.radius == 8 and isinstance(observation.radius, int)


def test_to_dict_is_plain_nested_and_round_trips() -> None:
    config = SimulationConfig.from_dict(NESTED)
    data = config.to_dict()
    assert data["memmap"]["flush_policy"] == "tick" and data["observation"]["gamma_dmg"] == 1.0
    assert json.loads(json.dumps(data)) == data
    assert SimulationConfig.from_dict(data) == config


def test_from_dict_fills_missing_keys_and_blocks_with_defaults() -> None:
    config = SimulationConfig.from_dict({"memmap": {"use_for_resources": True}})
    assert config.memmap.use_for_resources and config.memmap.dtype == "float32"
    assert config.observation == ObservationConfig() and config.width == 100


valid_configs = st.builds(
    SimulationConfig,
    width=st.integers(1, 10_000),
    height=st.integers(1, 10_000),
    seed=st.none() | st.integers(0, 2**63),
    simulation_id=st.none() | st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,20}", fullmatch=True),
    memmap=st.builds(
        MemmapConfig,
        # Any text a filesystem path can hold: no NUL, no lone surrogate, components within NAME_MAX
        # (60 characters are at most 240 UTF-8 bytes); the rest is refused (test_api_edges).
        directory=st.none() | st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"),
                                      min_size=1, max_size=60).filter(str.strip),
        dtype=st.sampled_from(config_module.MEMMAP_DTYPES),
        mode=st.sampled_from(config_module.MEMMAP_MODES),
        delete_on_close=st.booleans(),
        use_for_resources=st.booleans(),
        use_for_environmental=st.booleans(),
        use_for_temporal=st.booleans(),
        flush_policy=st.sampled_from(config_module.FLUSH_POLICIES),
    ),
    observation=st.builds(
        ObservationConfig,
        radius=st.integers(0, 64),
        fov_radius=st.integers(0, 64),
        gamma_dmg=st.floats(0, 1, exclude_min=True),
        gamma_trail=st.floats(0, 1, exclude_min=True),
        gamma_sig=st.floats(0, 1, exclude_min=True),
        decay_floor=st.floats(0, 1e6),
        tile_size=st.integers(1, 1024),
        dtype=st.sampled_from(config_module.OBSERVATION_DTYPES),
        device=st.just("cpu"),  # the one device every machine has; others are refused where unusable
    ),
    resources=st.builds(
        ResourceConfig,
        count=st.integers(0, 10**6),
        max_amount=st.floats(1e-6, 1e6),
        regen_rate=st.floats(0, 1e3),
        distribution=st.sampled_from(config_module.RESOURCE_DISTRIBUTIONS),
        clusters=st.integers(1, 100),
        cluster_spread=st.floats(1e-3, 1e3),
    ),
)


@settings(max_examples=60, deadline=None)
@given(valid_configs)
def test_round_trip_property_through_dict_json_and_yaml(config: SimulationConfig) -> None:
    data = config.to_dict()
    assert SimulationConfig.from_dict(data) == config
    assert SimulationConfig.from_dict(json.loads(json.dumps(data))) == config
    assert SimulationConfig.from_dict(yaml.safe_load(yaml.safe_dump(data))) == config


BAD_DICTS = [
    ({"widht": 5}, "widht", "did you mean 'width'"),
    ({"memmap": {"mdoe": "r"}}, "memmap.mdoe", "did you mean 'memmap.mode'"),
    ({"observation": {"radus": 3}}, "observation.radus", "did you mean 'observation.radius'"),
    ({"resources": {"zzz": 1}}, "resources.zzz", "valid keys"),
    ({1: 2}, "1", "unknown key"),
    ({"memmap": 5}, "memmap", "mapping"),
    ({"width": True}, "width", "integer"),
    ({"observation": {"radius": True}}, "observation.radius", "integer"),
    ({"resources": {"count": 2.5}}, "resources.count", "integer"),
    ({"seed": "7"}, "seed", "integer"),
    ({"seed": -1}, "seed", "non-negative"),
    ({"observation": {"gamma_dmg": math.nan}}, "observation.gamma_dmg", "finite"),
    ({"observation": {"gamma_trail": math.inf}}, "observation.gamma_trail", "finite"),
    ({"observation": {"gamma_sig": 0}}, "observation.gamma_sig", "(0, 1]"),
    ({"observation": {"gamma_dmg": 1.5}}, "observation.gamma_dmg", "(0, 1]"),
    ({"observation": {"radius": -1}}, "observation.radius", "must be a non-negative integer, got -1"),
    ({"observation": {"fov_radius": -2}}, "observation.fov_radius", "non-negative"),
    ({"observation": {"decay_floor": -0.1}}, "observation.decay_floor", "non-negative"),
    ({"observation": {"tile_size": 0}}, "observation.tile_size", "positive"),
    ({"observation": {"dtype": "int8"}}, "observation.dtype", "bfloat16"),
    ({"observation": {"device": " "}}, "observation.device", "'cpu', 'cuda' or 'cuda:N'"),
    ({"memmap": {"mode": "a"}}, "memmap.mode", "one of w+, r+, r"),
    ({"memmap": {"flush_policy": "sometimes"}}, "memmap.flush_policy", "close, tick, manual"),
    ({"memmap": {"dtype": "int32"}}, "memmap.dtype", "float16, float32, float64"),
    ({"memmap": {"dtype": "bfloat16"}}, "memmap.dtype", "float16"),
    ({"memmap": {"directory": ""}}, "memmap.directory", "non-empty"),
    ({"memmap": {"use_for_temporal": "yes"}}, "memmap.use_for_temporal", "boolean"),
    ({"width": 0}, "width", "positive"),
    ({"height": -3}, "height", "positive"),
    ({"simulation_id": "../escape"}, "simulation_id", "file names"),
    ({"resources": {"distribution": "poisson"}}, "resources.distribution", "uniform, clustered"),
    ({"resources": {"max_amount": 0}}, "resources.max_amount", "positive"),
    ({"resources": {"regen_rate": -1}}, "resources.regen_rate", "non-negative"),
    ({"resources": {"clusters": 0}}, "resources.clusters", "positive"),
    ({"resources": {"cluster_spread": math.nan}}, "resources.cluster_spread", "finite"),
]


@pytest.mark.parametrize("data,key,detail", BAD_DICTS, ids=[case[1] + "-" + case[2] for case in BAD_DICTS])
def test_bad_values_raise_config_error_naming_the_dotted_key(data: dict, key: str, detail: str) -> None:
    with pytest.raises(ConfigError) as info:
        SimulationConfig.from_dict(data)
    assert str(info.value).startswith(f"{key}: ")
    assert detail in str(info.value)
    assert isinstance(info.value, ConfigFieldError) and info.value.key == key


def test_direct_construction_is_validated_too() -> None:
    with pytest.raises(ConfigError, match="radius: must be a non-negative integer, got -1"):
        ObservationConfig(radius=-1)
    with pytest.raises(ConfigError, match="memmap: must be a StorageConfig"):
        SimulationConfig(memmap={"mode": "r"})  # type: ignore[arg-type]


def test_config_error_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        SimulationConfig(width=0)
    assert issubclass(ConfigFieldError, ConfigError)
    assert issubclass(ConfigError, ValueError) and issubclass(ConfigError, FarmGridsError)
