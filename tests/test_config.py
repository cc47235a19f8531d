"""Tests for farm_grids.config: defaults, validation, file loading, dot overrides and atomic save."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import pathlib
import tempfile

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from farm_grids import config as config_module
from farm_grids.config import (
    ConfigFieldError,
    MemmapConfig,
    ObservationConfig,
    ResourceConfig,
    SimulationConfig,
)
from farm_grids.errors import ConfigError, FarmGridsError

NESTED = {
    "width": 64,
    "height": 32,
    "seed": 7,
    "simulation_id": "run-1",
    "memmap": {"directory": "/data/grids", "dtype": "float64", "mode": "r+",
               "use_for_temporal": True, "flush_policy": "tick"},
    "observation": {"radius": 4, "gamma_dmg": 1},
    "resources": {"distribution": "clustered", "clusters": 3},
}


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


def test_load_yaml_with_nested_memmap_block(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "sim.yaml"
    path.write_text(
        "width: 64\nheight: 32\nmemmap:\n  directory: /data/grids\n  use_for_temporal: true\n"
        "  flush_policy: tick\nobservation:\n  radius: 4\n"
    )
    for config in (SimulationConfig.from_yaml(path), SimulationConfig.load(path)):
        assert config.memmap.directory == "/data/grids" and config.memmap.use_for_temporal
        assert config.memmap.flush_policy == "tick" and config.observation.radius == 4
        assert (config.width, config.height) == (64, 32)


def test_load_json_with_nested_memmap_block(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "sim.json"
    path.write_text(json.dumps(NESTED))
    assert SimulationConfig.from_json(path) == SimulationConfig.load(str(path)) == SimulationConfig.from_dict(NESTED)


@pytest.mark.parametrize("name", ["sim.yaml", "sim.yml", "sim.json", "SIM.YAML"])
def test_save_then_load_round_trips(tmp_path: pathlib.Path, name: str) -> None:
    config = SimulationConfig.from_dict(NESTED)
    config.save(tmp_path / name)
    assert SimulationConfig.load(tmp_path / name) == config
    assert (tmp_path / name).stat().st_mode & 0o777 == 0o644  # not mkstemp's private 0600
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]  # no temp file left behind


@pytest.mark.parametrize("failing", ["replace", "fsync"])
def test_failed_save_leaves_previous_file_intact_and_no_temp_file(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, failing: str
) -> None:
    path = tmp_path / "sim.yaml"
    SimulationConfig(width=11).save(path)
    before = path.read_bytes()

    def fail(*args: object) -> None:
        raise OSError("disk full (simulated)")

    # Simulate an I/O failure mid-save (after the temp file exists), which cannot be provoked for real here.
    monkeypatch.setattr(config_module.os, failing, fail)
    with pytest.raises(OSError, match="disk full"):
        SimulationConfig(width=22).save(path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert SimulationConfig.load(path).width == 11
    assert [p.name for p in tmp_path.iterdir()] == ["sim.yaml"]


def test_save_with_unknown_suffix_writes_nothing(tmp_path: pathlib.Path) -> None:
    with pytest.raises(ConfigError, match=r"sim\.toml"):
        SimulationConfig().save(tmp_path / "sim.toml")
    assert list(tmp_path.iterdir()) == []


def test_dot_overrides_with_type_coercion() -> None:
    config = SimulationConfig().with_overrides(
        ["memmap.directory=/x", "observation.radius=8", "memmap.use_for_temporal=true", "seed=null"]
    )
    assert config.memmap.directory == "/x" and config.memmap.resolved_directory() == pathlib.Path("/x")
    assert config.observation.radius == 8 and isinstance(config.observation.radius, int)
    assert config.memmap.use_for_temporal is True and config.memmap.any_enabled
    assert config.seed is None
    assert SimulationConfig().observation.radius == 6  # the original is untouched


@pytest.mark.parametrize("text,expected", [
    ("true", True), ("YES", True), ("1", True), ("On", True),
    ("false", False), ("no", False), ("0", False), (" OFF ", False),
])
def test_bool_override_words(text: str, expected: bool) -> None:
    assert SimulationConfig().with_overrides([f"memmap.delete_on_close={text}"]).memmap.delete_on_close is expected


def test_override_coercion_for_float_str_optional_and_mapping_form() -> None:
    config = SimulationConfig(seed=None, simulation_id="a").with_overrides(
        ["observation.gamma_sig=0.5", "resources.regen_rate=2", "observation.dtype=float16",
         "seed=42", "simulation_id=None", "width=8.0", "memmap.directory=/a=b"]
    )
    assert config.observation.gamma_sig == 0.5 and config.resources.regen_rate == 2.0
    assert config.observation.dtype == "float16" and config.seed == 42 and config.simulation_id is None
    assert config.width == 8 and config.memmap.directory == "/a=b"  # split only on the first '='
    mapped = SimulationConfig().with_overrides({"observation.radius": 3, "seed": None, "height": "9"})
    assert (mapped.observation.radius, mapped.seed, mapped.height) == (3, None, 9)
    assert SimulationConfig().with_overrides("width=5").width == 5  # a lone string is one override
    assert SimulationConfig().with_overrides([]) == SimulationConfig()


def test_null_words_are_strings_for_non_optional_str_fields() -> None:
    with pytest.raises(ConfigError, match="memmap.dtype"):
        SimulationConfig().with_overrides(["memmap.dtype=none"])
    with pytest.raises(ConfigError, match="width: must not be null"):
        SimulationConfig().with_overrides({"width": None})


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


BAD_OVERRIDES = [
    ("observation.radus=3", "observation.radus", "did you mean 'observation.radius'"),
    ("nope.radius=3", "nope", "unknown key"),
    ("memmap.directory.sub=1", "memmap.directory.sub", "not a block"),
    ("observation=3", "observation", "is a block"),
    ("observation.radius=-1", "observation.radius", "non-negative"),
    ("observation.radius=abc", "observation.radius", "expected an integer"),
    ("observation.radius=8.5", "observation.radius", "must be an integer"),
    ("observation.gamma_dmg=nan", "observation.gamma_dmg", "finite"),
    ("observation.gamma_dmg=x", "observation.gamma_dmg", "expected a number"),
    ("memmap.use_for_temporal=maybe", "memmap.use_for_temporal", "expected a boolean"),
    ("memmap.mode=a+", "memmap.mode", "one of"),
    ("width=", "width", "integer"),
    ("=5", "''", "unknown key; valid keys: width"),
    ("observation..radius=3", "observation.", "unknown key; valid keys: radius"),
]


@pytest.mark.parametrize("override,key,detail", BAD_OVERRIDES, ids=[case[0] for case in BAD_OVERRIDES])
def test_bad_overrides_raise_config_error_naming_the_dotted_key(override: str, key: str, detail: str) -> None:
    with pytest.raises(ConfigError) as info:
        SimulationConfig().with_overrides([override])
    assert str(info.value).startswith(f"{key}: ") and detail in str(info.value)


def test_override_without_equals_sign_is_rejected() -> None:
    with pytest.raises(ConfigError, match="observation.radius"):
        SimulationConfig().with_overrides(["observation.radius"])


def test_direct_construction_is_validated_too() -> None:
    with pytest.raises(ConfigError, match="radius: must be a non-negative integer, got -1"):
        ObservationConfig(radius=-1)
    with pytest.raises(ConfigError, match="memmap: must be a MemmapConfig"):
        SimulationConfig(memmap={"mode": "r"})  # type: ignore[arg-type]


def test_config_error_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        SimulationConfig(width=0)
    assert issubclass(ConfigFieldError, ConfigError)
    assert issubclass(ConfigError, ValueError) and issubclass(ConfigError, FarmGridsError)


BAD_FILES = [
    ("bad.yaml", "width: [1, 2\n", "malformed YAML"),
    ("bad.yml", "memmap: {mode: r\n", "malformed YAML"),
    ("bad.json", '{"width": 5,,}', "malformed JSON"),
    ("list.yaml", "- 1\n- 2\n", "top level must be a mapping"),
    ("list.json", "[1, 2]", "top level must be a mapping"),
    ("empty.yaml", "", "top level must be a mapping"),
    ("scalar.json", "5", "top level must be a mapping"),
    ("sim.toml", "width = 5\n", "unknown config file suffix"),
    ("noext", "width: 5\n", "unknown config file suffix"),
]


@pytest.mark.parametrize("name,text,detail", BAD_FILES, ids=[case[0] for case in BAD_FILES])
def test_bad_files_raise_config_error_naming_the_file(
    tmp_path: pathlib.Path, name: str, text: str, detail: str
) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        SimulationConfig.load(path)
    assert str(path) in str(info.value) and detail in str(info.value)


def test_missing_file_raises_config_error_naming_the_path(tmp_path: pathlib.Path) -> None:
    for loader in (SimulationConfig.load, SimulationConfig.from_yaml, SimulationConfig.from_json):
        with pytest.raises(ConfigError, match="nowhere.yaml: config file not found"):
            loader(tmp_path / "nowhere.yaml")


def test_bad_value_in_file_names_both_file_and_dotted_key(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "sim.yaml"
    path.write_text("observation:\n  radius: -1\n")
    with pytest.raises(ConfigFieldError) as info:
        SimulationConfig.load(path)
    assert info.value.key == "observation.radius" and info.value.source == str(path)
    assert str(info.value) == f"{path}: observation.radius: must be a non-negative integer, got -1"


def test_unknown_key_in_json_file_is_reported(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "sim.json"
    path.write_text(json.dumps({"memmap": {"flush": "tick"}}))
    with pytest.raises(ConfigError, match=r"memmap\.flush: unknown key; did you mean 'memmap\.flush_policy'"):
        SimulationConfig.from_json(path)


def test_yaml_loading_is_safe(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "evil.yaml"
    path.write_text("width: !!python/object/apply:os.getcwd []\n")
    with pytest.raises(ConfigError, match="malformed YAML"):
        SimulationConfig.from_yaml(path)


def test_saved_yaml_is_readable_by_plain_yaml(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "sim.yaml"
    SimulationConfig(simulation_id="null").save(path)  # a string that looks like YAML null must stay a string
    assert yaml.safe_load(path.read_text())["simulation_id"] == "null"
    assert SimulationConfig.load(path).simulation_id == "null"
    assert not any(name.endswith(".tmp") for name in os.listdir(tmp_path))
