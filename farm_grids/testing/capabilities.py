"""CapabilitySuite: what the capability flags promise: files, reopening, read-only stores."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest

from farm_grids import BackendCapabilityError, GridStore, InvalidGridSpecError, ReadOnlyGridError

from farm_grids.testing.files import snapshot_directory
from farm_grids.testing.references import random_grid

LAYOUTS = {"rows", "tiles", "chunks"}

READ_ONLY_WRITES: dict[str, Callable[[GridStore], Any]] = {
    "write": lambda s: s.write("heat", np.zeros((8, 16))),
    "fill": lambda s: s.fill("heat", 1.0),
    "fill-region": lambda s: s.fill("heat", 1.0, region=(slice(0, 1), slice(0, 1))),
    "scale": lambda s: s.scale("heat", 2.0),
    "scale-tiles": lambda s: s.scale_tiles("heat", np.ones((1, 2), dtype=bool), 8, 0.5),
    "add_at": lambda s: s.add_at("heat", 0, 0, 1.0),
    "add_many": lambda s: s.add_many("heat", [0, 1], [0, 1], 1.0),
}


def _saved(store: GridStore) -> dict[str, np.ndarray]:
    """Three grids of different dtypes written and the store closed, keeping what reopens."""
    expected = {
        "heat": random_grid((8, 16), "float32", seed=1),
        "counts": random_grid((5, 3), "int32", seed=2),
        "mask": random_grid((16, 8), "uint8", seed=3),
    }
    for name, values in expected.items():
        store.create(name, values.shape, dtype=values.dtype)
        store.write(name, values)
    store.close("mask")  # closed one at a time and then all: every grid must come back
    store.close_all()
    return expected


Reopen = Callable[[GridStore, str], GridStore]


def _discard(store: GridStore, reopen: Reopen) -> None:
    """Delete what a closed store kept, through the interface (reopen for writing, close deleting)."""
    reopen(store, "r+").close_all(delete_files=True)


def _local_files(store: GridStore) -> dict[str, str]:
    """Every file beside a local manifest (a remote one, e.g. s3://, has none to compare here)."""
    manifest = store.manifest_path
    return snapshot_directory(manifest.parent) if isinstance(manifest, Path) else {}


class CapabilitySuite:
    """Flags are checked against behaviour; each test needs only the flag it names."""

    def test_flags_are_well_formed(self, store: GridStore) -> None:
        assert isinstance(store.file_backed, bool) and isinstance(store.supports_reopen, bool)
        assert store.layout in LAYOUTS
        assert store.writable is True  # the suite's store fixture is a fresh writable store
        assert store.store_info().backend == store.backend

    def test_a_read_only_store_creates_nothing(self, store: GridStore, store_factory: Callable[..., GridStore]) -> None:
        reader = store_factory(default_mode="r")
        try:
            assert reader.writable is False
            with pytest.raises(InvalidGridSpecError, match="'r'"):
                reader.create("a", (2, 2))
            assert reader.names() == []
        finally:
            reader.close_all()

    # -- files ----------------------------------------------------------------------------
    def test_grid_paths_follow_file_backed(self, store: GridStore) -> None:
        store.create("a", (4, 4), fill=2.0)
        path = store.info("a").path
        assert store.info("a").file_backed is store.file_backed
        if not store.file_backed:
            assert path is None
            return
        assert path is not None and path.exists()
        store.close("a", delete_file=True)
        assert not path.exists()

    def test_closing_without_delete_keeps_the_files(self, store: GridStore, reopen: Reopen) -> None:
        if not store.file_backed:
            pytest.skip("not file_backed: nothing outlives the store")
        store.create("a", (4, 4), fill=2.0)
        path = store.info("a").path
        store.close_all()
        assert path is not None and path.exists()
        if store.supports_reopen:
            _discard(store, reopen)
            assert not path.exists()

    # -- reopening ------------------------------------------------------------------------
    def test_a_store_without_reopen_has_no_manifest_and_refuses_open(self, store: GridStore) -> None:
        if store.supports_reopen:
            pytest.skip("supports_reopen: the reopen tests below cover it")
        store.create("a", (2, 2))
        assert store.manifest_path is None
        with pytest.raises(BackendCapabilityError, match="supports_reopen"):
            type(store).open("manifest.json", mode="r")

    def test_close_then_open_r_plus_sees_every_value(self, store: GridStore, reopen: Reopen) -> None:
        if not store.supports_reopen:
            pytest.skip("supports_reopen is False")
        expected = _saved(store)
        with reopen(store, "r+") as reopened:
            assert reopened.writable and sorted(reopened.names()) == sorted(expected)
            for name, values in expected.items():
                assert reopened.info(name).dtype == values.dtype.name
                np.testing.assert_array_equal(reopened.read(name), values)
            reopened.add_at("heat", 0, 0, 1.0)
            changed = reopened.read("heat")
        again = reopen(store, "r+")
        np.testing.assert_array_equal(again.read("heat"), changed)
        again.close_all(delete_files=True)

    @pytest.mark.parametrize("call", sorted(READ_ONLY_WRITES))
    def test_mode_r_rejects_every_write_and_keeps_the_values(self, store: GridStore, reopen: Reopen,
                                                             call: str) -> None:
        if not store.supports_reopen:
            pytest.skip("supports_reopen is False: there is no read-only reopen")
        expected = _saved(store)
        files_before = _local_files(store)
        with reopen(store, "r") as reader:
            assert reader.writable is False
            with pytest.raises(ReadOnlyGridError, match="heat") as raised:
                READ_ONLY_WRITES[call](reader)
            assert isinstance(raised.value, PermissionError)
            assert reader.info("heat").mode == "r" and not reader.info("heat").writable
            if reader.layout == "rows":
                assert not reader.get("heat").flags.writeable
            np.testing.assert_array_equal(reader.read("heat"), expected["heat"])
            np.testing.assert_array_equal(reader.get_window("heat", 0, 8, 0, 16), expected["heat"])
        assert _local_files(store) == files_before  # nor did closing write
        _discard(store, reopen)

    @pytest.mark.parametrize("how", ["close", "close_all"])
    def test_a_read_only_store_never_deletes_the_writers_files(self, store: GridStore, reopen: Reopen,
                                                               how: str) -> None:
        if not store.supports_reopen:
            pytest.skip("supports_reopen is False")
        expected = _saved(store)
        files_before = _local_files(store)
        reader = reopen(store, "r")
        try:
            # Refusing (ReadOnlyGridError) or closing without deleting are both fine.
            if how == "close":
                reader.close("heat", delete_file=True)
            else:
                reader.close_all(delete_files=True)
        except ReadOnlyGridError:
            pass
        finally:
            reader.close_all()
        assert _local_files(store) == files_before
        with reopen(store, "r") as again:
            np.testing.assert_array_equal(again.read("heat"), expected["heat"])
        _discard(store, reopen)
