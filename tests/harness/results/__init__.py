"""Tests of the result document and the JSON, pytest-benchmark and asv readers."""
