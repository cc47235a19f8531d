"""Entry point for `python -m harness` (same as the `farm-harness` script)."""

from __future__ import annotations

import sys

from harness.cli import main

if __name__ == "__main__":
    sys.exit(main())
