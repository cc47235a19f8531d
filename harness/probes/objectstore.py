"""Figures for worlds on object storage: snapshot and restore throughput, warm zarr/RAM ratios, a cold first tick from S3.

Without an endpoint, SeaweedFS (``weed mini``, or moto's server) is started on 127.0.0.1, so every
figure is a real HTTP round trip through s3fs. Each S3 figure stands beside the server's raw floor
read in the same run: a plain s3fs GET and PUT of the same objects."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from harness.errors import HarnessUsageError
from harness.probes.s3_raw import ObjectRead, objects_under, raw_client, raw_get, raw_put, recorded_gets
from harness.probes.s3_server import S3ServerError, SeaweedS3Server, weed_version
from harness.probes.timing import measure_paired
from harness.workloads.catalog import build_workload


MIB = 2**20
LAYERS = ("OBSTACLES", "TERRAIN_COST", "VISIBILITY")


@dataclass(frozen=True)
class S3Target:
    """A place on an S3 server to write to: its s3:// prefix, the s3fs options, and what serves it."""

    where: str
    storage_options: dict[str, Any]
    server: str


@contextmanager
def s3_target(endpoint: str | None, bucket: str | None, server: str = "seaweedfs") -> Iterator[S3Target]:
    """Where to write on S3: the given endpoint, else a server started here on 127.0.0.1 and stopped after."""
    if endpoint is not None:
        if not bucket:
            raise HarnessUsageError("--endpoint needs --bucket")
        yield S3Target(f"s3://{bucket}/farm-harness-{int(time.time())}", {"endpoint_url": endpoint}, endpoint)
        return
    if server == "seaweedfs":
        try:
            version = weed_version()
        except S3ServerError as exc:
            raise HarnessUsageError(f"no --endpoint given: {exc}") from None
        with SeaweedS3Server() as seaweedfs:
            seaweedfs.create_bucket("farm-harness")
            yield S3Target("s3://farm-harness/run", seaweedfs.storage_options(), f"SeaweedFS {version} on 127.0.0.1")
        return
    with _moto_server() as target:
        yield target


@contextmanager
def _moto_server() -> Iterator[S3Target]:
    try:
        import boto3
        from moto.server import ThreadedMotoServer
    except ImportError as exc:
        raise HarnessUsageError(f"--server moto needs moto (pip install 'moto[server]'): {exc}")
    import logging

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one log line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    options = {"endpoint_url": f"http://{host}:{port}", "key": "farm", "secret": "farm-secret",
               "client_kwargs": {"region_name": "us-east-1"}}
    boto3.client("s3", endpoint_url=options["endpoint_url"], aws_access_key_id="farm",
                 aws_secret_access_key="farm-secret", region_name="us-east-1").create_bucket(Bucket="farm-harness")
    try:
        yield S3Target("s3://farm-harness/run", options, "moto on 127.0.0.1")
    finally:
        server.stop()


def check_endpoint(endpoint: str, timeout: float = 10.0) -> None:
    """HarnessUsageError unless an HTTP server answers at ``endpoint`` (any status will do: S3 refuses anonymous GETs)."""
    try:
        with urllib.request.urlopen(endpoint, timeout=timeout):
            pass
    except urllib.error.HTTPError:
        return  # a server answered, with an error status
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise HarnessUsageError(f"--endpoint {endpoint}: no server answers ({reason})") from None


def _world(size: int, agents: int, memmap: dict[str, Any] | None = None, storage_options: Any = None) -> Any:
    from farm_grids import Environment, SimulationConfig
    from farm_grids.sim import WorkloadDriver

    cfg = SimulationConfig(width=size, height=size, seed=1, simulation_id="objectstore")
    if memmap:
        cfg = cfg.with_overrides({f"memmap.{key}": value for key, value in memmap.items()})
    env = Environment(cfg, storage_options=storage_options)
    rng = np.random.default_rng(2)
    for layer in LAYERS:
        env.set_environmental_layer(layer, rng.random((size, size), dtype=np.float32))
    driver = WorkloadDriver(env, agents, seed=3)
    driver.run(2)
    return env, driver


def _world_bytes(env: Any) -> int:
    return sum(m.store.info(name).nbytes for m in env.managers for name in m.names())


def snapshot_figures(size: int, agents: int, where: str, storage_options: Any, scratch: Path) -> dict[str, Any]:
    """Seconds and MiB/s of ``snapshot`` to ``where`` and of ``restore`` from it (RAM both ends)."""
    from farm_grids import Environment

    env, _ = _world(size, agents)
    with env:
        nbytes = _world_bytes(env)
        started = time.perf_counter()
        env.snapshot(where, storage_options=storage_options)
        written = time.perf_counter() - started
    started = time.perf_counter()
    restored = Environment.restore(where, storage_options=storage_options)
    read = time.perf_counter() - started
    restored.close()
    return {"world_mib": nbytes / MIB, "snapshot_s": written, "snapshot_mib_s": nbytes / MIB / written,
            "restore_s": read, "restore_mib_s": nbytes / MIB / read}


def warm_ratios(size: int, agents: int, scratch: Path, blocks: int) -> dict[str, dict[str, float]]:
    """zarr (chunks cached) / RAM for the batched-gather and observe_all workloads, paired."""
    ratios: dict[str, dict[str, float]] = {}
    for name in ("batched_windows", "observe_all"):
        ram = build_workload(name, "ram", size, directory=scratch, agents=agents)
        zarr = build_workload(name, "memmap", size, directory=scratch, agents=agents, file_backend="zarr")
        try:
            timing = measure_paired(ram.run, zarr.run, workload=name, blocks=blocks, warmup_blocks=2)
            ratios[name] = {"ratio": timing.ratio, "ci_low": timing.ci_low, "ci_high": timing.ci_high,
                            "ram_s": timing.baseline_median_s, "zarr_s": timing.candidate_median_s}
        finally:
            ram.close()
            zarr.close()
    return ratios


def _median(values: list[float]) -> float:
    return float(np.median(values))


def s3_snapshot_figures(size: int, agents: int, target: S3Target, repeats: int) -> dict[str, Any]:
    """Snapshot and restore on S3 beside the server's raw PUT and GET of the very objects the snapshot wrote.

    Each repeat: snapshot (timed), a plain s3fs GET of every object it wrote (timed), a PUT of
    those bytes under a new prefix (timed), restore (timed). Medians; each fraction is raw
    seconds / engine seconds for the same bytes (1.0: the engine moves them at the server's pace).
    """
    from farm_grids import Environment

    fs = raw_client(target.storage_options)
    runs: list[dict[str, float]] = []
    env, _ = _world(size, agents)
    with env:
        nbytes = _world_bytes(env)
        for attempt in range(repeats):
            url = f"{target.where}/snap-{attempt}.zarr"
            started = time.perf_counter()
            env.snapshot(url, storage_options=target.storage_options)
            written = time.perf_counter() - started
            fs.invalidate_cache()
            stored = objects_under(fs, url.removeprefix("s3://"))
            got, data = raw_get(fs, [ObjectRead(path) for path in sorted(stored)])
            copy = url.removeprefix("s3://").replace(f"/snap-{attempt}.zarr", f"/raw-{attempt}.zarr", 1)
            put = raw_put(fs, {path.replace(url.removeprefix("s3://"), copy, 1): body for path, body in data.items()})
            started = time.perf_counter()
            Environment.restore(url, storage_options=target.storage_options).close()
            read = time.perf_counter() - started
            fs.rm([copy, url.removeprefix("s3://")], recursive=True)  # both ours, made just above
            runs.append({"snapshot_s": written, "restore_s": read, "raw_put_s": put.seconds, "raw_get_s": got.seconds,
                         "objects": got.objects, "stored_bytes": got.nbytes})
    median = {key: _median([run[key] for run in runs]) for key in ("snapshot_s", "restore_s", "raw_put_s", "raw_get_s")}
    stored_mib = runs[-1]["stored_bytes"] / MIB
    return {"world_mib": nbytes / MIB, "stored_mib": stored_mib, "objects": int(runs[-1]["objects"]),
            "repeats": repeats, **median,
            "snapshot_mib_s": nbytes / MIB / median["snapshot_s"], "restore_mib_s": nbytes / MIB / median["restore_s"],
            "raw_put_mib_s": stored_mib / median["raw_put_s"], "raw_get_mib_s": stored_mib / median["raw_get_s"],
            "snapshot_of_raw_put": median["raw_put_s"] / median["snapshot_s"],
            "restore_of_raw_get": median["raw_get_s"] / median["restore_s"], "runs": runs}


def cold_first_tick(size: int, agents: int, target: S3Target, repeats: int = 1) -> dict[str, Any]:
    """A world written to S3, then opened read-only by fresh Environments: each first tick beside a raw GET of its bytes.

    The objects (or byte ranges) a first tick fetched are recorded from s3fs's own call log;
    a fresh plain s3fs client then GETs exactly those, all at once, timed.
    """
    from farm_grids import Environment, SimulationConfig
    from farm_grids.sim import WorkloadDriver
    from farm_grids.stores.zarr.store import ZarrStore

    where, options = target.where, target.storage_options
    rng = np.random.default_rng(4)
    with ZarrStore(f"{where}/world/env_objectstore.zarr", storage_options=options) as world:
        for layer in LAYERS:
            world.create(layer, (size, size))
            world.write(layer, rng.random((size, size), dtype=np.float32))
    cfg = SimulationConfig(width=size, height=size, seed=1, simulation_id="objectstore").with_overrides({
        "memmap.backend": "zarr", "memmap.directory": f"{where}/world", "memmap.mode": "r",
        "memmap.use_for_environmental": True})
    runs: list[dict[str, float]] = []
    for _ in range(repeats):
        started = time.perf_counter()
        with Environment(cfg, storage_options=options) as env:
            opened = time.perf_counter() - started
            driver = WorkloadDriver(env, agents, seed=5)
            with recorded_gets() as reads:
                tick_started = time.perf_counter()
                env.observe_all()
                driver.step()
                first = time.perf_counter() - tick_started
            fetched = env.environmental.store.chunks_fetched()
            tick_started = time.perf_counter()
            env.observe_all()
            driver.step()
            second = time.perf_counter() - tick_started
        # No s3fs GET recorded means the store read through another client: then there is no
        # floor to replay, and the ratio is left out rather than made up.
        raw = raw_get(raw_client(options), list(reads))[0] if reads else None
        runs.append({"open_s": opened, "first_tick_s": first, "second_tick_s": second, "chunks_fetched": fetched,
                     "gets": len(reads), "get_bytes": raw.nbytes if raw else 0, "raw_get_s": raw.seconds if raw else None})
    median = {key: _median([run[key] for run in runs]) for key in ("open_s", "first_tick_s", "second_tick_s")}
    raw_s = None if any(run["raw_get_s"] is None for run in runs) else _median([run["raw_get_s"] for run in runs])
    return {**median, "raw_get_s": raw_s, "chunks_fetched": int(runs[-1]["chunks_fetched"]), "gets": int(runs[-1]["gets"]),
            "get_mib": runs[-1]["get_bytes"] / MIB,
            "first_tick_of_raw_get": None if raw_s is None else median["first_tick_s"] / raw_s,
            "repeats": repeats, "runs": runs}


def library_figures(size: int, scratch: Path, windows: int = 10_000) -> dict[str, Any]:
    """zarr-python against tensorstore reading the same zarr v3 array (tensorstore if installed)."""
    import zarr
    from zarr.codecs import ZstdCodec

    path = scratch / "library.zarr"
    array = zarr.create_array(str(path), shape=(size, size), chunks=(128, 128), dtype="float32",
                              compressors=ZstdCodec(level=3, checksum=True))
    array[...] = np.random.default_rng(6).random((size, size), dtype=np.float32)
    rng = np.random.default_rng(7)
    corners = rng.integers(0, size - 13, size=(windows, 2))
    figures: dict[str, Any] = {}
    reopened = zarr.open_array(str(path), mode="r")
    started = time.perf_counter()
    reopened[...]
    figures["zarr_python_full_read_s"] = time.perf_counter() - started
    started = time.perf_counter()
    for y, x in corners[:1000].tolist():
        reopened[y : y + 13, x : x + 13]
    figures["zarr_python_window_us"] = (time.perf_counter() - started) / 1000 * 1e6
    try:
        import tensorstore as ts
    except ImportError:
        figures["tensorstore"] = "not installed"
        return figures
    store = ts.open({"driver": "zarr3", "kvstore": {"driver": "file", "path": str(path)}}, read=True).result()
    started = time.perf_counter()
    store.read().result()
    figures["tensorstore_full_read_s"] = time.perf_counter() - started
    started = time.perf_counter()
    for y, x in corners[:1000].tolist():
        store[y : y + 13, x : x + 13].read().result()
    figures["tensorstore_window_us"] = (time.perf_counter() - started) / 1000 * 1e6
    return figures
