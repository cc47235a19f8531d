"""Simulation configuration: frozen, validated dataclasses loaded from YAML/JSON with dot-key overrides."""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import pathlib
import re
import tempfile
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import yaml

from farm_grids.config_fields import (
    ConfigBlock,
    read_config_text,
    UniqueKeyLoader,
    block_from_mapping,
    coerced_text,
    config_path,
    field_hint_at,
    format_for,
    parsed_overrides,
    require,
    require_choice,
    unique_keys,
)
from farm_grids.errors import ConfigError, ConfigFieldError, InvalidGridSpecError
from farm_grids.names import path_problem
from farm_grids.values import validate_gamma

__all__ = ["ConfigFieldError", "MemmapConfig", "ObservationConfig", "ResourceConfig", "SimulationConfig"]

MEMMAP_DTYPES = ("float16", "float32", "float64")
MEMMAP_MODES = ("w+", "r+", "r")
FLUSH_POLICIES = ("close", "tick", "manual")
LAYOUTS = ("rows", "tiles")
ACCESS_MODES = ("auto", "random", "normal")
OBSERVATION_DTYPES = ("float16", "float32", "float64", "bfloat16")
RESOURCE_DISTRIBUTIONS = ("uniform", "clustered")
# The simulation id is embedded in memmap file names, so it must be a safe file-name fragment.
_SIMULATION_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")

_DEVICE = re.compile(r"cpu|cuda(?::(\d{1,3}))?")


def device_problem(device: str) -> str | None:
    """Why observations cannot be made on ``device`` here, or None.

    Only devices torch can allocate on in this process: "cpu", and "cuda" / "cuda:N" when
    CUDA is available with more than N devices. "meta" holds no data; "mps", "xla", "hpu"
    and the rest need a build and hardware farm-grids neither has nor tests.
    """
    match = _DEVICE.fullmatch(device)
    if match is None:
        return f"must be 'cpu', 'cuda' or 'cuda:N' (a device observations can be made on), got {device!r}"
    if device == "cpu":
        return None
    # torch is imported only for a CUDA device: a CPU configuration never pays its import.
    import torch

    if not torch.cuda.is_available():
        return f"{device!r} was asked for, but CUDA is not available here"
    index = int(match.group(1) or 0)
    if index >= torch.cuda.device_count():
        return f"{device!r} was asked for, but there are {torch.cuda.device_count()} CUDA devices"
    return None


@dataclass(frozen=True)
class MemmapConfig(ConfigBlock):
    """Where and how grids are stored on file, and which managers use that storage.

    ``backend`` names the file backend the ``use_for_*`` toggles switch on (``"memmap"``,
    or any name given to ``farm_grids.stores.register_backend`` or the
    ``farm_grids.backends`` entry points); managers left off use RAM. ``layout`` ("rows" or
    "tiles", with ``tile_size``) applies to RAM and memmap grids alike, so same-layout
    comparisons mean something; ``access`` and ``prefetch`` tune memmap reads (MemmapStore).
    """

    directory: str | None = None
    dtype: str = "float32"
    mode: str = "w+"
    delete_on_close: bool = False
    use_for_resources: bool = False
    use_for_environmental: bool = False
    use_for_temporal: bool = False
    flush_policy: str = "close"
    preallocate: bool = False
    backend: str = "memmap"
    layout: str = "rows"
    tile_size: int = 32
    access: str = "auto"
    prefetch: bool = True

    def _validate(self) -> None:
        if self.directory is not None:
            require(self.directory.strip() != "", "directory", "a non-empty path or null", self.directory)
            problem = path_problem(self.directory)
            if problem is not None:
                raise ConfigFieldError("directory", f"{self.directory[:80]!r} {problem}")
        require_choice("dtype", self.dtype, MEMMAP_DTYPES)
        require_choice("mode", self.mode, MEMMAP_MODES)
        require_choice("flush_policy", self.flush_policy, FLUSH_POLICIES)
        require_choice("layout", self.layout, LAYOUTS)
        require(8 <= self.tile_size <= 4096 and self.tile_size & (self.tile_size - 1) == 0, "tile_size",
                 "a power of two from 8 to 4096", self.tile_size)
        require_choice("access", self.access, ACCESS_MODES)
        from farm_grids.stores.registry import backend_names  # the registry imports this module's types

        names = backend_names()
        require(self.backend in names, "backend", f"a registered backend ({', '.join(names)})", self.backend)

    def resolved_directory(self) -> pathlib.Path:
        """The directory memmap files live in (the system temp dir when unset); not created here."""
        return pathlib.Path(tempfile.gettempdir() if self.directory is None else self.directory).expanduser()

    @property
    def any_enabled(self) -> bool:
        """True when at least one manager is configured to use memmapped storage."""
        return self.use_for_resources or self.use_for_environmental or self.use_for_temporal


@dataclass(frozen=True)
class ObservationConfig(ConfigBlock):
    """Agent observation window, field of view, temporal decay and tensor output settings."""

    radius: int = 6
    fov_radius: int = 6
    gamma_dmg: float = 0.85
    gamma_trail: float = 0.90
    gamma_sig: float = 0.92
    decay_floor: float = 0.0
    # The side of the tiles decay tracks as active; None: the storage tile of a tiled
    # temporal store (its tiles are contiguous), else 64.
    tile_size: int | None = None
    dtype: str = "float32"
    device: str = "cpu"

    def _validate(self) -> None:
        require(self.radius >= 0, "radius", "a non-negative integer", self.radius)
        require(self.fov_radius >= 0, "fov_radius", "a non-negative integer", self.fov_radius)
        for name in ("gamma_dmg", "gamma_trail", "gamma_sig"):
            try:
                validate_gamma(getattr(self, name), name)
            except InvalidGridSpecError:
                raise ConfigFieldError(name, f"must be in (0, 1], got {getattr(self, name)!r}") from None
        require(self.decay_floor >= 0.0, "decay_floor", "a non-negative number", self.decay_floor)
        require(self.tile_size is None or self.tile_size > 0, "tile_size", "a positive integer", self.tile_size)
        require_choice("dtype", self.dtype, OBSERVATION_DTYPES)
        problem = device_problem(self.device)
        if problem is not None:
            raise ConfigFieldError("device", problem)

    @property
    def size(self) -> int:
        """Side S of the square observation window (2R + 1)."""
        return 2 * self.radius + 1


@dataclass(frozen=True)
class ResourceConfig(ConfigBlock):
    """Initial placement and regrowth of resources."""

    count: int = 100
    max_amount: float = 10.0
    regen_rate: float = 0.1
    distribution: str = "uniform"
    clusters: int = 8
    cluster_spread: float = 8.0

    def _validate(self) -> None:
        require(self.count >= 0, "count", "a non-negative integer", self.count)
        require(self.max_amount > 0.0, "max_amount", "a positive number", self.max_amount)
        require(self.regen_rate >= 0.0, "regen_rate", "a non-negative number", self.regen_rate)
        require_choice("distribution", self.distribution, RESOURCE_DISTRIBUTIONS)
        require(self.clusters > 0, "clusters", "a positive integer", self.clusters)
        require(self.cluster_spread > 0.0, "cluster_spread", "a positive number", self.cluster_spread)


@dataclass(frozen=True)
class SimulationConfig(ConfigBlock):
    """Everything needed to build one simulation environment."""

    width: int = 100
    height: int = 100
    seed: int | None = 0
    simulation_id: str | None = None
    memmap: MemmapConfig = field(default_factory=MemmapConfig)
    observation: ObservationConfig = field(default_factory=ObservationConfig)
    resources: ResourceConfig = field(default_factory=ResourceConfig)

    def _validate(self) -> None:
        require(self.width > 0, "width", "a positive integer", self.width)
        require(self.height > 0, "height", "a positive integer", self.height)
        if self.memmap.layout == "tiles" and self.memmap.tile_size > max(self.width, self.height):
            raise ConfigFieldError("memmap.tile_size", f"{self.memmap.tile_size} is larger than the "
                                   f"{self.height}x{self.width} world")
        if self.seed is not None:  # numpy's SeedSequence rejects negative seeds
            require(self.seed >= 0, "seed", "a non-negative integer or null", self.seed)
        if self.simulation_id is not None:
            require(_SIMULATION_ID.fullmatch(self.simulation_id) is not None, "simulation_id",
                     "1-64 characters of letters, digits, '.', '_' or '-' (used in file names)",
                     self.simulation_id)

    def to_dict(self) -> dict[str, typing.Any]:
        """A nested plain dict of built-in types, serialisable as JSON or YAML."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, typing.Any]) -> SimulationConfig:
        """Build from a nested mapping; absent keys take defaults, unknown keys raise ConfigError."""
        return block_from_mapping(cls, data, "")

    @classmethod
    def from_yaml(cls, path: str | os.PathLike[str]) -> SimulationConfig:
        """Load from a YAML file (parsed with yaml.safe_load)."""
        return cls._from_file(path, "YAML")

    @classmethod
    def from_json(cls, path: str | os.PathLike[str]) -> SimulationConfig:
        """Load from a JSON file."""
        return cls._from_file(path, "JSON")

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> SimulationConfig:
        """Load from a .yaml/.yml or .json file, chosen by suffix."""
        return cls._from_file(path, format_for(config_path(path)))

    def with_overrides(self, overrides: Iterable[str] | Mapping[str, object]) -> SimulationConfig:
        """A copy with dotted keys replaced: ``["observation.radius=8"]`` or ``{"seed": None}``.

        String values are parsed by the target field's type (so ``"8"`` sets an int field to 8).
        """
        data = self.to_dict()
        for dotted, value, is_text in parsed_overrides(overrides):
            hint = field_hint_at(type(self), dotted)
            if is_text:
                value = coerced_text(dotted, typing.cast(str, value), hint)
            *parents, leaf = dotted.split(".")
            functools.reduce(lambda block, part: block[part], parents, data)[leaf] = value
        return type(self).from_dict(data)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write as YAML or JSON (by suffix), atomically: a temp file then ``os.replace``."""
        target = config_path(path)
        if not target.parent.is_dir():
            raise ConfigError(f"{target}: cannot save, directory {str(target.parent)!r} does not exist")
        if format_for(target) == "JSON":
            text = json.dumps(self.to_dict(), indent=2, allow_nan=False) + "\n"
        else:
            text = yaml.safe_dump(self.to_dict(), sort_keys=False)
        try:
            handle, temp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        except OSError as exc:
            raise ConfigError(f"{target}: cannot save: {exc}") from exc
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as stream:
                os.fchmod(stream.fileno(), 0o644)  # mkstemp makes 0600; a config file is not a secret
                stream.write(text)
                stream.flush()
                os.fsync(stream.fileno())
            os.replace(temp_name, target)
        except BaseException:
            pathlib.Path(temp_name).unlink(missing_ok=True)
            raise

    @classmethod
    def _from_file(cls, path: str | os.PathLike[str], fmt: str) -> SimulationConfig:
        source = os.fspath(config_path(path))
        text = read_config_text(source)
        try:
            data = yaml.load(text, Loader=UniqueKeyLoader) if fmt == "YAML" else json.loads(text, object_pairs_hook=unique_keys)
        except (yaml.YAMLError, ValueError) as exc:
            raise ConfigError(f"{source}: malformed {fmt}: {exc}") from None
        except RecursionError:
            raise ConfigError(f"{source}: malformed {fmt}: nested too deeply") from None
        if not isinstance(data, Mapping):
            raise ConfigError(f"{source}: top level must be a mapping of keys, got {type(data).__name__}")
        try:
            return cls.from_dict(data)
        except ConfigFieldError as exc:
            raise exc.from_source(source) from None
