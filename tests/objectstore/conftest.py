"""The object-storage tests' servers and buckets are session fixtures of tests/conftest.py (shared with tests/reliability)."""
