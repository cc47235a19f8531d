"""The matrix spec (YAML or JSON): axes, timing and report options, all checked before anything runs."""

from __future__ import annotations

import hashlib
import itertools
import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from farm_grids.config import LAYOUTS
from harness.acceptance.scope import file_backend_choices
from harness.acceptance.performance import TimingSettings
from harness.matrix.errors import MatrixSpecError
from harness.matrix.storage import StorageSection, parse_storage, redact
from harness.verdicts import DEFAULT_THRESHOLD
from harness.workloads.catalog import WORKLOADS

# The axes, in the order a cell id names them; the default is used when the spec leaves one out.
AXES: tuple[str, ...] = ("workload", "size", "layout", "backend", "agents")
AXIS_DEFAULTS: dict[str, tuple[Any, ...]] = {"size": (256,), "layout": ("rows",), "backend": ("memmap",),
                                             "agents": (1000,)}
TOP_KEYS = ("axes", "timing", "threshold", "heatmap", "retries", "storage")
TIMING_KEYS = tuple(TimingSettings.__dataclass_fields__)
MIN_SIZE = 16  # build_workload's smallest world


@dataclass(frozen=True)
class Cell:
    """One point of the matrix: one paired memmap/RAM measurement of one workload."""

    workload: str
    size: int
    layout: str
    backend: str
    agents: int

    @property
    def id(self) -> str:
        """Stable across runs and machines: the journal counts cells by it."""
        return ",".join(f"{axis}={getattr(self, axis)}" for axis in AXES)


@dataclass(frozen=True)
class MatrixSpec:
    """What a matrix run measures: every combination of the axes' values, timed and judged alike."""

    axes: dict[str, tuple[Any, ...]]
    timing: TimingSettings = TimingSettings()
    threshold: float = DEFAULT_THRESHOLD
    heatmap: tuple[str, str] = ("size", "layout")
    retries: int = 2  # Dask retries of a cell that raised outside the measurement (a worker loss is apart)
    storage: dict[str, StorageSection] = field(default_factory=dict)  # backend -> its object storage
    digest: str = field(default="", compare=False)  # of the spec's content: a journal belongs to one spec

    def cells(self) -> tuple[Cell, ...]:
        values = [self.axes[axis] for axis in AXES]
        return tuple(Cell(*combination) for combination in itertools.product(*values))


def _fail(source: str, message: str) -> MatrixSpecError:
    return MatrixSpecError(f"{source}: {message}")


def _is_int(value: object, minimum: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= minimum


def _axis_values(source: str, axis: str, raw: object) -> tuple[Any, ...]:
    values = raw if isinstance(raw, list) else [raw]
    if not values:
        raise _fail(source, f"axis {axis!r} has no values")
    allowed: tuple[Any, ...] | None = {"workload": tuple(WORKLOADS), "layout": LAYOUTS,
                                       "backend": tuple(file_backend_choices())}.get(axis)
    for value in values:
        if allowed is not None and value not in allowed:
            raise _fail(source, f"unknown {axis} {value!r} (known: {', '.join(map(str, allowed))})")
        minimum = MIN_SIZE if axis == "size" else 1
        if axis in ("size", "agents") and not _is_int(value, minimum):
            raise _fail(source, f"{axis} must be integers >= {minimum}, got {value!r}")
    if len(set(values)) != len(values):
        raise _fail(source, f"axis {axis!r} repeats a value")
    return tuple(values)


def _timing(source: str, raw: object) -> TimingSettings:
    if not isinstance(raw, Mapping):
        raise _fail(source, "timing must be a mapping")
    unknown = sorted(set(raw) - set(TIMING_KEYS))
    if unknown:
        raise _fail(source, f"unknown timing option {unknown[0]!r} (known: {', '.join(TIMING_KEYS)})")
    for key, value in raw.items():
        number = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        ok = {"blocks": _is_int(value, 2), "warmup_blocks": _is_int(value, 0), "seed": _is_int(value, 0),
              "time_budget_s": value is None or (number and value > 0)}.get(key, number and value > 0)
        if not ok:
            raise _fail(source, f"timing {key} has a bad value {value!r}")
    return TimingSettings(**raw)


def parse_spec(document: object, source: str) -> MatrixSpec:
    """A MatrixSpec from parsed YAML/JSON; anything unknown or out of range raises MatrixSpecError."""
    if not isinstance(document, Mapping):
        raise _fail(source, "a matrix spec must be a mapping with an 'axes' key")
    unknown = sorted(set(document) - set(TOP_KEYS))
    if unknown:
        raise _fail(source, f"unknown key {unknown[0]!r} (known: {', '.join(TOP_KEYS)})")
    raw_axes = document.get("axes")
    if not isinstance(raw_axes, Mapping) or "workload" not in raw_axes:
        raise _fail(source, "'axes' must be a mapping that names at least the workload axis")
    unknown = sorted(set(raw_axes) - set(AXES))
    if unknown:
        raise _fail(source, f"unknown axis {unknown[0]!r} (known: {', '.join(AXES)})")
    axes = {axis: _axis_values(source, axis, raw_axes[axis]) if axis in raw_axes else AXIS_DEFAULTS[axis]
            for axis in AXES}
    threshold = document.get("threshold", DEFAULT_THRESHOLD)
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 1 < threshold < math.inf:
        raise _fail(source, f"threshold must be a finite number > 1, got {threshold!r}")
    heatmap = document.get("heatmap", ["size", "layout"])
    if (not isinstance(heatmap, list) or len(heatmap) != 2 or len(set(heatmap)) != 2
            or any(axis not in AXES for axis in heatmap)):
        raise _fail(source, f"heatmap must name two different axes of {', '.join(AXES)}, got {heatmap!r}")
    retries = document.get("retries", 2)
    if not _is_int(retries, 0):
        raise _fail(source, f"retries must be an integer >= 0, got {retries!r}")
    timing = _timing(source, document.get("timing", {}))
    storage = parse_storage(source, document["storage"], axes["backend"]) if "storage" in document else {}
    content: dict[str, Any] = {"axes": {k: list(v) for k, v in axes.items()}, "timing": asdict(timing),
                               "threshold": threshold}
    if storage:  # where grids go is part of what a journal measured; the options' secrets are not hashed
        content["storage"] = {backend: {"directory": section.directory, "storage_options": redact(section.storage_options)}
                              for backend, section in storage.items()}
    digest = hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()[:16]
    return MatrixSpec(axes=axes, timing=timing, threshold=float(threshold), heatmap=(heatmap[0], heatmap[1]),
                      retries=retries, storage=storage, digest=digest)


def load_spec(path: str | Path) -> MatrixSpec:
    """Read a YAML or JSON spec (JSON is YAML) and check all of it."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise _fail(str(path), f"cannot read ({getattr(exc, 'strerror', None) or exc})") from None
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise _fail(str(path), f"not valid YAML or JSON ({' '.join(str(exc).split())})") from None
    return parse_spec(document, str(path))
