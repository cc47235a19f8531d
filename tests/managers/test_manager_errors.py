"""Bad input to any manager on any backend: the typed error, a message naming the value, an unchanged store."""

from __future__ import annotations

import pathlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest

from farm_grids.config import MemmapConfig
from farm_grids.errors import (
    FarmGridsError,
    GridNotFoundError,
    InvalidGridSpecError,
    StorageDirectoryError,
)
from farm_grids.managers import (
    EnvironmentalGridManager,
    GridManager,
    ResourceManager,
    TemporalGridManager,
    make_store,
)
from farm_grids.stores import MemmapStore

H, W = 12, 14
NAN = float("nan")


@dataclass(frozen=True)
class BadCall:
    """One row of the table: which manager, what call, which error, what the message names."""

    manager: str
    call: Callable[[GridManager], object]
    error: type[FarmGridsError]
    names: str

    def __str__(self) -> str:
        # A test id without regex escapes or brackets, so its node id can be named on a command line.
        return f"{self.manager}: {self.names}".translate(str.maketrans("", "", "\\()[]"))


TABLE = [
    BadCall("env", lambda m: m.set("ROADS", np.zeros((H, W))), GridNotFoundError, "ROADS"),
    BadCall("env", lambda m: m.fill("ROADS", 1.0), GridNotFoundError, "ROADS"),
    BadCall("env", lambda m: m.get("ROADS"), GridNotFoundError, "ROADS"),
    BadCall("env", lambda m: m.is_set("ROADS"), GridNotFoundError, "ROADS"),
    BadCall("env", lambda m: m.set("OBSTACLES", np.zeros((H, W + 1))), InvalidGridSpecError, r"\(12, 15\)"),
    BadCall("env", lambda m: m.set("OBSTACLES", np.full((H, W), NAN)), InvalidGridSpecError, "finite"),
    BadCall("env", lambda m: m.set("OBSTACLES", np.full((H, W), "x")), InvalidGridSpecError, "real numbers"),
    BadCall("env", lambda m: m.fill("OBSTACLES", NAN), InvalidGridSpecError, "nan"),
    BadCall("temporal", lambda m: m.deposit("SMELL", [1], [1], [1.0]), GridNotFoundError, "SMELL"),
    BadCall("temporal", lambda m: m.apply_decay("SMELL"), GridNotFoundError, "SMELL"),
    BadCall("temporal", lambda m: m.gamma_for("SMELL"), GridNotFoundError, "SMELL"),
    BadCall("temporal", lambda m: m.set_gamma("TRAILS", NAN), InvalidGridSpecError, "nan"),
    BadCall("temporal", lambda m: m.set_gamma("TRAILS", 0.0), InvalidGridSpecError, r"\(0, 1\], got 0.0"),
    BadCall("temporal", lambda m: m.set_gamma("TRAILS", 1.5), InvalidGridSpecError, "1.5"),
    BadCall("temporal", lambda m: m.set_gamma("TRAILS", -0.2), InvalidGridSpecError, "-0.2"),
    BadCall("temporal", lambda m: m.set_gamma("TRAILS", True), InvalidGridSpecError, "True"),
    BadCall("temporal", lambda m: m.deposit("TRAILS", [1], [1], [1.0], clip_max=-1.0), InvalidGridSpecError, "-1.0"),
    BadCall("temporal", lambda m: m.deposit("TRAILS", [1], [1], [1.0], clip_max=NAN), InvalidGridSpecError, "clip_max"),
    BadCall("temporal", lambda m: m.deposit("TRAILS", [1, 2], [1], [1.0, 1.0]), InvalidGridSpecError, "2 and 1"),
    BadCall("temporal", lambda m: m.deposit("TRAILS", [1, 2], [1, 2], [1.0]), InvalidGridSpecError, "length 2"),
    BadCall("temporal", lambda m: m.deposit("TRAILS", [1, 2], [1, 2], [1.0, np.inf]), InvalidGridSpecError, "finite"),
    BadCall("temporal", lambda m: m.deposit("TRAILS", [1.5], [1], [1.0]), InvalidGridSpecError, "integers"),
    BadCall("temporal", lambda m: m.get_windows("TRAILS", [1], [1], -1), InvalidGridSpecError, "radius"),
    BadCall("resources", lambda m: m.consume([1, 2], [1], [1.0, 1.0]), InvalidGridSpecError, "2 and 1"),
    BadCall("resources", lambda m: m.consume([1], [1], [1.0, 2.0]), InvalidGridSpecError, "length 1"),
    BadCall("resources", lambda m: m.consume([1], [1], [-3.0]), InvalidGridSpecError, "-3.0"),
    BadCall("resources", lambda m: m.consume([1], [1], [NAN]), InvalidGridSpecError, "finite"),
]


class ErrorSuite:
    backend: str

    @pytest.fixture
    def managers(self, memmap_config: MemmapConfig):
        made: dict[str, GridManager] = {
            "env": EnvironmentalGridManager(H, W, memmap_config=memmap_config),
            "temporal": TemporalGridManager(H, W, memmap_config=memmap_config),
            "resources": ResourceManager(H, W, memmap_config=memmap_config),
        }
        made["env"].fill("OBSTACLES", 1.0)
        made["temporal"].deposit("TRAILS", [1, 5], [2, 9], [0.5, 0.25])
        yield made
        for manager in made.values():
            manager.close(delete_files=True)

    @pytest.mark.parametrize("bad", TABLE, ids=str)
    def test_bad_call_raises_typed_error_and_changes_nothing(
        self, managers: dict[str, GridManager], snapshot, bad: BadCall
    ) -> None:
        manager = managers[bad.manager]
        before = snapshot(manager)
        state = getattr(manager, "_gammas", None), manager.names()
        with pytest.raises(bad.error, match=bad.names) as info:
            bad.call(manager)
        builtin = KeyError if bad.error is GridNotFoundError else ValueError
        assert isinstance(info.value, builtin)
        assert snapshot(manager) == before
        assert (getattr(manager, "_gammas", None), manager.names()) == state

    def test_gamma_table_leaves_the_gamma(self, managers: dict[str, GridManager]) -> None:
        temporal = managers["temporal"]
        with pytest.raises(InvalidGridSpecError):
            temporal.set_gamma("TRAILS", NAN)  # type: ignore[attr-defined]
        assert temporal.gamma_for("TRAILS") == 0.9  # type: ignore[attr-defined]


class TestErrorsRam(ErrorSuite):
    backend = "ram"


class TestErrorsMemmap(ErrorSuite):
    backend = "memmap"


@pytest.mark.parametrize(
    "build",
    [
        lambda c: EnvironmentalGridManager(4, 4, memmap_config=c),
        lambda c: TemporalGridManager(4, 4, memmap_config=c),
        lambda c: ResourceManager(4, 4, memmap_config=c),
        lambda c: make_store(True, c, namespace="x", simulation_id=None),
    ],
    ids=["env", "temporal", "resources", "make_store"],
)
def test_a_file_as_directory_raises_and_never_falls_back_to_ram(
    tmp_path: pathlib.Path, config_for, build: Callable[[MemmapConfig], object]
) -> None:
    not_a_dir = tmp_path / "grids"
    not_a_dir.write_text("I am a file")
    with pytest.raises(StorageDirectoryError, match="is a file") as info:
        build(config_for("memmap", not_a_dir))
    assert isinstance(info.value, PermissionError)
    assert not_a_dir.read_text() == "I am a file"


@pytest.mark.parametrize(
    "build, match",
    [
        (lambda: TemporalGridManager(0, 4), "height"),
        (lambda: EnvironmentalGridManager(4, True), "width"),  # type: ignore[arg-type]
        (lambda: ResourceManager(4, 4, seed=-1), "seed"),
        (lambda: ResourceManager(4, 4.5), "width"),  # type: ignore[arg-type]
    ],
)
def test_bad_constructor_arguments(build: Callable[[], object], match: str) -> None:
    with pytest.raises(InvalidGridSpecError, match=match):
        build()


def test_make_store_uses_the_config_dtype_on_both_backends(tmp_path: pathlib.Path, config_for) -> None:
    config = MemmapConfig(directory=str(tmp_path), dtype="float64")
    ram = make_store(False, config, namespace="env", simulation_id="s")
    memmap = make_store(True, config, namespace="env", simulation_id="s")
    assert ram.backend == "ram" and memmap.backend == "memmap"
    assert ram.default_dtype == memmap.default_dtype == np.float64
    assert memmap.namespace == "env" and memmap.simulation_id == "s"
    ram.close_all()
    memmap.close_all()


def test_a_failed_channel_creation_leaves_no_files_behind(tmp_path: pathlib.Path) -> None:
    store = MemmapStore(tmp_path, namespace="temporal")
    store.create("ALLY_SIGNAL", (H + 1, W))  # the last channel clashes: the first two are undone
    with pytest.raises(InvalidGridSpecError, match="ALLY_SIGNAL"):
        TemporalGridManager(H, W, store=store)
    assert store.names() == ["ALLY_SIGNAL"]
    assert sorted(path.name.split("_p")[0] for path in tmp_path.glob("*.dat")) == ["temporal_ALLY_SIGNAL"]
    store.close_all(delete_files=True)
