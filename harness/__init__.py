"""Acceptance harness for farm-grids: paired timing, probes, criteria, verdicts and the CLI."""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
