"""Where a snapshot lives: which locations may be written, whose entries are there, and the atomic pointer switch."""

from __future__ import annotations

import json
import os
import shutil
import uuid
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fsspec
from fsspec.implementations.local import LocalFileSystem

from farm_grids.errors import InvalidGridSpecError, SnapshotError
from farm_grids.stores.zarr.store import S3_DEFAULTS, is_url, remote_call

__all__ = ["GENERATION_KEY", "POINTER", "SNAPSHOT_KEY", "SnapshotLocation", "locate", "new_generation"]

SNAPSHOT_KEY = "farm_grids_snapshot"  # the root group's attribute holding the commit record
GENERATION_KEY = "farm_grids_generation"  # a generation group's attribute naming itself: our marker
POINTER = "zarr.json"  # the root group document: the commit record, switched last
# A commit record lists every chunk of a world; far below this even for 2**31-side worlds.
_MAX_DOCUMENT_BYTES = 256 << 20
_SYNC_THREADS = 16
_NAME_MAX = 255  # bytes per path component on every local filesystem we support


def new_generation() -> str:
    """A fresh generation name: unique, so a writer never lands on an existing group."""
    return f"g-{uuid.uuid4().hex}"


@dataclass(frozen=True)
class SnapshotLocation:
    """A validated snapshot root: a local directory or an object-storage prefix, and its filesystem."""

    url: str  # the root as zarr opens it (an absolute local path, or protocol://bucket/prefix)
    root: str  # the root as ``fs`` names it
    fs: Any
    storage_options: dict[str, Any] | None
    local: bool

    def url_of(self, name: str) -> str:
        return f"{self.url}/{name}"

    def path_of(self, name: str) -> str:
        return f"{self.root}/{name}"

    def entries(self) -> list[str]:
        """Names directly under the root ([] when absent); SnapshotError when the root is a file."""
        if self.local:
            root = Path(self.root)
            if root.exists() and not root.is_dir():
                raise SnapshotError(f"snapshot location {self.url!r} is a file, not a directory")
            return sorted(entry.name for entry in os.scandir(root)) if root.exists() else []
        self.fs.invalidate_cache(self.root)
        if remote_call(f"probing {self.url!r}", lambda: self.fs.isfile(self.root)):
            raise SnapshotError(f"snapshot location {self.url!r} is an object, not a prefix")
        try:
            listed = remote_call(f"listing {self.url!r}", lambda: self.fs.ls(self.root, detail=False))
        except FileNotFoundError:
            return []
        except OSError as exc:
            if isinstance(exc.__cause__, FileNotFoundError):
                return []
            raise
        return sorted(str(path).rstrip("/").rsplit("/", 1)[-1] for path in listed)

    def keys(self, name: str) -> set[str]:
        """Every stored key under the entry ``name``, relative to it."""
        base = self.path_of(name)
        if self.local:
            found = set()
            for folder, _, files in os.walk(base):
                relative = os.path.relpath(folder, base)
                found.update(file if relative == "." else f"{relative}/{file}".replace(os.sep, "/") for file in files)
            return found
        self.fs.invalidate_cache(base)
        listed = remote_call(f"listing {self.url_of(name)!r}", lambda: self.fs.find(base))
        return {str(path)[len(base) + 1:] for path in listed}

    def document(self, name: str) -> dict[str, Any] | None:
        """The JSON object stored at ``name`` (e.g. "zarr.json", "g-…/zarr.json"), or None if absent or not JSON."""
        path = self.path_of(name)
        try:
            if self.local:
                with open(path, "rb") as handle:
                    if os.fstat(handle.fileno()).st_size > _MAX_DOCUMENT_BYTES:
                        raise SnapshotError(f"{path!r} is too large for a snapshot document")
                    raw = handle.read()
            else:
                self.fs.invalidate_cache(path)
                size = remote_call(f"probing {self.url_of(name)!r}", lambda: self.fs.size(path))
                if size > _MAX_DOCUMENT_BYTES:
                    raise SnapshotError(f"{self.url_of(name)!r} is {size} bytes, too large for a snapshot document")
                raw = remote_call(f"reading {self.url_of(name)!r}", lambda: self.fs.cat_file(path))
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return None
        except OSError as exc:
            if isinstance(exc.__cause__, FileNotFoundError):
                return None
            raise
        try:
            document = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            return None
        return document if isinstance(document, dict) else None

    def attributes(self, name: str) -> dict[str, Any]:
        """The attributes of the zarr v3 group document at ``name`` ({} when it is not one)."""
        document = self.document(name)
        if document is None or document.get("zarr_format") != 3 or document.get("node_type") != "group":
            return {}
        attributes = document.get("attributes")
        return attributes if isinstance(attributes, dict) else {}

    def is_empty_folder(self, name: str) -> bool:
        """A folder with nothing in it: an empty local directory, or a prefix with no object under it.

        SeaweedFS keeps a prefix whose objects were all deleted as an empty directory, which it
        still lists (moto forgets it): it holds no data, so it blocks nothing.
        """
        path = self.path_of(name)
        if self.local:
            return os.path.isdir(path) and not os.path.islink(path) and not os.listdir(path)
        self.fs.invalidate_cache(path)
        listed = remote_call(f"listing {self.url_of(name)!r}", lambda: self.fs.find(path, detail=True))
        return all(info.get("type") == "directory" for info in listed.values())

    def is_our_generation(self, name: str) -> bool:
        """Whether ``name`` is a generation group carrying our marker (naming itself)."""
        return self.attributes(f"{name}/{POINTER}").get(GENERATION_KEY) == name

    def create_generation(self, name: str) -> None:
        """Create the generation group ``name`` with our marker in its first document, appearing whole.

        Locally the marker file is written unnamed (O_TMPFILE) and linked in complete, so a
        kill leaves at most an empty directory (which holds nothing and blocks nothing), never
        an unmarked or truncated document. On object storage one PUT creates it.
        """
        body = json.dumps({"zarr_format": 3, "node_type": "group", "attributes": {GENERATION_KEY: name}}).encode()
        if not self.local:
            remote_call(f"creating {self.url_of(name)!r}", lambda: self.fs.pipe_file(self.path_of(f"{name}/{POINTER}"), body))
            return
        folder = self.path_of(name)
        os.makedirs(folder)  # raises if it exists: a fresh name never does
        _write_whole(folder, POINTER, body)

    def make_durable(self, name: str) -> None:
        """Local: fsync every file and folder of ``name`` so the switch never points at data still in flight.

        Concurrently: the filesystem journals the fsyncs of many threads in shared commits,
        so this costs about one commit, not one per chunk file.
        """
        if not self.local:
            return  # an acknowledged PUT is stored
        files, folders = [], []
        for folder, _, names in os.walk(self.path_of(name)):
            files += [os.path.join(folder, file) for file in names]
            folders.append(folder)
        with ThreadPoolExecutor(max_workers=_SYNC_THREADS) as pool:
            list(pool.map(_fsync, files, [os.O_RDONLY] * len(files)))
            list(pool.map(_fsync, folders, [os.O_RDONLY | os.O_DIRECTORY] * len(folders)))

    def switch(self, record: dict[str, Any], via: str) -> None:
        """Write the root group document holding ``record`` in ONE atomic step.

        Locally: written beside, inside our generation ``via`` (so a kill leaves the temporary
        only there), fsynced, then renamed over the root's zarr.json and the root fsynced. On
        object storage a single PUT replaces an object atomically: readers see the old or the
        new document, never a mix.
        """
        body = json.dumps({"zarr_format": 3, "node_type": "group", "attributes": {SNAPSHOT_KEY: record}},
                          indent=1).encode()
        if not self.local:
            remote_call(f"committing {self.url!r}", lambda: self.fs.pipe_file(self.path_of(POINTER), body))
            return
        temporary = self.path_of(f"{via}/pointer-{uuid.uuid4().hex}.tmp")
        with open(temporary, "wb") as handle:
            handle.write(body)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, self.path_of(POINTER))
        _fsync(self.root, os.O_RDONLY | os.O_DIRECTORY)

    def remove(self, name: str) -> None:
        """Delete the entry ``name`` (the caller proved it ours); a vanished entry is fine."""
        path = self.path_of(name)
        try:
            if self.local:
                shutil.rmtree(path) if os.path.isdir(path) else os.unlink(path)
            else:
                remote_call(f"removing {self.url_of(name)!r}", lambda: self.fs.rm(path, recursive=True))
        except FileNotFoundError:
            pass
        except OSError as exc:
            if not isinstance(exc.__cause__, FileNotFoundError):
                raise


def _write_whole(folder: str, name: str, body: bytes) -> None:
    """Create ``folder/name`` holding ``body``: it appears complete or not at all (Linux O_TMPFILE + link)."""
    target = os.path.join(folder, name)
    try:
        descriptor = os.open(folder, os.O_TMPFILE | os.O_WRONLY, 0o644)
    except (AttributeError, OSError):  # no O_TMPFILE here: a plain write (a kill may leave it short)
        with open(target, "xb") as handle:
            handle.write(body)
        return
    folder_descriptor = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.write(descriptor, body)
        os.fsync(descriptor)
        # A dir fd makes CPython call linkat(AT_SYMLINK_FOLLOW): the unnamed file itself gets linked.
        os.link(f"/proc/self/fd/{descriptor}", target, src_dir_fd=folder_descriptor, follow_symlinks=True)
    finally:
        os.close(descriptor)
        os.close(folder_descriptor)


def _fsync(path: str, flags: int) -> None:
    descriptor = os.open(path, flags)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _options(storage_options: object) -> Mapping[str, Any] | None:
    if storage_options is not None and not isinstance(storage_options, Mapping):
        raise InvalidGridSpecError(f"storage_options must be a mapping (or None), got {type(storage_options).__name__}")
    return storage_options


def locate(url: object, storage_options: object = None) -> SnapshotLocation:
    """Validate a snapshot root before any byte changes: never the working directory, a filesystem root or a bucket."""
    if isinstance(url, os.PathLike):
        url = os.fspath(url)
    if not isinstance(url, str):
        raise SnapshotError(f"a snapshot location must be a path or URL string, got {type(url).__name__}")
    options = _options(storage_options)
    if url.startswith("file://"):
        url = url[len("file://"):]
    if not url.strip() or "\x00" in url:
        raise SnapshotError(f"a snapshot location must be a non-empty path or URL, got {url!r}")
    if is_url(url):
        return _remote(url, options)
    if options:
        raise InvalidGridSpecError(f"storage_options apply to URLs, not to the local path {url!r}")
    try:
        too_long = any(len(os.fsencode(part)) > _NAME_MAX for part in Path(url).parts)
    except UnicodeEncodeError:  # a lone surrogate: no file can have this name
        raise SnapshotError(f"a snapshot location must be encodable as a file name, got {url!r}") from None
    if too_long:
        raise SnapshotError(f"a snapshot location has a name longer than {_NAME_MAX} bytes: {url!r}")
    resolved = Path(url).resolve()
    if resolved == Path.cwd().resolve():
        raise SnapshotError(f"a snapshot location cannot be the working directory ({url!r})")
    if resolved == Path(resolved.anchor):
        raise SnapshotError(f"a snapshot location cannot be a filesystem root ({url!r})")
    return SnapshotLocation(url=str(resolved), root=str(resolved), fs=LocalFileSystem(), storage_options=None,
                            local=True)


def _remote(url: str, options: Mapping[str, Any] | None) -> SnapshotLocation:
    protocol, rest = url.split("://", 1)
    parts = rest.rstrip("/").split("/")
    if any(part in ("", ".", "..") for part in parts):
        raise SnapshotError(f"snapshot URL {url!r} has an empty, '.' or '..' segment")
    if len(parts) < 2:
        raise SnapshotError(f"a snapshot location cannot be a bucket root ({url!r}): name a prefix inside it")
    defaults = S3_DEFAULTS if protocol in ("s3", "s3a") else {}
    merged = {**defaults, **dict(options or {})}
    normal = f"{protocol}://{'/'.join(parts)}"
    fs, root = remote_call(f"opening {normal!r}", lambda: fsspec.core.url_to_fs(normal, **merged))
    return SnapshotLocation(url=normal, root=root.rstrip("/"), fs=fs, storage_options=dict(options or {}),
                            local=False)
