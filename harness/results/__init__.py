"""Results: the result document and its schema, JSON files, and the pytest-benchmark and asv readers."""
