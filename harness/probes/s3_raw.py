"""The S3 server's raw floor: plain s3fs GETs and PUTs of the very objects (or byte ranges) the engine moved."""

from __future__ import annotations

import contextlib
import logging
import re
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import s3fs

_RANGE = re.compile(r"bytes=(\d+)-(\d+)")


@dataclass(frozen=True)
class ObjectRead:
    """One GET: a bucket-relative path, and the byte range asked for (None, None: the whole object)."""

    path: str
    start: int | None = None
    end: int | None = None


@dataclass(frozen=True)
class RawTransfer:
    """Seconds and bytes of one plain-client transfer of a set of objects."""

    objects: int
    nbytes: int
    seconds: float

    @property
    def mib_s(self) -> float:
        return self.nbytes / 2**20 / self.seconds if self.seconds > 0 else float("inf")


def raw_client(storage_options: Mapping[str, Any]) -> s3fs.S3FileSystem:
    """A fresh s3fs client with the engine's options and s3fs's default concurrency, its session open."""
    fs = s3fs.S3FileSystem(skip_instance_cache=True, **storage_options)
    fs.connect()  # the engine's client is connected before it is timed: so is this one
    return fs


def objects_under(fs: s3fs.S3FileSystem, prefix: str) -> dict[str, int]:
    """Every object under ``prefix`` (bucket/key...), path -> size."""
    return {path: info["size"] for path, info in fs.find(prefix, detail=True).items() if info["type"] == "file"}


def raw_get(fs: s3fs.S3FileSystem, reads: list[ObjectRead]) -> tuple[RawTransfer, dict[str, bytes]]:
    """GET every read at once (s3fs batches them concurrently), timed; the bytes by path."""
    started = time.perf_counter()
    data = fs.cat_ranges([r.path for r in reads], [r.start for r in reads], [r.end for r in reads], on_error="raise")
    seconds = time.perf_counter() - started
    return RawTransfer(len(reads), sum(len(d) for d in data), seconds), dict(zip((r.path for r in reads), data))


def raw_put(fs: s3fs.S3FileSystem, objects: Mapping[str, bytes]) -> RawTransfer:
    """PUT every object at once (s3fs batches them concurrently), timed."""
    started = time.perf_counter()
    fs.pipe(dict(objects))
    seconds = time.perf_counter() - started
    return RawTransfer(len(objects), sum(len(d) for d in objects.values()), seconds)


class _GetRecorder(logging.Handler):
    # s3fs logs every call it makes as ("CALL: %s - %s - %s", method, args, kwargs) at DEBUG.
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.reads: list[ObjectRead] = []
        self._lock = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        args = record.args
        if not (isinstance(args, tuple) and len(args) == 3 and args[0] == "get_object" and isinstance(args[2], dict)):
            return
        kwargs = args[2]
        match = _RANGE.fullmatch(str(kwargs.get("Range", "")))
        start, end = (int(match[1]), int(match[2]) + 1) if match else (None, None)
        with self._lock:
            self.reads.append(ObjectRead(f"{kwargs['Bucket']}/{kwargs['Key']}", start, end))


@contextlib.contextmanager
def recorded_gets() -> Iterator[list[ObjectRead]]:
    """The object GETs every s3fs client in this process makes inside the block, in order."""
    recorder = _GetRecorder()
    logger = logging.getLogger("s3fs")
    level, propagate = logger.level, logger.propagate
    logger.addHandler(recorder)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False  # the debug records are ours to read, not the console's
    try:
        yield recorder.reads
    finally:
        logger.removeHandler(recorder)
        logger.setLevel(level)
        logger.propagate = propagate
