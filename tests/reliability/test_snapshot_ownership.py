"""A snapshot writes only where nothing is, or over a committed farm-grids snapshot: it never deletes what it did not write."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any, Iterator

import pytest

from farm_grids import InvalidGridSpecError, ObjectStoreError, SnapshotError
from farm_grids.environment import Environment
from farm_grids.snapshot import generation_of
from ..objectstore import worlds
from ..objectstore.s3server import CountingS3Server, s3_client

from .helpers import tree_state


@pytest.fixture
def env() -> Iterator[Environment]:
    world, driver = worlds.build(worlds.config("ram"))
    with world:
        driver.run(2)
        yield world


def _user_data(root: Path) -> Path:
    """A directory holding what a user keeps there: a file and a non-empty subdirectory."""
    (root / "sub").mkdir(parents=True)
    (root / "precious.txt").write_text("x")
    (root / "sub" / "notes.txt").write_text("y")
    return root


def test_a_directory_holding_user_files_is_refused_and_left_untouched(env: Environment, tmp_path: Path) -> None:
    data = _user_data(tmp_path / "data")
    before = tree_state(data)
    for overwrite in (False, True):  # overwrite replaces a committed snapshot, never a user's directory
        with pytest.raises(SnapshotError, match="precious.txt|sub"):
            env.snapshot(str(data), overwrite=overwrite)
        assert tree_state(data) == before


def test_a_user_file_inside_a_committed_snapshot_is_never_deleted(env: Environment, tmp_path: Path) -> None:
    url = tmp_path / "snap.zarr"
    env.snapshot(str(url))
    (url / "README.txt").write_text("mine")
    before = tree_state(url)
    with pytest.raises(SnapshotError, match="README.txt"):
        env.snapshot(str(url), overwrite=True)
    assert tree_state(url) == before


def test_a_zarr_group_that_is_not_a_snapshot_is_refused(env: Environment, tmp_path: Path) -> None:
    import zarr

    url = tmp_path / "theirs.zarr"
    zarr.open_group(str(url), mode="w").create_array("data", shape=(4,), dtype="f4")
    before = tree_state(url)
    with pytest.raises(SnapshotError, match="zarr.json"):
        env.snapshot(str(url), overwrite=True)
    assert tree_state(url) == before


def test_a_group_named_like_a_generation_without_our_marker_is_foreign(env: Environment, tmp_path: Path) -> None:
    url = tmp_path / "snap.zarr"
    (url / f"g-{'0' * 32}").mkdir(parents=True)
    (url / f"g-{'0' * 32}" / "zarr.json").write_text(json.dumps({"zarr_format": 3, "node_type": "group",
                                                                "attributes": {}}))
    before = tree_state(url)
    with pytest.raises(SnapshotError, match="g-0000"):
        env.snapshot(str(url))
    assert tree_state(url) == before


@pytest.mark.parametrize("where", ["", " ", ".", "./", "/", "file://"])
def test_the_working_directory_and_the_filesystem_root_are_never_a_snapshot(
        env: Environment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str) -> None:
    monkeypatch.chdir(_user_data(tmp_path / "work"))
    before = tree_state(tmp_path / "work")
    with pytest.raises(SnapshotError, match="working directory|filesystem root|non-empty"):
        env.snapshot(where, overwrite=True)
    assert tree_state(tmp_path / "work") == before


def test_a_path_that_resolves_to_the_working_directory_is_refused(env: Environment, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    work = _user_data(tmp_path / "work")
    monkeypatch.chdir(work)
    os.symlink(work, tmp_path / "link")
    for where in (str(work), "sub/..", str(tmp_path / "link")):
        with pytest.raises(SnapshotError, match="working directory"):
            env.snapshot(where, overwrite=True)
    assert (work / "precious.txt").read_text() == "x"


def test_a_file_at_the_location_is_refused(env: Environment, tmp_path: Path) -> None:
    target = tmp_path / "file.zarr"
    target.write_text("not a directory")
    with pytest.raises(SnapshotError, match="file"):
        env.snapshot(str(target), overwrite=True)
    assert target.read_text() == "not a directory"


def test_absent_and_empty_locations_are_written(env: Environment, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    for where in (tmp_path / "absent" / "deep", tmp_path / "empty"):
        env.snapshot(str(where))
        with Environment.restore(str(where)) as restored:
            assert worlds.fingerprint(restored) == worlds.fingerprint(env)


def test_a_committed_snapshot_is_replaced_only_with_overwrite(env: Environment, tmp_path: Path) -> None:
    url = str(tmp_path / "snap.zarr")
    env.snapshot(url)
    with pytest.raises(SnapshotError, match="already exists"):
        env.snapshot(url)
    first = generation_of(url)
    env.tick += 1
    env.snapshot(url, overwrite=True)
    assert generation_of(url) != first
    assert sorted(os.listdir(url)) == sorted(["zarr.json", generation_of(url)])  # the old generation is gone
    with Environment.restore(url) as restored:
        assert restored.tick == env.tick


def test_a_torn_write_of_ours_is_written_over_and_tidied(env: Environment, tmp_path: Path) -> None:
    """Only generations carrying our marker (a writer killed before its commit): the location is ours."""
    url = tmp_path / "snap.zarr"
    env.snapshot(str(url))
    stray = generation_of(str(url))
    (url / "zarr.json").unlink()  # as if killed before the switch: no commit, only our generation
    env.snapshot(str(url))
    assert not (url / stray).exists()
    assert sorted(os.listdir(url)) == sorted(["zarr.json", generation_of(str(url))])


def _as_format_1(url: Path) -> None:
    """Rewrite a snapshot in the old layout: data in the root group, the record without generation."""
    generation = generation_of(str(url))
    document = json.loads((url / "zarr.json").read_text())
    record = document["attributes"]["farm_grids_snapshot"]
    for key in ("generation", "arrays", "retiring"):
        record.pop(key)
    record["format"] = 1
    for entry in os.listdir(url / generation):
        if entry != "zarr.json":
            shutil.move(url / generation / entry, url / entry)
    shutil.rmtree(url / generation)
    (url / "zarr.json").write_text(json.dumps(document))


def test_a_format_1_snapshot_restores_and_is_replaced_by_an_overwrite(env: Environment, tmp_path: Path) -> None:
    url = tmp_path / "old.zarr"
    env.snapshot(str(url))
    _as_format_1(url)
    with Environment.restore(str(url)) as restored:
        assert worlds.fingerprint(restored) == worlds.fingerprint(env)
    with pytest.raises(SnapshotError, match="already exists"):
        env.snapshot(str(url))
    env.tick += 3
    env.snapshot(str(url), overwrite=True)
    assert sorted(os.listdir(url)) == sorted(["zarr.json", generation_of(str(url))])
    with Environment.restore(str(url)) as restored:
        assert worlds.fingerprint(restored) == worlds.fingerprint(env)


@pytest.mark.parametrize("bad", [None, 7, b"/tmp/x"])
def test_a_location_that_is_not_a_path_is_a_typed_error(env: Environment, bad: Any) -> None:
    with pytest.raises(SnapshotError, match="path or URL"):
        env.snapshot(bad)
    with pytest.raises(SnapshotError, match="path or URL"):
        Environment.restore(bad)


def test_unusable_local_names_are_a_typed_error(env: Environment, tmp_path: Path) -> None:
    for bad in (str(tmp_path / ("n" * 256)), str(tmp_path / "a\ud800b"), str(tmp_path / "nul\x00")):
        with pytest.raises(SnapshotError, match="longer than|encodable|non-empty"):
            env.snapshot(bad)
        with pytest.raises(SnapshotError, match="longer than|encodable|non-empty"):
            Environment.restore(bad)
    assert os.listdir(tmp_path) == []


def test_a_location_that_cannot_be_created_is_a_typed_error(env: Environment, tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")  # its "directory" is a file: mkdir fails (ENOTDIR), even for root
    with pytest.raises(ObjectStoreError, match="NotADirectoryError"):
        env.snapshot(str(tmp_path / "file" / "snap.zarr"))
    assert (tmp_path / "file").read_text() == "x"


def test_storage_options_that_are_not_a_mapping_are_a_typed_error(env: Environment, tmp_path: Path) -> None:
    for options in ("abc", ["a"], 3):
        with pytest.raises(InvalidGridSpecError, match="storage_options"):
            env.snapshot("s3://bucket/snap.zarr", storage_options=options)
        with pytest.raises(InvalidGridSpecError, match="storage_options"):
            Environment.restore("s3://bucket/snap.zarr", storage_options=options)
    with pytest.raises(InvalidGridSpecError, match="storage_options"):
        env.snapshot(str(tmp_path / "x"), storage_options={"key": "k"})
    assert not (tmp_path / "x").exists()


# -- object storage ----------------------------------------------------------------------------

def _objects(server: CountingS3Server, name: str) -> dict[str, str]:
    client = s3_client(server)
    found = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=name):
        found |= {item["Key"]: item["ETag"] for item in page.get("Contents", [])}
    return found


def _put(server: CountingS3Server, name: str, key: str) -> None:
    s3_client(server).put_object(Bucket=name, Key=key, Body=b"user data")


def test_a_prefix_holding_user_objects_is_refused_and_left_untouched(
        env: Environment, s3_server: CountingS3Server, bucket: str) -> None:
    options = s3_server.storage_options()
    _put(s3_server, bucket, "data/precious.txt")
    _put(s3_server, bucket, "data/sub/notes.txt")
    before = _objects(s3_server, bucket)
    for overwrite in (False, True):
        with pytest.raises(SnapshotError, match="precious.txt|sub"):
            env.snapshot(f"s3://{bucket}/data", storage_options=options, overwrite=overwrite)
    assert _objects(s3_server, bucket) == before


def test_a_prefix_emptied_of_its_objects_blocks_nothing_and_a_user_object_still_does(
        env: Environment, s3_server: CountingS3Server, bucket: str) -> None:
    # SeaweedFS keeps a prefix whose objects were deleted as an empty directory and still lists
    # it (an interrupted snapshot's generation leaves one); moto forgets it. Either way it holds no data.
    options = s3_server.storage_options()
    client = s3_client(s3_server)
    _put(s3_server, bucket, "snap/g-0123/zarr.json")
    client.delete_object(Bucket=bucket, Key="snap/g-0123/zarr.json")
    env.snapshot(f"s3://{bucket}/snap", storage_options=options)
    assert Environment.restore(f"s3://{bucket}/snap", storage_options=options).tick == env.tick
    _put(s3_server, bucket, "other/g-0123/zarr.json")
    client.delete_object(Bucket=bucket, Key="other/g-0123/zarr.json")
    _put(s3_server, bucket, "other/mine.txt")
    before = _objects(s3_server, bucket)
    with pytest.raises(SnapshotError, match="mine.txt"):
        env.snapshot(f"s3://{bucket}/other", storage_options=options, overwrite=True)
    assert _objects(s3_server, bucket) == before


@pytest.mark.parametrize("suffix", ["", "/", "//", "/./data", "/data/../x"])
def test_a_bucket_root_is_never_a_snapshot(env: Environment, s3_server: CountingS3Server, bucket: str,
                                           suffix: str) -> None:
    _put(s3_server, bucket, "precious.txt")
    before = _objects(s3_server, bucket)
    with pytest.raises(SnapshotError, match="bucket root|segment"):
        env.snapshot(f"s3://{bucket}{suffix}", storage_options=s3_server.storage_options(), overwrite=True)
    assert _objects(s3_server, bucket) == before


def test_overwrite_on_s3_replaces_only_our_generation(env: Environment, s3_server: CountingS3Server,
                                                      bucket: str) -> None:
    options = s3_server.storage_options()
    _put(s3_server, bucket, "data-beside/keep.txt")  # a sibling prefix sharing the name's start
    url = f"s3://{bucket}/data"
    env.snapshot(url, storage_options=options)
    first = generation_of(url, storage_options=options)
    env.tick += 1
    env.snapshot(url, storage_options=options, overwrite=True)
    second = generation_of(url, storage_options=options)
    keys = _objects(s3_server, bucket)
    assert "data-beside/keep.txt" in keys
    assert not any(key.startswith(f"data/{first}/") for key in keys)
    assert {key.split("/")[1] for key in keys if key.startswith("data/")} == {"zarr.json", second}
    with Environment.restore(url, storage_options=options) as restored:
        assert worlds.fingerprint(restored) == worlds.fingerprint(env)
