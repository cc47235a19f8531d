"""Items 2, 9, 11: a hostile manifest never makes open() read, write or delete a file outside its store."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import pytest

from farm_grids.errors import (
    FarmGridsError,
    GridFileMismatchError,
    StorageDirectoryError,
    StoreLockedError,
    UnsafeManifestError,
)
from farm_grids.stores import MemmapStore, cleanup_stale

from .helpers import AccessWatch, signed, tree_state

pytestmark = pytest.mark.usefixtures("deadline")

A, B = "alpha_grid", "beta_grid"
SHAPE = (4, 8)
VICTIM_BYTES = bytes(range(128))  # 4 x 8 float32: the size an entry of A expects


class Scene:
    """A cleanly closed store (grids A and B) beside an outside victim file of A's size."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.directory = root / "store"
        store = MemmapStore(self.directory)
        store.create(A, SHAPE, fill=1.0)
        store.create(B, SHAPE, fill=2.0)
        self.manifest = store.manifest_path
        store.close_all()
        self.victim = root / "victim.dat"
        self.victim.write_bytes(VICTIM_BYTES)
        self.payload = json.loads(self.manifest.read_text())

    def file_of(self, name: str) -> str:
        return self.payload["grids"][name]["path"]

    def write(self, payload: dict, *, sign: bool = True) -> None:
        self.manifest.write_text(json.dumps(signed(payload) if sign else payload, indent=2))

    def with_entry(self, name: str, **fields: object) -> dict:
        payload = json.loads(json.dumps(self.payload))
        payload["grids"][name].update(fields)
        return payload


@pytest.fixture
def scene(tmp_path: Path) -> Scene:
    return Scene(tmp_path)


def _dotdot(s: Scene) -> dict:
    return s.with_entry(A, path="../victim.dat")


def _absolute(s: Scene) -> dict:
    return s.with_entry(A, path=str(s.victim))


def _etc_passwd(s: Scene) -> dict:
    size = Path("/etc/passwd").stat().st_size
    return s.with_entry(A, path="/etc/passwd", shape=[1, size], dtype="uint8", nbytes=size)


def _symlink_out(s: Scene) -> dict:
    (s.directory / "outside_link.dat").symlink_to(s.victim)
    return s.with_entry(A, path="outside_link.dat")


def _relative_symlink_out(s: Scene) -> dict:
    (s.directory / "outside_link.dat").symlink_to("../victim.dat")
    return s.with_entry(A, path="outside_link.dat")


def _symlink_chain_out(s: Scene) -> dict:
    (s.directory / "hop2.dat").symlink_to(s.victim)
    (s.directory / "hop1.dat").symlink_to("hop2.dat")  # inside -> inside -> outside
    return s.with_entry(A, path="hop1.dat")


def _symlink_to_outside_fifo(s: Scene) -> dict:
    os.mkfifo(s.root / "outside.fifo")
    (s.directory / "fifo_link.dat").symlink_to(s.root / "outside.fifo")
    return s.with_entry(A, path="fifo_link.dat")


def _alias_symlink(s: Scene) -> dict:
    (s.directory / "alias.dat").symlink_to(s.file_of(B))  # A reads (and r+ writes) B's file
    return s.with_entry(A, path="alias.dat")


def _same_path(s: Scene) -> dict:
    return s.with_entry(A, path=s.file_of(B))


def _directory(s: Scene) -> dict:
    (s.directory / "subdir").mkdir()
    return s.with_entry(A, path="subdir")


def _fifo(s: Scene) -> dict:
    os.mkfifo(s.directory / "grid.fifo")
    return s.with_entry(A, path="grid.fifo")


def _symlink_loop(s: Scene) -> dict:
    (s.directory / "loop.dat").symlink_to("loop.dat")
    return s.with_entry(A, path="loop.dat")


HOSTILE: dict[str, Callable[[Scene], dict]] = {
    "dotdot": _dotdot,
    "absolute": _absolute,
    "etc_passwd": _etc_passwd,
    "symlink_out": _symlink_out,
    "relative_symlink_out": _relative_symlink_out,
    "symlink_chain_out": _symlink_chain_out,
    "symlink_to_outside_fifo": _symlink_to_outside_fifo,
    "alias_symlink": _alias_symlink,
    "same_path": _same_path,
    "directory": _directory,
    "fifo": _fifo,
    "symlink_loop": _symlink_loop,
}


@pytest.mark.parametrize("mode", ["r", "r+"])
@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_entry_is_refused_and_nothing_is_touched(scene: Scene, case: str, mode: str) -> None:
    scene.write(HOSTILE[case](scene))
    before = tree_state(scene.root)
    watch = AccessWatch(scene.victim, *(scene.directory / scene.file_of(n) for n in (A, B)))
    try:
        with pytest.raises(UnsafeManifestError) as caught:
            MemmapStore.open(scene.manifest, mode)
        events = watch.events()
    finally:
        watch.close()
    error = caught.value
    assert isinstance(error, GridFileMismatchError) and isinstance(error, PermissionError)
    assert f"'{A}'" in str(error), f"the error must name the entry {A!r}: {error}"
    # Nothing outside was opened, and the store's own files were not mapped either
    # (every check runs before the first file is opened).
    assert events == [], f"open() touched files although it refused the manifest: {events}"
    assert tree_state(scene.root) == before  # no lock file, spare or temp file left, no file changed
    assert scene.victim.read_bytes() == VICTIM_BYTES


@pytest.mark.parametrize(("case", "named"), [("symlink_out", "outside_link.dat"),
                                           ("relative_symlink_out", "outside_link.dat"), ("symlink_chain_out", "hop1.dat")])
def test_a_symlink_out_is_refused_naming_the_link_and_where_it_leads(scene: Scene, case: str, named: str) -> None:
    scene.write(HOSTILE[case](scene))
    with pytest.raises(UnsafeManifestError) as caught:
        MemmapStore.open(scene.manifest, "r")
    message = str(caught.value)
    assert repr(str(scene.directory / named)) in message, message
    assert repr(str(scene.victim.resolve())) in message, message


def test_an_unsigned_edit_is_refused_by_its_checksum(scene: Scene) -> None:
    scene.write(_dotdot(scene), sign=False)
    before = tree_state(scene.root)
    for mode in ("r", "r+"):
        with pytest.raises(GridFileMismatchError, match="checksum"):
            MemmapStore.open(scene.manifest, mode)
    assert tree_state(scene.root) == before


def test_an_unsigned_edit_of_a_harmless_field_is_refused_too(scene: Scene) -> None:
    payload = json.loads(json.dumps(scene.payload))
    payload["generation"] += 1  # checksum left as it was
    scene.write(payload, sign=False)
    with pytest.raises(GridFileMismatchError, match="checksum"):
        MemmapStore.open(scene.manifest, "r")


@pytest.mark.parametrize(("key", "value"), [("pid", True), ("pid", "123"), ("namespace", 7), ("token", False)])
def test_an_optional_field_of_the_wrong_type_is_refused(scene: Scene, key: str, value: object) -> None:
    """A signed manifest whose optional field has the wrong JSON type (a bool is not an int) never opens."""
    payload = json.loads(json.dumps(scene.payload))
    payload[key] = value
    scene.write(payload)
    with pytest.raises(GridFileMismatchError, match=f"field {key!r} must be"):
        MemmapStore.open(scene.manifest, "r")


def test_the_signed_untouched_manifest_opens(scene: Scene) -> None:
    """The control for the cases above: re-signing alone changes nothing."""
    scene.write(scene.payload)
    with MemmapStore.open(scene.manifest, "r") as store:
        assert sorted(store.names()) == [A, B]
        assert (store.get(A) == 1.0).all() and (store.get(B) == 2.0).all()


@pytest.mark.parametrize("mode", ["r", "r+"])
def test_a_symlinked_lock_file_is_never_followed(scene: Scene, mode: str) -> None:
    lock = scene.manifest.with_name(scene.manifest.name + ".lock")
    lock.symlink_to(scene.victim)
    try:
        store = MemmapStore.open(scene.manifest, mode)
    except (StorageDirectoryError, StoreLockedError, UnsafeManifestError):
        store = None
    if store is not None:  # opening anyway is acceptable only if the victim stays untouched
        store.close_all()
    assert scene.victim.read_bytes() == VICTIM_BYTES  # a writer's lock record would truncate it
    assert lock.is_symlink()


def test_close_all_delete_after_open_never_deletes_outside(scene: Scene) -> None:
    store = MemmapStore.open(scene.manifest, "r+")
    # After the checked open, A's file is swapped for a symlink to the victim.
    link = scene.directory / "swap.tmp-link"
    link.symlink_to(scene.victim)
    os.replace(link, scene.directory / scene.file_of(A))
    store.fill(A, 9.0)
    store.flush()
    watch = AccessWatch(scene.victim)
    try:
        store.close_all(delete_files=True)
        events = watch.events()
    finally:
        watch.close()
    assert scene.victim.read_bytes() == VICTIM_BYTES
    assert not any(mask & (AccessWatch.IN_MODIFY | AccessWatch.IN_DELETE_SELF) for _, mask in events), events
    assert not (scene.directory / scene.file_of(B)).exists()


def test_cleanup_stale_never_follows_a_symlink_out(scene: Scene) -> None:
    # A dead store's grid file replaced by a symlink to the victim: cleanup must not delete
    # (or truncate) the victim through it.
    os.replace(scene.directory / scene.file_of(A), scene.directory / "tmp-unused")
    (scene.directory / scene.file_of(A)).symlink_to(scene.victim)
    report = cleanup_stale(scene.directory)
    assert scene.victim.read_bytes() == VICTIM_BYTES
    assert all(path.resolve() != scene.victim.resolve() for path in report.removed)


# -- item 9 and the manifest items of list 11: contents validated strictly ------------------


def test_dtype_swap_with_same_itemsize_is_refused(scene: Scene) -> None:
    scene.write(scene.with_entry(A, dtype="int32"))  # float32 file, int32 claimed, re-signed
    with pytest.raises(GridFileMismatchError, match="float32"):
        MemmapStore.open(scene.manifest, "r")


BAD_ENTRIES: dict[str, dict[str, object]] = {
    "nbytes_text": {"nbytes": "abc"},
    "nbytes_wrong": {"nbytes": 129},
    "nbytes_bool": {"nbytes": True},
    "shape_fractional": {"shape": [8.9, 16.2]},
    "shape_integral_floats": {"shape": [4.0, 8.0]},
    "shape_bools": {"shape": [True, 8]},
    "shape_negative": {"shape": [-4, -8]},
    "shape_three_sides": {"shape": [4, 8, 1]},
    "shape_text": {"shape": "4x8"},
    "shape_huge": {"shape": [2**31, 1]},
    "dtype_object": {"dtype": "object"},
    "dtype_unsupported": {"dtype": "complex64"},
    "path_number": {"path": 7},
    "path_empty": {"path": ""},
    "path_dot": {"path": "."},
    "path_nul": {"path": "a\u0000b"},
}


@pytest.mark.parametrize("case", sorted(BAD_ENTRIES))
def test_bad_entry_fields_are_typed_errors(scene: Scene, case: str) -> None:
    scene.write(scene.with_entry(A, **BAD_ENTRIES[case]))
    before = tree_state(scene.root)
    with pytest.raises(GridFileMismatchError):
        MemmapStore.open(scene.manifest, "r+")
    assert tree_state(scene.root) == before


BAD_TOP: dict[str, Callable[[dict], None]] = {
    "unknown_field": lambda p: p.update(extra=1),
    "grids_list": lambda p: p.update(grids=[]),
    "generation_text": lambda p: p.update(generation="3"),
    "generation_negative": lambda p: p.update(generation=-1),
    "clean_text": lambda p: p.update(clean="yes"),
    "entry_extra_key": lambda p: p["grids"][A].update(offset=0),
    "entry_missing_key": lambda p: p["grids"][A].pop("nbytes"),
    "grid_name_empty": lambda p: p["grids"].update({"": p["grids"].pop(A)}),
    "token_not_hex": lambda p: p.update(token="../x"),
}


@pytest.mark.parametrize("case", sorted(BAD_TOP))
def test_bad_manifest_fields_are_typed_errors(scene: Scene, case: str) -> None:
    payload = json.loads(json.dumps(scene.payload))
    BAD_TOP[case](payload)
    scene.write(payload)
    with pytest.raises(GridFileMismatchError):
        MemmapStore.open(scene.manifest, "r")


def test_duplicate_keys_in_a_manifest_are_refused(scene: Scene) -> None:
    text = json.dumps(signed(scene.payload))
    # The same grid listed twice under one key: JSON would silently keep the last one.
    entry = json.dumps(scene.payload["grids"][A])
    text = text.replace(f'"{A}": {entry}', f'"{A}": {entry}, "{A}": {entry}', 1)
    assert text.count(f'"{A}"') == 2
    scene.manifest.write_text(text)
    with pytest.raises(GridFileMismatchError):
        MemmapStore.open(scene.manifest, "r")


def _nested(kind: str, depth: int) -> str:
    if kind == "lists":
        return "[" * depth + "]" * depth
    return '{"a":' * depth + "0" + "}" * depth


def _manifest_around(inner: str) -> str:
    # A structurally plausible manifest with the nesting in one field; the checksum is
    # whatever (computing it is part of what must not blow the stack).
    return (
        '{"schema": "farm-grids/manifest/v2", "generation": 1, "clean": true, "pid": 1, '
        f'"token": "ab", "simulation_id": null, "namespace": {inner}, "grids": {{}}, '
        '"checksum": "sha256:00"}'
    )


def _every_depth() -> Iterator[int]:
    yield from range(1, 40)
    yield from range(700, 1250)  # every depth around the interpreter's recursion limit (1000)
    yield from (5_000, 20_000)


@pytest.mark.parametrize("kind", ["lists", "dicts"])
def test_deep_nesting_at_any_depth_never_escapes_as_recursion_error(tmp_path: Path, kind: str) -> None:
    manifest = tmp_path / "manifest_p1-ab.json"
    escaped: list[tuple[int, str]] = []
    for depth in _every_depth():
        manifest.write_text(_manifest_around(_nested(kind, depth)))
        try:
            MemmapStore.open(manifest, "r")
        except FarmGridsError:
            continue
        except RecursionError as exc:
            escaped.append((depth, f"RecursionError: {exc}"))
            continue
        escaped.append((depth, "opened"))
    assert escaped == [], f"{len(escaped)} depths escaped, first {escaped[:3]}"
    assert sorted(p.name for p in tmp_path.iterdir()) == [manifest.name]


def test_deep_nesting_is_refused_by_the_whole_grids_table(tmp_path: Path) -> None:
    manifest = tmp_path / "manifest_p1-ab.json"
    manifest.write_text(_manifest_around("null").replace('"grids": {}', '"grids": ' + _nested("dicts", 50_000)))
    with pytest.raises(GridFileMismatchError):
        MemmapStore.open(manifest, "r+")


def test_reopened_values_are_those_written(scene: Scene) -> None:
    """Control: a legitimate reopen in r+ after a clean close maps the very files written."""
    with MemmapStore.open(scene.manifest, "r+") as store:
        np.testing.assert_array_equal(store.get(A), np.full(SHAPE, 1.0, dtype=np.float32))
        assert store.store_info().clean is True


@pytest.mark.parametrize("writable", [False, True])
def test_a_file_swapped_after_its_check_is_refused_by_name(tmp_path: Path, writable: bool) -> None:
    """open() checks a grid file, then maps it by the (st_dev, st_ino) it checked: another inode is refused."""
    from farm_grids.stores.memmap.mapped_file import MappedFile

    checked = tmp_path / "checked.dat"
    checked.write_bytes(bytes(64))
    swapped_in = tmp_path / "grid.dat"
    swapped_in.write_bytes(bytes(64))
    identity = (checked.stat().st_dev, checked.stat().st_ino)
    with pytest.raises(UnsafeManifestError, match="changed while it was being opened") as caught:
        MappedFile.open_existing(swapped_in, 64, writable=writable, identity=identity)
    assert repr(str(swapped_in)) in str(caught.value)
    MappedFile.open_existing(checked, 64, writable=writable, identity=identity).release()
