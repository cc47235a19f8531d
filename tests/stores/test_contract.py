"""The backend contract itself: public documented names, required ones abstract, optional ones with their default."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

from farm_grids.stores import BACKEND_METHODS, GridEntry, GridStore, RamStore, StoreBackend


def _doc(name: str) -> str:
    member = inspect.getattr_static(GridStore, name)
    if isinstance(member, (classmethod, staticmethod)):
        member = member.__func__
    if isinstance(member, property):
        member = member.fget
    return inspect.getdoc(member) or ""


def test_the_required_methods_are_exactly_the_abstract_ones() -> None:
    assert GridStore.__abstractmethods__ == frozenset(BACKEND_METHODS["required"])


@pytest.mark.parametrize("name", BACKEND_METHODS["required"])
def test_each_required_method_is_public_and_says_so(name: str) -> None:
    assert not name.startswith("_") and _doc(name).startswith("Required."), (name, _doc(name))


@pytest.mark.parametrize("name", BACKEND_METHODS["optional"])
def test_each_optional_method_is_public_and_names_its_default(name: str) -> None:
    doc = _doc(name)
    assert not name.startswith("_") and doc.startswith("Optional") and "default" in doc.split(".")[0], (name, doc)
    assert name not in GridStore.__abstractmethods__


def test_the_contract_is_defined_on_the_backend_class_the_operations_build_on() -> None:
    for name in BACKEND_METHODS["required"] + BACKEND_METHODS["optional"]:
        assert name in vars(StoreBackend), name
    assert issubclass(GridStore, StoreBackend)


def test_a_backend_missing_a_primitive_cannot_be_made() -> None:
    class NoRelease(GridStore):
        def allocate_grid(self, name: str, shape: tuple[int, int], dtype: np.dtype, mode: str,
                          fill: float) -> GridEntry:
            raise NotImplementedError

        def read_region(self, entry: GridEntry, rows: slice, cols: slice, out: np.ndarray) -> None: ...

        def write_region(self, entry: GridEntry, rows: slice, cols: slice, data: np.ndarray) -> None: ...

    with pytest.raises(TypeError, match="release_grid"):
        NoRelease()  # type: ignore[abstract]


@pytest.mark.parametrize(("old", "new"), [("_allocate", "allocate_grid"), ("_flush_entry", "flush_grid"),
                                          ("_dense_array", "dense_array"), ("_gather", "gather_windows")])
def test_a_backend_overriding_a_retired_private_hook_is_refused_naming_the_new_one(old: str, new: str) -> None:
    # Silently ignored otherwise: the operations call the public name now.
    with pytest.raises(TypeError, match=f"{old} -> {new}"):
        type("OldStyle", (RamStore,), {old: lambda self, *args: None})
