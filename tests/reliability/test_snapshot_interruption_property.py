"""Property: any sequence of snapshot, overwrite and restore, interrupted anywhere by an exception, leaves the old or the new snapshot restorable, bitwise."""

from __future__ import annotations

import inspect
import itertools
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import farm_grids.snapshot
import farm_grids.snapshot_location
import farm_grids.snapshot_record
from farm_grids import SnapshotError
from farm_grids.environment import Environment
from ..objectstore import worlds
from ..objectstore.s3server import CountingS3Server, s3_client

_MODULES = (farm_grids.snapshot, farm_grids.snapshot_location, farm_grids.snapshot_record)
_TRACED = {module.__file__ for module in _MODULES}
# Every function of those modules: an interruption picks one, then the k-th line run inside it,
# so the short steps (the switch, the removals) are hit as often as the long data loop.
_FUNCTIONS = sorted({
    function.__name__
    for module in _MODULES for value in vars(module).values() if getattr(value, "__module__", None) == module.__name__
    for function in ([value] if inspect.isfunction(value) else
                     [member for member in vars(value).values() if inspect.isfunction(member)] if inspect.isclass(value)
                     else [])
})
_paths = itertools.count()


class Interrupted(BaseException):
    """The injected failure (like KeyboardInterrupt, not an Exception): raised inside the snapshot code at a chosen line."""


@contextmanager
def interrupted_at(point: tuple[str, int] | None) -> Iterator[None]:
    """Raise Interrupted when the k-th line runs inside the function named ``point`` = (name, k); None: never."""
    count = 0

    def on_line(frame: FrameType, event: str, arg: Any) -> Any:
        nonlocal count
        if event == "line" and point is not None and frame.f_code.co_name == point[0]:
            count += 1
            if count == point[1]:
                raise Interrupted(f"at line {frame.f_lineno} of {point[0]}")
        return on_line

    def on_call(frame: FrameType, event: str, arg: Any) -> Any:
        return on_line if frame.f_code.co_filename in _TRACED else None

    sys.settrace(on_call if point is not None else None)
    try:
        yield
    finally:
        sys.settrace(None)


@pytest.fixture(scope="module")
def envs() -> Iterator[list[Environment]]:
    """Three different worlds (ticks 1, 2, 4) and their fingerprints."""
    made = []
    for ticks in (1, 2, 4):
        env, driver = worlds.build(worlds.config("ram"))
        driver.run(ticks)
        made.append(env)
    yield made
    for env in made:
        env.close()


def _restorable(url: str, options: Any) -> dict[str, bytes] | None:
    try:
        with Environment.restore(url, storage_options=options) as restored:
            return worlds.fingerprint(restored)
    except SnapshotError as exc:
        assert "not a farm-grids snapshot" in str(exc), exc  # only "nothing committed yet" is allowed
        return None


_POINTS = st.none() | st.tuples(st.sampled_from(_FUNCTIONS), st.integers(1, 40))
_SNAPSHOT = st.tuples(st.just("snapshot"), st.integers(0, 2), st.booleans(), _POINTS)
_RESTORE = st.tuples(st.just("restore"), _POINTS)
_SEQUENCES = st.lists(st.one_of(_SNAPSHOT, _SNAPSHOT, _RESTORE), min_size=1, max_size=6)


def _run(url: str, options: Any, envs: list[Environment], ops: list[tuple[Any, ...]]) -> None:
    prints = [worlds.fingerprint(env) for env in envs]
    current: dict[str, bytes] | None = None  # what restores now (None: nothing committed yet)
    for op in ops:
        if op[0] == "snapshot":
            _, which, overwrite, point = op
            outcome = "wrote"
            try:
                with interrupted_at(point):
                    envs[which].snapshot(url, storage_options=options, overwrite=overwrite)
            except Interrupted:
                outcome = "interrupted"
            except SnapshotError as exc:
                assert current is not None and not overwrite and "already exists" in str(exc), exc
                outcome = "refused"
            found = _restorable(url, options)
            allowed = {"wrote": [prints[which]], "refused": [current],
                       "interrupted": [current, prints[which]]}[outcome]
            assert found in allowed, f"{outcome} {op}: restored neither the old nor the new snapshot"
            current = found
        else:
            try:
                with interrupted_at(op[1]):
                    Environment.restore(url, storage_options=options).close()
            except (Interrupted, SnapshotError):
                pass
            assert _restorable(url, options) == current, "a restore changed the snapshot"
    # Whatever was interrupted, an overwrite still works and leaves only its own entries.
    envs[0].snapshot(url, storage_options=options, overwrite=True)
    assert _restorable(url, options) == prints[0]


_SETTINGS = dict(deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
                 suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@settings(max_examples=30, **_SETTINGS)  # type: ignore[arg-type]
@given(ops=_SEQUENCES)
def test_interrupted_local_snapshots_leave_the_old_or_the_new_world(
        envs: list[Environment], tmp_path_factory: pytest.TempPathFactory, ops: list[tuple[Any, ...]]) -> None:
    url = tmp_path_factory.getbasetemp() / f"property-{next(_paths)}" / "snap.zarr"
    _run(str(url), None, envs, ops)
    held = [entry for entry in os.listdir(url) if not Path(url, entry).is_dir() or any(Path(url, entry).iterdir())]
    assert len(held) == 2, held  # the root document and one generation


# The protocol's steps and the I/O steps where a commit can land or fail half-way.
_SWEPT = ("write_snapshot", "create_generation", "switch", "remove")


def _lines_in(function: str, url: str, env: Environment) -> int:
    """How many lines an overwrite runs in the frames of ``function``."""
    count = 0

    def on_line(frame: FrameType, event: str, arg: Any) -> Any:
        nonlocal count
        count += event == "line"
        return on_line

    sys.settrace(lambda frame, event, arg: on_line if frame.f_code.co_name == function
                 and frame.f_code.co_filename in _TRACED else None)
    try:
        env.snapshot(url, overwrite=True)
    finally:
        sys.settrace(None)
    return count


@pytest.mark.parametrize("function", _SWEPT)
def test_an_overwrite_interrupted_at_every_step_leaves_the_old_or_the_new_world(
        envs: list[Environment], tmp_path: Path, function: str) -> None:
    """Exhaustive over the lines of each step: before and after the switch, inside it, between the removals."""
    url = str(tmp_path / "snap.zarr")
    envs[0].snapshot(url)
    steps = _lines_in(function, url, envs[0])
    assert steps >= 3
    prints = [worlds.fingerprint(env) for env in envs[:2]]
    old = 0
    for step in range(1, steps + 1):
        new = 1 - old
        with pytest.raises(Interrupted), interrupted_at((function, step)):
            envs[new].snapshot(url, overwrite=True)
        found = _restorable(url, None)
        assert found in (prints[old], prints[new]), f"interrupted at line {step} of {function}: neither world restores"
        old = prints.index(found)  # type: ignore[arg-type]
    envs[0].snapshot(url, overwrite=True)  # and what the interruptions left is tidied
    held = [entry for entry in os.listdir(url) if not Path(url, entry).is_dir() or any(Path(url, entry).iterdir())]
    assert len(held) == 2, held


@settings(max_examples=5, **_SETTINGS)  # type: ignore[arg-type]
@given(ops=_SEQUENCES)
def test_interrupted_snapshots_on_s3_leave_the_old_or_the_new_world(
        envs: list[Environment], s3_server: CountingS3Server, ops: list[tuple[Any, ...]]) -> None:
    name = f"property-{os.getpid()}-{next(_paths)}"
    client = s3_client(s3_server)
    client.create_bucket(Bucket=name)
    _run(f"s3://{name}/snap.zarr", s3_server.storage_options(), envs, ops)
    keys = [item["Key"] for item in client.list_objects_v2(Bucket=name).get("Contents", [])]
    assert len({key.split("/")[1] for key in keys}) == 2, sorted(keys)[:5]
