"""The store suite a grid-store backend must pass, shipped with the package (like ``zarr.testing.store.StoreTests``).

Needs pytest and hypothesis: ``pip install farm-grids[testing]``. ``import farm_grids`` never
imports this package. A backend's test module subclasses ``StoreSuite`` and supplies a
``store`` fixture::

    import pytest
    from farm_grids.testing import StoreSuite

    class TestMyStore(StoreSuite):
        @pytest.fixture
        def store(self):
            store = MyStore()
            yield store
            store.close_all()

For pytest's detailed assertion messages inside the suite, register it before it is imported
(in the ``conftest.py`` that imports it): ``pytest.register_assert_rewrite("farm_grids.testing")``.
"""

from __future__ import annotations

from farm_grids.testing.files import (
    TEMP_FILE_MARKERS,
    snapshot_arrays,
    snapshot_directory,
    store_directory,
    temp_files_in,
)
from farm_grids.testing.operations import ops_properties
from farm_grids.testing.references import ALL_DTYPES, fresh_name, naive_window, padded_windows_reference, random_grid
from farm_grids.testing.settings import IN_CI, IN_MUTATION_RUN, PROPERTY_SETTINGS, WINDOW_SETTINGS
from farm_grids.testing.store import StoreSuite
from farm_grids.testing.windows import window_properties

__all__ = [
    "ALL_DTYPES",
    "IN_CI",
    "IN_MUTATION_RUN",
    "PROPERTY_SETTINGS",
    "StoreSuite",
    "TEMP_FILE_MARKERS",
    "WINDOW_SETTINGS",
    "fresh_name",
    "naive_window",
    "ops_properties",
    "padded_windows_reference",
    "random_grid",
    "snapshot_arrays",
    "snapshot_directory",
    "store_directory",
    "temp_files_in",
    "window_properties",
]
