"""Dot-key overrides: type coercion from text, the mapping form, and errors naming the dotted key."""

from __future__ import annotations

import pathlib

import pytest

from farm_grids.config import SimulationConfig
from farm_grids.errors import ConfigError


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
