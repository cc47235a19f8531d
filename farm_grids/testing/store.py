"""StoreSuite: the behaviour every grid-store backend must show; a backend's tests subclass it (the ``testing`` extra)."""

from __future__ import annotations

from typing import Callable

import numpy as np
import pytest

from farm_grids import GridStore

from farm_grids.testing.bad_input import BadInputSuite
from farm_grids.testing.capabilities import CapabilitySuite
from farm_grids.testing.core import CoreSuite
from farm_grids.testing.operations import OpsSuite
from farm_grids.testing.windows import WindowPropertySuite

__all__ = ["StoreSuite"]


class StoreSuite(CoreSuite, OpsSuite, BadInputSuite, WindowPropertySuite, CapabilitySuite):
    """Subclasses provide a ``store`` fixture yielding a fresh, open, empty, writable store.

    Written against the public interface only (values are checked through ``read``, which
    every backend has), so a new backend passes it by supplying nothing but the fixture
    (modelled on zarr's ``StoreTests``). What a backend cannot do is skipped by its
    capability flags (``layout``, ``supports_reopen``, ``file_backed``, ``writable``), never
    by its name. ``store_factory`` builds further stores of the same backend from keyword
    options (``default_dtype``, ``default_mode``), and ``reopen(store, mode)`` reopens a closed
    store from its ``manifest_path``; override them when the backend needs more options.
    """

    @pytest.fixture
    def store(self) -> GridStore:
        raise NotImplementedError("a backend's test class must supply the store fixture")

    @pytest.fixture
    def store_factory(self, store: GridStore) -> Callable[..., GridStore]:
        return type(store)

    @pytest.fixture
    def reopen(self) -> Callable[[GridStore, str], GridStore]:
        def from_manifest(store: GridStore, mode: str) -> GridStore:
            assert store.manifest_path is not None, "supports_reopen, yet no manifest_path to reopen from"
            return type(store).open(store.manifest_path, mode=mode)

        return from_manifest

    @pytest.fixture
    def grid(self, store: GridStore) -> np.ndarray:
        """A 6x7 float32 grid named 'g' holding distinct values; returns the expected contents."""
        values = np.arange(42, dtype=np.float32).reshape(6, 7) + 1.0
        store.create("g", (6, 7))
        store.write("g", values)
        return values

