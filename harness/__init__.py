"""Acceptance harness for farm-grids: paired timing, probes, criteria, verdicts and the CLI."""

from __future__ import annotations

# Submodules are imported on demand so that `python -m harness --help` stays fast and
# importing the harness never drags in torch, scipy or the engine.
__all__ = ["__version__"]

__version__ = "0.1.0"
