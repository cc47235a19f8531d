"""The harness's raw S3 floor: it records exactly the GETs a client made and replays them, bytes for bytes."""

from __future__ import annotations

import numpy as np

from farm_grids.stores.zarr.store import ZarrStore
from harness.probes.s3_raw import ObjectRead, objects_under, raw_client, raw_get, raw_put, recorded_gets


def test_recorded_gets_are_the_chunks_a_cold_read_fetched_and_replay_to_the_same_bytes(s3_server, bucket: str) -> None:
    options = s3_server.storage_options()
    values = np.random.default_rng(1).random((64, 64), dtype=np.float32)
    with ZarrStore(f"s3://{bucket}/g.zarr", chunk=16, storage_options=options) as store:
        store.create("a", (64, 64))
        store.write("a", values)
    with ZarrStore.open(f"s3://{bucket}/g.zarr", mode="r", chunk=16, storage_options=options) as cold:
        with recorded_gets() as reads:
            window = cold.get_window("a", 10, 20, 30, 40)  # rows 0-31, columns 16-47: four chunks
        fetched = cold.chunks_fetched()
    np.testing.assert_array_equal(window, values[10:20, 30:40])
    chunk_reads = sorted(r.path for r in reads if "/a/c/" in r.path)
    assert chunk_reads == [f"{bucket}/g.zarr/a/c/{cy}/{cx}" for cy in (0, 1) for cx in (1, 2)] and fetched == 4
    fs = raw_client(options)
    transfer, data = raw_get(fs, reads)
    stored = objects_under(fs, f"{bucket}/g.zarr/a/c")
    assert transfer.objects == len(reads) and transfer.seconds > 0
    assert {path: len(body) for path, body in data.items() if "/a/c/" in path} == {p: stored[p] for p in chunk_reads}
    part, _ = raw_get(fs, [ObjectRead(chunk_reads[0], 2, 10)])
    assert part.nbytes == 8  # a byte range is read as a range


def test_a_raw_put_writes_every_object_it_times(s3_server, bucket: str) -> None:
    fs = raw_client(s3_server.storage_options())
    objects = {f"{bucket}/copy/{n}": bytes([n]) * (1000 + n) for n in range(20)}
    transfer = raw_put(fs, objects)
    assert (transfer.objects, transfer.nbytes) == (20, sum(len(b) for b in objects.values()))
    fs.invalidate_cache()
    assert objects_under(fs, f"{bucket}/copy") == {path: len(body) for path, body in objects.items()}
    assert transfer.mib_s > 0
