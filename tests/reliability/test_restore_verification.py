"""Restore verifies before it builds: every chunk recorded, every checksum, every value and every metadata field typed."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import zarr

from farm_grids import ObjectStoreError, SimulationConfig, SnapshotError
from farm_grids.environment import Environment
from farm_grids.snapshot import generation_of
from farm_grids.snapshot_record import checksum
from ..objectstore import worlds
from ..objectstore.s3server import CountingS3Server, s3_client


def _world(temporal: bool = True) -> tuple[Environment, Any]:
    if temporal:
        return worlds.build(worlds.config("ram"))
    env = Environment(worlds.config("ram"), temporal_world_layers=False)
    return env, None


@pytest.fixture
def snapshot(tmp_path: Path) -> str:
    env, driver = _world()
    with env:
        driver.run(3)
        url = str(tmp_path / "snap.zarr")
        env.snapshot(url)
    return url


def _record(url: str) -> dict[str, Any]:
    return json.loads(Path(url, "zarr.json").read_text())["attributes"]["farm_grids_snapshot"]


def _edit_record(url: str, **changes: Any) -> None:
    document = json.loads(Path(url, "zarr.json").read_text())
    document["attributes"]["farm_grids_snapshot"].update(changes)
    Path(url, "zarr.json").write_text(json.dumps(document))


def _chunks(url: str, array: str) -> list[Path]:
    folder = Path(url, generation_of(url), array)
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.name != "zarr.json")


def _refused(url: str, match: str, tmp_path: Path) -> None:
    """Restore onto files raises SnapshotError and leaves no world behind."""
    target = tmp_path / "restored"
    with pytest.raises(SnapshotError, match=match):
        Environment.restore(url, backend="memmap", directory=str(target))
    assert not target.exists() or not any(target.iterdir())


def test_a_missing_chunk_is_refused_not_read_as_zeros(snapshot: str, tmp_path: Path) -> None:
    resources = _chunks(snapshot, "layers/resources/RESOURCES")
    assert resources, "the resources grid holds chunks"
    resources[0].unlink()  # a partial copy, a lost object
    _refused(snapshot, "lacks keys", tmp_path)


def test_an_extra_chunk_is_refused(snapshot: str, tmp_path: Path) -> None:
    chunk = _chunks(snapshot, "layers/env/OBSTACLES")[0]
    (chunk.parent / "7").write_bytes(chunk.read_bytes())  # a chunk no writer recorded
    _refused(snapshot, "unrecorded keys", tmp_path)


def test_a_corrupt_chunk_is_a_snapshot_error(snapshot: str, tmp_path: Path) -> None:
    chunk = _chunks(snapshot, "layers/env/VISIBILITY")[0]
    chunk.write_bytes(b"\x28\xb5\x2f\xfd" + os.urandom(64))  # a zstd magic number, then garbage
    _refused(snapshot, "VISIBILITY.*corrupt", tmp_path)


def test_a_valid_chunk_of_other_data_fails_its_checksum(tmp_path: Path) -> None:
    """Two snapshots of different worlds: one's chunk in the other decodes fine, but is not what was written."""
    urls = []
    for ticks in (1, 4):
        env, driver = _world()
        with env:
            driver.run(ticks)
            urls.append(str(tmp_path / f"snap-{ticks}.zarr"))
            env.snapshot(urls[-1])
    ours, theirs = (_chunks(url, "layers/temporal/TRAILS")[0] for url in urls)
    assert ours.read_bytes() != theirs.read_bytes()
    ours.write_bytes(theirs.read_bytes())
    _refused(urls[0], "TRAILS does not match its checksum", tmp_path)


def test_an_array_whose_metadata_disagrees_with_the_record_is_refused(snapshot: str, tmp_path: Path) -> None:
    meta = Path(snapshot, generation_of(snapshot), "agents", "hp", "zarr.json")
    document = json.loads(meta.read_text())
    document["data_type"] = "int32" if document["data_type"] != "int32" else "float32"
    meta.write_text(json.dumps(document))
    _refused(snapshot, "hp is .* in its metadata", tmp_path)


@pytest.mark.parametrize(("field", "value", "match"), [
    ("tick", -5, "tick must be in"), ("tick", 10**30, "tick must be in"), ("tick", True, "tick must be an integer"),
    ("tick", "7", "tick must be an integer"), ("tick", 7.0, "tick must be an integer"),
    ("temporal_world_layers", False, "state.temporal is present although temporal_world_layers is false"),
    ("temporal_world_layers", 1, "temporal_world_layers must be true or false"),
    ("world", [48, "64"], "world width must be an integer"), ("world", [48], r"world must be \[height, width\]"),
    ("channels", "TRAILS", "channels must be a list"), ("config", [], "config must be an object"),
    ("generation", "../elsewhere", "generation must name"), ("rng", None, "rng must be an object"),
    ("arrays", {"../x/y": {}}, "outside the snapshot layout"), ("retiring", [3], "retiring must be a list"),
])
def test_record_fields_are_strictly_typed(snapshot: str, tmp_path: Path, field: str, value: Any, match: str) -> None:
    _edit_record(snapshot, **{field: value})
    _refused(snapshot, match, tmp_path)


@pytest.mark.parametrize(("field", "value", "match"), [
    ("shape", [48, -1], "shape must be in"), ("dtype", "object", "dtype must be one of"),
    ("chunks", ["../../zarr.json"], "chunk keys"), ("crc32c", "0", "crc32c must be an integer"),
])
def test_array_entries_are_strictly_typed(snapshot: str, tmp_path: Path, field: str, value: Any, match: str) -> None:
    arrays = _record(snapshot)["arrays"]
    arrays["agents/hp"][field] = value
    _edit_record(snapshot, arrays=arrays)
    _refused(snapshot, match, tmp_path)


def test_state_fields_are_strictly_typed(snapshot: str, tmp_path: Path) -> None:
    state = _record(snapshot)["state"]
    state["temporal"]["has_data"]["TRAILS"] = "yes"
    _edit_record(snapshot, state=state)
    _refused(snapshot, "has_data of 'TRAILS' must be true or false", tmp_path)


def _sparse_snapshot(tmp_path: Path) -> str:
    env, _ = _world(temporal=False)
    with env:
        env.deposit_temporal_events("TRAILS", [1, 2, 3], [4, 5, 6], [0.25, 0.5, 0.75])
        url = str(tmp_path / "sparse.zarr")
        env.snapshot(url)
    return url


def _rewrite_consistently(url: str, path: str, data: np.ndarray) -> None:
    """Replace an array's data and its checksum alike: a snapshot only the value rules can refuse."""
    zarr.open_group(f"{url}/{generation_of(url)}", mode="r+", zarr_format=3)[path][...] = data
    arrays = _record(url)["arrays"]
    arrays[path]["crc32c"] = checksum(data)
    _edit_record(url, arrays=arrays)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_sparse_values_are_refused(tmp_path: Path, bad: float) -> None:
    url = _sparse_snapshot(tmp_path)
    with Environment.restore(url) as restored:  # the untouched snapshot restores
        assert restored.sparse_events["TRAILS"].values.tolist() == [0.25, 0.5, 0.75]
    _rewrite_consistently(url, "sparse/TRAILS/values", np.array([0.25, bad, 0.75], dtype=np.float32))
    _refused(url, "sparse values of 'TRAILS' must be finite", tmp_path)


def test_sparse_cells_outside_the_world_or_repeated_are_refused(tmp_path: Path) -> None:
    url = _sparse_snapshot(tmp_path)
    cells = np.array(zarr.open_group(f"{url}/{generation_of(url)}", mode="r")["sparse/TRAILS/cells"][...])
    _rewrite_consistently(url, "sparse/TRAILS/cells", np.array([cells[0], cells[0], cells[2]], dtype=cells.dtype))
    _refused(url, "distinct, sorted and inside the world", tmp_path)


def test_a_zarr_v2_group_is_never_read(tmp_path: Path, snapshot: str) -> None:
    url = str(tmp_path / "v2.zarr")
    group = zarr.open_group(url, mode="w", zarr_format=2)
    group.attrs["farm_grids_snapshot"] = {**_record(snapshot), "format": 1}
    group.create_array("layers/env/OBSTACLES", shape=worlds.SHAPE, dtype="f4")
    _refused(url, "zarr v2", tmp_path)


def test_an_untouched_snapshot_restores_bitwise(snapshot: str) -> None:
    env, driver = _world()
    with env:
        driver.run(3)
        with Environment.restore(snapshot, expect=SimulationConfig(height=48, width=64)) as restored:
            assert worlds.fingerprint(restored) == worlds.fingerprint(env)


def _snapshot_on_s3(server: CountingS3Server, bucket: str) -> tuple[dict, str, object]:
    """A committed snapshot of a small world in ``bucket``: its storage options, URL and an S3 client."""
    options = server.storage_options()
    url = f"s3://{bucket}/snap.zarr"
    env, driver = _world()
    with env:
        driver.run(3)
        env.snapshot(url, storage_options=options)
    return options, url, s3_client(server)


def test_a_missing_object_on_s3_is_refused(s3_server: CountingS3Server, bucket: str) -> None:
    options, url, client = _snapshot_on_s3(s3_server, bucket)
    prefix = f"snap.zarr/{generation_of(url, storage_options=options)}/layers/resources/RESOURCES/c/"
    keys = [item["Key"] for item in client.list_objects_v2(Bucket=bucket, Prefix=prefix)["Contents"]]
    client.delete_object(Bucket=bucket, Key=keys[0])
    with pytest.raises(SnapshotError, match="lacks keys"):
        Environment.restore(url, storage_options=options)


def test_a_corrupt_object_on_s3_is_a_snapshot_error(s3_server: CountingS3Server, bucket: str) -> None:
    options, url, client = _snapshot_on_s3(s3_server, bucket)
    prefix = f"snap.zarr/{generation_of(url, storage_options=options)}/layers/env/OBSTACLES/c/"
    key = client.list_objects_v2(Bucket=bucket, Prefix=prefix)["Contents"][0]["Key"]
    client.put_object(Bucket=bucket, Key=key, Body=b"\x28\xb5\x2f\xfd" + os.urandom(64))
    with pytest.raises(SnapshotError, match="OBSTACLES.*corrupt"):
        Environment.restore(url, storage_options=options)
    with pytest.raises(ObjectStoreError):  # the network stays ObjectStoreError: a closed port
        Environment.restore(url, storage_options={**options, "endpoint_url": "http://127.0.0.1:9"})


def test_a_flipped_temporal_flag_is_refused_even_with_a_matching_state(snapshot: str, tmp_path: Path) -> None:
    """The flag must agree with the arrays written: flipping it would silently drop the temporal layers."""
    state = _record(snapshot)["state"]
    state.pop("temporal")
    _edit_record(snapshot, temporal_world_layers=False, state=state)
    _refused(snapshot, "temporal_world_layers is false but the temporal layers are present", tmp_path)
    sparse = _sparse_snapshot(tmp_path)
    _edit_record(sparse, temporal_world_layers=True, state={**_record(sparse)["state"],
                                                           "temporal": {"gammas": {}, "has_data": {}}})
    _refused(sparse, "temporal_world_layers is true but the temporal layers are absent", tmp_path)
