"""Typed errors raised on purpose by the acceptance harness."""

from __future__ import annotations

from farm_grids.errors import (
    ConfigError,
    DiskFullError,
    FarmGridsError,
    InvalidGridSpecError,
    ObjectStoreError,
    RequestTooLargeError,
    StorageDirectoryError,
    StoreLockedError,
)


class HarnessError(FarmGridsError):
    """Base class of every error raised on purpose by the harness."""


class HarnessUsageError(HarnessError, ValueError):
    """A harness function or CLI command was called with an invalid argument; the message names it."""


class InputFileError(HarnessUsageError):
    """A file the harness reads is unreadable, not JSON, or does not follow its schema; the message names it."""


class ResultSchemaError(InputFileError):
    """A result JSON file is not valid JSON or does not follow the farm-harness result schema."""


# Errors that mean the input was bad (an option, a file, the environment, an endpoint, a store
# held by another writer), never a bug of the harness: the CLI reports them as usage errors.
USER_ERRORS: tuple[type[Exception], ...] = (
    HarnessUsageError, ConfigError, InvalidGridSpecError, RequestTooLargeError, ObjectStoreError,
    StorageDirectoryError, DiskFullError, StoreLockedError,
)
