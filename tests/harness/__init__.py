"""Tests of the acceptance harness, one folder per room."""
