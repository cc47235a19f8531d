"""Tests of the acceptance matrix: spec, journal, report, and real Dask clusters of worker processes."""
