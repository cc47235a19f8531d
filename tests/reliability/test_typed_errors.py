"""Item 11: names, regions, dtypes, directories and configs that were untyped exceptions are typed errors."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Callable

import numpy as np
import pytest

from farm_grids.config import SimulationConfig
from farm_grids.errors import (
    ConfigError,
    FarmGridsError,
    GridNotFoundError,
    InvalidGridSpecError,
    StorageDirectoryError,
)
from farm_grids.stores import GridStore, MemmapStore

from .conftest import StoreFactory

BAD_NAME = ["g"]  # a list: unhashable, was a TypeError


def seeded(make_store: StoreFactory) -> GridStore:
    store = make_store()
    store.create("g", (6, 6), fill=1.0)
    return store


NAME_CALLS: dict[str, Callable[[GridStore], object]] = {
    "create": lambda s: s.create(BAD_NAME, (2, 2)),  # type: ignore[arg-type]
    "get": lambda s: s.get(BAD_NAME),  # type: ignore[arg-type]
    "info": lambda s: s.info(BAD_NAME),  # type: ignore[arg-type]
    "write": lambda s: s.write(BAD_NAME, np.ones((6, 6))),  # type: ignore[arg-type]
    "fill": lambda s: s.fill(BAD_NAME, 1.0),  # type: ignore[arg-type]
    "scale": lambda s: s.scale(BAD_NAME, 2.0),  # type: ignore[arg-type]
    "add_at": lambda s: s.add_at(BAD_NAME, 0, 0, 1.0),  # type: ignore[arg-type]
    "add_many": lambda s: s.add_many(BAD_NAME, [0], [0], [1.0]),  # type: ignore[arg-type]
    "get_window": lambda s: s.get_window(BAD_NAME, 0, 2, 0, 2),  # type: ignore[arg-type]
    "get_windows": lambda s: s.get_windows(BAD_NAME, [1], [1], 1),  # type: ignore[arg-type]
    "get_cells": lambda s: s.get_cells(BAD_NAME, [1], [1]),  # type: ignore[arg-type]
    "flush": lambda s: s.flush(BAD_NAME),  # type: ignore[arg-type]
    "close": lambda s: s.close(BAD_NAME),  # type: ignore[arg-type]
    "dict_name_window": lambda s: s.get_window({"g": 1}, 0, 2, 0, 2),  # type: ignore[arg-type]
}


@pytest.mark.parametrize("call", sorted(NAME_CALLS))
def test_a_list_as_grid_name_is_a_typed_error(make_store: StoreFactory, call: str) -> None:
    store = seeded(make_store)
    with pytest.raises((InvalidGridSpecError, GridNotFoundError)):
        NAME_CALLS[call](store)
    assert store.names() == ["g"] and (store.get("g") == 1.0).all()


BAD_REGIONS: dict[str, object] = {
    "not_slices": (1, 2),
    "step_2": (slice(0, 4, 2), slice(None)),
    "negative_step": (slice(None), slice(4, 0, -1)),
    "float_bounds": (slice(0.5, 3.0), slice(None)),
    "bool_bound": (slice(True, 3), slice(None)),
    "text_bound": (slice("a", None), slice(None)),
    "list_not_tuple": [slice(0, 2), slice(0, 2)],
    "three_slices": (slice(None), slice(None), slice(None)),
    "one_slice": (slice(0, 2),),
    "bare_slice": slice(0, 2),
    "ellipsis": (Ellipsis, slice(None)),
    "array_index": (np.array([0, 1]), slice(None)),
}


@pytest.mark.parametrize("op", ["fill", "scale"])
@pytest.mark.parametrize("case", sorted(BAD_REGIONS))
def test_a_bad_region_is_a_typed_error(make_store: StoreFactory, case: str, op: str) -> None:
    store = seeded(make_store)
    with pytest.raises(InvalidGridSpecError):
        getattr(store, op)("g", 2.0, region=BAD_REGIONS[case])
    assert (store.get("g") == 1.0).all()


@pytest.mark.parametrize("out_dtype", ["foo", "object", "complex64", 3, "<U4", np.dtype(">f4")])
def test_a_bad_out_dtype_is_a_typed_error(make_store: StoreFactory, out_dtype: object) -> None:
    store = seeded(make_store)
    with pytest.raises(InvalidGridSpecError):
        store.get_window("g", 0, 2, 0, 2, out_dtype=out_dtype)


@pytest.mark.parametrize("values", ["abc", b"abc", {"a": 1}, [[1.0]], [1.0, 2.0, 3.0], None, object()])
def test_add_many_with_bad_values_is_a_typed_error(make_store: StoreFactory, values: object) -> None:
    store = seeded(make_store)
    with pytest.raises(InvalidGridSpecError):
        store.add_many("g", [0, 1], [0, 1], values)
    assert (store.get("g") == 1.0).all()


def test_add_many_refuses_bools_like_add_at(make_store: StoreFactory) -> None:
    store = seeded(make_store)
    refused = []
    for call in (
        lambda: store.add_at("g", 0, 0, True),
        lambda: store.add_many("g", [0], [0], [True]),
        lambda: store.add_many("g", [0], [0], np.array([False])),
        lambda: store.add_many("g", [0], [0], np.True_),
        lambda: store.add_many("g", [0, 1], [0, 1], [True, 2.0]),  # a bool among numbers
        lambda: store.add_many("g", [0, 1], [0, 1], np.array([2.0, False], dtype=object)),
    ):
        try:
            call()
            refused.append(False)
        except InvalidGridSpecError:
            refused.append(True)
    assert refused == [True] * 6
    assert (store.get("g") == 1.0).all()


@pytest.mark.parametrize("directory", [123, 4.5, b"\xff", ["dir"], object()])
def test_memmap_manager_with_a_non_path_is_a_storage_directory_error(directory: object) -> None:
    with pytest.raises(StorageDirectoryError):
        MemmapStore(directory)  # type: ignore[arg-type]


@pytest.mark.parametrize("directory", ["", "   ", "\t\n"])
def test_an_empty_directory_never_means_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, directory: object
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(StorageDirectoryError):
        store = MemmapStore(directory=directory)  # type: ignore[arg-type]
        store.create("g", (2, 2))
    assert list(tmp_path.iterdir()) == []


def test_a_file_as_directory_is_a_storage_directory_error(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.write_text("x")
    with pytest.raises(StorageDirectoryError):
        MemmapStore(plain)


# -- configuration ------------------------------------------------------------------------


@pytest.mark.parametrize("path", [123, None, 4.5, ["a.yaml"]])
def test_loading_a_non_path_is_a_config_error(path: object) -> None:
    with pytest.raises(ConfigError):
        SimulationConfig.load(path)  # type: ignore[arg-type]


@pytest.mark.parametrize("overrides", [None, 123, 4.5, object(), ["width"], [1, 2], "=3", ["nope.key=1"]])
def test_bad_overrides_are_config_errors(overrides: object) -> None:
    with pytest.raises(ConfigError):
        SimulationConfig().with_overrides(overrides)  # type: ignore[arg-type]


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_saving_into_a_missing_directory_is_a_config_error(tmp_path: Path, suffix: str) -> None:
    target = tmp_path / "missing" / f"config{suffix}"
    with pytest.raises(ConfigError):
        SimulationConfig().save(target)
    assert not (tmp_path / "missing").exists()


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("dup.yaml", "width: 10\nheight: 20\nwidth: 30\n"),
        ("nested_dup.yaml", "observation:\n  radius: 3\n  radius: 4\n"),
        ("dup.json", '{"width": 10, "width": 30}'),
        ("nested_dup.json", '{"observation": {"radius": 3, "radius": 4}}'),
    ],
)
def test_duplicate_config_keys_are_config_errors(tmp_path: Path, name: str, text: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(ConfigError, match="duplicate"):
        SimulationConfig.load(path)


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_deeply_nested_config_is_a_config_error(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"deep{suffix}"
    depth = 1_500  # beyond the interpreter's recursion limit (1000)
    path.write_text("[" * depth + "]" * depth if suffix == ".json" else "a: " + "[" * depth + "]" * depth)
    with pytest.raises(ConfigError):
        SimulationConfig.load(path)


def test_a_saved_config_loads_back(tmp_path: Path) -> None:
    """Control: the refusals above are not refusing everything."""
    config = SimulationConfig(width=12, height=7).with_overrides(["observation.radius=3"])
    for suffix in (".yaml", ".json"):
        target = tmp_path / f"c{suffix}"
        config.save(target)
        assert SimulationConfig.load(target) == config
    assert json.loads((tmp_path / "c.json").read_text())["observation"]["radius"] == 3
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]


def test_every_refusal_here_is_a_farm_grids_error() -> None:
    for error in (ConfigError, InvalidGridSpecError, GridNotFoundError, StorageDirectoryError):
        assert issubclass(error, FarmGridsError)
