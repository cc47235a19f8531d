"""A file backend far slower than memmap (every window read twelve times), registered on Dask workers by a plugin."""

from __future__ import annotations

from tests.harness import faulty_stores
from distributed.diagnostics.plugin import WorkerPlugin


class TwelveFoldSlowStore(faulty_stores.SlowStore):
    """Reads every window twelve times: its memmap/RAM ratio lies far above any sane threshold."""

    REPEATS = 12


def register_slow_backend() -> str:
    """Register the backend in this process; its name."""
    return faulty_stores.backend(TwelveFoldSlowStore)


class RegisterSlowBackend(WorkerPlugin):
    """Registers the slow backend on every worker, and on any worker that joins or restarts later."""

    name = "farm-harness-test-slow-backend"

    def setup(self, worker: object) -> None:
        register_slow_backend()
