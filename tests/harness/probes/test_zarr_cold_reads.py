"""The cold zarr gather command: the chunks it needs, a world built once, every reader measured per trial."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import numpy as np
import pytest
import zarr

from harness.probes.cold_gather import gather_centres
from harness.errors import HarnessUsageError
from harness.probes.zarr_cold_reads import GRID, ColdWorld, build_world, main, measure, needed_chunks, summary

SIZE, CHUNK, RADIUS = 256, 32, 6


def test_the_needed_chunks_are_exactly_those_the_windows_touch() -> None:
    ys, xs = gather_centres(SIZE, 300, RADIUS, seed=3)
    touched = {(y // CHUNK, x // CHUNK) for cy, cx in zip(ys.tolist(), xs.tolist())
               for y in range(cy - RADIUS, cy + RADIUS + 1) for x in range(cx - RADIUS, cx + RADIUS + 1)}
    assert set(needed_chunks(SIZE, CHUNK, ys, xs, RADIUS)) == touched


@pytest.mark.parametrize("values", ["random", "constant"])
def test_the_world_is_built_once_with_every_chunk_written(tmp_path: Path, values: str) -> None:
    location = build_world(tmp_path, SIZE, CHUNK, values=values)
    array = zarr.open_array(location / GRID, mode="r")
    files = list((location / GRID / "c").rglob("*"))
    assert sum(f.is_file() for f in files) == (SIZE // CHUNK) ** 2
    data = array[...]
    assert (data == 1.0).all() if values == "constant" else np.unique(data).size > SIZE
    stamp = (location / GRID / "c" / "0" / "0").stat().st_mtime_ns
    assert build_world(tmp_path, SIZE, CHUNK, values=values) == location  # reused, not rewritten
    assert (location / GRID / "c" / "0" / "0").stat().st_mtime_ns == stamp


def test_every_reader_is_measured_once_per_trial(tmp_path: Path) -> None:
    readers = ["zarrstore", "chunks", "chunks_pipeline", "zarr_per_chunk"]
    if shutil.which("fio"):
        readers.append("floor")
    if importlib.util.find_spec("tensorstore"):
        readers.append("tensorstore")
    location = build_world(tmp_path, SIZE, CHUNK)
    ys, xs = gather_centres(SIZE, 50, RADIUS)
    world = ColdWorld(location, SIZE, CHUNK, ys, xs, needed_chunks(SIZE, CHUNK, ys, xs, RADIUS))
    rows = measure(world, trials=2, concurrency=4, readers=tuple(readers))
    assert len(rows) == 2
    for row in rows:
        assert {f"{reader}_s" for reader in readers} <= set(row)
        assert all(value > 0 for key, value in row.items() if key != "trial")
    assert summary(rows, 50)


def test_an_unknown_reader_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(HarnessUsageError, match="readers"):
        main(["--directory", str(tmp_path), "--readers", "floor,nonsense"])
