"""farm_grids.stores as a module: the deprecated MemmapManager alias and the error for a name it lacks."""

from __future__ import annotations

import pytest

import farm_grids.stores as stores
from farm_grids.stores import MemmapStore


def test_memmap_manager_is_a_deprecated_alias_of_memmap_store() -> None:
    with pytest.warns(DeprecationWarning, match="MemmapManager is deprecated; use MemmapStore"):
        alias = stores.MemmapManager
    assert alias is MemmapStore


def test_an_unknown_name_is_an_attribute_error_naming_module_and_name() -> None:
    with pytest.raises(AttributeError, match="module 'farm_grids.stores' has no attribute 'MemmapManagers'"):
        stores.MemmapManagers  # noqa: B018
    assert not hasattr(stores, "memmap_manager")
