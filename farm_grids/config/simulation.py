"""SimulationConfig: the whole configuration of one world, loaded from YAML/JSON with dot-key overrides."""

from __future__ import annotations

import dataclasses
import functools
import os
import re
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from farm_grids.config.fields import (
    ConfigBlock,
    block_from_mapping,
    canonical_key,
    coerced_text,
    field_hint_at,
    parsed_overrides,
    require,
)
from farm_grids.config.files import config_path, format_for, parsed_mapping, write_atomically
from farm_grids.config.observation import ObservationConfig
from farm_grids.config.resources import ResourceConfig
from farm_grids.config.storage import StorageConfig
from farm_grids.errors import ConfigFieldError

__all__ = ["SimulationConfig"]

# The simulation id is embedded in memmap file names, so it must be a safe file-name fragment.
_SIMULATION_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


@dataclass(frozen=True)
class SimulationConfig(ConfigBlock):
    """Everything needed to build one simulation environment.

    The storage block is the field ``memmap`` (its key in saved files); ``storage`` is
    another name for it, in mappings, files and dot-key overrides alike.
    """

    KEY_ALIASES: typing.ClassVar[Mapping[str, str]] = {"storage": "memmap"}

    width: int = 100
    height: int = 100
    seed: int | None = 0
    simulation_id: str | None = None
    memmap: StorageConfig = field(default_factory=StorageConfig)
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

    @property
    def storage(self) -> StorageConfig:
        """The storage block (the field ``memmap``, by its current name)."""
        return self.memmap

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
        for given, value, is_text in parsed_overrides(overrides):
            dotted = canonical_key(type(self), given)
            hint = field_hint_at(type(self), dotted)
            if is_text:
                value = coerced_text(dotted, typing.cast(str, value), hint)
            *parents, leaf = dotted.split(".")
            functools.reduce(lambda block, part: block[part], parents, data)[leaf] = value
        return type(self).from_dict(data)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write as YAML or JSON (by suffix), atomically: a temp file then ``os.replace``."""
        write_atomically(config_path(path), self.to_dict())

    @classmethod
    def _from_file(cls, path: str | os.PathLike[str], fmt: str) -> SimulationConfig:
        source = os.fspath(config_path(path))
        data = parsed_mapping(source, fmt)
        try:
            return cls.from_dict(data)
        except ConfigFieldError as exc:
            raise exc.from_source(source) from None
