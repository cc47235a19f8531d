"""A snapshot is plain zarr v3: xarray and dask read its layers lazily, without farm-grids."""

from __future__ import annotations

from pathlib import Path

import dask.array as da
import numpy as np
import xarray as xr

from farm_grids.snapshot import generation_of

from . import worlds
from .s3server import CountingS3Server


def _snapshot(url: str, storage_options: object = None) -> dict[str, np.ndarray]:
    env, driver = worlds.build(worlds.config("ram"))
    with env:
        driver.run(4)
        env.snapshot(url, storage_options=storage_options)
        return {name: env.environmental.store.read(name) for name in env.environmental.names()} | {
            "TRAILS": env.temporal.store.read("TRAILS")}


def test_xarray_and_dask_read_a_local_snapshot_lazily(tmp_path: Path) -> None:
    url = str(tmp_path / "snap.zarr")
    expected = _snapshot(url)
    data = generation_of(url)  # the group the snapshot's commit record names
    layers = xr.open_zarr(url, group=f"{data}/layers/env", consolidated=False, zarr_format=3)
    assert set(layers.data_vars) == {"OBSTACLES", "TERRAIN_COST", "VISIBILITY"}
    assert isinstance(layers["OBSTACLES"].data, da.Array)  # lazy: nothing read yet
    np.testing.assert_array_equal(layers["OBSTACLES"].values, expected["OBSTACLES"])
    trails = da.from_zarr(url, component=f"{data}/layers/temporal/TRAILS")
    assert trails.shape == worlds.SHAPE and trails.chunksize == worlds.SHAPE
    np.testing.assert_array_equal(trails.compute(), expected["TRAILS"])
    assert float(trails[:10, :10].sum().compute()) == float(expected["TRAILS"][:10, :10].sum())


def test_dask_reads_a_snapshot_on_the_s3_server(s3_server: CountingS3Server, bucket: str) -> None:
    options = s3_server.storage_options()
    url = f"s3://{bucket}/snap.zarr"
    expected = _snapshot(url, options)
    data = generation_of(url, storage_options=options)
    obstacles = da.from_zarr(url, component=f"{data}/layers/env/OBSTACLES", storage_options=options)
    np.testing.assert_array_equal(obstacles.compute(), expected["OBSTACLES"])
    layers = xr.open_zarr(url, group=f"{data}/layers/env", consolidated=False, zarr_format=3,
                          storage_options=options)
    np.testing.assert_array_equal(layers["VISIBILITY"].values, expected["VISIBILITY"])
