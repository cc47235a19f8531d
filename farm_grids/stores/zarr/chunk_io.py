"""Chunk I/O for zarr arrays: the chunks one operation needs read together, concurrently, decoded off the event loop."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

__all__ = ["DEFAULT_CONCURRENCY", "read_chunks"]

# Chunk reads in flight at once: enough to keep a local device's queue busy and to hide an
# object store's request latency, few enough that a large operation never opens thousands of
# files or connections together.
DEFAULT_CONCURRENCY = 64
# Threads decoding fetched chunks: decoding is CPU work, more threads than cores only queue.
_DECODE_THREADS = max(1, min(8, os.cpu_count() or 1))

_READ_BYTES = 1 << 20  # reads after the first, of a chunk larger than expected
Key = tuple[int, int]


def read_chunks(array: Any, keys: Sequence[Key], tiles: np.ndarray, *, concurrency: int = DEFAULT_CONCURRENCY,
                through_pipeline: bool = False) -> None:
    """Decode each chunk ``keys`` names into ``tiles[ty, tx, :h, :w]``, at most ``concurrency`` reads at once.

    ``array`` is a 2-D zarr v3 array with a regular chunk grid and ``tiles`` its (ny, nx, T, T)
    tile-major mirror, one tile per stored object (a shard, when the array is sharded). A chunk that was never written reads as the array's fill value. A
    corrupt chunk raises the codec's error, as zarr does.

    Local files are read and decoded by a pool of threads (each read and decode releases the
    GIL); other stores are read through zarr's store on its event loop and decoded in a pool.
    Chunks written by ZarrStore (bytes + zstd) are decoded by python-zstandard with one reused
    context per thread, ~3x faster on 16 KiB chunks than numcodecs, which makes a context per
    call; other codec chains go through zarr's codecs. Codecs without a synchronous decoder (sharding) take zarr's own codec pipeline, as every
    read does with ``through_pipeline`` (to compare the two).
    """
    from zarr.core.sync import sync

    if concurrency < 1:
        raise ValueError(f"concurrency must be >= 1, got {concurrency}")
    if not keys:
        return
    chunks = _ChunkTarget(array.async_array, tiles)
    decode = None if through_pipeline else _sync_decoder(chunks)
    if decode is None:
        sync(_read_through_pipeline(chunks, list(keys), concurrency))
        return
    root = _local_root(array.async_array)
    if root is not None:
        _read_local(chunks, root, list(keys), decode, concurrency)
    else:
        sync(_read_remote(chunks, list(keys), decode, concurrency))


class _ChunkTarget:
    """Where each chunk of one array goes in its tile-major mirror, and what an absent chunk holds."""

    def __init__(self, array: Any, tiles: np.ndarray) -> None:
        from zarr.core.buffer import default_buffer_prototype

        self.array, self.tiles, self.tile = array, tiles, tiles.shape[2]
        self.height, self.width = array.shape
        self.prototype = default_buffer_prototype()
        self.spec = array.metadata.get_chunk_spec((0, 0), array.config, self.prototype)  # a regular grid: one spec

    def box(self, key: Key) -> tuple[int, int]:
        ty, tx = key
        return min(self.tile, self.height - ty * self.tile), min(self.tile, self.width - tx * self.tile)

    def key_path(self, key: Key) -> str:
        return self.array.metadata.encode_chunk_key(key)

    def put(self, key: Key, chunk: np.ndarray | None) -> None:
        h, w = self.box(key)
        if chunk is None:  # never written: the fill value, as zarr reads it
            self.tiles[key[0], key[1], :h, :w] = self.spec.fill_value
        else:
            self.tiles[key[0], key[1], :h, :w] = chunk[:h, :w]


Decoder = Callable[[Any], np.ndarray]  # a chunk's stored bytes (any bytes-like object) -> its array


def _sync_decoder(chunks: _ChunkTarget) -> Decoder | None:
    """Stored bytes -> chunk array through the array's codecs in the calling thread; None if one cannot."""
    pipeline, spec = chunks.array.codec_pipeline, chunks.spec
    fast = _zstd_decoder(pipeline, spec)
    if fast is not None:
        return fast
    codecs = (pipeline.array_bytes_codec, *pipeline.bytes_bytes_codecs)
    if pipeline.array_array_codecs or not all(hasattr(codec, "_decode_sync") for codec in codecs):
        return None
    array_bytes, bytes_bytes = pipeline.array_bytes_codec, tuple(reversed(pipeline.bytes_bytes_codecs))
    from_bytes = chunks.prototype.buffer.from_bytes

    def decode(raw: Any) -> np.ndarray:
        buffer = from_bytes(raw)
        for codec in bytes_bytes:
            buffer = codec._decode_sync(buffer, spec)
        return array_bytes._decode_sync(buffer, spec).as_numpy_array()

    return decode


def _zstd_decoder(pipeline: Any, spec: Any) -> Decoder | None:
    """The decoder of a (bytes, zstd) chain, ZarrStore's own, with a reused zstd context per thread."""
    from zarr.codecs import BytesCodec, ZstdCodec

    array_bytes = pipeline.array_bytes_codec
    if pipeline.array_array_codecs or not isinstance(array_bytes, BytesCodec) or len(pipeline.bytes_bytes_codecs) != 1 \
            or not isinstance(pipeline.bytes_bytes_codecs[0], ZstdCodec):
        return None
    import zstandard

    local = threading.local()
    order = "<" if array_bytes.endian is None or array_bytes.endian.value == "little" else ">"
    dtype, shape = np.dtype(spec.dtype.to_native_dtype()).newbyteorder(order), tuple(spec.shape)
    size = int(np.prod(shape)) * dtype.itemsize

    def decode(raw: Any) -> np.ndarray:
        context = getattr(local, "context", None)
        if context is None:  # a context is not thread-safe: one per thread
            context = local.context = zstandard.ZstdDecompressor()
        try:
            plain = context.decompress(raw, max_output_size=size)
        except zstandard.ZstdError as exc:  # the error numcodecs raises for the same bytes
            raise RuntimeError(f"Zstd decompression error: {exc}") from exc
        if len(plain) != size:
            raise RuntimeError(f"a zstd chunk decodes to {len(plain)} bytes, not the chunk's {size}")
        return np.frombuffer(plain, dtype=dtype).reshape(shape)

    return decode


def _local_root(array: Any) -> str | None:
    """The directory a local store keeps the array's chunk files in; None for any other store."""
    from zarr.storage import LocalStore

    store = array.store_path.store
    if not isinstance(store, LocalStore):
        return None
    return os.path.join(os.fspath(store.root), array.store_path.path)


def _read_file(path: str, expected: int) -> bytes | None:
    """A chunk file's bytes (one read when it holds at most ``expected``); None if there is no such file."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        return None
    try:
        parts = [os.read(fd, expected)]
        while len(parts[-1]) == (expected if len(parts) == 1 else _READ_BYTES):  # a short read is the end
            parts.append(os.read(fd, _READ_BYTES))
        return parts[0] if len(parts) == 1 else b"".join(parts)
    finally:
        os.close(fd)


def _read_local(chunks: _ChunkTarget, root: str, keys: list[Key], decode: Decoder, concurrency: int) -> None:
    """Each of ``concurrency`` threads reads and decodes its share of the chunks: no task per chunk."""
    # A stored chunk is rarely larger than its raw bytes plus a frame's overhead: one read each.
    expected = chunks.tile * chunks.tile * chunks.tiles.itemsize * 9 // 8 + 4096
    failures: list[BaseException] = []

    def work(first: int, step: int) -> None:
        try:
            for index in range(first, len(keys), step):
                if failures:  # another thread failed: the call is over
                    return
                # The key's path is made here, not up front: in parallel with the other threads' reads.
                raw = _read_file(os.path.join(root, chunks.key_path(keys[index])), expected)
                chunks.put(keys[index], None if raw is None else decode(raw))
        except BaseException as exc:  # re-raised in the calling thread
            failures.append(exc)

    workers = min(concurrency, len(keys))
    if workers == 1:
        work(0, 1)
    else:
        threads = [threading.Thread(target=work, args=(first, workers), daemon=True) for first in range(workers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    if failures:
        raise failures[0]


async def _read_remote(chunks: _ChunkTarget, keys: list[Key], decode: Callable[[Any, Any], np.ndarray],
                       concurrency: int) -> None:
    loop = asyncio.get_running_loop()
    gate = asyncio.Semaphore(concurrency)
    store_path = chunks.array.store_path

    with ThreadPoolExecutor(max_workers=min(_DECODE_THREADS, len(keys))) as pool:
        async def load(key: Key) -> None:
            async with gate:
                raw = await (store_path / chunks.key_path(key)).get(chunks.prototype)
            if raw is None:
                chunks.put(key, None)
            else:  # decoded beside the loop, so the next reads start while this one decodes
                await loop.run_in_executor(pool, lambda: chunks.put(key, decode(raw.as_numpy_array())))

        tasks = [asyncio.ensure_future(load(key)) for key in keys]
        try:
            await asyncio.gather(*tasks)  # re-raises the first failure
        finally:  # and nothing outlives the call, not even a read still waiting for the gate
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)


async def _read_through_pipeline(chunks: _ChunkTarget, keys: list[Key], concurrency: int) -> None:
    from zarr.core.common import concurrent_map

    array, out = chunks.array, chunks.prototype.nd_buffer.from_numpy_array(chunks.tiles)

    def item(key: Key) -> tuple[Any, ...]:
        h, w = chunks.box(key)
        inside = (slice(0, h), slice(0, w))
        return (array.store_path / chunks.key_path(key), chunks.spec, inside, (*key, *inside), h == w == chunks.tile)

    # One chunk per task: the semaphore bounds reads in flight; zarr's codecs decode in its thread pool.
    await concurrent_map([([item(key)],) for key in keys], lambda batch: array.codec_pipeline.read_batch(batch, out),
                         concurrency)
