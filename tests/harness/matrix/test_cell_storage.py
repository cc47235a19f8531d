"""A cell's own prefix on a real S3 server: removal takes what the cell's marker and its stores' records prove
are the cell's, and leaves everything else."""

from __future__ import annotations

import json

import numpy as np

from farm_grids.stores.zarr.store import ZarrStore
from harness.matrix.cell_storage import MARKER_NAME, CellStorage
from harness.matrix.storage import STORAGE_OPTIONS_ENV, StorageSection
from harness.workloads.catalog import build_workload

from .s3 import KEY, S3, SECRET, s3, matrix_s3_server  # noqa: F401  (fixtures)

CELL = "workload=resource_windows,size=32,layout=rows,backend=zarr,agents=1000"


def cell_storage(s3: S3, tag: str = "cell") -> CellStorage:
    """A cell prefix under s3://bucket/matrix, the options coming from this process's (the worker's) environment."""
    section = StorageSection(f"s3://{s3.bucket}/matrix")
    return CellStorage(section, CELL, environ={STORAGE_OPTIONS_ENV: json.dumps(s3.options(tag))})


def prefix_of(place: CellStorage) -> str:
    return place.path.split("/", 1)[1]  # bucket-relative


def test_two_cells_get_their_own_prefixes_and_each_removes_its_groups_and_marker(s3) -> None:
    first, second = cell_storage(s3), cell_storage(s3)
    assert first.url != second.url and first.url.startswith(f"s3://{s3.bucket}/matrix/workload-resource_windows-")
    workloads = [build_workload("observe_all", "memmap", 32, file_backend="zarr", agents=20, storage=place.create())
                 for place in (first, second)]
    for workload in workloads:
        workload.run()
        workload.close()
    assert any(key.endswith(".zarr/zarr.json") for key in s3.keys(prefix_of(first)))
    removal = first.remove()
    assert removal.left == () and s3.keys(prefix_of(first)) == []
    assert removal.removed == 4  # the marker and the three managers' emptied groups
    assert f"{prefix_of(second)}/{MARKER_NAME}" in s3.keys(prefix_of(second))  # the other cell's is untouched
    assert second.remove().left == () and s3.keys("matrix/") == []


def test_grids_a_failed_cell_left_are_removed_by_their_stores_record_and_foreign_objects_stay(s3) -> None:
    place = cell_storage(s3)
    location = place.create().location
    store = ZarrStore(f"{location}/env_w1.zarr", storage_options=place.options, namespace="env", simulation_id="w1")
    store.create("OBSTACLES", (32, 32))
    store.write("OBSTACLES", np.ones((32, 32), dtype=np.float32))
    store.flush()  # the cell "dies" here: its store never closes
    prefix = prefix_of(place)
    foreign = {f"{prefix}/notes.txt": b"someone's", f"{prefix}/theirs.zarr/zarr.json":
               json.dumps({"zarr_format": 3, "node_type": "group", "attributes": {}}).encode(),
               f"{prefix}/env_w1.zarr/NOT_RECORDED/c/0/0": b"not the store's"}
    for key, body in foreign.items():
        s3.client().put_object(Bucket=s3.bucket, Key=key, Body=body)
    assert any("/OBSTACLES/c/" in key for key in s3.keys(prefix))

    removal = place.remove()
    assert sorted(s3.keys(prefix)) == sorted(foreign)
    assert sorted(key.split("/", 1)[1] for key in removal.left) == sorted(foreign)


def test_a_prefix_whose_marker_is_not_the_cells_own_is_left_whole(s3) -> None:
    place = cell_storage(s3)
    prefix = prefix_of(place)
    workload = build_workload("resource_windows", "memmap", 32, file_backend="zarr", storage=place.create())
    workload.close()
    # Someone else's marker at the same place (another token): nothing here is provably the cell's.
    s3.client().put_object(Bucket=s3.bucket, Key=f"{prefix}/{MARKER_NAME}", Body=json.dumps(
        {"kind": "farm-harness/matrix-cell-storage/v1", "cell": CELL, "token": "0" * 16}).encode())
    before = s3.keys(prefix)
    removal = place.remove()
    assert removal.removed == 0 and s3.keys(prefix) == before and len(removal.left) == len(before) >= 2


def test_a_worker_with_only_the_standard_aws_variables_reaches_the_server(s3, monkeypatch) -> None:
    """No storage options anywhere: s3fs (botocore) reads AWS_* on the worker, and nothing of them is recorded."""
    for name, value in {"AWS_ENDPOINT_URL": s3.server.endpoint, "AWS_ACCESS_KEY_ID": KEY,
                        "AWS_SECRET_ACCESS_KEY": SECRET, "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(name, value)
    place = CellStorage(StorageSection(f"s3://{s3.bucket}/matrix"), CELL, environ={})
    build_workload("resource_windows", "memmap", 32, file_backend="zarr", storage=place.create()).close()
    assert any(key.endswith(".zarr/zarr.json") for key in s3.keys(prefix_of(place)))
    assert place.record()["storage_options"] == {}
    assert place.remove().left == () and s3.keys("matrix/") == []
