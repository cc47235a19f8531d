"""Memmap file lifecycle: sparse creation, names, manifest reopen checks, deletion, clean-up."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest

from farm_grids import (
    GridFileMismatchError,
    GridFileMissingError,
    GridNotFoundError,
    MemmapStore,
)
from farm_grids.errors import UncleanShutdownWarning, UnsafeManifestError

from farm_grids.testing import random_grid, snapshot_directory, temp_files_in
from ..support import signed

MIB = 1024 * 1024
GRID_FILE = re.compile(
    r"^(?P<prefix>.+)_p(?P<pid>\d+)-(?P<token>[0-9a-f]+)_(?P<h>\d+)x(?P<w>\d+)_(?P<dtype>[a-z]+\d+)\.dat$"
)
WINDOWS_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"{p}{i}" for p in ("COM", "LPT") for i in range(1, 10))}


@pytest.fixture(autouse=True)
def no_temp_files_left(tmp_path: Path) -> Iterator[None]:
    """Every test here ends with no manifest temp file or write probe in its directory."""
    yield
    assert temp_files_in(tmp_path) == []


def vm_rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS line in /proc/self/status")


def grid_files(directory: Path) -> set[str]:
    return {p.name for p in directory.iterdir() if p.suffix == ".dat"}


# -- sparse creation ------------------------------------------------------------------------
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
def test_a_16384_square_float32_grid_costs_neither_ram_nor_disk(tmp_path: Path) -> None:
    store = MemmapStore(tmp_path)
    store.create("warm-up", (8, 8))  # load every code path before measuring
    before = vm_rss_bytes()
    store.create("big", (16384, 16384), dtype="float32")
    grown = vm_rss_bytes() - before
    path = store.info("big").path
    assert path is not None
    stat = path.stat()
    assert stat.st_size == 16384 * 16384 * 4  # the full 1 GiB is addressable ...
    assert grown < 8 * MIB, f"RSS grew by {grown / MIB:.1f} MiB"
    assert stat.st_blocks * 512 < 8 * MIB, f"{stat.st_blocks * 512 / MIB:.1f} MiB allocated on disk"
    # ... and reading a far corner touches only the pages it reads.
    assert not store.get_window("big", 16380, 16390, 16380, 16390).any()
    assert vm_rss_bytes() - before < 8 * MIB
    store.close_all(delete_files=True)


# -- names --------------------------------------------------------------------------------
def test_file_name_is_namespace_name_simulation_pid_token_shape(tmp_path: Path) -> None:
    with MemmapStore(tmp_path, namespace="farm", simulation_id="run7") as store:
        store.create("heat", (12, 34))
        path = store.info("heat").path
        assert path is not None and path.parent == tmp_path.resolve()
        assert path.name == f"farm_heat_run7_p{os.getpid()}-{store.token}_12x34_float32.dat"
    with MemmapStore(tmp_path) as bare:
        bare.create("heat", (3, 5))
        bare_path = bare.info("heat").path
        assert bare_path is not None and bare_path.name == f"heat_p{os.getpid()}-{bare.token}_3x5_float32.dat"
        bare.close_all(delete_files=True)


UNSAFE_NAMES = [
    "a/b", "../escape", "..", ".", "with space", "tab\tname", "new\nline", "ünïcødé", "雪",
    "CON", "con", "nul", "COM1", "LPT9", "a:b*c?", '"quoted"<>|', "back\\slash", "x" * 300,
    "trailing.", "-dash", "a-b", "a b", "DAMAGE_HEAT",
]  # fmt: skip


def test_unsafe_names_give_distinct_portable_files_that_reopen(tmp_path: Path) -> None:
    store = MemmapStore(tmp_path, namespace="ns/../x y", simulation_id="sim 1/..\\CON")
    for index, name in enumerate(UNSAFE_NAMES):
        store.create(name, (2, 3), fill=float(index))
    paths = [store.info(name).path for name in UNSAFE_NAMES]
    assert len({p.name for p in paths if p is not None}) == len(UNSAFE_NAMES)
    for path in paths:
        assert path is not None and path.parent == tmp_path.resolve()
        match = GRID_FILE.match(path.name)
        assert match is not None, path.name
        assert int(match["pid"]) == os.getpid() and match["token"] == store.token
        assert (match["h"], match["w"]) == ("2", "3")
        assert re.fullmatch(r"[A-Za-z0-9._-]+", path.name), path.name
        assert not path.name.startswith((".", "-")) and len(path.name.encode()) <= 255
        for part in match["prefix"].split("_"):
            assert part.split(".")[0].upper() not in WINDOWS_RESERVED, path.name
    manifest = store.manifest_path
    store.close_all()
    with MemmapStore.open(manifest, mode="r") as reopened:
        assert sorted(reopened.names()) == sorted(UNSAFE_NAMES)
        for index, name in enumerate(UNSAFE_NAMES):
            assert (reopened.get(name) == index).all()


def test_two_managers_with_one_simulation_id_never_share_a_file(tmp_path: Path) -> None:
    first = MemmapStore(tmp_path, simulation_id="run", namespace="ns")
    second = MemmapStore(tmp_path, simulation_id="run", namespace="ns")
    first.create("heat", (4, 4), fill=1.0)
    second.create("heat", (4, 4), fill=2.0)
    assert first.info("heat").path != second.info("heat").path
    assert first.manifest_path != second.manifest_path
    second.fill("heat", 9.0)
    assert (first.get("heat") == 1.0).all()
    assert len(grid_files(tmp_path)) == 2
    first.close_all(delete_files=True)
    assert (second.get("heat") == 9.0).all()
    second.close_all(delete_files=True)
    assert list(tmp_path.iterdir()) == []


# -- reopening ------------------------------------------------------------------------------
@pytest.fixture
def closed_run(tmp_path: Path) -> tuple[Path, dict[str, np.ndarray]]:
    """A manifest of three closed grids of different dtypes, and the values they hold."""
    expected = {
        "heat": random_grid((8, 16), "float32", seed=1),
        "counts": random_grid((5, 3), "int32", seed=2),
        "mask": random_grid((16, 8), "uint8", seed=3),
    }
    store = MemmapStore(tmp_path, simulation_id="run")
    for name, values in expected.items():
        store.create(name, values.shape, dtype=values.dtype)
        store.write(name, values)
    store.close("mask")  # closed one at a time and then all: the manifest keeps every grid
    store.close_all()
    return store.manifest_path, expected


def _edit_manifest(manifest: Path, name: str, key: str, value: object) -> None:
    """Edit one entry and re-sign the manifest, as a buggy tool might: the file checks must catch it."""
    payload = json.loads(manifest.read_text())
    payload["grids"][name][key] = value
    manifest.write_text(json.dumps(signed(payload)))


def test_open_rejects_an_edited_manifest_by_its_checksum(closed_run: tuple[Path, dict[str, np.ndarray]]) -> None:
    manifest, _ = closed_run
    payload = json.loads(manifest.read_text())
    payload["grids"]["heat"]["dtype"] = "int32"  # same itemsize: only the checksum (or name) tells
    manifest.write_text(json.dumps(payload))
    with pytest.raises(GridFileMismatchError, match="checksum"):
        MemmapStore.open(manifest, mode="r")


@pytest.mark.parametrize("shape", [[8, 8], [9, 16], [1, 1]])
def test_open_rejects_a_manifest_shape_that_does_not_fit_the_file(
    closed_run: tuple[Path, dict[str, np.ndarray]], shape: list[int]
) -> None:
    manifest, _ = closed_run
    _edit_manifest(manifest, "heat", "shape", shape)
    with pytest.raises(GridFileMismatchError, match="heat") as raised:
        MemmapStore.open(manifest)
    assert isinstance(raised.value, ValueError)


def test_open_rejects_a_transposed_shape_although_the_byte_count_fits(
    closed_run: tuple[Path, dict[str, np.ndarray]],
) -> None:
    # The file name records 8x16; a manifest claiming 16x8 would silently scramble rows.
    manifest, _ = closed_run
    _edit_manifest(manifest, "heat", "shape", [16, 8])
    with pytest.raises(GridFileMismatchError, match="heat"):
        MemmapStore.open(manifest)


def test_open_rejects_a_manifest_dtype_that_does_not_fit_the_file(
    closed_run: tuple[Path, dict[str, np.ndarray]],
) -> None:
    manifest, _ = closed_run
    _edit_manifest(manifest, "heat", "dtype", "float64")
    with pytest.raises(GridFileMismatchError, match="heat"):
        MemmapStore.open(manifest)


@pytest.mark.parametrize(
    "expect",
    [{"heat": ((8, 16), "float64")}, {"heat": ((16, 8), "float32")}, {"absent": ((1, 1), "float32")}],
    ids=["wrong-dtype", "wrong-shape", "missing-grid"],
)
def test_open_checks_what_the_caller_expects(
    closed_run: tuple[Path, dict[str, np.ndarray]], expect: dict
) -> None:
    manifest, _ = closed_run
    with pytest.raises(GridFileMismatchError, match=next(iter(expect))):
        MemmapStore.open(manifest, expect=expect)
    with MemmapStore.open(manifest, mode="r", expect={"heat": ((8, 16), "float32")}) as ok:
        assert ok.info("heat").shape == (8, 16)


@pytest.mark.parametrize("delta", [-4, -1, 4])
def test_open_rejects_a_truncated_or_grown_file(
    closed_run: tuple[Path, dict[str, np.ndarray]], delta: int
) -> None:
    manifest, _ = closed_run
    path = next(p for p in manifest.parent.iterdir() if p.name.startswith("heat_"))
    os.truncate(path, path.stat().st_size + delta)
    with pytest.raises(GridFileMismatchError, match=re.escape(path.name)):
        MemmapStore.open(manifest, mode="r")


def test_open_of_a_missing_grid_file_is_not_found(closed_run: tuple[Path, dict[str, np.ndarray]]) -> None:
    manifest, _ = closed_run
    path = next(p for p in manifest.parent.iterdir() if p.name.startswith("counts_"))
    path.unlink()
    before = snapshot_directory(manifest.parent)
    with pytest.raises(GridFileMissingError, match=re.escape(path.name)) as raised:
        MemmapStore.open(manifest, mode="r+")
    assert isinstance(raised.value, GridNotFoundError)
    assert isinstance(raised.value, FileNotFoundError) and isinstance(raised.value, KeyError)
    assert snapshot_directory(manifest.parent) == before


def test_open_of_a_missing_manifest_is_not_found(tmp_path: Path) -> None:
    missing = tmp_path / "manifest_p1-abc.json"
    with pytest.raises(GridNotFoundError, match=re.escape(missing.name)) as raised:
        MemmapStore.open(missing)
    assert isinstance(raised.value, FileNotFoundError)
    assert list(tmp_path.iterdir()) == []


# -- deletion -------------------------------------------------------------------------------
def test_close_with_delete_file_removes_only_that_file(tmp_path: Path) -> None:
    store = MemmapStore(tmp_path)
    store.create("a", (4, 4), fill=1.0)
    store.create("b", (4, 4), fill=2.0)
    doomed = store.info("a").path
    store.close("a", delete_file=True)
    assert doomed is not None and not doomed.exists()
    assert grid_files(tmp_path) == {store.info("b").path.name}  # type: ignore[union-attr]
    manifest = store.manifest_path
    store.close_all()
    with MemmapStore.open(manifest, mode="r") as reopened:
        assert reopened.names() == ["b"] and (reopened.get("b") == 2.0).all()


def test_deleting_the_last_open_grid_updates_the_manifest(tmp_path: Path) -> None:
    store = MemmapStore(tmp_path)
    store.create("kept", (4, 4), fill=1.0)
    store.create("deleted", (4, 4), fill=2.0)
    store.close("kept")
    store.close("deleted", delete_file=True)
    with MemmapStore.open(store.manifest_path, mode="r") as reopened:
        assert reopened.names() == ["kept"]


def test_close_all_with_delete_files_removes_files_and_manifest(tmp_path: Path) -> None:
    store = MemmapStore(tmp_path, simulation_id="run")
    for name in ("a", "b", "c"):
        store.create(name, (3, 3), fill=1.0)
    store.write("b", np.ones((3, 3)))
    assert store.manifest_path.exists() and len(grid_files(tmp_path)) == 3
    store.close_all(delete_files=True)
    assert list(tmp_path.iterdir()) == []


def test_context_manager_exit_keeps_files_for_a_later_run(tmp_path: Path) -> None:
    with MemmapStore(tmp_path) as store:
        store.create("a", (3, 3), fill=4.0)
    with MemmapStore.open(store.manifest_path) as reopened:
        assert (reopened.get("a") == 4.0).all()
        reopened.close_all(delete_files=True)
    assert list(tmp_path.iterdir()) == []


def test_writer_active_follows_the_writer_lock_from_both_sides(tmp_path: Path) -> None:
    """A writer is active once it holds its lock (its first grid), until close; a reader asks the lock itself."""
    writer = MemmapStore(tmp_path)
    assert writer.store_info().writer_active is False  # no grid yet: no lock taken, nothing to guard
    writer.create("a", (4, 4))
    writer.flush()
    assert writer.store_info().writer_active is True
    reader = MemmapStore.open(writer.manifest_path, mode="r")
    try:
        assert reader.store_info().writer_active is True
        writer.close_all()
        assert writer.store_info().writer_active is False
        assert reader.store_info().writer_active is False
    finally:
        reader.close_all()


def _closed_store(directory: Path) -> Path:
    with MemmapStore(directory) as store:
        store.create("g", (4, 4), fill=2.0)
        assert store.store_info().clean is True  # a new store starts clean
        return store.manifest_path


def test_a_manifest_left_unclean_opens_with_a_warning_and_reports_it(tmp_path: Path) -> None:
    manifest = _closed_store(tmp_path)
    with MemmapStore.open(manifest, "r") as reader:
        assert reader.store_info().clean is True
    payload = json.loads(manifest.read_text())
    payload["clean"] = False  # what a writer killed before close leaves (re-signed)
    manifest.write_text(json.dumps(signed(payload)))
    with pytest.warns(UncleanShutdownWarning):
        reader = MemmapStore.open(manifest, "r")
    with reader:
        assert reader.store_info().clean is False and reader.read("g").sum() == 32.0


def test_a_manifest_naming_an_unsupported_dtype_is_refused(tmp_path: Path) -> None:
    manifest = _closed_store(tmp_path)
    payload = json.loads(manifest.read_text())
    payload["grids"]["g"]["dtype"] = "complex64"  # a real numpy dtype, but no grid's
    manifest.write_text(json.dumps(signed(payload)))
    with pytest.raises(GridFileMismatchError, match="unsupported dtype 'complex64'"):
        MemmapStore.open(manifest, "r")


def test_a_grid_path_outside_the_directory_is_refused_naming_the_manifest(tmp_path: Path) -> None:
    manifest = _closed_store(tmp_path)
    payload = json.loads(manifest.read_text())
    payload["grids"]["g"]["path"] = "../elsewhere.dat"
    manifest.write_text(json.dumps(signed(payload)))
    with pytest.raises(UnsafeManifestError, match="is not a file name inside the store directory") as caught:
        MemmapStore.open(manifest, "r")
    assert repr(str(manifest)) in str(caught.value)


@pytest.mark.parametrize("grids", [1, 200])
def test_the_manifest_spare_leaves_room_for_the_manifest_to_double(tmp_path: Path, grids: int) -> None:
    """The spare a manifest is rewritten into is reserved in advance (at least 64 KiB, and at least twice
    the manifest), so a rewrite on a full disk needs no new block."""
    with MemmapStore(tmp_path) as store:
        for i in range(grids):
            store.create(f"g{i:03d}", (1, 1))
        text = len(store.manifest_path.read_bytes().rstrip())  # a manifest written into a spare is padded
        (spare,) = tmp_path.glob("*.spare")
        assert spare.stat().st_size >= max(64 * 1024, 2 * text), (spare.stat().st_size, text)
        assert os.stat(spare).st_blocks * 512 >= spare.stat().st_size  # its blocks are reserved, not a hole
