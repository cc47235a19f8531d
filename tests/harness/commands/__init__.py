"""Tests of the farm-harness commands: options, exit codes, output files."""
