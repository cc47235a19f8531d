"""Config files: YAML/JSON loading, strict parsing, errors naming the file, atomic saves."""

from __future__ import annotations

import json
import os
import pathlib

import pytest
import yaml

from .examples import NESTED
from farm_grids.config import ConfigFieldError, SimulationConfig
from farm_grids.config import files as config_files
from farm_grids.errors import ConfigError


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
    monkeypatch.setattr(config_files.os, failing, fail)
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
