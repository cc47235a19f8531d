"""A backend written as a third party would write it: public names only, the four primitives, the shipped suite.

The backend below keeps each grid as one plain ndarray and implements nothing but the
contract's required methods, so every other operation runs on the contract's defaults.
It is registered by name and built through the registry, like a plug-in. The AST check
at the end holds this file (and the tile-dict test backend) to ``farm_grids`` public names,
``farm_grids.stores`` public names and ``farm_grids.testing``.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest

import farm_grids
import farm_grids.stores
import farm_grids.testing
from farm_grids import GridEntry, MemmapConfig, register_backend
from farm_grids.stores import BACKEND_METHODS, GridStore, build_store, unregister_backend
from farm_grids.testing import StoreSuite

NAME = "plain-arrays"
HERE = Path(__file__).resolve()
CHECKED = (HERE, HERE.parent / "tile_dict_backend.py")
PUBLIC_MODULES = {"farm_grids": farm_grids, "farm_grids.stores": farm_grids.stores,
                  "farm_grids.testing": farm_grids.testing}


class PlainArrayStore(GridStore):
    """One ndarray per grid; only the required primitives."""

    backend = NAME

    def __init__(self, *, namespace: str | None = None, simulation_id: str | None = None,
                 default_dtype: object = "float32", default_mode: str = "w+") -> None:
        super().__init__(default_dtype=default_dtype, default_mode=default_mode)
        self.namespace, self.simulation_id = namespace, simulation_id

    def allocate_grid(self, name: str, shape: tuple[int, int], dtype: np.dtype, mode: str, fill: float) -> GridEntry:
        return GridEntry(self.describe_grid(name, shape, dtype, mode), np.full(shape, fill, dtype=dtype))

    def read_region(self, entry: GridEntry, rows: slice, cols: slice, out: np.ndarray) -> None:
        np.copyto(out, entry.array[rows, cols], casting="unsafe")

    def write_region(self, entry: GridEntry, rows: slice, cols: slice, data: np.ndarray) -> None:
        np.copyto(entry.array[rows, cols], data, casting="unsafe")

    def release_grid(self, entry: GridEntry, delete_file: bool) -> None:
        entry.array = None


def plain_array_factory(config: MemmapConfig, *, namespace: str, simulation_id: str | None) -> PlainArrayStore:
    return PlainArrayStore(namespace=namespace, simulation_id=simulation_id, default_dtype=config.dtype)


@pytest.fixture(scope="module")
def registered() -> Iterator[str]:
    register_backend(NAME, plain_array_factory)
    yield NAME
    unregister_backend(NAME)


class TestPlainArrayStore(StoreSuite):
    @pytest.fixture
    def store(self, registered: str) -> Iterator[GridStore]:
        store = build_store(registered, MemmapConfig(backend=registered), namespace="third-party")
        assert type(store) is PlainArrayStore
        yield store
        store.close_all()


def test_the_backend_overrides_only_the_required_methods() -> None:
    contract = set(BACKEND_METHODS["required"]) | set(BACKEND_METHODS["optional"])
    overridden = {name for name in vars(PlainArrayStore) if name in contract}
    assert overridden == set(BACKEND_METHODS["required"])


# -- public names only -------------------------------------------------------------------
def non_public_imports(source: str) -> list[str]:
    """``line: what`` for every import of a private name or of a module outside the public ones."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                found.append(f"{node.lineno}: relative import from {'.' * node.level}{module}")
            elif module.split(".")[0] == "farm_grids":
                public = PUBLIC_MODULES.get(module)
                if public is None:
                    found.append(f"{node.lineno}: module {module}")
                else:
                    found += [f"{node.lineno}: {module}.{alias.name}" for alias in node.names
                              if alias.name not in public.__all__]
        elif isinstance(node, ast.Import):
            found += [f"{node.lineno}: module {alias.name}" for alias in node.names
                      if alias.name.split(".")[0] == "farm_grids" and alias.name not in PUBLIC_MODULES]
        elif isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__"):
            found.append(f"{node.lineno}: .{node.attr}")
    return found


@pytest.mark.parametrize("snippet", [
    "from farm_grids.stores.base import GridStore",
    "from farm_grids.stores.memmap import MemmapStore",
    "import farm_grids.stores.memmap.locks",
    "from farm_grids.stores import registry",
    "from farm_grids import stores",
    "from farm_grids.testing import settings",
    "from .support import random_grid",
    "store._entries['a']",
])
def test_the_check_sees_each_kind_of_non_public_use(snippet: str) -> None:
    assert non_public_imports(snippet), snippet


def test_the_check_allows_public_names() -> None:
    allowed = ("import numpy as np\nimport farm_grids.stores\nfrom farm_grids import GridStore, MemmapConfig\n"
               "from farm_grids.stores import GridEntry, build_store\nfrom farm_grids.testing import StoreSuite\n"
               "self.__class__; entry.state")
    assert non_public_imports(allowed) == []


@pytest.mark.parametrize("path", CHECKED, ids=lambda path: path.name)
def test_third_party_style_modules_use_public_names_only(path: Path) -> None:
    assert non_public_imports(path.read_text(encoding="utf-8")) == []
    # Their non-project imports are the standard library, numpy and the suite's own test tools.
    tree = ast.parse(path.read_text(encoding="utf-8"))
    tops = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    tops |= {node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    assert tops - sys.stdlib_module_names <= {"farm_grids", "numpy", "pytest", "hypothesis"}
