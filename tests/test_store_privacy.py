"""No module outside farm_grids/stores/ reads a store's private state or a GridEntry's backend state (an AST scan)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import farm_grids

REPO = Path(farm_grids.__file__).resolve().parents[1]
STORES = REPO / "farm_grids" / "stores"
SCANNED = ("farm_grids", "harness", "benchmarks")
# A store's own state and its internal hooks (the reservation and prefetch machinery of
# farm_grids' file backends, grid lookups): the backend contract's public names are the way in.
PRIVATE = frozenset({
    "_entries", "_fast", "_fast_tiles", "_Entry", "_register", "_unregister", "_entry", "_writable_entry",
    "_reserves", "_reserve", "_reserve_cells", "_reserve_tiles", "_before_gather",
    "_before_dense_write", "_needs_read_reserve", "_region_bytes", "_cell_bytes", "_plan_bytes", "_after_close",
    "_adopt", "_kept", "_owner_lock", "_manifest_path", "_mirror",
})


def private_uses(source: str) -> list[str]:
    """``line: what`` for every private store name used and every ``.state`` read (an RNG's state is fine)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and node.attr in PRIVATE:
            found.append(f"{node.lineno}: .{node.attr}")
        elif isinstance(node, ast.Attribute) and node.attr == "state":
            # numpy's ``rng.bit_generator.state`` is the generator's, not a store's.
            owner = node.value
            if not (isinstance(owner, ast.Attribute) and owner.attr == "bit_generator"):
                found.append(f"{node.lineno}: .state")
        elif isinstance(node, ast.Name) and node.id in PRIVATE:
            found.append(f"{node.lineno}: {node.id}")
        elif isinstance(node, ast.ImportFrom):
            found += [f"{node.lineno}: import {alias.name}" for alias in node.names if alias.name in PRIVATE]
        elif isinstance(node, ast.Constant) and node.value in PRIVATE:
            found.append(f"{node.lineno}: {node.value!r} (getattr by name)")
    return found


def scanned_files() -> list[Path]:
    return sorted(
        path
        for top in SCANNED
        if (REPO / top).is_dir()
        for path in (REPO / top).rglob("*.py")
        if STORES not in path.parents
    )


@pytest.mark.parametrize(
    "snippet",
    [
        "store._entries['a']",
        "x = store._fast.get(name)",
        "from farm_grids.stores.base import _Entry",
        "store._register(entry)",
        "entry.state.flush()",
        "getattr(store, '_entries')",
        "store._reserve(entry, None, None)",
        "store._before_gather(entry, plan)",
        "store._writable_entry('a')",
    ],
)
def test_the_scan_sees_each_kind_of_private_use(snippet: str) -> None:
    assert private_uses(snippet), snippet


def test_the_scan_allows_public_use_and_an_rngs_state() -> None:
    assert private_uses("store.read('a'); store.info('a').path; rng.bit_generator.state = saved") == []


def test_nothing_outside_the_stores_package_reads_store_internals() -> None:
    files = scanned_files()
    assert len(files) > 20 and any(path.parent.name == "harness" for path in files)
    offences = {
        str(path.relative_to(REPO)): uses
        for path in files
        if (uses := private_uses(path.read_text(encoding="utf-8")))
    }
    assert offences == {}, f"store internals read outside farm_grids/stores/: {offences}"
