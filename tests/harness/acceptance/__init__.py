"""Tests of the acceptance checks: collectors on the real engine, judges on evidence records, the gate self-test."""
