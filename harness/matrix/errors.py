"""Typed errors of the matrix command; each is bad input or a bad cluster, so the CLI exits 2 in one line."""

from __future__ import annotations

from harness.errors import HarnessUsageError, InputFileError


class MatrixSpecError(InputFileError):
    """The matrix spec is unreadable, or names an axis, value or option the harness does not know."""


class ClusterError(HarnessUsageError, ConnectionError):
    """The scheduler cannot be reached, or the cluster cannot run timing cells as the matrix needs."""


class WorkerMismatchError(ClusterError):
    """A worker lacks the project or runs another commit or version of it than the client."""


class JournalError(InputFileError):
    """The results journal is not one this command wrote, belongs to another spec, or already exists."""


class StorageOptionsError(HarnessUsageError):
    """A machine's storage options (FARM_HARNESS_STORAGE_OPTIONS) are not a JSON object."""
