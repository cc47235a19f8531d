"""Acceptance: one module per check (evidence, collector, pure judge), the checks registry and run_validation."""
