"""Object-storage cells: a zarr cell on a real S3 server, run by a real worker process that reaches the
server with the storage options of its own environment; secrets never written; only its own objects removed."""

from __future__ import annotations

import json
import logging

import dask
from distributed import LocalCluster

from harness.cli import main
from harness.matrix.cluster import lease_config
from harness.matrix.journal import JOURNAL_NAME
from harness.matrix.storage import REDACTED, STORAGE_OPTIONS_ENV

from .conftest import TEST_LEASE_TIMEOUT_S, write_spec
from .s3 import KEY, S3, SECRET, s3, matrix_s3_server, written_text  # noqa: F401  (fixtures)

SPEC_SECRET = "spec-session-token-9c21"


def worker_cluster(env: dict[str, str]) -> LocalCluster:
    """One single-threaded worker process offering a timing unit, with ``env`` set in its own environment only."""
    with dask.config.set(lease_config(TEST_LEASE_TIMEOUT_S)):
        return LocalCluster(n_workers=1, threads_per_worker=1, processes=True, resources={"timing": 1},
                            dashboard_address=None, silence_logs=logging.ERROR, env=env)


def journal_rows(out) -> list[dict]:
    return [json.loads(line) for line in (out / JOURNAL_NAME).read_text(encoding="utf-8").splitlines()[1:]]


def test_a_zarr_cell_on_s3_runs_with_the_workers_own_storage_options_and_leaves_nothing(tmp_path, s3, monkeypatch) -> None:
    monkeypatch.delenv(STORAGE_OPTIONS_ENV, raising=False)  # the client has none: only the worker knows the server
    spec = write_spec(tmp_path / "spec.yaml", {"workload": ["resource_windows"], "size": [32],
                                               "backend": ["memmap", "zarr"]}, threshold=1000.0,
                      storage={"zarr": {"directory": f"s3://{s3.bucket}/matrix/",
                                        "storage_options": {"token": SPEC_SECRET}}})
    worker_options = s3.options("matrix-worker")  # endpoint and credentials: in no spec, in no client
    out = tmp_path / "out"
    s3.server.log.clear()
    with worker_cluster({STORAGE_OPTIONS_ENV: json.dumps(worker_options)}) as cluster:
        assert main(["matrix", str(spec), "--scheduler", cluster.scheduler_address, "--out", str(out)]) == 0

    rows = {row["backend"]: row for row in journal_rows(out)}
    assert sorted(rows) == ["memmap", "zarr"] and all(row["verdict"] == "PASS" for row in rows.values())
    assert "storage" not in rows["memmap"]  # a local backend keeps to the worker's scratch directory
    storage = rows["zarr"]["storage"]
    assert storage["directory"].startswith(f"s3://{s3.bucket}/matrix/workload-resource_windows-size-32-")
    # What the worker used, as written down: its environment's endpoint, its own and the spec's secrets hidden.
    assert storage["storage_options"]["endpoint_url"] == s3.server.endpoint
    assert storage["storage_options"]["key"] == storage["storage_options"]["secret"] == REDACTED
    assert storage["storage_options"]["token"] == REDACTED
    # The requests that wrote the grids came from the worker, tagged by the options of its environment.
    prefix = f"/{s3.bucket}/matrix/"
    puts = [path for (tag, method, path) in s3.server.log.counts if tag == "matrix-worker" and method == "PUT"]
    assert any(path.startswith(prefix) and ".zarr/" in path for path in puts), puts
    # The cell removed its marker and its stores' groups, and nothing is left under the directory.
    assert storage["removed"] >= 2 and storage["left"] == []
    assert s3.keys("matrix/") == []
    text = written_text(out)
    assert SECRET not in text and KEY not in text and SPEC_SECRET not in text


def test_in_process_the_command_is_the_worker_and_uses_its_own_environment(tmp_path, s3, monkeypatch) -> None:
    monkeypatch.setenv(STORAGE_OPTIONS_ENV, json.dumps(s3.options("matrix-in-process")))
    spec = write_spec(tmp_path / "spec.yaml", {"workload": ["resource_windows", "temporal_windows"], "size": [32],
                                               "backend": ["zarr"]}, threshold=1000.0,
                      storage={"zarr": {"directory": f"s3://{s3.bucket}/here"}})
    out = tmp_path / "out"
    assert main(["matrix", str(spec), "--in-process", "--out", str(out)]) == 0
    rows = journal_rows(out)
    assert len(rows) == 2 and {row["verdict"] for row in rows} == {"PASS"}
    assert len({row["storage"]["directory"] for row in rows}) == 2  # a prefix per cell
    assert all(row["storage"]["left"] == [] for row in rows) and s3.keys("here/") == []
    assert SECRET not in written_text(out)
