"""Typed errors raised by the report loaders and writers."""

from __future__ import annotations

from farm_grids.errors import FarmGridsError
from harness.errors import InputFileError


class ReportInputError(InputFileError):
    """An input to a report (file, directory, format name) is missing or not understood."""


class ReportExistsError(FarmGridsError, FileExistsError):
    """A report file already exists in the output directory and overwriting was not forced."""
