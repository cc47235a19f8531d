"""Typed errors at the API edges: odd text, paths, devices, output tensors, buffers, config files, closed worlds."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
import torch

from farm_grids.config import MemmapConfig, SimulationConfig
from farm_grids.environment import Environment
from farm_grids.errors import (
    ConfigError,
    InvalidGridSpecError,
    RequestTooLargeError,
    SnapshotError,
    StorageDirectoryError,
    StoreClosedError,
)
from farm_grids.limits import request_limit
from farm_grids.stores import MemmapStore, RamStore, SparseRamStore
from farm_grids.stores.zarr.store import ZarrStore

from .helpers import python_env, tree_state

SURROGATE = "\ud800"
LONG_PART = "d" * 256  # one byte above NAME_MAX

STORES: dict[str, Callable[..., object]] = {
    "ram": lambda where, **kw: RamStore(**kw),
    "sparse-ram": lambda where, **kw: SparseRamStore(**kw),
    "memmap": lambda where, **kw: MemmapStore(where, **kw),
    "zarr": lambda where, **kw: ZarrStore(where, **kw),
}


def small_world(**overrides: object) -> SimulationConfig:
    return SimulationConfig(width=24, height=24, seed=3).with_overrides(dict(overrides))


# -- text that cannot become a file or object name ------------------------------------------------
@pytest.mark.parametrize("backend", STORES)
@pytest.mark.parametrize("name", ["x" + SURROGATE, "a\0b"], ids=["surrogate", "nul"])
def test_a_grid_name_that_cannot_be_a_file_name_is_refused(tmp_path: Path, backend: str, name: str) -> None:
    store = STORES[backend](tmp_path / "grids")
    before = tree_state(tmp_path)
    with pytest.raises(InvalidGridSpecError, match="grid name"):
        store.create(name, (8, 8), fill=1.0)  # type: ignore[attr-defined]
    assert store.names() == []  # type: ignore[attr-defined]
    assert tree_state(tmp_path) == before
    store.close_all(delete_files=True)  # type: ignore[attr-defined]


@pytest.mark.parametrize("backend", STORES)
@pytest.mark.parametrize("label", ["namespace", "simulation_id"])
def test_a_label_with_a_lone_surrogate_is_refused_before_any_file(tmp_path: Path, backend: str, label: str) -> None:
    with pytest.raises(InvalidGridSpecError, match=label):
        store = STORES[backend](tmp_path / "grids", **{label: "run" + SURROGATE})
        store.create("A", (8, 8), fill=1.0)  # type: ignore[attr-defined]
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]  # no grid file, manifest or lock


def test_a_config_simulation_id_with_a_lone_surrogate_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="simulation_id"):
        SimulationConfig(simulation_id="run" + SURROGATE)


@pytest.mark.parametrize("directory", ["a\0b", LONG_PART, "ok/" + LONG_PART + "/deeper", "x" + SURROGATE],
                         ids=["nul", "name-max", "name-max-inside", "surrogate"])
def test_a_directory_that_cannot_exist_is_a_typed_error(tmp_path: Path, directory: str) -> None:
    where = f"{tmp_path}/{directory}"
    with pytest.raises(ConfigError, match="^directory"):
        MemmapConfig(directory=where, use_for_resources=True)
    with pytest.raises(ConfigError, match="memmap.directory"):
        small_world(**{"memmap.directory": where, "memmap.use_for_resources": True})
    with pytest.raises(InvalidGridSpecError, match="location"):
        ZarrStore(where)
    assert list(tmp_path.iterdir()) == []


def test_a_directory_of_exactly_name_max_bytes_is_accepted(tmp_path: Path) -> None:
    config = MemmapConfig(directory=str(tmp_path / ("d" * 255)), use_for_resources=True)
    assert config.directory is not None


# -- observation devices ------------------------------------------------------------------------------
UNUSABLE_DEVICES = ["meta", "xla", "mps", "hpu", "ipu", "xpu", "vulkan", "lazy", "cpu:1", "cuda:999", "", " cpu",
                    "CPU", "cuda:x"]


@pytest.mark.parametrize("device", UNUSABLE_DEVICES)
def test_a_device_observations_cannot_be_made_on_is_a_config_error(device: str) -> None:
    with pytest.raises(ConfigError, match="observation.device"):
        SimulationConfig.from_dict({"observation": {"device": device}})
    with pytest.raises(ConfigError, match="observation.device"):
        small_world(**{"observation.device": device})


def test_cuda_is_accepted_only_where_it_can_allocate() -> None:
    if torch.cuda.is_available():
        assert small_world(**{"observation.device": "cuda:0"}).observation.device == "cuda:0"
    else:
        with pytest.raises(ConfigError, match="CUDA is not available"):
            small_world(**{"observation.device": "cuda"})


def test_the_cpu_device_observes(tmp_path: Path) -> None:
    with Environment(small_world(**{"observation.device": "cpu"})) as env:
        env.add_agents([3], [4])
        assert env.observe_all().device.type == "cpu"


def test_a_snapshot_whose_config_names_an_unusable_device_is_refused(tmp_path: Path) -> None:
    import zarr

    url = tmp_path / "snap"
    with Environment(small_world()) as env:
        env.add_agents([3], [4])
        env.snapshot(str(url))
    group = zarr.open_group(url, mode="r+")
    meta = dict(group.attrs["farm_grids_snapshot"])
    meta["config"]["observation"]["device"] = "meta"
    group.attrs["farm_grids_snapshot"] = meta
    with pytest.raises((SnapshotError, ConfigError), match="device"):
        Environment.restore(str(url))


# -- observe_all(out=) --------------------------------------------------------------------------------
def test_observe_all_refuses_an_out_tensor_that_requires_grad() -> None:
    with Environment(small_world()) as env:
        env.add_agents([3, 5], [4, 6])
        out = torch.full(env.observation_shape(), 7.0, requires_grad=True)
        with pytest.raises(InvalidGridSpecError, match="requires_grad"):
            env.observe_all(out=out)
        assert bool((out.detach() == 7.0).all())
        plain = torch.empty(env.observation_shape())
        assert env.observe_all(out=plain) is plain


# -- scratch buffers ------------------------------------------------------------------------------------
def test_scratch_is_bounded_by_the_request_limit() -> None:
    with Environment(small_world()) as env:
        with pytest.raises(RequestTooLargeError, match="scratch"):
            env.scratch("huge", (2**40, 2**40))
        with request_limit(2**20), pytest.raises(RequestTooLargeError):
            env.scratch("medium", (1024, 1024))
        assert env.scratch("fine", (16, 16)).shape == (16, 16)


@pytest.mark.parametrize("shape", [(-1, 4), (2.5, 4), ("a",), (True, 3), None], ids=str)
def test_scratch_refuses_a_shape_that_is_not_sizes(shape: object) -> None:
    with Environment(small_world()) as env, pytest.raises(InvalidGridSpecError, match="scratch"):
        env.scratch("bad", shape)  # type: ignore[arg-type]


def test_scratch_refuses_a_dtype_that_is_not_one() -> None:
    with Environment(small_world()) as env, pytest.raises(InvalidGridSpecError, match="scratch"):
        env.scratch("bad", (4, 4), dtype="not-a-dtype")


# -- config files: regular files only, bounded --------------------------------------------------------
# Run in a child with a deadline: before the fix a FIFO blocks the read forever and /dev/zero
# reads until memory runs out.
LOAD_CHILD = r"""
import sys
from farm_grids.config import SimulationConfig
from farm_grids.errors import ConfigError
try:
    SimulationConfig.from_yaml(sys.argv[1])  # by the path itself, whatever its suffix
except ConfigError as exc:
    print("typed", exc)
else:
    print("loaded")
"""


def _load_in_child(path: str) -> str:
    done = subprocess.run([sys.executable, "-c", LOAD_CHILD, path], env=python_env(), capture_output=True, text=True,
                          timeout=60, check=False,
                          preexec_fn=lambda: __import__("resource").setrlimit(
                              __import__("resource").RLIMIT_AS, (2 * 2**30, 2 * 2**30)))
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_loading_dev_zero_is_a_config_error(tmp_path: Path) -> None:
    assert "regular file" in _load_in_child("/dev/zero")
    (tmp_path / "zero.yaml").symlink_to("/dev/zero")
    with pytest.raises(ConfigError, match="regular file"):
        SimulationConfig.load(tmp_path / "zero.yaml")


def test_loading_a_fifo_is_a_config_error_not_a_hang(tmp_path: Path) -> None:
    fifo = tmp_path / "config.yaml"
    os.mkfifo(fifo)
    assert "regular file" in _load_in_child(str(fifo))


def test_loading_a_directory_or_an_oversized_file_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "dir.yaml").mkdir()
    with pytest.raises(ConfigError, match="regular file"):
        SimulationConfig.load(tmp_path / "dir.yaml")
    big = tmp_path / "big.yaml"
    big.write_text("# " + "x" * (2 * 2**20) + "\nwidth: 10\n")
    with pytest.raises(ConfigError, match="larger"):
        SimulationConfig.load(big)


def test_a_regular_config_file_still_loads(tmp_path: Path) -> None:
    path = tmp_path / "run.yaml"
    small_world().save(path)
    assert SimulationConfig.load(path) == small_world()


@pytest.mark.parametrize("name", ["a\0b.yaml", "x" + SURROGATE + ".json", LONG_PART + ".yaml"],
                         ids=["nul", "surrogate", "name-max"])
def test_save_and_load_refuse_a_path_that_cannot_exist(tmp_path: Path, name: str) -> None:
    with pytest.raises(ConfigError, match="config path"):
        small_world().save(f"{tmp_path}/{name}")
    with pytest.raises(ConfigError, match="config path"):
        SimulationConfig.load(f"{tmp_path}/{name}")
    assert list(tmp_path.iterdir()) == []


# -- a closed Environment -----------------------------------------------------------------------------
AFTER_CLOSE: dict[str, Callable[[Environment], object]] = {
    "add_agents": lambda env: env.add_agents([1], [1]),
    "move_agents": lambda env: env.move_agents([0], [2], [2]),
    "set_hp": lambda env: env.set_hp([0], 0.5),
    "kill": lambda env: env.kill([0]),
    "set_environmental_layer": lambda env: env.set_environmental_layer("TERRAIN", np.zeros((24, 24))),
    "deposit_temporal_events": lambda env: env.deposit_temporal_events("TRAILS", [1], [1], [0.5]),
    "scratch": lambda env: env.scratch("k", (4, 4)),
    "agent_memory": lambda env: env.agent_memory("HP"),
    "update": lambda env: env.update(),
    "observe": lambda env: env.observe(0),
    "observe_all": lambda env: env.observe_all(),
    "reset": lambda env: env.reset(),
    "flush": lambda env: env.flush(),
    "load_memory_state": lambda env: env.load_memory_state({}),
}


@pytest.mark.parametrize("call", AFTER_CLOSE.values(), ids=AFTER_CLOSE.keys())
@pytest.mark.parametrize("layers", ["dense", "sparse"])
def test_a_closed_environment_refuses_every_call(call: Callable[[Environment], object], layers: str) -> None:
    env = Environment(small_world(), temporal_world_layers=layers == "dense")
    env.add_agents([2], [2])
    env.close()
    with pytest.raises(StoreClosedError, match="closed"):
        call(env)
    assert env.num_agents == 1


@pytest.mark.parametrize("directory", ["grids\x00x", "grids-\udcff", "x" * 256])
def test_a_memmap_store_on_a_directory_no_filesystem_can_hold_is_a_typed_error(tmp_path: Path, directory: str) -> None:
    with pytest.raises(StorageDirectoryError):
        MemmapStore(tmp_path / directory)
    assert list(tmp_path.iterdir()) == []


def test_a_memmap_store_given_a_url_is_refused_and_creates_no_local_folder(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(StorageDirectoryError, match="URL"):
        MemmapStore("s3://bucket/grids")
    assert list(tmp_path.iterdir()) == []
