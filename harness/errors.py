"""Typed errors raised on purpose by the acceptance harness."""

from __future__ import annotations

from farm_grids.errors import FarmGridsError


class HarnessError(FarmGridsError):
    """Base class of every error raised on purpose by the harness."""


class HarnessUsageError(HarnessError, ValueError):
    """A harness function or CLI command was called with an invalid argument; the message names it."""


class ResultSchemaError(HarnessError, ValueError):
    """A result JSON file is not valid JSON or does not follow the expected schema."""
