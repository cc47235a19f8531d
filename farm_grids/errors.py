"""Typed errors for farm-grids; each also inherits the matching built-in exception."""

from __future__ import annotations

import errno


class FarmGridsError(Exception):
    """Base class of every error raised on purpose by farm-grids."""


class GridNotFoundError(FarmGridsError, KeyError):
    """A grid, layer, channel, agent or file that does not exist was named."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0]) if self.args else ""


class UnknownAgentError(GridNotFoundError):
    """An agent id that was never issued was named."""


class UnknownChannelError(GridNotFoundError):
    """An observation channel that is not registered was named."""


class GridExistsError(FarmGridsError, ValueError):
    """A grid was created under a name that is already in use."""


class InvalidGridSpecError(FarmGridsError, ValueError):
    """Shape, dtype, mode, bounds, radius or array arguments are invalid."""


class GridFileMismatchError(FarmGridsError, ValueError):
    """A file on disk does not match the shape, dtype or size its manifest records."""


class LayoutMismatchError(GridFileMismatchError):
    """Files written in one layout (rows, tiles) were reopened as another."""


class GridFileMissingError(GridNotFoundError, FileNotFoundError):
    """A file named by a manifest is not on disk."""


class ReadOnlyGridError(FarmGridsError, PermissionError):
    """A write was attempted on a grid opened read-only."""


class StorageDirectoryError(FarmGridsError, PermissionError):
    """The storage directory cannot be created or written (or is not a directory)."""


class StoreClosedError(FarmGridsError, ValueError):
    """An operation was attempted on a store that has been closed."""


class BackendCapabilityError(FarmGridsError, TypeError):
    """The backend cannot do what was asked (see its capability flags)."""


class GridNotDenseError(BackendCapabilityError):
    """``get()`` on a backend that keeps no dense array (tiles, chunks): use ``read()``."""


class UnsafeManifestError(GridFileMismatchError, PermissionError):
    """A manifest names a path outside its store directory, a non-file, or one file twice."""


class StoreLockedError(FarmGridsError, PermissionError):
    """Another writer holds the store's lock; the message names the holder."""


class DiskFullError(FarmGridsError, OSError):
    """The filesystem has no room for the blocks a write needs; nothing was written."""

    def __init__(self, message: str, filename: object = None) -> None:
        super().__init__(errno.ENOSPC, message, filename)

    def __str__(self) -> str:
        return f"{self.strerror}: {self.filename}" if self.filename is not None else str(self.strerror)


class RequestTooLargeError(FarmGridsError, MemoryError):
    """A request would allocate more than the configured limit; refused before allocating."""


class ObjectStoreError(FarmGridsError, OSError):
    """Object storage (or a zarr store) could not be reached, read or written: endpoint, bucket, credentials."""


class SnapshotError(FarmGridsError, ValueError):
    """A snapshot is torn (no commit marker), corrupt, of a newer format, or does not fit the world."""


class UncleanShutdownWarning(UserWarning):
    """A reopened store was not closed cleanly: its last unflushed writes may be torn."""


class SparseOvercommitWarning(UserWarning):
    """A sparse grid file is larger than the free space of its filesystem."""


class ConfigError(FarmGridsError, ValueError):
    """A configuration key is unknown or its value is invalid; the message names the key."""


class ConfigFieldError(ConfigError):
    """A ConfigError about one dotted key; keeps the key so nested blocks can prefix their path."""

    def __init__(self, key: str, reason: str, source: str | None = None) -> None:
        self.key, self.reason, self.source = key, reason, source
        super().__init__(f"{source}: {key}: {reason}" if source else f"{key}: {reason}")

    def within(self, prefix: str) -> ConfigFieldError:
        """The same error with its key placed under the block ``prefix``."""
        key = f"{prefix}.{self.key}" if prefix else self.key
        return ConfigFieldError(key, self.reason, self.source)

    def from_source(self, source: str) -> ConfigFieldError:
        """The same error naming the file (or other source) the bad value came from."""
        return ConfigFieldError(self.key, self.reason, source)


class ForkedStoreError(FarmGridsError, RuntimeError):
    """A store was used in a process forked from the one that opened it; reopen it there instead."""
